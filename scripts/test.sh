#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs (scripts/setup.sh), builds
# the host and transform.wasm, then runs the Rust tests (unit, test vectors, Kafka + DynamoDB
# integration), the docker file checks, and the browser tests. Artifacts (screenshots, logs)
# go to ./artifacts/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=setup.sh
. scripts/setup.sh
ARTIFACTS="${ARTIFACTS_DIR:-$ROOT/artifacts}"
mkdir -p "$ARTIFACTS"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "scripts: sourcing setup.sh leaves the caller's shell options as they were"
(
  set +euo pipefail
  before="$(set +o)"
  . scripts/setup.sh --rust >/dev/null
  [ "$(set +o)" = "$before" ] || { echo "scripts/setup.sh --rust changed the options of the shell that sourced it" >&2; exit 1; }
  . scripts/setup.sh >/dev/null
  [ "$(set +o)" = "$before" ] || { echo "scripts/setup.sh changed the options of the shell that sourced it" >&2; exit 1; }
)

step "build (host and transform.wasm)"
cargo build --workspace --all-targets --locked

# Clippy's correctness lints (deny by default) and its suspicious group fail the run; its other
# warnings are printed. Not -D warnings: the toolchain is the current stable, whose new style
# lints should not fail a checkout that passed yesterday.
step "lints (clippy: correctness and suspicious)"
cargo clippy --workspace --all-targets --locked -- -D clippy::suspicious

# The docs' links are code too: a renamed item leaves a link that points nowhere.
step "rustdoc: every intra-doc link resolves (private items included)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --document-private-items --locked

step "Rust tests: unit, vectors (wasm and native), pipeline against Apache Kafka, moto and dynalite"
cargo test --workspace --locked --no-fail-fast -- --test-threads=2

step "Snowbridge itself in front of the host (Kafka target and HTTP target)"
if [ -n "${LIVEVIEWER_SNOWBRIDGE_BIN:-}" ]; then
  cargo test -p liveviewer --test snowbridge --locked -- --ignored --test-threads=1
else
  printf 'NOT RUN: %s. The configurations are checked against the fixture instead (docker/tests/check_files.py).\n' \
    "${LIVEVIEWER_SNOWBRIDGE_UNAVAILABLE:-no Snowbridge binary}"
fi

step "test vectors through the built module"
"$CARGO_TARGET_DIR/debug/liveviewer" test-vectors >"$ARTIFACTS/test-vectors.txt"
tail -1 "$ARTIFACTS/test-vectors.txt"

step "benchmarks, smoke mode (tiny sizes: they still compile and run)"
"$CARGO_TARGET_DIR/debug/liveviewer-bench" --smoke --out "$ARTIFACTS/bench-smoke"

step "docker/ files (compose with Compose's parser, Snowbridge HCL and script, configs) without Docker"
"$LIVEVIEWER_PYTHON" docker/tests/check_files.py

step "deploy/aws Terraform (HCL, design, checkov) without an AWS account"
"$LIVEVIEWER_PYTHON" deploy/aws/tests/check_terraform.py --checkov "$LIVEVIEWER_CHECKOV"

step "dashboard in chromium (injected events and the simulator)"
(cd dashboard && LIVEVIEWER_BIN="$CARGO_TARGET_DIR/debug/liveviewer" LIVEVIEWER_SIMULATOR=1 \
  ARTIFACTS_DIR="$ARTIFACTS/dashboard" npm test)

step "watch page in chromium (Snowplow tracker and media plugin)"
(cd docker/watch && SKIP_NPM_CI=1 ARTIFACTS_DIR="$ARTIFACTS/watch" npm test)

step "all tests passed"
