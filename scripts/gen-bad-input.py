#!/usr/bin/env python3
"""Writes test-vectors/bad-input/: hostile and broken messages, one per file, byte-exact, and
expected.json with each one's documented outcome. host/tests/bad_input.rs pushes them through
the real pipeline (replay and Kafka) and accounts for every one.

Outcomes: "applied", "skipped", or "dead:<kind>:<text in the reason>".
"""
import json
import os
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test-vectors/bad-input")
LINES = [l for l in open(os.path.join(ROOT, "test-vectors/fixtures/snowplow-micro-media.tsv")).read().split("\n") if l]
HEADER = open(os.path.join(ROOT, "test-vectors/fixtures/enriched-header.tsv")).read().strip("\n").split("\t")
IDX = {n: i for i, n in enumerate(HEADER)}
PLAY = LINES[3]  # a play_event of the real session
AD_START = LINES[5]

cases = {}


def add(name, data, outcome, note):
    if isinstance(data, str):
        data = data.encode()
    cases[name] = {"outcome": outcome, "note": note, "bytes": data}


def with_field(line, field, value):
    f = line.split("\t")
    f[IDX[field]] = value
    return "\t".join(f)


def with_json_field(line, field, fn):
    f = line.split("\t")
    f[IDX[field]] = fn(f[IDX[field]])
    return "\t".join(f)


def now_event(ts):
    return with_field(with_field(with_field(PLAY, "derived_tstamp", ts), "dvce_created_tstamp", ts), "collector_tstamp", ts)


add("01-control-play.tsv", PLAY, "applied", "a real play_event: the control")
add("02-control-page-view.tsv", LINES[0], "skipped", "a real page view: not a media event")
add("03-truncated.tsv", PLAY[:1000], "dead:rejected:expected 131 tab-separated fields", "cut off after 1000 bytes")
add("04-130-fields.tsv", PLAY[: PLAY.rindex("\t")], "dead:rejected:found 130", "one field missing")
add("05-132-fields.tsv", PLAY + "\textra", "dead:rejected:found 132", "one field too many")
add("06-tab-in-field.tsv", with_field(PLAY, "page_title", "Bugs\tBunny"), "dead:rejected:found 132", "a tab inside a field")
add("07-newline-in-field.tsv", with_field(PLAY, "page_title", "Bugs\nBunny"), "applied",
    "a newline inside a field the logic does not read (a replay file splits it into two lines, both rejected)")
add("08-newline-in-json.tsv", with_json_field(PLAY, "contexts", lambda c: c.replace('"Bugs Bunny"', '"Bugs\nBunny"')),
    "dead:rejected:contexts: invalid JSON", "a raw newline inside a JSON string")
add("09-invalid-json-contexts.tsv", with_json_field(PLAY, "contexts", lambda c: c[:-3]), "dead:rejected:contexts: invalid JSON", "contexts cut short")
add("10-deep-json-contexts.tsv", with_field(PLAY, "contexts", "[" * 20000 + "]" * 20000), "dead:rejected:contexts: invalid JSON",
    "20 000 nested arrays (the parser stops at depth 128)")
add("11-deep-json-unstruct.tsv",
    with_field(PLAY, "unstruct_event", '{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{"schema":"iglu:com.snowplowanalytics.snowplow.media/play_event/jsonschema/1-0-0","data":' + '{"a":' * 5000 + "1" + "}" * 5000 + "}}"),
    "applied", "a deeply nested but well-formed event payload: its unknown fields are skipped without recursion")
add("12-wrong-schema-entity.tsv", with_json_field(PLAY, "contexts", lambda c: c.replace("media_player/jsonschema/2-0-0", "media_player/jsonschema/9-0-0")),
    "dead:rejected:without the media_player entity", "the player entity under a version the logic does not speak")
add("13-wrong-schema-uri.tsv", with_json_field(PLAY, "unstruct_event", lambda u: u.replace("iglu:com.snowplowanalytics.snowplow.media/play_event/jsonschema/1-0-0", "iglu:garbage")),
    "dead:rejected:unstruct_event: invalid schema URI", "a schema URI that is not one")
add("14-missing-player.tsv", with_json_field(PLAY, "contexts", lambda c: c.replace("iglu:com.snowplowanalytics.snowplow/media_player/jsonschema/2-0-0", "iglu:com.acme/other/jsonschema/1-0-0")),
    "dead:rejected:play_event without the media_player entity", "a media event without its player entity")
add("15-missing-ad.tsv", with_json_field(AD_START, "contexts", lambda c: c.replace("snowplow.media/ad/jsonschema", "snowplow.media/not_ad/jsonschema")),
    "dead:rejected:ad_start_event without the ad entity", "an ad start without the ad")
