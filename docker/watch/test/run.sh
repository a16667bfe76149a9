#!/bin/sh
# `npm test`: builds the watch page and drives it in Debian's chromium.
#   1. npm ci (the locked dependencies; SKIP_NPM_CI=1 reuses node_modules)
#   2. esbuild bundle into dist/, test videos with ffmpeg into dist/media/
#   3. test/watch.test.mjs: static server on 127.0.0.1, headless chromium through playwright-core
# Needs: node >= 20, ffmpeg, chromium (Debian: apt-get install ffmpeg chromium). No browser is
# ever downloaded: playwright-core has no browsers of its own and is pointed at /usr/bin/chromium.
# Screenshots go to $ARTIFACTS_DIR, or test-artifacts/ here.
set -eu
cd "$(dirname "$0")/.."

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

missing=""
command -v ffmpeg >/dev/null 2>&1 || missing="$missing ffmpeg"
[ -x "$CHROMIUM" ] || missing="$missing chromium"
if [ -n "$missing" ]; then
  echo "watch test: missing:$missing (Debian: apt-get install$missing)" >&2
  exit 1
fi

if [ "${SKIP_NPM_CI:-0}" != "1" ]; then
  npm ci --no-audit --no-fund
fi
node scripts/build.mjs
sh scripts/make-media.sh dist/media
CHROMIUM="$CHROMIUM" node test/watch.test.mjs
