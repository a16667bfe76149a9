#!/usr/bin/env bash
# The benchmarks: builds the host in release mode and writes BENCHMARKS.md and
# benchmarks.json at the repository root (or DIR). Run on a quiet machine: the figures are
# ratios against references measured in the same run, but a busy neighbour still shows.
#   ./scripts/bench.sh [--smoke] [--only NAME]... [--out DIR]
# For a closer look at one benchmark (the file's figures come from plain runs):
#   LIVEVIEWER_BENCH_TRANSFORM_WASM=FILE      the transform benchmark on another build of the module
#   LIVEVIEWER_BENCH_TRANSFORM_BATCHES=256    ... at these batch sizes only (comma-separated)
#   LIVEVIEWER_BENCH_PIPELINE_RUNS=1          fewer pipeline runs
#   LIVEVIEWER_BENCH_HOST_LOG=liveviewer=debug the host's log filter in the pipeline and latency runs
#   LIVEVIEWER_BENCH_STORE_INTERVALS=5000     one write-behind interval of the store benchmark
#   LIVEVIEWER_BENCH_STORE_RECORD=1           count the DynamoDB API's requests by operation
#   LIVEVIEWER_BENCH_STORE_DYNAMODB='k = v;k2 = v2'  more [store.dynamodb] settings for the store benchmark
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=setup.sh
. scripts/setup.sh
cargo build --release -p liveviewer -p liveviewer-bench --locked
# Writes into the repository root unless --out says otherwise.
exec "$CARGO_TARGET_DIR/release/liveviewer-bench" "$@"
