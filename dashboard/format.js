// Pure helpers: status mapping and the text the page shows for times and numbers.

export const GROUPS = ['watching', 'paused', 'buffering', 'ad', 'completed', 'other'];

export const GROUP_LABELS = {
  watching: 'Watching',
  paused: 'Paused',
  buffering: 'Buffering',
  ad: 'In ad',
  completed: 'Completed',
  other: 'Other',
};

/** The host's status groups (GET /api/concurrency) under the page's names. */
export const HOST_GROUPS = {
  watching: 'watching',
  paused: 'paused',
  buffering: 'buffering',
  in_ad: 'ad',
  completed: 'completed',
  other: 'other',
};

const STATUSES = {
  WATCHING_VIDEO: { group: 'watching', label: 'Watching' },
  PAUSED_VIDEO: { group: 'paused', label: 'Paused' },
  WATCHING_AD: { group: 'ad', label: 'In ad' },
  PAUSED_AD: { group: 'ad', label: 'Ad paused' },
  COMPLETED_VIDEO: { group: 'completed', label: 'Completed' },
  BUFFERING: { group: 'buffering', label: 'Buffering' },
  READY: { group: 'other', label: 'Ready' },
};

/** Which of the five groups a status counts in, and the words shown for it on a card. */
export function statusInfo(status) {
  if (typeof status !== 'string' || status === '') return { group: 'other', label: 'No status yet' };
  return STATUSES[status] ?? { group: 'other', label: humanize(status) };
}

// A module may add statuses of its own; show them readably rather than as SHOUTING_SNAKE.
function humanize(text) {
  const words = text.toLowerCase().replace(/_/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A media position in seconds as m:ss, or h:mm:ss past an hour. */
export function clockTime(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '–:––';
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** An elapsed time, coarse enough to read at a glance: 45s, 2m 13s, 1h 04m, 3d 2h. */
export function elapsed(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** How long ago something happened; clock skew can put it slightly in the future. */
export function ago(ms) {
  if (!Number.isFinite(ms)) return '–';
  if (ms < 1000) return 'just now';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ago`;
  const h = Math.floor(m / 60);
  return h < 24 ? `${h}h ago` : `${Math.floor(h / 24)}d ago`;
}

const integer = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });

export function count(n) {
  return Number.isFinite(n) ? integer.format(n) : '–';
}

export function rate(n) {
  if (!Number.isFinite(n)) return '–';
  return n >= 100 ? integer.format(n) : oneDecimal.format(n);
}

/** Part of a whole as "67%", or null when the whole is zero. */
export function share(part, whole) {
  return whole > 0 ? `${Math.round((100 * part) / whole)}%` : null;
}

/** A ratio (0..1) as a percentage with one decimal below 10%, or a dash when unknown. */
export function percent(ratio) {
  if (!Number.isFinite(ratio)) return '–';
  const p = ratio * 100;
  return `${p < 10 ? oneDecimal.format(p) : integer.format(p)}%`;
}

/** A duration in seconds, short: 45s, 3m 12s, 1h 04m. */
export function duration(seconds) {
  return Number.isFinite(seconds) ? elapsed(seconds * 1000) : '–';
}

/** A time as the reader's clock shows it: 21:30:04, with the date when it is not today. */
export function timeOfDay(v) {
  const t = parseTime(v);
  if (!Number.isFinite(t)) return '–';
  const d = new Date(t);
  const hms = [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  const today = new Date();
  if (d.toDateString() === today.toDateString()) return hms;
  return `${d.toLocaleDateString('en', { month: 'short', day: 'numeric' })} ${hms}`;
}

/** Event names as people say them: "ad_quartile_event" -> "ad quartile". */
export function eventName(name) {
  if (typeof name !== 'string' || name === '') return '';
  return name.replace(/_event$/, '').replace(/_/g, ' ');
}

/** Milliseconds since the epoch from an RFC 3339 string (or already a number of them), or NaN. */
export function parseTime(v) {
  if (typeof v === 'number') return Number.isFinite(v) ? v : NaN;
  return typeof v === 'string' ? Date.parse(v) : NaN;
}

/** A finite number or null: profile fields are often null until the tracker sends them. */
export function num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Text for a field that may be missing or not a string (modules may add anything). */
export function str(v) {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return '';
}
