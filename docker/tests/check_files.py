#!/usr/bin/env python3
"""Static checks of docker/: everything that can be verified without a Docker engine.

    pip install -r docker/tests/requirements.txt
    python3 docker/tests/check_files.py

Checks
  compose   compose.yaml parses, with every file it includes; every image is pinned to an exact
            version (no `latest`, no missing or floating tag), Dockerfile base images too; every
            file or directory a service bind-mounts, builds from or passes on its command line
            exists in the repository; no two services publish the same host port; every
            depends_on target exists (the liveviewer host's in particular); named volumes are
            declared.
  configs   the collector and enrich HOCON, the Iglu resolver and enrichments (JSON), the host's
            TOML parse; the TOML has only keys the host knows and no secrets; every Kafka topic
            they and Snowbridge name is created by kafka/create-topics.sh, and nothing else is,
            and snowplow-enriched-good has 4 partitions.
  snowbridge  both HCL variants parse, with one source, target and failure target, one
            transform block (5.x) starting with the filter, and batching limits Snowbridge
            accepts; the filter regex, read from the HCL, keeps exactly the media events of the
            Snowplow Micro recording in test-vectors/fixtures/ and drops its page views and page
            pings; the partition key field is set on every kept event.

Exits 1 with one line per problem, 0 when everything holds.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tomllib
from pathlib import Path

try:
    import yaml  # PyYAML
    import hcl2  # python-hcl2
    from pyhocon import ConfigFactory
except ImportError as e:  # pragma: no cover - environment problem, not a check failure
    sys.exit(f"check_files: missing a dependency ({e.name}): pip install -r docker/tests/requirements.txt")

DOCKER = Path(__file__).resolve().parent.parent
REPO = DOCKER.parent
FIXTURES = REPO / "test-vectors" / "fixtures"

# The Snowplow Micro recording of a real media session: one enriched event per line.
MICRO_TSV = FIXTURES / "snowplow-micro-media.tsv"
HEADER_TSV = FIXTURES / "enriched-header.tsv"
# Counted from the file (report_fixture_counts prints them): 73 events, of which 47 media events
# (vendor com.snowplowanalytics.snowplow.media: 16 ad_quartile, 6 ad_start, 4 each of play,
# pause and ping, 3 each of ad_break_start, ad_break_end, ad_complete and ad_skip, 1 ad_click),
# 2 page views and 24 page pings. (The issue said 46 media events; the file has 47.)
EXPECTED_EVENTS = 73
EXPECTED_MEDIA = 47
EXPECTED_PAGE_VIEWS = 2
EXPECTED_PAGE_PINGS = 24

# The host's topic and its partition count (several hosts share it; see README.md).
HOST_TOPIC = "snowplow-enriched-good"
HOST_TOPIC_PARTITIONS = 4

# Keys liveviewer's config accepts, as host/src/config.rs declares them (its structs deny
# unknown fields, so a typo stops the host at start; this catches it before an image is built).
# None: a value; a dict: a section; ANY: a free-form table. Extend it when the host adds keys.
ANY = object()
HOST_CONFIG_KEYS = {
    "data_dir": None,
    "source": {
        "kind": None,
        "kafka": {"brokers": None, "topic": None, "group_id": None, "dead_letter_topic": None, "properties": ANY},
        "simulator": {"viewers": None, "seed": None, "speed": None, "ping_interval_s": None},
    },
    "store": {
        "kind": None,
        "dynamodb": {"region": None, "endpoint": None, "profiles_table": None, "history_table": None,
                     "history_ttl_days": None, "create_tables": None, "write_concurrency": None},
    },
    "pipeline": {"batch_max": None, "batch_wait_ms": None, "queue_batches": None, "retry_initial_ms": None,
                 "retry_max_ms": None, "max_message_bytes": None, "max_tracked_viewers": None},
    "module": {"path": None, "vectors_dir": None, "limits": ANY},
    "http": {"listen": None, "admin_token": None, "ingest_token": None, "max_body_bytes": None, "dashboard_dir": None},
    "active": {"window_s": None, "clock": None},
}
# Secrets come from the environment, never from the committed files.
SECRET_KEYS = {("http", "admin_token"), ("http", "ingest_token")}

problems: list[str] = []


def problem(msg: str) -> None:
    problems.append(msg)


def rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------------------------------
# Compose

INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def interpolate(value):
    """Compose-style ${VAR:-default} interpolation, with the defaults (the environment is not
    consulted: the checks are about what the files say)."""
    if isinstance(value, str):
        def repl(m: re.Match) -> str:
            if m.group(4):
                return ""
            op, arg = m.group(2), m.group(3)
            if op in (":-", "-"):
                return arg or ""
            return ""
        return INTERPOLATION.sub(repl, value.replace("$$", "\0")).replace("\0", "$")
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v) for k, v in value.items()}
    return value


def load_compose(path: Path, seen: set[Path]) -> list[tuple[Path, dict]]:
    """The compose file and, recursively, the files it includes, each with its own directory."""
    path = path.resolve()
    if path in seen:
        problem(f"{rel(path)}: included twice (include cycle?)")
        return []
    seen.add(path)
    if not path.is_file():
        problem(f"{rel(path)}: compose file not found")
        return []
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        problem(f"{rel(path)}: not valid YAML: {e}")
        return []
    if not isinstance(doc, dict):
        problem(f"{rel(path)}: not a compose mapping")
        return []
    files = [(path, doc)]
    for item in doc.get("include") or []:
        if isinstance(item, str):
            paths = [item]
        elif isinstance(item, dict):
            p = item.get("path")
            paths = p if isinstance(p, list) else [p]
        else:
            problem(f"{rel(path)}: include entry {item!r} is neither a path nor a mapping")
            continue
        for p in paths:
            if not isinstance(p, str):
                problem(f"{rel(path)}: include entry {item!r} has no path")
                continue
            files += load_compose(path.parent / interpolate(p), seen)
    return files


# An exact version: at least major.minor (e.g. 4.1.1, v1.5.0, 1.29.8-alpine, 12.13-slim).
VERSION_TAG = re.compile(r"^v?\d+\.\d+(\.\d+)*([-_.+][A-Za-z0-9._-]+)?$")


def check_image_ref(where: str, ref: str) -> None:
    """An image reference must name an exact version: a tag like 4.1.1 (or a digest)."""
    if "@sha256:" in ref:
        return
    name, _, tag = ref.rpartition(":")
    if not name or "/" in tag:  # no tag at all (the colon belonged to a registry port)
        problem(f"{where}: image {ref!r} has no tag (it would float with `latest`)")
        return
    if tag == "latest" or tag.startswith("latest-") or tag.endswith("-latest"):
        problem(f"{where}: image {ref!r} is pinned to `latest`")
        return
    if not VERSION_TAG.match(tag):
        problem(f"{where}: image {ref!r}: tag {tag!r} is not an exact version")


def parse_port(spec) -> list[tuple[str, int, str]]:
    """Published host ports of one `ports` entry, as (host_ip, port, protocol)."""
    out = []
    if isinstance(spec, dict):  # long syntax
        published = spec.get("published")
        if published is None:
            return out
        ip = spec.get("host_ip", "0.0.0.0")
        proto = spec.get("protocol", "tcp")
        spec_ports = str(published)
    else:
        s = str(spec)
        proto = "tcp"
        if "/" in s:
            s, proto = s.rsplit("/", 1)
        parts = s.rsplit(":", 2) if s.count(":") >= 2 else s.split(":")
        if len(parts) == 1:
            return out  # container port only: Docker picks a random host port
        if len(parts) == 3:
            ip, spec_ports = parts[0].strip("[]") or "0.0.0.0", parts[1]
        else:
            ip, spec_ports = "0.0.0.0", parts[0]
    if "-" in spec_ports:
        lo, hi = spec_ports.split("-", 1)
        ports = range(int(lo), int(hi) + 1)
    else:
        ports = [int(spec_ports)]
    return [(ip, p, proto) for p in ports]


def ports_clash(a: tuple[str, int, str], b: tuple[str, int, str]) -> bool:
    wildcard = {"0.0.0.0", "::", ""}
    return a[1] == b[1] and a[2] == b[2] and (a[0] == b[0] or a[0] in wildcard or b[0] in wildcard)


def base_images(dockerfile: Path) -> list[str]:
    """FROM images of a Dockerfile, with ARG defaults substituted; stage names skipped."""
    args: dict[str, str] = {}
    stages: set[str] = set()
    images = []
    for line in dockerfile.read_text().splitlines():
        line = line.strip()
        m = re.match(r"(?i)^ARG\s+([A-Za-z_][A-Za-z0-9_]*)=(\S+)", line)
        if m:
            args.setdefault(m.group(1), m.group(2).strip("\"'"))
            continue
        m = re.match(r"(?i)^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", line)
        if m:
            ref = re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda a: args.get(a.group(1), a.group(0)), m.group(1))
            if m.group(2):
                stages.add(m.group(2).lower())
            if ref.lower() not in stages and ref != "scratch":
                images.append(ref)
    return images


def check_compose() -> dict[str, dict]:
    files = load_compose(DOCKER / "compose.yaml", set())
    services: dict[str, tuple[Path, dict]] = {}
    volumes: set[str] = set()
    for path, doc in files:
        volumes |= set((doc.get("volumes") or {}).keys())
        for name, svc in (doc.get("services") or {}).items():
            if name in services:
                problem(f"{rel(path)}: service {name!r} is also defined in {rel(services[name][0])}")
            services[name] = (path, interpolate(svc or {}))
    if not services:
        problem("compose: no services found")
        return {}

    published: list[tuple[tuple[str, int, str], str]] = []
    for name, (path, svc) in sorted(services.items()):
        where = f"{rel(path)}: service {name}"
        base = path.parent

        build = svc.get("build")
        if build is not None:
            context = base / (build if isinstance(build, str) else build.get("context", "."))
            dockerfile = context / ("Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile"))
            if not context.is_dir():
                problem(f"{where}: build context {rel(context)} does not exist")
            elif not dockerfile.is_file():
                problem(f"{where}: Dockerfile {rel(dockerfile)} does not exist")
            else:
                for ref in base_images(dockerfile):
                    check_image_ref(f"{rel(dockerfile)} (FROM)", ref)
        image = svc.get("image")
        if image is None and build is None:
            problem(f"{where}: neither image nor build")
        elif image is not None and build is None:
            check_image_ref(where, image)

        mounts = []  # (host path, container path)
        for vol in svc.get("volumes") or []:
            if isinstance(vol, dict):
                vtype, source, target = vol.get("type"), vol.get("source"), vol.get("target")
            else:
                parts = str(vol).split(":")
                source, target = (parts[0], parts[1]) if len(parts) >= 2 else (None, parts[0])
                vtype = "bind" if source and (source.startswith((".", "/", "~"))) else "volume"
            if vtype == "bind":
                host = (base / source).resolve()
                if not host.exists():
                    problem(f"{where}: mounts {source} ({rel(host)}), which does not exist")
                elif REPO not in host.parents and host != REPO:
                    problem(f"{where}: mounts {source}, outside the repository")
                mounts.append((host, target))
            elif vtype == "volume" and source and source not in volumes:
                problem(f"{where}: named volume {source!r} is not declared under top-level volumes")

        # Absolute paths on the command line (config files) must come from a bind mount.
        command = svc.get("command")
        if isinstance(command, list):
            for arg in command:
                if not isinstance(arg, str) or not arg.startswith("/"):
                    continue
                for host, target in mounts:
                    if arg == target or arg.startswith(target.rstrip("/") + "/"):
                        mapped = host / os.path.relpath(arg, target)
                        if not mapped.exists():
                            problem(f"{where}: command names {arg}, but {rel(mapped)} does not exist")
                        break
                else:
                    problem(f"{where}: command names {arg}, which no bind mount provides")

        for env_file in ([svc["env_file"]] if isinstance(svc.get("env_file"), str) else svc.get("env_file") or []):
            p = env_file if isinstance(env_file, str) else env_file.get("path")
            if not (base / p).is_file():
                problem(f"{where}: env_file {p} does not exist")

        for spec in svc.get("ports") or []:
            try:
                host_ports = parse_port(spec)
            except ValueError:
                problem(f"{where}: cannot read port {spec!r}")
                continue
            for hp in host_ports:
                for other, other_name in published:
                    if ports_clash(hp, other):
                        problem(f"{where}: host port {hp[1]}/{hp[2]} is also published by {other_name}")
                published.append((hp, name))

        deps = svc.get("depends_on") or []
        for dep in deps if isinstance(deps, list) else deps.keys():
            if dep not in services:
                problem(f"{where}: depends on {dep!r}, which is not a service")

    host = services.get("liveviewer")
    if host is None:
        problem("compose: no `liveviewer` service (the host)")
    else:
        deps = host[1].get("depends_on") or {}
        deps = deps if isinstance(deps, list) else list(deps)
        for needed in ("kafka-init", "dynamodb"):
            if needed not in deps:
                problem(f"compose: the liveviewer host does not depend on {needed!r}")
    for needed in ("kafka", "kafka-init", "kafka-ui", "collector", "enrich", "snowbridge", "dynamodb", "watch"):
        if needed not in services:
            problem(f"compose: service {needed!r} is missing")

    print(f"compose: {len(files)} files, {len(services)} services, "
          f"{len(published)} published ports ({', '.join(str(p[0][1]) for p in published)})")
    return {name: svc for name, (_, svc) in services.items()}


# ---------------------------------------------------------------------------------------------
# HCL (Snowbridge)

def hcl_string(value) -> str:
    """A string attribute from python-hcl2, which (from 7.x) keeps the source quotes and
    escapes: '"a\\\\.b"' -> 'a\\.b'. Unquoted values are returned as they are."""
    if not isinstance(value, str):
        return value
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        body = value[1:-1]
        out, i = [], 0
        escapes = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
        while i < len(body):
            c = body[i]
            if c == "\\" and i + 1 < len(body):
                n = body[i + 1]
                if n in escapes:
                    out.append(escapes[n])
                    i += 2
                    continue
                if n == "u" and i + 6 <= len(body):
                    out.append(chr(int(body[i + 2:i + 6], 16)))
                    i += 6
                    continue
                if n == "U" and i + 10 <= len(body):
                    out.append(chr(int(body[i + 2:i + 10], 16)))
                    i += 10
                    continue
            out.append(c)
            i += 1
        return "".join(out).replace("$${", "${").replace("%%{", "%{")
    return value


def blocks(doc: dict, name: str) -> list[dict]:
    return [b for b in doc.get(name, []) if isinstance(b, dict)]


def uses(block: dict) -> list[tuple[str, dict]]:
    """The `use "name" { ... }` blocks inside a block, in order."""
    out = []
    for u in block.get("use", []):
        for label, body in u.items():
            out.append((hcl_string(label), body))
    return out


def load_hcl(path: Path) -> dict | None:
    try:
        with path.open() as f:
            return hcl2.load(f)
    except Exception as e:  # python-hcl2 raises lark errors of several kinds
        problem(f"{rel(path)}: not valid HCL: {e}")
        return None


def check_snowbridge(path: Path, expect_target: str) -> dict:
    """Parses one Snowbridge config; returns its topics and, for the checks below, its filter
    and partition key."""
    info: dict = {"topics": set(), "filter": None, "pk_field": None}
    doc = load_hcl(path)
    if doc is None:
        return info
    where = rel(path)
    for section in ("source", "target", "failure_target"):
        found = blocks(doc, section)
        if len(found) != 1 or len(uses(found[0])) != 1:
            problem(f"{where}: needs exactly one {section} {{ use \"...\" {{}} }} block")
            continue
        kind, body = uses(found[0])[0]
        if section == "source" and kind != "kafka":
            problem(f"{where}: source is {kind!r}, expected kafka")
        if section == "target" and kind != expect_target:
            problem(f"{where}: target is {kind!r}, expected {expect_target}")
        if kind == "kafka":
            info["topics"].add(hcl_string(body.get("topic_name")))
            if hcl_string(body.get("brokers")) != "kafka:9092":
                problem(f"{where}: {section} brokers are not kafka:9092")
        if section == "target" and kind == "kafka" and hcl_string(body.get("topic_name")) != HOST_TOPIC:
            problem(f"{where}: target topic is not {HOST_TOPIC}, the topic liveviewer reads")
        if section == "target" and kind == "http":
            url = hcl_string(body.get("url"))
            if url != "http://liveviewer:8686/ingest/snowbridge":
                problem(f"{where}: HTTP target url is {url!r}, expected http://liveviewer:8686/ingest/snowbridge")
    # Snowbridge refuses a target whose max_message_bytes exceeds max_batch_bytes (both default
    # to 1 MiB, and unset keys keep their defaults).
    for section in ("target", "failure_target"):
        for block in blocks(doc, section):
            for kind, body in uses(block):
                for batching in blocks(body, "batching"):
                    batch = batching.get("max_batch_bytes", 1048576)
                    message = batching.get("max_message_bytes", 1048576)
                    if isinstance(batch, int) and isinstance(message, int) and message > batch:
                        problem(f"{where}: {section} {kind}: max_message_bytes ({message}) > "
                                f"max_batch_bytes ({batch}); Snowbridge rejects that")
    transforms = blocks(doc, "transform")
    if len(transforms) != 1:
        problem(f"{where}: Snowbridge 5.x takes one transform {{}} block (with several `use` blocks)")
        return info
    steps = uses(transforms[0])
    if not steps or steps[0][0] != "spEnrichedFilter":
        problem(f"{where}: the first transformation is not spEnrichedFilter")
    for kind, body in steps:
        if kind == "spEnrichedFilter" and info["filter"] is None:
            info["filter"] = (hcl_string(body.get("atomic_field")), hcl_string(body.get("regex")),
                              hcl_string(body.get("filter_action")))
        if kind == "spEnrichedSetPk":
            info["pk_field"] = hcl_string(body.get("atomic_field"))
    if expect_target == "http" and "spEnrichedToJson" not in [k for k, _ in steps]:
        problem(f"{where}: the HTTP target needs JSON: add spEnrichedToJson")
    if expect_target == "kafka" and info["pk_field"] is None:
        problem(f"{where}: no spEnrichedSetPk: the host topic would not be keyed by viewer")
    return info


def replay_filter(where: str, field: str, regex: str, action: str, pk_field: str | None) -> None:
    """Runs the Snowbridge filter over the Snowplow Micro recording.

    Snowbridge compiles the pattern with Go's regexp (RE2) and keeps an event when
    regexp.MatchString finds a match anywhere in the field, which is Python's re.search. The
    pattern (anchors, a character class, literals) means the same in both dialects; RE2 lacks
    backreferences and lookaround, so a pattern that compiled in Python but used those would be
    rejected by Snowbridge: refuse them here too.
    """
    if re.search(r"\(\?[=!<]|\\[1-9]", regex):
        problem(f"{where}: regex {regex!r} uses lookaround or backreferences, which RE2 (Go) lacks")
        return
    header = HEADER_TSV.read_text().rstrip("\n").split("\t")
    if field not in header:
        problem(f"{where}: filter field {field!r} is not an enriched event field")
        return
    col = header.index(field)
    vendor_col, name_col = header.index("event_vendor"), header.index("event_name")
    # The layout the issue states: 131 fields, event_vendor is field 126 and event_name 127.
    if len(header) != 131 or vendor_col + 1 != 126 or name_col + 1 != 127:
        problem(f"{rel(HEADER_TSV)}: unexpected layout ({len(header)} fields, event_vendor at "
                f"{vendor_col + 1}, event_name at {name_col + 1})")
    pattern = re.compile(regex)
    keep_on_match = action == "keep"
    kept, dropped = [], []
    lines = MICRO_TSV.read_text().splitlines()
    for n, line in enumerate(lines, 1):
        fields = line.split("\t")
        if len(fields) != len(header):
            problem(f"{rel(MICRO_TSV)}:{n}: {len(fields)} fields, expected {len(header)}")
            continue
        matched = pattern.search(fields[col]) is not None
        (kept if matched == keep_on_match else dropped).append(fields)

    media_vendor = "com.snowplowanalytics.snowplow.media"
    media = [f for f in kept if f[vendor_col] == media_vendor]
    dropped_names = sorted({f[name_col] for f in dropped})
    print(f"snowbridge: {rel(Path(where))}: filter {field} =~ /{regex}/ ({action}) keeps {len(kept)} "
          f"of {len(lines)} events; drops {len(dropped)} ({', '.join(dropped_names)})")
    if len(lines) != EXPECTED_EVENTS:
        problem(f"{rel(MICRO_TSV)}: {len(lines)} events, expected {EXPECTED_EVENTS}")
    if len(kept) != EXPECTED_MEDIA or len(media) != EXPECTED_MEDIA:
        problem(f"{where}: the filter keeps {len(kept)} events ({len(media)} media), expected the "
                f"{EXPECTED_MEDIA} media events")
    page_views = sum(1 for f in dropped if f[name_col] == "page_view")
    page_pings = sum(1 for f in dropped if f[name_col] == "page_ping")
    if (page_views, page_pings) != (EXPECTED_PAGE_VIEWS, EXPECTED_PAGE_PINGS) or len(dropped) != page_views + page_pings:
        problem(f"{where}: the filter drops {page_views} page views and {page_pings} page pings of "
                f"{len(dropped)} dropped, expected {EXPECTED_PAGE_VIEWS} and {EXPECTED_PAGE_PINGS} and nothing else")
    if any(f[vendor_col] == media_vendor for f in dropped):
        problem(f"{where}: the filter drops media events")
    if pk_field:
        pk_col = header.index(pk_field) if pk_field in header else None
        if pk_col is None:
            problem(f"{where}: partition key field {pk_field!r} is not an enriched event field")
        else:
            empty = sum(1 for f in kept if not f[pk_col])
            if empty:
                problem(f"{where}: {empty} kept events have an empty {pk_field} (spEnrichedSetPk would fail them)")
            viewers = {f[pk_col] for f in kept}
            print(f"snowbridge: partition key {pk_field}: set on all {len(kept)} kept events ({len(viewers)} viewer(s))")


def report_fixture_counts() -> None:
    header = HEADER_TSV.read_text().rstrip("\n").split("\t")
    v, n = header.index("event_vendor"), header.index("event_name")
    counts: dict[tuple[str, str], int] = {}
    for line in MICRO_TSV.read_text().splitlines():
        f = line.split("\t")
        counts[(f[v], f[n])] = counts.get((f[v], f[n]), 0) + 1
    media = sum(c for (vendor, _), c in counts.items() if vendor.endswith(".media"))
    print(f"fixture: {sum(counts.values())} events in {rel(MICRO_TSV)}: {media} media, "
          + ", ".join(f"{c} {name}" for (vendor, name), c in sorted(counts.items()) if not vendor.endswith(".media")))


# ---------------------------------------------------------------------------------------------
# Other configs, and the topics they share

def created_topics() -> dict[str, int]:
    script = DOCKER / "kafka" / "create-topics.sh"
    topics = {}
    for line in script.read_text().splitlines():
        m = re.match(r"^topic\s+(\S+)\s+(\d+)\b", line.strip())
        if m:
            topics[m.group(1)] = int(m.group(2))
    if not topics:
        problem(f"{rel(script)}: no `topic NAME PARTITIONS` lines found")
    return topics


def check_host_config(path: Path) -> dict:
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        problem(f"{rel(path)}: not valid TOML: {e}")
        return {}

    def walk(node: dict, allowed: dict, prefix: str) -> None:
        for key, value in node.items():
            name = f"{prefix}{key}"
            if key not in allowed:
                problem(f"{rel(path)}: unknown key {name} (host/src/config.rs has no such field)")
            elif isinstance(allowed[key], dict):
                if isinstance(value, dict):
                    walk(value, allowed[key], f"{name}.")
                else:
                    problem(f"{rel(path)}: {name} must be a table")

    walk(doc, HOST_CONFIG_KEYS, "")
    for section, key in SECRET_KEYS:
        if key in doc.get(section, {}):
            problem(f"{rel(path)}: {section}.{key} is a secret: set it from the environment instead")
    if doc.get("http", {}).get("listen") != "0.0.0.0:8686":
        problem(f"{rel(path)}: http.listen must be 0.0.0.0:8686 in a container")
    return doc


def check_configs(snowbridge_topics: set[str]) -> None:
    topics = created_topics()
    used: dict[str, str] = {}

    collector = DOCKER / "snowplow" / "collector.hocon"
    enrich = DOCKER / "snowplow" / "enrich.hocon"
    try:
        c = ConfigFactory.parse_file(str(collector), resolve=False)
        used[c.get_string("collector.streams.good.name")] = rel(collector)
        used[c.get_string("collector.streams.bad.name")] = rel(collector)
        if c.get_int("collector.port") != 8080:
            problem(f"{rel(collector)}: port is not 8080 (compose publishes 9090:8080)")
    except Exception as e:
        problem(f"{rel(collector)}: {e}")
    try:
        e_ = ConfigFactory.parse_file(str(enrich), resolve=False)
        for key in ("input.topicName", "output.good.topicName", "output.bad.topicName"):
            used[e_.get_string(key)] = rel(enrich)
    except Exception as e:
        problem(f"{rel(enrich)}: {e}")

    for path in [DOCKER / "snowplow" / "iglu_resolver.json", *sorted((DOCKER / "snowplow" / "enrichments").glob("*.json"))]:
        try:
            doc = json.loads(path.read_text())
            if not str(doc.get("schema", "")).startswith("iglu:"):
                problem(f"{rel(path)}: no iglu: schema")
        except (OSError, json.JSONDecodeError) as e:
            problem(f"{rel(path)}: not valid JSON: {e}")

    for topic in snowbridge_topics:
        used[topic] = "docker/snowbridge"
    for path in (DOCKER / "liveviewer.compose.toml",):
        doc = check_host_config(path)
        kafka = doc.get("source", {}).get("kafka", {})
        for key in ("topic", "dead_letter_topic"):
            if key in kafka:
                used[kafka[key]] = rel(path)
        if kafka.get("topic") != HOST_TOPIC:
            problem(f"{rel(path)}: source.kafka.topic is not {HOST_TOPIC}")
    check_host_config(DOCKER / "liveviewer.toml")

    for topic, where in sorted(used.items()):
        if topic not in topics:
            problem(f"{where}: topic {topic!r} is not created by docker/kafka/create-topics.sh")
    if topics.get(HOST_TOPIC) != HOST_TOPIC_PARTITIONS:
        problem(f"docker/kafka/create-topics.sh: {HOST_TOPIC} has {topics.get(HOST_TOPIC)} partitions, "
                f"expected {HOST_TOPIC_PARTITIONS}")
    unused = sorted(set(topics) - set(used))
    if unused:
        problem(f"docker/kafka/create-topics.sh: creates topics nothing uses: {', '.join(unused)}")
    print(f"configs: {len(topics)} topics created, all {len(used)} topics named by the configs among them")


# ---------------------------------------------------------------------------------------------

def main() -> int:
    report_fixture_counts()
    check_compose()
    topics: set[str] = set()
    for name, target in (("config.hcl", "kafka"), ("config.http.hcl", "http")):
        path = DOCKER / "snowbridge" / name
        info = check_snowbridge(path, target)
        topics |= {t for t in info["topics"] if t}
        if info["filter"]:
            field, regex, action = info["filter"]
            replay_filter(rel(path), field, regex, action, info["pk_field"])
        else:
            problem(f"{rel(path)}: no spEnrichedFilter")
    check_configs(topics)

    if problems:
        print(f"\nFAILED: {len(problems)} problem(s)", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print("\nOK: all docker/ checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
