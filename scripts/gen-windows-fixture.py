#!/usr/bin/env python3
"""Writes host/tests/data/windows-events.jsonl: media events of five viewers over six
minutes, as Snowbridge JSON lines, in the order they arrive, with late and out-of-order
events, a repeat, and events later than the allowed lateness. host/tests/windows.rs feeds
it to the host and checks the windowed figures against the hand calculation in
docs/metrics.md ("A worked example"), which is made from this table, not from the code.

Run from the repository root: python3 scripts/gen-windows-fixture.py
"""
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "host/tests/data/windows-events.jsonl")
DAY = "2026-03-02T"
VENDOR = "com_snowplowanalytics_snowplow_media"

LABELS = {"A": "Sintel", "B": "Big Buck Bunny", "C": "Sintel", "D": "Sintel", "E": "Big Buck Bunny", "Eold": "Big Buck Bunny"}
VIEWERS = {"A": "viewer-a", "B": "viewer-b", "C": "viewer-c", "D": "viewer-d", "E": "viewer-e", "Eold": "viewer-e"}
SESSIONS = {k: f"00000000-0000-4000-8000-{i:012d}" for i, k in enumerate(["A", "B", "C", "D", "E", "Eold"])}

# (who, time, event, time played, time buffering, event id suffix); in arrival order.
EVENTS = [
    ("A", "10:00:10", "play_event", 0, 0),
    ("A", "10:00:40", "ping_event", 30, 0),
    ("A", "10:01:10", "ping_event", 60, 0),
    ("A", "10:01:20", "ad_start_event", 70, 0),
    ("A", "10:01:35", "ad_complete_event", 70, 0),
    ("A", "10:01:40", "play_event", 70, 0),
    ("B", "10:02:05", "play_event", 0, 0),
    ("A", "10:01:20", "ad_start_event", 70, 0),  # the same event again: a repeat
    ("B", "10:02:35", "buffer_start_event", 30, 0),
    ("A", "10:02:40", "ping_event", 130, 0),
    ("B", "10:02:50", "buffer_end_event", 30, 15),
    ("A", "10:03:00", "end_event", 150, 0),
    ("B", "10:03:20", "ping_event", 60, 15),
    ("B", "10:03:30", "ad_start_event", 60, 15),
    ("B", "10:03:35", "ad_skip_event", 60, 15),
    ("B", "10:03:36", "ad_start_event", 60, 15),
    ("B", "10:03:40", "ad_click_event", 60, 15),
    ("B", "10:03:50", "ad_complete_event", 60, 15),
    # The restart test stops the host here.
    ("B", "10:04:20", "ping_event", 90, 15),
    ("C", "10:05:10", "ping_event", 70, 0),  # C's events arrive out of order
    ("B", "10:05:00", "ping_event", 130, 15),
    ("D", "10:03:20", "play_event", 0, 0),  # late, within the allowance (110 s)
    ("D", "10:03:45", "ping_event", 25, 0),
    ("C", "10:04:00", "play_event", 0, 0),
    ("E", "10:05:20", "play_event", 0, 0),
    ("C", "10:05:40", "end_event", 100, 0),
    ("C", "10:04:30", "ping_event", 30, 0),
    ("Eold", "10:01:00", "play_event", 0, 0),  # an earlier session's events, too late
    ("Eold", "10:01:30", "ping_event", 30, 0),
]

# Where the restart test splits the file: the events before this line, then the rest.
SPLIT = 18


def event(event_id, who, at, name, played, buffering):
    ts = f"{DAY}{at}.000Z"
    ended = name == "end_event"
    in_ad = name.startswith("ad_") and name not in ("ad_complete_event", "ad_skip_event")
    e = {
        "event_id": event_id,
        "event": "unstruct",
        "domain_userid": VIEWERS[who],
        "collector_tstamp": ts,
        "dvce_created_tstamp": ts,
        "derived_tstamp": ts,
        "event_vendor": "com.snowplowanalytics.snowplow.media",
        "event_name": name,
        f"unstruct_event_{VENDOR}_{name}_1": {},
        "contexts_com_snowplowanalytics_snowplow_media_player_2": [{
            "currentTime": played,
            "paused": name in ("buffer_start_event",) or ended or in_ad,
            "ended": ended,
            "label": LABELS[who],
            "duration": 888,
            "mediaType": "video",
            "playerType": "html5",
            "playbackRate": 1,
            "volume": 100,
            "muted": False,
            "livestream": False,
        }],
        f"contexts_{VENDOR}_session_1": [{
            "mediaSessionId": SESSIONS[who],
            "timePlayed": played,
            "timeBuffering": buffering,
        }],
    }
    if name.startswith("ad_"):
        e[f"contexts_{VENDOR}_ad_1"] = [{"adId": f"ad-{who}-{at}", "name": "Spring sale", "podPosition": 1, "duration": 15, "skippable": True}]
        e[f"contexts_{VENDOR}_ad_break_1"] = [{"breakId": f"break-{who}", "name": "mid-roll", "breakType": "linear", "startTime": 30}]
    return e


def main():
    seen = {}
    lines = []
    for who, at, name, played, buffering in EVENTS:
        # A repeat keeps the event id of the first delivery.
        event_id = seen.setdefault((who, at, name), f"00000000-0000-4000-9000-{len(seen):012d}")
        e = event(event_id, who, at, name, played, buffering)
        lines.append(json.dumps(e, separators=(",", ":"), sort_keys=True))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} events to {os.path.relpath(OUT, ROOT)} (the restart test splits after {SPLIT})")


if __name__ == "__main__":
    main()
