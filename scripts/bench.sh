#!/usr/bin/env bash
# The benchmarks: builds the host in release mode and writes BENCHMARKS.md and
# benchmarks.json at the repository root (or DIR). Run on a quiet machine: the figures are
# ratios against references measured in the same run, but a busy neighbour still shows.
#   ./scripts/bench.sh [--smoke] [--only NAME]... [--out DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=setup.sh
. scripts/setup.sh
cargo build --release -p liveviewer -p liveviewer-bench --locked
# Writes into the repository root unless --out says otherwise.
exec "$CARGO_TARGET_DIR/release/liveviewer-bench" "$@"
