#!/usr/bin/env python3
"""Writes test-vectors/cases/*.json from the real Snowplow Micro session in
test-vectors/fixtures/, with hand-written expectations.

Events are real fixture lines, or fixture lines changed in one named way (another event name,
a missing entity, a wrong type...), or mobile events built field by field the way enrich writes
what the mobile trackers send. Expected outcomes and profiles are written out here by hand from
what the events say; nothing is computed by the code under test.

Run from the repository root: python3 scripts/gen-test-vectors.py
"""
import base64
import copy
import json
import os
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = "fixtures/snowplow-micro-media.tsv"
VECTORS = os.path.join(ROOT, "test-vectors")
HEADER = open(os.path.join(VECTORS, "fixtures/enriched-header.tsv")).read().strip("\n").split("\t")
LINES = [l for l in open(os.path.join(VECTORS, FIXTURE)).read().split("\n") if l]
IDX = {name: i for i, name in enumerate(HEADER)}
assert len(HEADER) == 131 and len(LINES) == 73

VIEWER = "143f9cb9-3db9-4e99-8d67-c8aea075d190"  # domain_userid of the fixture
NETWORK = "d8aae409-b64d-40c0-99d7-5324fcb27735"
SESSION = "e3a82b1d-e44e-4bbf-a797-672b4e879af3"
MEDIA = "com.snowplowanalytics.snowplow.media"
DUMP = dict(separators=(",", ":"))


# ---------------------------------------------------------------- events as field lists

def fields(n):
    """Fixture line n (1-based) as a list of 131 fields."""
    f = LINES[n - 1].split("\t")
    assert len(f) == 131
    return f


def line(f):
    return "\t".join(f)


def contexts(f):
    return json.loads(f[IDX["contexts"]])["data"] if f[IDX["contexts"]] else []


def set_contexts(f, entities):
    f[IDX["contexts"]] = json.dumps(
        {"schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0", "data": entities}, **DUMP)


def entity(f, name):
    for c in contexts(f):
        if c["schema"].split("/")[1] == name:
            return c
    return None


def drop_entity(f, name):
    set_contexts(f, [c for c in contexts(f) if c["schema"].split("/")[1] != name])


def change_entity(f, name, **changes):
    es = contexts(f)
    for c in es:
        if c["schema"].split("/")[1] == name:
            c["data"].update(changes)
            for k, v in list(c["data"].items()):
                if v is None:
                    del c["data"][k]
    set_contexts(f, es)


def add_entity(f, schema, data):
    set_contexts(f, contexts(f) + [{"schema": schema, "data": data}])


def set_event(f, name, data=None, vendor=MEDIA, major=1):
    f[IDX["event"]] = "unstruct"
    f[IDX["event_vendor"]] = vendor
    f[IDX["event_name"]] = name
    f[IDX["unstruct_event"]] = json.dumps({
        "schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0",
        "data": {"schema": f"iglu:{vendor}/{name}/jsonschema/{major}-0-0", "data": data or {}}}, **DUMP)


_ids = [0]


def fresh_id():
    _ids[0] += 1
    return f"00000000-0000-4000-8000-{_ids[0]:012d}"


def media_event(name, data=None, at="2024-11-16 13:40:00.000", player=None, session=None,
                ad=False, ad_break=False, template=4):
    """A media event built on a fixture line: its viewer, page and player; another name,
    payload, time and entities."""
    f = fields(template)
    f[IDX["event_id"]] = fresh_id()
    for t in ("derived_tstamp", "dvce_created_tstamp", "dvce_sent_tstamp"):
        f[IDX[t]] = at
    set_event(f, name, data)
    drop_entity(f, "ad")
    drop_entity(f, "ad_break")
    if player:
        change_entity(f, "media_player", **player)
    if session:
        change_entity(f, "session", **session)
    if ad_break:
        b = {"startTime": 30, "name": "mid-roll", "breakId": "b1", "breakType": "linear", "podSize": 2}
        if isinstance(ad_break, dict):
            b.update(ad_break)
        add_entity(f, "iglu:com.snowplowanalytics.snowplow.media/ad_break/jsonschema/1-0-0", b)
    if ad:
        a = {"podPosition": 1, "adId": "a1", "name": "Summer sale", "creativeId": "cr-1", "duration": 15,
             "skippable": True}
        if isinstance(ad, dict):
            a.update(ad)
        add_entity(f, "iglu:com.snowplowanalytics.snowplow.media/ad/jsonschema/1-0-0", a)
    return f


def event_id(f):
    return f[IDX["event_id"]]


# ---------------------------------------------------- the Snowbridge JSON form (spEnrichedToJson)

INTS = {"txn_id", "domain_sessionidx", "page_urlport", "refr_urlport", "ti_quantity", "pp_xoffset_min",
        "pp_xoffset_max", "pp_yoffset_min", "pp_yoffset_max", "br_viewwidth", "br_viewheight",
        "dvce_screenwidth", "dvce_screenheight", "doc_width", "doc_height"}
DOUBLES = {"geo_latitude", "geo_longitude", "tr_total", "tr_tax", "tr_shipping", "ti_price", "tr_total_base",
           "tr_tax_base", "tr_shipping_base", "ti_price_base"}
BOOLS = {n for n in HEADER if n.startswith("br_features_")} | {"br_cookies", "dvce_ismobile"}
TIMES = {"etl_tstamp", "collector_tstamp", "dvce_created_tstamp", "dvce_sent_tstamp", "refr_device_tstamp",
         "derived_tstamp", "true_tstamp"}


def rfc3339(t):
    """Go's RFC3339Nano, as the analytics SDK prints a timestamp: trailing zeros dropped."""
    date, clock = t.split(" ")
    if "." in clock:
        whole, frac = clock.split(".")
        frac = frac.rstrip("0")
        clock = whole + ("." + frac if frac else "")
    return f"{date}T{clock}Z"


def snake(name):
    out = ""
    for i, ch in enumerate(name):
        if ch.isupper() and i > 0 and name[i - 1] != "_":
            out += "_"
        out += ch
    return out.lower()


def sdk_key(prefix, schema):
    vendor, name, _, version = schema[len("iglu:"):].split("/")
    return f"{prefix}_{vendor.replace('.', '_')}_{snake(name)}_{version.split('-')[0]}".lower()


