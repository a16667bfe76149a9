#!/usr/bin/env python3
"""Offline checks of deploy/aws/ (no AWS account, no provider download).

    pip install -r docker/tests/requirements.txt                 # python-hcl2
    pip install -r deploy/aws/tests/requirements-checkov.txt     # checkov, in a venv of its own
    python3 deploy/aws/tests/check_terraform.py [--checkov PATH]

Checks
  hcl       every .tf file parses as HCL (python-hcl2).
  variables every variable has a description, and deploy/aws/README.md names every variable
            and shows a value for every required one (no default).
  design    what the deployment promises, read from the parsed files: the two DynamoDB tables
            (keys, on-demand, TTL on expires_at, point-in-time recovery); the host's task role
            grants exactly the store's DynamoDB actions (no Scan) on the two tables only, and
            kafka-cluster actions only from the allowed set, on the cluster, its topics and its
            group; the load balancer checks /readyz on 8686; only the load balancer admits
            addresses (every other ingress rule names a security group); no task gets a public
            IP; every container has a read-only root file system; no token in plain environment.
  checkov   checkov finds nothing (0 failed checks, 0 parsing errors), and every check skipped
            inline says why (#checkov:skip=ID:reason).

Exits 1 with one line per problem, 0 when everything holds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

try:
    import hcl2  # python-hcl2
except ImportError as e:  # pragma: no cover - environment problem, not a check failure
    sys.exit(f"check_terraform: missing a dependency ({e.name}): pip install -r docker/tests/requirements.txt")

AWS = Path(__file__).resolve().parent.parent
REPO = AWS.parent.parent

# What the DynamoDB store does (host/src/store/dynamodb*): one item per viewer read and written
# alone or in batches, a viewer's history queried, the tables and their TTL checked at start.
HOST_DYNAMODB_ACTIONS = {
    "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
    "dynamodb:BatchWriteItem", "dynamodb:Query", "dynamodb:DescribeTable", "dynamodb:DescribeTimeToLive",
}
HOST_KAFKA_ACTIONS = {
    "kafka-cluster:Connect", "kafka-cluster:DescribeTopic", "kafka-cluster:ReadData", "kafka-cluster:WriteData",
    "kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup", "kafka-cluster:CreateTopic",
}
SECRET_NAMES = re.compile(r"TOKEN|PASSWORD|SECRET", re.I)

problems: list[str] = []


def problem(msg: str) -> None:
    problems.append(msg)


def unquote(value):
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def load_all() -> dict[str, dict]:
    docs = {}
    files = sorted(AWS.glob("*.tf"))
    if not files:
        problem("deploy/aws: no .tf files")
    for path in files:
        try:
            with path.open() as f:
                docs[path.name] = hcl2.load(f)
        except Exception as e:  # python-hcl2 raises lark errors of several kinds
            problem(f"deploy/aws/{path.name}: not valid HCL: {e}")
    print(f"hcl: {len(docs)} files parse")
    return docs


def named(docs: dict[str, dict], kind: str) -> dict[tuple[str, str], dict]:
    """resource or data blocks by (type, name)."""
    out = {}
    for doc in docs.values():
        for block in doc.get(kind, []):
            for rtype, by_name in block.items():
                for rname, body in by_name.items():
                    out[(unquote(rtype), unquote(rname))] = body
    return out


def check_variables(docs: dict[str, dict]) -> None:
    readme = (AWS / "README.md").read_text() if (AWS / "README.md").is_file() else ""
    if not readme:
        problem("deploy/aws/README.md is missing")
    variables = {}
    for doc in docs.values():
        for block in doc.get("variable", []):
            for name, body in block.items():
                variables[unquote(name)] = body
    for name, body in sorted(variables.items()):
        if not unquote(body.get("description", "")).strip():
            problem(f"deploy/aws: variable {name} has no description")
        if f"`{name}`" not in readme and not re.search(rf"^\s*{re.escape(name)}\s*=", readme, re.M):
            problem(f"deploy/aws/README.md does not document variable {name}")
        if "default" not in body and not re.search(rf"^\s*{re.escape(name)}\s*=", readme, re.M):
            problem(f"deploy/aws/README.md: the example terraform.tfvars lacks the required variable {name}")
    print(f"variables: {len(variables)} declared, each described and documented")


def statements(doc_body: dict) -> list[dict]:
    out = list(doc_body.get("statement", []))
    for dyn in doc_body.get("dynamic", []):
        for label, body in dyn.items():
            if unquote(label) == "statement":
                out += body.get("content", [])
    return out


def check_design(docs: dict[str, dict]) -> None:
    res = named(docs, "resource")
    data = named(docs, "data")

    tables = {"profiles": ("viewer_id", None), "history": ("viewer_id", "at")}
    for name, (hash_key, range_key) in tables.items():
        t = res.get(("aws_dynamodb_table", name))
        if t is None:
            problem(f"deploy/aws: no aws_dynamodb_table.{name}")
            continue
        attrs = {unquote(a["name"]): unquote(a["type"]) for a in t.get("attribute", [])}
        if unquote(t.get("hash_key")) != hash_key or unquote(t.get("range_key")) != range_key:
            problem(f"deploy/aws: table {name} is keyed by {t.get('hash_key')}/{t.get('range_key')}, "
                    f"expected {hash_key}/{range_key}")
        if attrs != {k: "S" for k in (hash_key, range_key) if k}:
            problem(f"deploy/aws: table {name} attributes {attrs}, expected string keys only")
        if unquote(t.get("billing_mode")) != "PAY_PER_REQUEST":
            problem(f"deploy/aws: table {name} is not on-demand")
        ttl = (t.get("ttl") or [{}])[0]
        if unquote(ttl.get("attribute_name")) != "expires_at" or ttl.get("enabled") is not True:
            problem(f"deploy/aws: table {name} has no TTL on expires_at")
        if (t.get("point_in_time_recovery") or [{}])[0].get("enabled") is not True:
            problem(f"deploy/aws: table {name} has no point-in-time recovery")

    host = data.get(("aws_iam_policy_document", "host"))
    if host is None:
        problem("deploy/aws: no aws_iam_policy_document.host (the host's task role)")
    else:
        for st in statements(host):
            actions = {unquote(a) for a in st.get("actions", [])}
            # A list, or one expression that makes the list (a for expression over topics).
            raw = st.get("resources", [])
            resources = [unquote(r) for r in (raw if isinstance(raw, list) else [raw])]
            if any("*" == r for r in resources):
                problem(f"deploy/aws: host policy statement {st.get('sid')} grants on every resource")
            dyn = {a for a in actions if a.startswith("dynamodb:")}
            if dyn:
                if dyn != HOST_DYNAMODB_ACTIONS or actions != dyn:
                    problem(f"deploy/aws: host DynamoDB actions {sorted(actions)}, expected exactly {sorted(HOST_DYNAMODB_ACTIONS)}")
                if sorted(resources) != sorted(["${aws_dynamodb_table.profiles.arn}", "${aws_dynamodb_table.history.arn}"]):
                    problem(f"deploy/aws: host DynamoDB actions on {resources}, expected the two tables only")
            kafka = {a for a in actions if a.startswith("kafka")}
            if kafka - HOST_KAFKA_ACTIONS:
                problem(f"deploy/aws: host kafka actions outside the allowed set: {sorted(kafka - HOST_KAFKA_ACTIONS)}")
            for r in resources if kafka else []:
                if not (r == "${local.cluster_arn}" or ":topic/${local.cluster_path}/" in r or ":group/${local.cluster_path}/" in r):
                    problem(f"deploy/aws: host kafka actions on {r}, not the cluster, its topics or group")
            if any(a.endswith(":*") or a == "*" for a in actions):
                problem(f"deploy/aws: host policy statement {st.get('sid')} uses a wildcard action")
        if not any("dynamodb:Query" in {unquote(a) for a in st.get("actions", [])} for st in statements(host)):
            problem("deploy/aws: the host role cannot reach its tables")
    all_actions = {unquote(a) for (kind, _), body in data.items() if kind == "aws_iam_policy_document"
                   for st in statements(body) for a in st.get("actions", [])}
    if "dynamodb:Scan" in all_actions or "dynamodb:*" in all_actions:
        problem("deploy/aws: a policy grants dynamodb:Scan or dynamodb:*")

    tg = res.get(("aws_lb_target_group", "host"), {})
    hc = (tg.get("health_check") or [{}])[0]
    if tg.get("port") != 8686 or unquote(hc.get("path")) != "/readyz":
        problem("deploy/aws: the host target group must send traffic to 8686 and check /readyz")

    for (kind, name), body in res.items():
        if kind == "aws_vpc_security_group_ingress_rule" and ("cidr_ipv4" in body or "cidr_ipv6" in body):
            if not name.startswith("alb_"):
                problem(f"deploy/aws: ingress rule {name} admits addresses; only the load balancer may")
        if kind == "aws_security_group" and (body.get("ingress") or body.get("egress")):
            problem(f"deploy/aws: security group {name} has inline rules (use the rule resources)")
        if kind == "aws_ecs_service":
            nc = (body.get("network_configuration") or [{}])[0]
            if nc.get("assign_public_ip") is not False:
                problem(f"deploy/aws: ECS service {name} may get a public IP")
        if kind == "aws_ecs_task_definition":
            if not re.search(r"readonlyRootFilesystem\s*=\s*true", body.get("container_definitions", "")):
                problem(f"deploy/aws: task definition {name} lacks a read-only root file system")
    # Environment entries of the containers, wherever they are written (task definitions, locals).
    for path in sorted(AWS.glob("*.tf")):
        for m in re.finditer(r'name\s*=\s*"([A-Z0-9_]+)"\s*,\s*value\s*=', path.read_text()):
            if SECRET_NAMES.search(m.group(1)):
                problem(f"deploy/aws/{path.name}: {m.group(1)} is a plain environment variable; use secrets")
    print("design: tables, host role, health check, security groups and tasks as promised")


def check_checkov(checkov: str | None) -> None:
    if checkov is None:
        problem("checkov not found: pip install -r deploy/aws/tests/requirements-checkov.txt "
                "(or set LIVEVIEWER_CHECKOV)")
        return
    # --skip-download: offline; checkov otherwise fetches guideline links from its platform.
    run = subprocess.run([checkov, "-d", str(AWS), "--framework", "terraform", "--skip-download", "-o", "json"],
                         capture_output=True, text=True, timeout=600, env={**os.environ, "BC_SKIP_MAPPING": "TRUE"})
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        problem(f"checkov gave no report (exit {run.returncode}): {run.stderr.strip()[-500:]}")
        return
    report = report[0] if isinstance(report, list) else report
    summary = report.get("summary", {})
    results = report.get("results", {})
    for check in results.get("failed_checks", []):
        problem(f"checkov {check['check_id']} ({check['check_name']}) fails on {check['resource']} "
                f"in {check['file_path']}:{check['file_line_range'][0]}")
    if summary.get("parsing_errors"):
        problem(f"checkov could not parse {summary['parsing_errors']} file(s)")
    for check in results.get("skipped_checks", []):
        reason = (check.get("check_result") or {}).get("suppress_comment", "").strip()
        if len(reason) < 20:
            problem(f"checkov {check['check_id']} is skipped on {check['resource']} without a reason")
    if not summary.get("passed"):
        problem("checkov passed no check at all: did it scan the files?")
    print(f"checkov {summary.get('checkov_version')}: {summary.get('passed')} passed, {summary.get('failed')} failed, "
          f"{summary.get('skipped')} skipped with reasons, over {summary.get('resource_count')} resources")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkov", default=os.environ.get("LIVEVIEWER_CHECKOV") or shutil.which("checkov"))
    args = parser.parse_args()
    docs = load_all()
    check_variables(docs)
    check_design(docs)
    check_checkov(args.checkov)
    if problems:
        print(f"\nFAILED: {len(problems)} problem(s)", file=sys.stderr)
        for p in dict.fromkeys(problems):
            print(f"  - {p}", file=sys.stderr)
        return 1
    print("\nOK: all deploy/aws checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
