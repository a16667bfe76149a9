// Runtime settings of the watch page (src/config.js explains each one). The Docker image
// rewrites this file at start from COLLECTOR_URL, DASHBOARD_URL and APP_ID
// (docker-entrypoint.d/40-watch-config.sh); query parameters such as ?collector=... override it.
window.LIVEVIEWER_WATCH_CONFIG = {
  collectorUrl: 'http://localhost:9090',
  dashboardUrl: 'http://localhost:8686',
  appId: 'liveviewer-watch',
};
