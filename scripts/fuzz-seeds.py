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
# Module outputs: an apply with every op, skips and rejects, several per call.
at = {"ts": 1731764009298, "rank": 30, "id": "e-1"}
deltas = [
    {"op": "state", "field": "status", "value": "WATCHING_VIDEO"},
    {"op": "set", "field": "media", "value": {"label": "Bugs Bunny", "current_time": 1.5, "duration": 596.47}},
    {"op": "set", "field": "ad.quartile", "value": 2},
    {"op": "max", "field": "ads", "value": 2, "session": "s-1"},
    {"op": "set", "field": "started_at", "value": "2024-11-16T13:33:23.276Z", "session": "s-1"},
    {"op": "add", "field": "ads_completed", "value": 1, "dedupe": "e-1", "session": "s-1"},
]
OUTPUT_SEEDS = [
    [{"apply": {"viewer": "v-1", "event": "play_event", "at": at, "deltas": deltas}}],
    [{"skip": {"reason": "not a media event (page_view)"}}, {"reject": {"reason": "empty message"}}],
    [{"apply": {"viewer": "v-1", "event": "ping_event", "at": at, "deltas": deltas[:2]}},
     {"apply": {"viewer": "v-2", "event": "ad_start_event", "at": dict(at, id="e-2", rank=50), "deltas": deltas[2:]}},
     {"skip": {"reason": "x"}}],
]
if empty("module_output"):
    for o in OUTPUT_SEEDS:
        write("module_output", bytes([len(o) - 1]) + json.dumps(o).encode())


# ABI v2 (docs/abi.md), written from the spec and not from the Rust encoder: the same seeds
# as above, names inline (reference 0) or as low references into the module's table.
def uvar(v):
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7
    return out + bytes([v])


def v2_str(s):
    b = s.encode()
    return uvar(len(b)) + b


def v2_name(s, ref=None):
    return uvar(ref) if ref else b"\x00" + v2_str(s)


def v2_value(v):
    if v is None:
        return b"\x00"
    if v is False or v is True:
        return bytes([2 if v else 1])
    if isinstance(v, int):
        return b"\x03" + uvar((v << 1) ^ (v >> 63))
    if isinstance(v, float):
        return b"\x05" + struct.pack("<d", v)
    if isinstance(v, str):
        return b"\x06" + v2_str(v)
    if isinstance(v, list):
        return b"\x07" + uvar(len(v)) + b"".join(v2_value(x) for x in v)
    return b"\x08" + uvar(len(v)) + b"".join(v2_name(k) + v2_value(x) for k, x in sorted(v.items()))


def v2_outcome(o):
    if "skip" in o:
        return b"\x01" + v2_str(o["skip"]["reason"])
    if "reject" in o:
        return b"\x02" + v2_str(o["reject"]["reason"])
    a = o["apply"]
    session = next((d["session"] for d in a["deltas"] if "session" in d), None)
    out = b"\x00" + v2_str(a["viewer"]) + v2_name(a["event"])
    out += uvar((a["at"]["ts"] << 1) ^ (a["at"]["ts"] >> 63)) + bytes([a["at"]["rank"]]) + v2_str(a["at"]["id"])
    out += (b"\x01" + v2_str(session)) if session is not None else b"\x00"
    out += uvar(len(a["deltas"]))
    ops = {"state": 0, "set": 1, "max": 2, "add": 3}
    for d in a["deltas"]:
        scope = 0 if "session" not in d else (1 if d["session"] == session else 2)
        out += bytes([ops[d["op"]] | scope << 4]) + v2_name(d["field"], ref=1 if d["field"] == "status" else None)
        if scope == 2:
            out += v2_str(d["session"])
        if d["op"] == "state":
            out += v2_name(d["value"])
        elif d["op"] == "set":
            out += v2_value(d["value"])
        else:
            out += struct.pack("<d", float(d["value"]))
            if d["op"] == "add":
                out += v2_str(d["dedupe"])
    return out


if empty("module_output_v2"):
    for o in OUTPUT_SEEDS:
        write("module_output_v2", bytes([len(o) - 1]) + b"\x02" + uvar(len(o)) + b"".join(v2_outcome(x) for x in o))
print("seed corpora in", CORPUS)
