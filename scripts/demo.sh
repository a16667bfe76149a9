#!/usr/bin/env bash
# The live demo on the embedded store: simulated viewers, the dashboard, no Kafka or DynamoDB.
# Builds the host and transform.wasm on first run (cached outside the clone), then prints the
# dashboard's URL. Extra arguments go to `liveviewer demo` (e.g. --viewers 100 --listen 0.0.0.0:8686).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=setup.sh
. scripts/setup.sh --rust
cargo build -p liveviewer --locked
exec "$CARGO_TARGET_DIR/debug/liveviewer" demo --data-dir "${LIVEVIEWER_DATA_DIR:-$ROOT/liveviewer-data}" "$@"