def to_json(f):
    out = {}
    for name, v in zip(HEADER, f):
        if v == "":
            continue
        if name in ("contexts", "derived_contexts"):
            for c in json.loads(v)["data"]:
                out.setdefault(sdk_key("contexts", c["schema"]), []).append(c["data"])
        elif name == "unstruct_event":
            inner = json.loads(v)["data"]
            out[sdk_key("unstruct_event", inner["schema"])] = inner["data"]
        elif name in TIMES:
            out[name] = rfc3339(v)
        elif name in INTS:
            out[name] = int(v)
        elif name in DOUBLES:
            out[name] = float(v)
        elif name in BOOLS:
            out[name] = v in ("1", "true")
        else:
            out[name] = v
    return out


# ------------------------------------------------------------------------- the cases

CASES = {}


def case(name, description, events, outcomes=None, profiles=None, orders=None, source=None):
    assert name not in CASES, name
    c = {"description": description}
    if source:
        c["source"] = source
    c["events"] = events
    if outcomes is not None:
        c["outcomes"] = outcomes
    if profiles is not None:
        c["profiles"] = profiles
    if orders:
        c["orders"] = orders
    CASES[name] = c


def apply(event, status=None, **extra):
    a = {"viewer": VIEWER, "event": event}
    deltas = []
    if status:
        deltas.append({"op": "state", "field": "status", "value": status})
    deltas.extend(extra.pop("deltas", []))
    if deltas:
        a["deltas"] = deltas
    a.update(extra)
    return {"apply": a}


def setd(field, value, session=None):
    d = {"op": "set", "field": field, "value": value}
    if session:
        d["session"] = session
    return d


def maxd(field, value, session=SESSION):
    return {"op": "max", "field": field, "value": value, "session": session}


def utc(t):
    """A TSV time as the profile prints it: RFC 3339, always with milliseconds."""
    return t.replace(" ", "T") + "Z"


# --- 1. the real session, both forms --------------------------------------------------

FIXTURE_STATUS = {
    4: "WATCHING_VIDEO", 5: "WATCHING_AD", 6: "WATCHING_AD", 7: "WATCHING_AD", 8: "WATCHING_AD",
    9: "WATCHING_AD", 10: "WATCHING_AD", 11: "WATCHING_AD", 12: "WATCHING_AD", 14: "WATCHING_AD",
    15: "WATCHING_AD", 16: "WATCHING_AD", 17: "WATCHING_VIDEO", 18: "WATCHING_AD", 20: "WATCHING_VIDEO",
    23: "WATCHING_VIDEO", 27: "WATCHING_AD", 28: "WATCHING_AD", 29: "WATCHING_AD", 31: "WATCHING_AD",
    32: "WATCHING_AD", 33: None, 34: "WATCHING_AD", 35: "WATCHING_AD", 36: "WATCHING_AD", 38: "WATCHING_AD",
    39: "WATCHING_AD", 40: "WATCHING_AD", 41: "WATCHING_VIDEO", 42: "WATCHING_AD", 43: "WATCHING_VIDEO",
    45: "WATCHING_VIDEO", 51: "WATCHING_AD", 52: "WATCHING_AD", 54: "WATCHING_AD", 55: "WATCHING_AD",
    56: "WATCHING_AD", 57: "WATCHING_AD", 58: "WATCHING_AD", 59: "WATCHING_AD", 60: "WATCHING_AD",
    61: "WATCHING_VIDEO", 62: "WATCHING_AD", 63: "WATCHING_VIDEO", 64: "WATCHING_VIDEO", 67: "PAUSED_VIDEO",
    72: "PAUSED_VIDEO",
}


def fixture_outcomes():
    out = []
    for n in range(1, 74):
        f = fields(n)
        if f[IDX["event_vendor"]] != MEDIA:
            out.append({"skip": f"not a media event (com.snowplowanalytics.snowplow/{f[IDX['event_name']]})"})
            continue
        a = apply(f[IDX["event_name"]], FIXTURE_STATUS[n])
        a["apply"]["at"] = {"id": event_id(f)}
        out.append(a)
    return out


# What the events say at the end: the last media event by derived_tstamp is the ping of line
# 72 (13:35:23.337; paused at 67.502404 s; the session entity's counters); the video has been
# paused since the pause of line 67 (13:34:59.777); no ad since the break ended.
FIXTURE_PROFILE = {
    "viewer_id": VIEWER,
    "status": "PAUSED_VIDEO",
    "status_at": "2024-11-16T13:34:59.777Z",
    "first_seen": "2024-11-16T13:33:29.170Z",
    "last_seen": "2024-11-16T13:35:23.337Z",
    "active": True,
    "media": {"session_id": SESSION, "label": "Bugs Bunny", "media_type": "video", "player_type": "html5",
              "duration": 596.474195, "current_time": 67.502404, "percent": 11.32, "livestream": None,
              "playback_rate": 1, "volume": 100, "muted": False, "fullscreen": None,
              "picture_in_picture": None, "quality": None},
    "ad": None,
    "session": {"session_id": SESSION, "time_played": 67.544, "time_played_muted": 0, "time_paused": 23.577,
                "time_buffering": 0, "time_spent_ads": 23.054, "content_watched": 68, "ads": 6,
                "ads_completed": 3, "ads_clicked": 1, "ads_skipped": 3, "ad_breaks": 3, "avg_playback_rate": 1,
                "started_at": "2024-11-16T13:33:23.276Z", "completed": 0},
    "totals": {"media_sessions": 1, "completed": 0, "time_played": 67.544, "ads": 6, "ads_completed": 3,
               "ads_skipped": 3, "ads_clicked": 1},
    "last_event": "ping_event",
}

SOURCE = ("Snowplow Micro 2.1.2 capture, JavaScript tracker 4.0.1 with the media plugin; from the public "
          "repository snowplow-industry-solutions/kafka-live-viewer-profiles (Apache License 2.0), "
          "docs/labs/snowbridge-transform/data/, commit 61d9e1e4")

case("fixture-session-tsv",
     "The real 73-event session (page views, pings, two ad breaks with quartiles, completions, skips and a "
     "click, pauses) as enriched TSV: every outcome, and the final profile in any order and with repeats.",
     [{"file": FIXTURE}], fixture_outcomes(), {VIEWER: FIXTURE_PROFILE}, ["reverse", "shuffle", "duplicate"],
     source=SOURCE)

case("fixture-session-json",
     "The same 73 events in Snowbridge's spEnrichedToJson form: the same outcomes and the same profile.",
     [{"json": to_json(fields(n))} for n in range(1, 74)], fixture_outcomes(), {VIEWER: FIXTURE_PROFILE},
     ["shuffle"], source=SOURCE)

