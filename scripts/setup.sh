#!/usr/bin/env bash
# Installs what the demo and the tests need, idempotently; slow things are cached outside the
# clone (LIVEVIEWER_CACHE, default ~/.cache/liveviewer) and reused when present.
#   ./scripts/setup.sh          everything (tests)
#   ./scripts/setup.sh --rust   only the Rust toolchain pieces (the demo)
# Source it (`. scripts/setup.sh`) to get the tools' paths exported for the tests; sourced, it
# hands the caller's shell back with its own options (strict mode stays in here, or a shell that
# sourced it would close on its next failing command).
if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  LIVEVIEWER_SETUP_CALLER_OPTIONS="$(set +o)"
fi
set -euo pipefail
setup_done() {
  if [ -n "${LIVEVIEWER_SETUP_CALLER_OPTIONS:-}" ]; then
    eval "$LIVEVIEWER_SETUP_CALLER_OPTIONS"
    unset LIVEVIEWER_SETUP_CALLER_OPTIONS
  fi
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${LIVEVIEWER_CACHE:-$HOME/.cache/liveviewer}"
KAFKA_VERSION=4.4.0
DYNALITE_VERSION=3.2.2
mkdir -p "$CACHE"
export LIVEVIEWER_CACHE="$CACHE"
# Compiled dependencies live outside the clone, so a fresh clone reuses them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"

say() { printf '\033[1msetup:\033[0m %s\n' "$*" >&2; }

rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || rustup target add wasm32-unknown-unknown
if [ "${1:-}" = "--rust" ]; then
  setup_done
  return 0 2>/dev/null || exit 0
fi

# Debian packages: a browser for the browser tests, ffmpeg for the watch page's test video.
need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
if [ ${#need_apt[@]} -gt 0 ]; then
  say "installing ${need_apt[*]} (apt)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# Apache Kafka's broker, as jars from Maven Central (the tests run it in KRaft mode from them).
KAFKA_LIBS="$CACHE/kafka-$KAFKA_VERSION/libs"
if [ ! -f "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" ]; then
  say "fetching Apache Kafka $KAFKA_VERSION (mvn; once, cached in $CACHE/kafka-$KAFKA_VERSION)"
  rm -rf "$KAFKA_LIBS.partial"
  mvn -q -B -f "$ROOT/scripts/kafka/pom.xml" dependency:copy-dependencies -Dkafka.version="$KAFKA_VERSION" \
    -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS.partial"
  rm -rf "$KAFKA_LIBS" && mv "$KAFKA_LIBS.partial" "$KAFKA_LIBS"
fi
export LIVEVIEWER_KAFKA_LIBS="$KAFKA_LIBS"

# Snowbridge, the version docker/ pins, from the Go module proxy: the module is downloaded and
# its CLI built as the main module (its go.mod has a replace directive, which `go install pkg@v`
# refuses). Where the proxy does not serve it, the Snowbridge end-to-end tests cannot run and
# the test command says so; docker/tests/check_files.py still checks its configurations.
SNOWBRIDGE_VERSION="$(grep -o 'snowplow/snowbridge:[0-9][0-9.]*' "$ROOT/docker/compose.snowplow.yaml" | head -1 | cut -d: -f2)"
SNOWBRIDGE_BIN="$CACHE/snowbridge-$SNOWBRIDGE_VERSION/snowbridge"
unset LIVEVIEWER_SNOWBRIDGE_BIN LIVEVIEWER_SNOWBRIDGE_UNAVAILABLE
if [ ! -x "$SNOWBRIDGE_BIN" ] && command -v go >/dev/null 2>&1; then
  say "building Snowbridge $SNOWBRIDGE_VERSION (Go module proxy; once, cached)"
  SB_MODULE="github.com/snowplow/snowbridge/v${SNOWBRIDGE_VERSION%%.*}@v$SNOWBRIDGE_VERSION"
  SB_WORK="$(mktemp -d)"
  if SB_JSON="$(cd "$SB_WORK" && go mod init liveviewer-snowbridge-fetch >/dev/null 2>&1 && go mod download -json "$SB_MODULE" 2>&1)" \
     && SB_SRC="$(printf '%s' "$SB_JSON" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')" && [ -n "$SB_SRC" ] \
     && (cd "$SB_SRC" && CGO_ENABLED=0 go build -o "$SNOWBRIDGE_BIN" ./cmd/main/cli) ; then
    say "Snowbridge $SNOWBRIDGE_VERSION built"
  else
    LIVEVIEWER_SNOWBRIDGE_UNAVAILABLE="Snowbridge $SNOWBRIDGE_VERSION could not be built: $(printf '%s' "$SB_JSON" | sed -n 's/^[[:space:]]*"Error": "\(.*\)"$/\1/p' | head -1 | sed 's/\\n\\t/ /g')"
    export LIVEVIEWER_SNOWBRIDGE_UNAVAILABLE
    say "$LIVEVIEWER_SNOWBRIDGE_UNAVAILABLE"
  fi
  rm -rf "$SB_WORK"
fi
if [ -x "$SNOWBRIDGE_BIN" ]; then
  export LIVEVIEWER_SNOWBRIDGE_BIN="$SNOWBRIDGE_BIN"
elif [ -z "${LIVEVIEWER_SNOWBRIDGE_UNAVAILABLE:-}" ]; then
  export LIVEVIEWER_SNOWBRIDGE_UNAVAILABLE="no Go toolchain to build Snowbridge with"
fi

# Python tools in a virtualenv: moto (DynamoDB API) and the docker file checks' parsers.
# Reinstalled when either requirements file changes (the stamp is both, concatenated).
VENV="$CACHE/venv"
REQS=("$ROOT/scripts/requirements-test.txt" "$ROOT/docker/tests/requirements.txt")
if [ ! -x "$VENV/bin/python" ] || ! cat "${REQS[@]}" | cmp -s - "$VENV/.requirements"; then
  say "installing Python test tools ($VENV)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "${REQS[0]}" -r "${REQS[1]}"
  cat "${REQS[@]}" > "$VENV/.requirements"
fi
export LIVEVIEWER_MOTO_BIN="$VENV/bin/moto_server"
export LIVEVIEWER_PYTHON="$VENV/bin/python"

# checkov (the Terraform scan) in a venv of its own: it pins its own fork of the HCL parser
# under the same module name as python-hcl2, and an old boto3, which would clash with the above.
CHECKOV_VENV="$CACHE/checkov-venv"
CHECKOV_REQS="$ROOT/deploy/aws/tests/requirements-checkov.txt"
if [ ! -x "$CHECKOV_VENV/bin/checkov" ] || ! cmp -s "$CHECKOV_REQS" "$CHECKOV_VENV/.requirements"; then
  say "installing checkov ($CHECKOV_VENV)"
  python3 -m venv "$CHECKOV_VENV"
  "$CHECKOV_VENV/bin/pip" install --quiet --disable-pip-version-check -r "$CHECKOV_REQS"
  cp "$CHECKOV_REQS" "$CHECKOV_VENV/.requirements"
fi
export LIVEVIEWER_CHECKOV="$CHECKOV_VENV/bin/checkov"

# dynalite: a DynamoDB-API server that keeps its data on disk across restarts.
DYN="$CACHE/dynalite-$DYNALITE_VERSION"
if [ ! -d "$DYN/node_modules/dynalite" ]; then
  say "installing dynalite $DYNALITE_VERSION"
  mkdir -p "$DYN"
  (cd "$DYN" && npm install --silent --no-audit --no-fund --no-save "dynalite@$DYNALITE_VERSION" >/dev/null)
fi
export LIVEVIEWER_DYNALITE_DIR="$DYN/node_modules/dynalite"

# The browser tests' own dependencies (playwright-core; no browser download).
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
for dir in dashboard docker/watch; do
  if [ ! -d "$ROOT/$dir/node_modules" ] || [ "$ROOT/$dir/package-lock.json" -nt "$ROOT/$dir/node_modules" ]; then
    say "npm ci in $dir"
    (cd "$ROOT/$dir" && npm ci --silent --no-audit --no-fund >/dev/null && touch node_modules)
  fi
done
say "ready"
setup_done
