#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo fuzz / libFuzzer, on the stable toolchain, without a
# sanitizer) of the module's input parsing (TSV and Snowbridge JSON), its batch framing, and
# the host's handling of module output (ABI v1 JSON, ABI v2 binary). Each target runs
# SECONDS (default 600); the corpora in host/fuzz/corpus/ grow and are minimised; a crash
# leaves its input in host/fuzz/regressions/<target>/, which `cargo test` then runs
# (host/tests/fuzz_regressions.rs).
#   ./scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=setup.sh
. scripts/setup.sh --rust
SECS="${1:-600}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(tsv json frames module_output module_output_v2)

FUZZ_BIN="$LIVEVIEWER_CACHE/cargo-fuzz/bin"
if ! "$FUZZ_BIN/cargo-fuzz" --version 2>/dev/null | grep -q "0.13.2"; then
  echo "fuzz: installing cargo-fuzz 0.13.2 (cached)"
  CARGO_TARGET_DIR="$LIVEVIEWER_CACHE/cargo-fuzz-build" cargo install cargo-fuzz --version 0.13.2 --locked \
    --root "$LIVEVIEWER_CACHE/cargo-fuzz" --quiet
fi
export PATH="$FUZZ_BIN:$PATH"
export CARGO_TARGET_DIR="$LIVEVIEWER_CACHE/fuzz-target"
python3 scripts/fuzz-seeds.py

cd host
for t in "${TARGETS[@]}"; do
  echo "== fuzz target $t for ${SECS}s"
  mkdir -p "fuzz/artifacts/$t" "fuzz/regressions/$t"
  set +e
  # Real events are 2-4 KB; batches hold several.
  max_len=16384
  [ "$t" = frames ] && max_len=65536
  cargo fuzz run --sanitizer none -O "$t" "fuzz/corpus/$t" -- \
    -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" \
    -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" 2>&1 | tee "fuzz/artifacts/$t/last-run.log" | grep -E "^#[0-9]+ *(DONE|INITED)|stat::|ERROR|SUMMARY|crash-|timeout-|oom-"
  status=${PIPESTATUS[0]}
  set -e
  # Anything that crashed, hung or blew memory becomes a regression test.
  for a in fuzz/artifacts/"$t"/crash-* fuzz/artifacts/"$t"/timeout-* fuzz/artifacts/"$t"/oom-*; do
    [ -e "$a" ] && cp "$a" "fuzz/regressions/$t/"
  done
  if [ "$status" -ne 0 ]; then
    echo "fuzz target $t FAILED (exit $status); the input is in host/fuzz/regressions/$t/"
    exit 1
  fi
  # Keep the committed corpus small: only inputs that add coverage.
  cargo fuzz cmin --sanitizer none -O "$t" "fuzz/corpus/$t" >/dev/null 2>&1 || true
done
echo "fuzzing done: no crash, hang or out-of-memory in ${TARGETS[*]}"