add("16-number-for-string.tsv", with_json_field(AD_START, "contexts", lambda c: c.replace('"adId":"288"', '"adId":288')),
    "dead:rejected:ad: invalid type: integer `288`, expected a string", "a number where the schema says string")
add("17-string-for-number.tsv", with_json_field(PLAY, "contexts", lambda c: c.replace('"currentTime":0,', '"currentTime":"0",')),
    "dead:rejected:media_player: invalid type: string", "a string where the schema says number")
add("18-nan.tsv", with_json_field(PLAY, "contexts", lambda c: c.replace('"currentTime":0,', '"currentTime":NaN,')),
    "dead:rejected:contexts: invalid JSON", "NaN is not JSON")
add("19-huge-number.tsv", with_json_field(PLAY, "contexts", lambda c: c.replace('"currentTime":0,', '"currentTime":1e400,')),
    "dead:rejected:media_player: number out of range", "a number past f64")
add("20-negative.tsv", with_json_field(PLAY, "contexts", lambda c: c.replace('"duration":596.474195', '"duration":-596.474195')),
    "dead:rejected:media_player.duration is out of range", "a negative duration")
add("21-far-past.tsv", now_event("1990-01-01 00:00:00.000"), "dead:rejected:outside the years 2000 to 2099", "an event from 1990")
add("22-far-future.tsv", now_event("2098-01-01 00:00:00.000"), "dead:too_far_ahead:ahead of the host's clock",
    "an event from 2098: it would pin the viewer's state for good")
add("23-not-utf8.tsv", PLAY.encode()[:200] + b"\xc3\x28\xff" + PLAY.encode()[200:], "dead:rejected:not valid UTF-8", "invalid UTF-8")
add("24-empty.bin", b"", "dead:rejected:empty message", "an empty message (a replay file has no empty events: a blank line is skipped)")
add("25-json-cut.json", '{"event_id": "e", "domain_userid": ', "dead:rejected:Snowbridge JSON", "JSON cut short")
add("26-json-deep.json",
    '{"event_id":"e-deep","domain_userid":"d","derived_tstamp":"2024-11-16T13:33:29.170Z","event_vendor":"com.snowplowanalytics.snowplow.media",'
    '"event_name":"play_event","unstruct_event_com_snowplowanalytics_snowplow_media_play_event_1":{},'
    '"contexts_com_snowplowanalytics_snowplow_media_player_2":' + "[" * 5000 + "]" * 5000 + "}",
    "dead:rejected:media_player: invalid type: sequence", "5000 nested arrays where the player entity belongs (JSON form)")
add("27-huge-label.tsv", with_json_field(PLAY, "contexts", lambda c: c.replace('"Bugs Bunny"', '"' + "B" * 5000 + '"')),
    "dead:rejected:media_player.label is longer than 4096 bytes", "a label past the schema's maximum")
add("28-huge-user-id.tsv", with_field(PLAY, "user_id", "u" * 2000), "dead:rejected:viewer id is longer than 1024 bytes", "a key too long for a store")
add("29-html-label.tsv", with_field(with_json_field(PLAY, "contexts", lambda c: c.replace('"Bugs Bunny"', '"<img src=x onerror=alert(1)>"')), "domain_userid", "viewer-with-markup"),
    "applied", "markup in a label is data: stored as text, shown as text")
add("30-ten-megabytes.tsv", None, "dead:too_large:bytes; the limit is", "a 10 MB message (generated by the test; not stored here)")

shutil.rmtree(OUT, ignore_errors=True)
os.makedirs(OUT)
expected = {}
for name, c in cases.items():
    if c["bytes"] is not None:
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(c["bytes"])
    expected[name] = {"outcome": c["outcome"], "note": c["note"]}
with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump(expected, f, indent=2)
    f.write("\n")
with open(os.path.join(OUT, "README.md"), "w") as f:
    f.write("# Bad input\n\nHostile and broken messages, one per file, byte for byte, with the outcome each gets "
            "(written by `scripts/gen-bad-input.py`; checked through replay and Kafka by `host/tests/bad_input.rs`, "
            "which also sends 10 000 events of one viewer at once).\n\n"
            "`dead:<kind>:<text>`: dead-lettered with that kind and a reason containing the text.\n\n"
            "| input | outcome | what it is |\n| --- | --- | --- |\n")
    for name, e in expected.items():
        f.write(f"| `{name}` | `{e['outcome']}` | {e['note']} |\n")
print(len(cases), "bad inputs written to test-vectors/bad-input/")