# --- 2. every media event type ---------------------------------------------------------

T0 = "2024-11-16 13:40:00.000"


def single(name, description, f, outcome, profile, json_form=False):
    ev = {"json": to_json(f)} if json_form else line(f)
    case(name, description, [ev], [outcome], {VIEWER: profile} if profile is not None else None)


PLAYING = {"paused": False, "ended": False, "currentTime": 120.5}
PAUSED = {"paused": True, "ended": False, "currentTime": 120.5}

single("event-ready", "ready_event: the player is loaded and paused at the start.",
       media_event("ready_event", player={"paused": True, "ended": False, "currentTime": 0}),
       apply("ready_event", "READY"), {"status": "READY", "media": {"current_time": 0}})
single("event-play", "play_event: watching.", media_event("play_event", player=PLAYING),
       apply("play_event", "WATCHING_VIDEO", at={"ts": 1731764400000, "rank": 30}),
       {"status": "WATCHING_VIDEO", "status_at": utc(T0), "media": {"current_time": 120.5, "label": "Bugs Bunny"}})
single("event-pause", "pause_event without ad entities: paused content.", media_event("pause_event", player=PAUSED),
       apply("pause_event", "PAUSED_VIDEO"), {"status": "PAUSED_VIDEO"})
single("event-end", "end_event: completed; the media session counts as completed.",
       media_event("end_event", player={"paused": True, "ended": True, "currentTime": 596.474195}),
       apply("end_event", "COMPLETED_VIDEO", deltas=[maxd("completed", 1)]),
       {"status": "COMPLETED_VIDEO", "media": {"percent": 100}, "totals": {"completed": 1}, "session": {"completed": 1}})
single("event-seek-start", "seek_start_event while playing: still watching.",
       media_event("seek_start_event", player=PLAYING), apply("seek_start_event", "WATCHING_VIDEO"),
       {"status": "WATCHING_VIDEO"})
single("event-seek-end", "seek_end_event while paused: paused at the new position.",
       media_event("seek_end_event", player={"paused": True, "ended": False, "currentTime": 300}),
       apply("seek_end_event", "PAUSED_VIDEO"), {"status": "PAUSED_VIDEO", "media": {"current_time": 300}})
single("event-playback-rate-change", "playback_rate_change_event: the new rate from the event's payload.",
       media_event("playback_rate_change_event", {"previousRate": 1, "newRate": 2}, player=PLAYING),
       apply("playback_rate_change_event", "WATCHING_VIDEO"), {"media": {"playback_rate": 2}})
single("event-volume-change", "volume_change_event: the new volume from the payload.",
       media_event("volume_change_event", {"previousVolume": 100, "newVolume": 40}, player=PLAYING),
       apply("volume_change_event", "WATCHING_VIDEO"), {"media": {"volume": 40}})
single("event-fullscreen-change", "fullscreen_change_event: now fullscreen.",
       media_event("fullscreen_change_event", {"fullscreen": True}, player=PLAYING),
       apply("fullscreen_change_event", "WATCHING_VIDEO"), {"media": {"fullscreen": True}})
single("event-picture-in-picture-change", "picture_in_picture_change_event: now in picture-in-picture.",
       media_event("picture_in_picture_change_event", {"pictureInPicture": True}, player=PLAYING),
       apply("picture_in_picture_change_event", "WATCHING_VIDEO"), {"media": {"picture_in_picture": True}})
single("event-ping", "ping_event while playing: watching, position moves on.",
       media_event("ping_event", player={"paused": False, "ended": False, "currentTime": 150}),
       apply("ping_event", "WATCHING_VIDEO"), {"status": "WATCHING_VIDEO", "media": {"current_time": 150}})
single("event-percent-progress", "percent_progress_event at 50 %: the position says 50 % too.",
       media_event("percent_progress_event", {"percentProgress": 50},
                   player={"paused": False, "ended": False, "currentTime": 298.2370975}),
       apply("percent_progress_event", "WATCHING_VIDEO"), {"media": {"percent": 50}})
single("event-buffer-start", "buffer_start_event: buffering.", media_event("buffer_start_event", player=PLAYING),
       apply("buffer_start_event", "BUFFERING"), {"status": "BUFFERING"})
single("event-buffer-end", "buffer_end_event while playing: watching again.",
       media_event("buffer_end_event", player=PLAYING), apply("buffer_end_event", "WATCHING_VIDEO"),
       {"status": "WATCHING_VIDEO"})
single("event-quality-change", "quality_change_event: the new quality from the payload.",
       media_event("quality_change_event", {"previousQuality": "480p", "newQuality": "1080p", "bitrate": 5000000,
                                            "automatic": True}, player=PLAYING),
       apply("quality_change_event", "WATCHING_VIDEO"), {"media": {"quality": "1080p"}})
single("event-error", "error_event: the error is kept; the status follows the player.",
       media_event("error_event", {"errorCode": "E522", "errorName": "network", "errorDescription": "Timed out"},
                   player=PAUSED),
       apply("error_event", "PAUSED_VIDEO"),
       {"status": "PAUSED_VIDEO", "last_error": {"code": "E522", "name": "network", "description": "Timed out"}})
single("event-ad-break-start", "ad_break_start_event: in an ad break, no ad yet.",
       media_event("ad_break_start_event", player=PLAYING, ad_break=True), apply("ad_break_start_event", "WATCHING_AD"),
       {"status": "WATCHING_AD", "ad": {"ad_id": None, "break_id": "b1", "break_type": "linear", "quartile": None}})
single("event-ad-break-end", "ad_break_end_event: the content resumes.",
       media_event("ad_break_end_event", player=PAUSED, ad_break=True), apply("ad_break_end_event", "WATCHING_VIDEO"),
       {"status": "WATCHING_VIDEO", "ad": None})
single("event-ad-start", "ad_start_event: watching the ad, quartile 0.",
       media_event("ad_start_event", player=PAUSED, ad=True, ad_break=True), apply("ad_start_event", "WATCHING_AD"),
       {"status": "WATCHING_AD", "ad": {"ad_id": "a1", "name": "Summer sale", "creative_id": "cr-1",
                                        "pod_position": 1, "duration": 15, "skippable": True, "break_id": "b1",
                                        "break_type": "linear", "quartile": 0, "clicked": False, "skipped": False}})
single("event-ad-quartile", "ad_quartile_event at 50 %: quartile 2.",
       media_event("ad_quartile_event", {"percentProgress": 50}, player=PAUSED, ad=True, ad_break=True),
       apply("ad_quartile_event", "WATCHING_AD"), {"ad": {"quartile": 2}})
