#!/bin/sh
# Writes the watch page's runtime settings from the container's environment. The nginx image
# runs the executable scripts in /docker-entrypoint.d/ before it starts nginx.
#   COLLECTOR_URL  where visitors' browsers send events (an address they can reach)
#   DASHBOARD_URL  liveviewer, for the page's "profile" link
#   APP_ID         the tracker's app id
set -eu

target=/usr/share/nginx/html/config.js

# JSON string literal of $1 (backslashes and double quotes escaped; URLs have nothing else).
json() { printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"; }

# printf, not echo: some shells' echo interprets backslashes.
{
  printf '%s\n' "// Written at container start by /docker-entrypoint.d/40-watch-config.sh."
  printf '%s\n' "window.LIVEVIEWER_WATCH_CONFIG = {"
  printf '  collectorUrl: %s,\n' "$(json "${COLLECTOR_URL:-http://localhost:9090}")"
  printf '  dashboardUrl: %s,\n' "$(json "${DASHBOARD_URL:-http://localhost:8686}")"
  printf '  appId: %s,\n' "$(json "${APP_ID:-liveviewer-watch}")"
  printf '%s\n' "};"
} > "$target"

printf '40-watch-config.sh: collector %s\n' "${COLLECTOR_URL:-http://localhost:9090}"
