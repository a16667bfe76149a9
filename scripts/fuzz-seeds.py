#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora (host/fuzz/corpus/<target>/) from the real session and the
test vectors, when a corpus is empty. Run by scripts/fuzz.sh."""
import hashlib
import json
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "host/fuzz/corpus")
FIXTURE = os.path.join(ROOT, "test-vectors/fixtures/snowplow-micro-media.tsv")
CASES = os.path.join(ROOT, "test-vectors/cases")


def write(target, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def frames(messages):
    out = struct.pack("<I", len(messages))
    for m in messages:
        out += struct.pack("<I", len(m)) + m
    return out


def empty(target):
    d = os.path.join(CORPUS, target)
    return not os.path.isdir(d) or not os.listdir(d)


lines = [l.encode() for l in open(FIXTURE).read().split("\n") if l]
events_json, events_raw = [], []
for name in sorted(os.listdir(CASES)):
    case = json.load(open(os.path.join(CASES, name)))
    for e in case["events"]:
        if isinstance(e, dict) and "json" in e:
            events_json.append(json.dumps(e["json"], separators=(",", ":")).encode())
        elif isinstance(e, str):
            events_raw.append(e.encode())

if empty("tsv"):
    for m in lines + events_raw:
        write("tsv", m)
if empty("json"):
    for m in events_json:
        write("json", m)
if empty("frames"):
    for i in range(0, len(lines), 7):
        write("frames", frames(lines[i:i + 7]))
    write("frames", frames([]))
    write("frames", frames([b"", b"\xff"]))
if empty("module_output"):
    at = {"ts": 1731764009298, "rank": 30, "id": "e-1"}
    deltas = [
        {"op": "state", "field": "status", "value": "WATCHING_VIDEO"},
        {"op": "set", "field": "media", "value": {"label": "Bugs Bunny", "current_time": 1.5, "duration": 596.47}},
        {"op": "set", "field": "ad.quartile", "value": 2},
        {"op": "max", "field": "ads", "value": 2, "session": "s-1"},
        {"op": "set", "field": "started_at", "value": "2024-11-16T13:33:23.276Z", "session": "s-1"},
        {"op": "add", "field": "ads_completed", "value": 1, "dedupe": "e-1", "session": "s-1"},
    ]
    outcomes = [
        [{"apply": {"viewer": "v-1", "event": "play_event", "at": at, "deltas": deltas}}],
        [{"skip": {"reason": "not a media event (page_view)"}}, {"reject": {"reason": "empty message"}}],
        [{"apply": {"viewer": "v-1", "event": "ping_event", "at": at, "deltas": deltas[:2]}},
         {"apply": {"viewer": "v-2", "event": "ad_start_event", "at": dict(at, id="e-2", rank=50), "deltas": deltas[2:]}},
         {"skip": {"reason": "x"}}],
    ]
    for o in outcomes:
        write("module_output", bytes([len(o) - 1]) + json.dumps(o).encode())
print("seed corpora in", CORPUS)