single("event-ad-complete", "ad_complete_event: quartile 4 (complete), still in the break.",
       media_event("ad_complete_event", player=PAUSED, ad=True, ad_break=True),
       apply("ad_complete_event", "WATCHING_AD", deltas=[{"op": "add", "field": "ads_completed", "value": 1,
                                                           "session": SESSION}]),
       {"status": "WATCHING_AD", "ad": {"quartile": 4}, "session": {"ads_completed": 1},
        "totals": {"ads_completed": 1}})
single("event-ad-skip", "ad_skip_event at 60 %: skipped, quartile 2.",
       media_event("ad_skip_event", {"percentProgress": 60}, player=PAUSED, ad=True, ad_break=True),
       apply("ad_skip_event", "WATCHING_AD"), {"ad": {"skipped": True, "quartile": 2}})
single("event-ad-click", "ad_click_event: clicked; a click says nothing about playing or paused.",
       media_event("ad_click_event", player=PAUSED, ad=True, ad_break=True),
       {"apply": {"viewer": VIEWER, "event": "ad_click_event", "deltas": [setd("ad.clicked", True)]}},
       {"status": None, "ad": {"clicked": True, "ad_id": "a1"}})
single("event-ad-pause", "ad_pause_event: the ad is paused.",
       media_event("ad_pause_event", {"percentProgress": 40}, player=PAUSED, ad=True, ad_break=True),
       apply("ad_pause_event", "PAUSED_AD"), {"status": "PAUSED_AD", "ad": {"quartile": 1}})
single("event-ad-resume", "ad_resume_event: the ad plays again.",
       media_event("ad_resume_event", {"percentProgress": 80}, player=PAUSED, ad=True, ad_break=True),
       apply("ad_resume_event", "WATCHING_AD"), {"status": "WATCHING_AD", "ad": {"quartile": 3}})

# --- 3. the JSON form of single events --------------------------------------------------

for ev, st, prof in [("play_event", "WATCHING_VIDEO", {"status": "WATCHING_VIDEO"}),
                     ("ad_start_event", "WATCHING_AD", {"ad": {"ad_id": "a1", "quartile": 0}}),
                     ("buffer_start_event", "BUFFERING", {"status": "BUFFERING"})]:
    f = media_event(ev, player=PAUSED if ev != "play_event" else PLAYING, ad=ev.startswith("ad_"),
                    ad_break=ev.startswith("ad_"))
    single(f"json-{ev.replace('_event', '').replace('_', '-')}", f"{ev} in Snowbridge's JSON form.", f,
           apply(ev, st), prof, json_form=True)

f = media_event("end_event", player={"paused": True, "ended": True, "currentTime": 596.474195})
case("json-and-tsv-same-event",
     "The same end_event once as TSV and once as Snowbridge JSON: the same outcome, counted once.",
     [line(f), {"json": to_json(f)}],
     [apply("end_event", "COMPLETED_VIDEO", at={"id": event_id(f)}), apply("end_event", "COMPLETED_VIDEO", at={"id": event_id(f)})],
     {VIEWER: {"status": "COMPLETED_VIDEO", "totals": {"completed": 1, "media_sessions": 1}}})

# --- 4. skipped: not media events this logic handles -------------------------------------

single("skip-page-view", "A page view is not a media event.", fields(1),
       {"skip": "not a media event (com.snowplowanalytics.snowplow/page_view)"}, None)
single("skip-page-ping", "A page ping is not a media event.", fields(3),
       {"skip": "not a media event (com.snowplowanalytics.snowplow/page_ping)"}, None)
f = fields(1)
f[IDX["event"]] = "struct"
f[IDX["event_vendor"]] = "com.google.analytics"
f[IDX["event_name"]] = "event"
f[IDX["se_category"]] = "video"
f[IDX["se_action"]] = "play"
single("skip-structured-event", "A structured event, even about video, is not a media event.", f,
       {"skip": "not a media event (com.google.analytics/event)"}, None)
f = fields(1)
set_event(f, "link_click", {"targetUrl": "https://example.com"}, vendor="com.snowplowanalytics.snowplow")
single("skip-other-self-describing", "Another vendor's self-describing event.", f,
       {"skip": "not a media event (com.snowplowanalytics.snowplow/link_click)"}, None)
f = media_event("ad_timeout_event", player=PAUSED, ad=True, ad_break=True)
single("skip-unknown-media-event", "A media-vendor event this logic does not know.", f,
       {"skip": "unknown media event \"ad_timeout_event\""}, None)
f = media_event("play_event", player=PLAYING)
set_event(f, "play_event", {}, major=2)
single("skip-unsupported-schema-version", "A media event of a schema version this logic does not speak.", f,
       {"skip": "play_event schema version 2-*-* is not supported"}, None)
f = fields(4)
set_event(f, "media_player_event", {"type": "play"}, vendor="com.snowplowanalytics.snowplow")
single("skip-media-v1-event", "The v1 media plugin's event is not a v2 media event.", f,
       {"skip": "not a media event (com.snowplowanalytics.snowplow/media_player_event)"}, None)
single("skip-page-view-json", "A page view in the JSON form.", fields(2),
       {"skip": "not a media event (com.snowplowanalytics.snowplow/page_view)"}, None, json_form=True)

# --- 5. rejected: bad input, each with the reason that says what is wrong ----------------


def reject(name, description, event, reason):
    case(name, description, [event], [{"reject": reason}])


good = line(media_event("play_event", player=PLAYING))
reject("reject-empty-message", "An empty message.", "", "empty message")
reject("reject-130-fields", "A line with a field missing.", good[:good.rindex("\t")], "expected 131 tab-separated fields, found 130")
reject("reject-132-fields", "A line with a field too many.", good + "\textra", "expected 131 tab-separated fields, found 132")
case("reject-not-utf8", "Bytes that are not UTF-8.",
     [{"base64": base64.b64encode(good.encode()[:40] + b"\xff\xfe" + good.encode()[40:]).decode()}],
     [{"reject": "not valid UTF-8 (bad byte at offset 40)"}])
