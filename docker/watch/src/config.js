// The page's settings: defaults, then window.LIVEVIEWER_WATCH_CONFIG (public/config.js, which the
// Docker image rewrites from its environment at start), then query parameters, e.g.
//   /?collector=http://localhost:9090&ping=5&user=alice
//
//   collector  collector URL the tracker sends to
//   dashboard  liveviewer URL, for the "your profile" link
//   app_id     the tracker's app id
//   ping       media ping interval in seconds (the media plugin's default is 30)
//   user       sets the tracker's user id (a logged-in viewer; becomes the viewer id)
//   method     post (default) or get: how the tracker sends events
//   base64     1 to base64-encode self-describing JSON in the payload (the tracker's default);
//              the page defaults to plain JSON so that requests are readable in devtools

const DEFAULTS = {
  collectorUrl: 'http://localhost:9090',
  dashboardUrl: 'http://localhost:8686',
  appId: 'liveviewer-watch',
  pingInterval: 30,
  userId: null,
  eventMethod: 'post',
  encodeBase64: false,
  label: 'Test pattern (60 s)',
};

export function resolveConfig(fromFile, search) {
  const cfg = { ...DEFAULTS };
  for (const [key, value] of Object.entries(fromFile || {})) {
    if (key in DEFAULTS && value !== undefined && value !== null && value !== '') cfg[key] = value;
  }
  const q = new URLSearchParams(search || '');
  if (q.get('collector')) cfg.collectorUrl = q.get('collector');
  if (q.get('dashboard')) cfg.dashboardUrl = q.get('dashboard');
  if (q.get('app_id')) cfg.appId = q.get('app_id');
  if (q.get('user')) cfg.userId = q.get('user');
  if (q.get('ping')) {
    const ping = Number(q.get('ping'));
    if (Number.isFinite(ping) && ping > 0) cfg.pingInterval = ping;
  }
  const method = (q.get('method') || '').toLowerCase();
  if (method === 'get' || method === 'post') cfg.eventMethod = method;
  if (q.has('base64')) cfg.encodeBase64 = q.get('base64') !== '0' && q.get('base64') !== 'false';
  cfg.pingInterval = Number(cfg.pingInterval) || DEFAULTS.pingInterval;
  cfg.collectorUrl = String(cfg.collectorUrl).replace(/\/+$/, '');
  cfg.dashboardUrl = String(cfg.dashboardUrl).replace(/\/+$/, '');
  return cfg;
}