f = media_event("play_event", player=PLAYING)
f[IDX["contexts"]] = f[IDX["contexts"]][:-2]
reject("reject-contexts-invalid-json", "contexts cut short.", line(f), "contexts: invalid JSON")
f = media_event("play_event", player=PLAYING)
f[IDX["unstruct_event"]] = '{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{'
reject("reject-unstruct-invalid-json", "unstruct_event cut short.", line(f), "unstruct_event: invalid JSON")
f = media_event("play_event", player=PLAYING)
f[IDX["contexts"]] = f[IDX["contexts"]].replace("snowplow/contexts/jsonschema", "snowplow/kontexts/jsonschema")
reject("reject-contexts-wrong-wrapper", "contexts with a wrapper schema that is not Snowplow's.", line(f),
       "contexts: unexpected wrapper schema")
f = media_event("play_event", player=PLAYING)
f[IDX["contexts"]] = f[IDX["contexts"]].replace("media_player/jsonschema/2-0-0", "media_player/jsonschema/two")
reject("reject-entity-bad-schema-uri", "An entity whose schema URI is not an Iglu URI.", line(f),
       "contexts: invalid schema URI")
f = media_event("play_event", player=PLAYING)
f[IDX["domain_userid"]] = ""
f[IDX["network_userid"]] = ""
reject("reject-no-viewer", "No user_id, domain_userid, client_session entity or network_userid.", line(f),
       "no viewer id: user_id, domain_userid, client_session.userId and network_userid are all empty or anonymous")
f = media_event("play_event", player=PLAYING)
f[IDX["user_id"]] = "u" * 1025
reject("reject-viewer-too-long", "A user_id longer than a key may be.", line(f), "viewer id is longer than 1024 bytes")
f = media_event("play_event", player=PLAYING)
f[IDX["event_id"]] = ""
reject("reject-no-event-id", "No event_id.", line(f), "event_id is empty")
f = media_event("play_event", player=PLAYING)
f[IDX["derived_tstamp"]] = "yesterday"
reject("reject-bad-timestamp", "A derived_tstamp that is not a time.", line(f),
       'derived_tstamp is not a timestamp: "yesterday"')
f = media_event("play_event", player=PLAYING)
for t in ("derived_tstamp", "dvce_created_tstamp", "collector_tstamp"):
    f[IDX[t]] = ""
reject("reject-no-timestamps", "No event time at all.", line(f), "no event time")
f = media_event("play_event", player=PLAYING)
f[IDX["derived_tstamp"]] = ""
f[IDX["dvce_created_tstamp"]] = "1970-01-01 00:00:01.000"
reject("reject-timestamp-far-past", "A device clock at 1970 (and no derived time).", line(f),
       'dvce_created_tstamp "1970-01-01 00:00:01.000" is outside the years 2000 to 2099')
f = media_event("play_event", player=PLAYING)
drop_entity(f, "media_player")
reject("reject-no-media-player", "A media event without the media_player entity.", line(f),
       "play_event without the media_player entity")
f = media_event("ad_start_event", player=PAUSED, ad_break=True)
reject("reject-ad-start-without-ad", "ad_start_event without the ad entity.", line(f),
       "ad_start_event without the ad entity")
f = media_event("ad_break_start_event", player=PAUSED)
reject("reject-break-start-without-break", "ad_break_start_event without the ad_break entity.", line(f),
       "ad_break_start_event without the ad_break entity")
f = media_event("play_event", player={"paused": False, "ended": False, "currentTime": "12.5"})
reject("reject-string-for-number", "media_player.currentTime as a string.", line(f),
       'media_player: invalid type: string "12.5", expected f64')
f = media_event("ad_start_event", player=PAUSED, ad={"adId": 292}, ad_break=True)
reject("reject-number-for-string", "ad.adId as a number (the schema says string).", line(f),
       "ad: invalid type: integer `292`, expected a string")
f = media_event("play_event", player={"paused": False, "ended": False, "currentTime": -5})
reject("reject-negative-position", "A negative playback position.", line(f),
       "media_player.currentTime is out of range (-5")
f = media_event("play_event", player={"paused": False, "ended": False, "currentTime": 1e300})
reject("reject-huge-position", "A position past what the schema allows.", line(f),
       "media_player.currentTime is out of range")
f = media_event("ad_quartile_event", {}, player=PAUSED, ad=True, ad_break=True)
reject("reject-quartile-without-percent", "ad_quartile_event without its percentProgress.", line(f),
       "ad_quartile_event: missing field `percentProgress`")
f = media_event("play_event", player=PLAYING)
f[IDX["event_name"]] = "pause_event"
reject("reject-name-payload-mismatch", "event_name says one event, the payload is another.", line(f),
       "event_name is pause_event but unstruct_event is com.snowplowanalytics.snowplow.media/play_event")
f = media_event("play_event", player=PLAYING)
f[IDX["unstruct_event"]] = ""
reject("reject-no-payload", "A media event without its unstruct_event.", line(f),
       "play_event without its unstruct_event payload")
f = media_event("play_event", player=PLAYING, session={"mediaSessionId": None})
reject("reject-session-without-id", "A media session entity without its id.", line(f),
       "session: missing field `mediaSessionId`")
reject("reject-json-invalid", "A JSON message cut short.", json.dumps(to_json(media_event("play_event")))[:200],
       "EOF while parsing a string")
j = to_json(media_event("play_event", player=PLAYING))
j["user_id"] = 42
case("reject-json-number-for-string", "user_id as a number in the JSON form.", [{"json": j}],
     [{"reject": "user_id: invalid type: integer `42`, expected a string"}])
j = to_json(media_event("play_event", player=PLAYING))
del j["contexts_com_snowplowanalytics_snowplow_media_player_2"]
case("reject-json-no-media-player", "The JSON form without the media_player entity.", [{"json": j}],
     [{"reject": "play_event without the media_player entity"}])

# --- 6. order, ties, repeats, keys -----------------------------------------------------------

case("tie-ad-complete-before-next-start",
     "An ad completes and the next starts in the same millisecond (fixture lines 11-12), arriving next start "
     "first: the current ad is the new one.",
     [{"file": FIXTURE, "lines": "7"}, {"file": FIXTURE, "lines": "6"}, {"file": FIXTURE, "lines": "11"},
      {"file": FIXTURE, "lines": "12"}], None,
     {VIEWER: {"status": "WATCHING_AD", "ad": {"ad_id": "278", "name": "Ad 2", "pod_position": 2, "quartile": 0,
                                                "break_id": "287"}}},
     ["reverse", "shuffle"], source=SOURCE)
case("tie-break-start-with-ad-start",
     "A break and its first ad start in the same millisecond (fixture lines 51-52, ad first in the file): "
     "the ad is shown with its break.",
     [{"file": FIXTURE, "lines": "51-52"}], None,
     {VIEWER: {"status": "WATCHING_AD", "ad": {"ad_id": "285", "name": "Ad 1", "break_id": "285", "quartile": 0}}},
     ["reverse"], source=SOURCE)
case("tie-skip-before-next-start",
     "An ad is skipped and the next starts in the same millisecond (fixture lines 57-58): the started ad is current.",
     [{"file": FIXTURE, "lines": "55-58"}], None,
     {VIEWER: {"status": "WATCHING_AD", "ad": {"ad_id": "156", "name": "Ad 2", "pod_position": 2, "quartile": 0,
                                               "skipped": False}}},
     ["reverse", "shuffle"], source=SOURCE)
case("break-end-then-play",
     "After a break (fixture lines 40-43: skip, break end, and a play whose derived time is 45 ms before them) "
     "the viewer watches the content again; the newest event by derived time is the break's end, so the "
     "position is the one it reports.",
     [{"file": FIXTURE, "lines": "40-43"}], None,
     {VIEWER: {"status": "WATCHING_VIDEO", "ad": None, "media": {"current_time": 30.120879},
               "status_at": "2024-11-16T13:34:17.767Z"}},
     ["reverse", "shuffle"], source=SOURCE)
case("repeats-count-once",
     "Every event of the first ad break (fixture lines 4-20) delivered twice: the counters are the tracker's "
     "cumulative figures, not doubled.",
     [{"file": FIXTURE, "lines": "4-20"}, {"file": FIXTURE, "lines": "4-20"}], None,
     {VIEWER: {"status": "WATCHING_VIDEO", "session": {"ads": 2, "ads_completed": 2, "ad_breaks": 1,
                                                       "time_spent_ads": 8.993},
               "totals": {"ads": 2, "ads_completed": 2, "media_sessions": 1}}},
     ["shuffle"], source=SOURCE)
p1 = media_event("play_event", at="2024-11-16 13:40:00.000", player=PLAYING)
p2 = media_event("pause_event", at="2024-11-16 13:40:05.000", player=PAUSED)
case("late-pause-arrives-first", "A pause (later) arrives before the play (earlier): the viewer is paused.",
     [line(p2), line(p1)], None,
     {VIEWER: {"status": "PAUSED_VIDEO", "status_at": "2024-11-16T13:40:05.000Z"}}, ["reverse"])
w = [media_event("play_event", at="2024-11-16 13:40:00.000", player=PLAYING),
     media_event("ping_event", at="2024-11-16 13:40:30.000", player=PLAYING),
     media_event("ping_event", at="2024-11-16 13:41:00.000", player=PLAYING)]
case("status-at-is-when-it-began", "Watching since the play; later pings do not move status_at.",
     [line(x) for x in w], None,
     {VIEWER: {"status": "WATCHING_VIDEO", "status_at": "2024-11-16T13:40:00.000Z",
               "last_seen": "2024-11-16T13:41:00.000Z", "first_seen": "2024-11-16T13:40:00.000Z"}},
     ["reverse", "shuffle", "duplicate"])
a = media_event("play_event", player=PLAYING)
a[IDX["user_id"]] = "alice@example.com"
b = media_event("play_event", player=PLAYING)
b[IDX["domain_userid"]] = ""
case("viewer-key-precedence",
     "user_id is the key when set; network_userid when neither user_id nor domain_userid is.",
     [line(a), line(b)],
     [{"apply": {"viewer": "alice@example.com"}}, {"apply": {"viewer": NETWORK}}],
     {"alice@example.com": {"viewer_id": "alice@example.com"}, NETWORK: {"viewer_id": NETWORK}})
s1 = media_event("end_event", at="2024-11-16 13:40:00.000", player={"paused": True, "ended": True, "currentTime": 596.474195},
                 session={"mediaSessionId": "s-one", "timePlayed": 590, "ads": 2, "adsSkipped": 1})
s2 = media_event("ping_event", at="2024-11-16 13:50:00.000", player=PLAYING,
                 session={"mediaSessionId": "s-two", "timePlayed": 60.5, "ads": 1, "adsClicked": 1, "adsSkipped": None})
case("two-media-sessions",
     "Two media sessions of one viewer: the session shown is the latest; the totals add both up.",
     [line(s2), line(s1)], None,
     {VIEWER: {"session": {"session_id": "s-two", "time_played": 60.5, "ads": 1},
               "totals": {"media_sessions": 2, "completed": 1, "time_played": 650.5, "ads": 3, "ads_skipped": 1,
                          "ads_clicked": 1}}},
     ["reverse", "duplicate"])
pr = [media_event("end_event", at="2024-11-16 13:40:00.000", player={"paused": True, "ended": True, "currentTime": 596.474195}),
      media_event("ad_break_start_event", at="2024-11-16 13:40:00.500", player={"paused": True, "ended": True, "currentTime": 596.474195},
                  ad_break={"name": "post-roll", "breakId": "post"}),
      media_event("ad_start_event", at="2024-11-16 13:40:00.600", player={"paused": True, "ended": True, "currentTime": 596.474195},
                  ad=True, ad_break={"name": "post-roll", "breakId": "post"})]
case("post-roll-after-completion", "A post-roll after the end: in an ad, though the video completed.",
     [line(x) for x in pr], None,
     {VIEWER: {"status": "WATCHING_AD", "ad": {"break_id": "post", "break_name": "post-roll", "ad_id": "a1"},
               "totals": {"completed": 1}}}, ["reverse"])
pe = media_event("ad_break_end_event", at="2024-11-16 13:40:16.000", player={"paused": True, "ended": True, "currentTime": 596.474195},
                 ad_break={"name": "post-roll", "breakId": "post"})
case("post-roll-end-completes", "The post-roll's break ends after the video ended: completed.",
     [line(x) for x in pr] + [line(pe)], None, {VIEWER: {"status": "COMPLETED_VIDEO", "ad": None}}, ["shuffle"])
ck = [media_event("ad_start_event", at="2024-11-16 13:40:00.000", player=PAUSED, ad=True, ad_break=True),
      media_event("ad_quartile_event", {"percentProgress": 25}, at="2024-11-16 13:40:04.000", player=PAUSED, ad=True, ad_break=True),
      media_event("ad_click_event", at="2024-11-16 13:40:05.000", player=PAUSED, ad=True, ad_break=True),
      media_event("ad_quartile_event", {"percentProgress": 50}, at="2024-11-16 13:40:08.000", player=PAUSED, ad=True, ad_break=True)]
case("ad-click-and-quartiles-persist",
     "A click between quartiles: the ad shows clicked and the highest quartile, in any order.",
     [line(x) for x in ck], None,
     {VIEWER: {"status": "WATCHING_AD", "ad": {"ad_id": "a1", "clicked": True, "quartile": 2, "skipped": False}}},
     ["reverse", "shuffle", "duplicate"])
nx = [media_event("ad_start_event", at="2024-11-16 13:40:00.000", player=PAUSED, ad=True, ad_break=True),
      media_event("ad_click_event", at="2024-11-16 13:40:05.000", player=PAUSED, ad=True, ad_break=True),
      media_event("ad_complete_event", at="2024-11-16 13:40:15.000", player=PAUSED, ad=True, ad_break=True),
      media_event("ad_start_event", at="2024-11-16 13:40:15.000", player=PAUSED,
                  ad={"adId": "a2", "podPosition": 2, "name": "Second"}, ad_break=True)]
case("next-ad-resets-marks", "The next ad in the pod starts unclicked at quartile 0.",
     [line(x) for x in nx], None,
     {VIEWER: {"ad": {"ad_id": "a2", "name": "Second", "clicked": False, "quartile": 0}}}, ["reverse", "shuffle"])

# --- 7. mobile viewers -----------------------------------------------------------------
#
# Events as the Snowplow mobile trackers (Android and iOS 6.x, media tracking with the same v2
# schemas) send them through the collector and enrich: platform "mob", no domain_userid, no page
# or browser fields, and the mobile entities: client_session (userId = the installation id the
# tracker keeps for the life of the app installation), mobile_context, application and screen.
# network_userid is the collector's cookie, which an app's cookie store may lose between runs.
# Built field by field, not from the browser fixture, so nothing of the web shape is left.

INSTALL_ANDROID = "4b1f2c3e-9a8d-4e7f-b6a5-0c1d2e3f4a5b"
INSTALL_IOS = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
MOBILE_SESSION = "m-5f1e2d3c"
ANON = "00000000-0000-0000-0000-000000000000"
DEVICES = {
    "android": {
        "v_tracker": "andr-6.2.0", "name_tracker": "appTracker",
        "useragent": "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/AP2A.240905.003)",
        "screen": (1080, 2400), "player_type": "com.google.android.exoplayer2",
        "mobile_context": {"osType": "android", "osVersion": "14", "deviceManufacturer": "Google",
                           "deviceModel": "Pixel 8", "carrier": "Vodafone", "networkType": "wifi",
                           "batteryLevel": 81, "batteryState": "unplugged"},
        "install": INSTALL_ANDROID, "storage": "LOCAL_STORAGE",
    },
    "ios": {
        "v_tracker": "ios-6.2.0", "name_tracker": "appTracker",
        "useragent": "LiveTV/412 CFNetwork/1496.0.7 Darwin/23.5.0",
        "screen": (1179, 2556), "player_type": "com.apple.avplayer",
        "mobile_context": {"osType": "ios", "osVersion": "17.5.1", "deviceManufacturer": "Apple Inc.",
                           "deviceModel": "iPhone15,4", "carrier": "EE", "networkType": "mobile",
                           "networkTechnology": "CTRadioAccessTechnologyNR",
                           "appleIdfv": "6F1C7D52-3A0B-4C8E-9D1F-2B3A4C5D6E7F"},
        "install": INSTALL_IOS, "storage": "LOCAL_STORAGE",
    },
}


def plus(t, ms):
    """A TSV time moved by ms milliseconds."""
    from datetime import datetime, timedelta
    d = datetime.strptime(t, "%Y-%m-%d %H:%M:%S.%f") + timedelta(milliseconds=ms)
    return d.strftime("%Y-%m-%d %H:%M:%S.") + f"{d.microsecond // 1000:03d}"


def mobile_event(device, name, at, player, session, data=None, network="a1b2c3d4-0000-4000-8000-00000000aa01",
                 user_id="", install=None, session_index=3, event_index=1):
    """A media event from a mobile app, as enrich writes it. `at` is the device's creation time;
    the tracker sends it 2 s later (batched) and the collector stamps it 150 ms after that, so
    enrich derives derived_tstamp = at + 150 ms (the clock skew it corrects for)."""
    d = DEVICES[device]
    f = [""] * 131
    sent, collected = plus(at, 2000), plus(at, 2150)
    f[IDX["app_id"]] = "livetv-" + device
    f[IDX["platform"]] = "mob"
    f[IDX["etl_tstamp"]] = plus(at, 2400)
    f[IDX["collector_tstamp"]] = collected
    f[IDX["dvce_created_tstamp"]] = at
    f[IDX["dvce_sent_tstamp"]] = sent
    f[IDX["derived_tstamp"]] = plus(at, 150)
    f[IDX["event_id"]] = fresh_id()
    f[IDX["name_tracker"]] = d["name_tracker"]
    f[IDX["v_tracker"]] = d["v_tracker"]
    f[IDX["v_collector"]] = "ssc-3.4.0-kafka"
    f[IDX["v_etl"]] = "snowplow-enrich-kafka-6.10.0"
    f[IDX["user_id"]] = user_id
    f[IDX["user_ipaddress"]] = "203.0.113.24"
    f[IDX["network_userid"]] = network
    f[IDX["useragent"]] = d["useragent"]
    f[IDX["br_lang"]] = "en-GB"
    f[IDX["os_timezone"]] = "Europe/London"
    f[IDX["dvce_screenwidth"]], f[IDX["dvce_screenheight"]] = (str(x) for x in d["screen"])
    set_event(f, name, data)
    f[IDX["event_format"]] = "jsonschema"
    f[IDX["event_version"]] = "1-0-0"
    install = d["install"] if install is None else install
    client_session = {"userId": install, "sessionId": MOBILE_SESSION + "-" + device, "sessionIndex": session_index,
                      "previousSessionId": None if install == ANON else "m-4e0d1c2b-" + device,
                      "storageMechanism": d["storage"], "eventIndex": event_index,
                      "firstEventId": "00000000-0000-4000-8000-00000000f001",
                      "firstEventTimestamp": "2024-11-16T13:49:58.000Z"}
    player = dict({"duration": 1800, "livestream": False, "label": "Match highlights", "mediaType": "video",
                   "muted": False, "playbackRate": 1, "playerType": d["player_type"], "volume": 100}, **player)
    set_contexts(f, [
        {"schema": "iglu:com.snowplowanalytics.snowplow/media_player/jsonschema/2-0-0", "data": player},
        {"schema": "iglu:com.snowplowanalytics.snowplow.media/session/jsonschema/1-0-0",
         "data": dict({"mediaSessionId": "ms-" + device, "startedAt": "2024-11-16T13:50:00.000Z", "pingInterval": 30},
                      **session)},
        {"schema": "iglu:com.snowplowanalytics.snowplow/client_session/jsonschema/1-0-2", "data": client_session},
        {"schema": "iglu:com.snowplowanalytics.snowplow/mobile_context/jsonschema/1-0-3", "data": d["mobile_context"]},
        {"schema": "iglu:com.snowplowanalytics.mobile/application/jsonschema/1-0-0",
         "data": {"build": "412", "version": "4.12.0"}},
        {"schema": "iglu:com.snowplowanalytics.mobile/screen/jsonschema/1-0-0",
         "data": {"name": "Player", "id": "5d6e7f80-1a2b-4c3d-9e8f-0a1b2c3d4e5f", "type": "fullscreen",
                  **({"activity": "PlayerActivity"} if device == "android" else {"viewController": "PlayerViewController"})}},
    ])
    return f


M0 = "2024-11-16 13:50:00.000"
android = [
    mobile_event("android", "ready_event", M0, {"currentTime": 0, "paused": True, "ended": False}, {},
                 event_index=1),
    mobile_event("android", "play_event", "2024-11-16 13:50:01.000", {"currentTime": 0, "paused": False, "ended": False},
                 {}, event_index=2),
    mobile_event("android", "ping_event", "2024-11-16 13:50:31.000", {"currentTime": 30, "paused": False, "ended": False},
                 {"timePlayed": 30, "contentWatched": 30}, event_index=3,
                 network="a1b2c3d4-0000-4000-8000-00000000aa02"),
    mobile_event("android", "pause_event", "2024-11-16 13:50:43.500", {"currentTime": 42.5, "paused": True, "ended": False},
                 {"timePlayed": 42.5, "contentWatched": 43}, event_index=4,
                 network="a1b2c3d4-0000-4000-8000-00000000aa03"),
]
case("mobile-android-session",
     "An Android app's media session (ready, play, ping, pause): no domain_userid, and network_userid changes "
     "as the app's cookie store is reset; every event is keyed by the client_session entity's userId, the "
     "installation id, so it is one viewer.",
     [line(x) for x in android],
     [{"apply": {"viewer": INSTALL_ANDROID, "event": e}} for e in ("ready_event", "play_event", "ping_event", "pause_event")],
     {INSTALL_ANDROID: {"viewer_id": INSTALL_ANDROID, "status": "PAUSED_VIDEO", "status_at": "2024-11-16T13:50:43.650Z",
                        "first_seen": "2024-11-16T13:50:00.150Z", "last_seen": "2024-11-16T13:50:43.650Z",
                        "media": {"label": "Match highlights", "player_type": "com.google.android.exoplayer2",
                                  "current_time": 42.5, "duration": 1800, "percent": 2.36, "livestream": False},
                        "session": {"session_id": "ms-android", "time_played": 42.5, "content_watched": 43},
                        "last_event": "pause_event"}},
     ["reverse", "shuffle", "duplicate"])
ios_play = mobile_event("ios", "play_event", M0, {"currentTime": 12, "paused": False, "ended": False},
                        {"timePlayed": 0})
case("mobile-ios-both-forms",
     "An iOS app's play event as enriched TSV and in Snowbridge's JSON form (contexts_..._client_session_1): "
     "both keyed by the installation id.",
     [line(ios_play), {"json": to_json(ios_play)}],
     [{"apply": {"viewer": INSTALL_IOS, "event": "play_event"}}] * 2,
     {INSTALL_IOS: {"status": "WATCHING_VIDEO", "media": {"player_type": "com.apple.avplayer", "current_time": 12}}})
web = media_event("play_event", at="2024-11-16 13:40:00.000", player=PLAYING)
web[IDX["user_id"]] = "alice@example.com"
phone = mobile_event("android", "pause_event", "2024-11-16 13:55:00.000",
                     {"currentTime": 300, "paused": True, "ended": False}, {"timePlayed": 300},
                     user_id="alice@example.com")
case("mobile-logged-in-across-devices",
     "A logged-in viewer on the web (domain_userid set) and then in the Android app (installation id set): "
     "user_id comes first in both, so both devices update one profile.",
     [line(web), line(phone)],
     [{"apply": {"viewer": "alice@example.com"}}, {"apply": {"viewer": "alice@example.com"}}],
     {"alice@example.com": {"status": "PAUSED_VIDEO", "status_at": "2024-11-16T13:55:00.150Z",
                            "first_seen": "2024-11-16T13:40:00.000Z",
                            "media": {"label": "Match highlights", "current_time": 300}}},
     ["reverse"])
anon = mobile_event("ios", "play_event", M0, {"currentTime": 5, "paused": False, "ended": False}, {}, install=ANON,
                    network="a1b2c3d4-0000-4000-8000-00000000bb01")
case("mobile-user-anonymisation",
     "The tracker's user anonymisation writes the nil UUID as client_session.userId; that is no viewer (every "
     "anonymous app user would be one), so the collector's network_userid keys the event.",
     [line(anon)], [{"apply": {"viewer": "a1b2c3d4-0000-4000-8000-00000000bb01"}}])
both = mobile_event("ios", "play_event", M0, {"currentTime": 5, "paused": False, "ended": False}, {}, install=ANON,
                    network=ANON)
reject("reject-mobile-fully-anonymous",
       "User anonymisation in the tracker and the SP-Anonymous header at the collector (network_userid is the nil "
       "UUID too): no viewer id.", line(both),
       "no viewer id: user_id, domain_userid, client_session.userId and network_userid are all empty or anonymous")
bad = mobile_event("android", "play_event", M0, {"currentTime": 5, "paused": False, "ended": False}, {})
change_entity(bad, "client_session", userId=42)
reject("reject-mobile-client-session-bad-user-id",
       "A client_session whose userId is a number (the schema says a UUID string), needed as the key.", line(bad),
       "client_session: invalid type: integer `42`, expected a string")

# --------------------------------------------------------------------------------- write

out_dir = os.path.join(VECTORS, "cases")
shutil.rmtree(out_dir, ignore_errors=True)
os.makedirs(out_dir)
for i, (name, c) in enumerate(CASES.items(), 1):
    with open(os.path.join(out_dir, f"{i:03d}-{name}.json"), "w") as fh:
        json.dump(c, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
print(f"{len(CASES)} cases written to test-vectors/cases/")
