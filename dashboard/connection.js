// Keeps the page fed: Server-Sent Events while they work, polling while they don't, and SSE
// reconnects with backoff in the background.
//
// The stream carries the changes of the viewers the page shows (it names them: `viewers=`),
// never the whole fleet's, and the headline counts every 2 s; lists come a page at a time from
// the list endpoints. So the page costs the same at a hundred thousand viewers as at ten.
//
// Modes: 'connecting' (nothing heard yet), 'live' (SSE open), 'polling' (SSE down, polls
// answer), 'offline' (neither answers).

const POLL_MS = 2000;
// The host sends `stats` every 2 s; this much silence means the stream is dead even if the
// socket is not (a proxy holding it, a suspended laptop).
const SILENCE_MS = 7000;
const HELLO_TIMEOUT_MS = 5000;
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30_000;
// A new set of followed viewers reopens the stream, at most this often.
const REFOLLOW_MS = 1000;

export class Connection {
  /**
   * handlers: onHello(data), onProfile(profile), onStats(data), onMode(mode),
   * poll() -> Promise (refresh what is shown while the stream is down), onResumed()
   */
  constructor(handlers) {
    this.h = handlers;
    this.mode = null;
    this.source = null;
    this.streamLive = false;
    this.backoffMs = BACKOFF_MIN_MS;
    this.lastMessageAt = 0;
    this.everLive = false;
    this.pollGen = 0;
    this.followed = '';
    this.openedAt = 0;
    this.timers = { reconnect: 0, poll: 0, hello: 0, watchdog: 0, refollow: 0 };
  }

  start() {
    this.setMode('connecting');
    this.openStream();
    this.timers.watchdog = setInterval(() => this.checkSilence(), 1000);
  }

  /** The viewers whose changes the page wants; the stream is reopened when they change. */
  follow(ids) {
    const key = [...new Set(ids)].sort().map(encodeURIComponent).join(',');
    if (key === this.followed) return;
    this.followed = key;
    if (!this.source) return;
    clearTimeout(this.timers.refollow);
    const wait = Math.max(0, this.openedAt + REFOLLOW_MS - performance.now());
    this.timers.refollow = setTimeout(() => {
      if (this.source) this.reopen();
    }, wait);
  }

  setMode(mode) {
    if (mode === this.mode) return;
    this.mode = mode;
    this.h.onMode(mode);
  }

  reopen() {
    const old = this.source;
    this.source = null;
    old?.close();
    this.openStream();
  }

  openStream() {
    clearTimeout(this.timers.reconnect);
    this.openedAt = performance.now();
    const source = new EventSource(`api/events?viewers=${this.followed}`);
    this.source = source;
    source.addEventListener('hello', (e) => this.onHello(e));
    source.addEventListener('profile', (e) => this.onMessage(e, this.h.onProfile));
    source.addEventListener('stats', (e) => this.onMessage(e, this.h.onStats));
    source.addEventListener('error', () => this.streamFailed(source));
    clearTimeout(this.timers.hello);
    this.timers.hello = setTimeout(() => this.streamFailed(source), HELLO_TIMEOUT_MS);
  }

  onHello(e) {
    if (e.currentTarget !== this.source) return;
    const data = parse(e.data);
    if (!data) return;
    clearTimeout(this.timers.hello);
    this.lastMessageAt = performance.now();
    this.backoffMs = BACKOFF_MIN_MS;
    this.stopPolling();
    const resumed = !this.streamLive && this.everLive;
    this.streamLive = true;
    this.h.onHello(data);
    this.setMode('live');
    // Whatever changed while the stream was down was not sent on it: catch up once.
    if (resumed) this.h.onResumed();
    this.everLive = true;
  }

  onMessage(e, handler) {
    if (e.currentTarget !== this.source) return;
    this.lastMessageAt = performance.now();
    const data = parse(e.data);
    if (data) handler(data);
  }

  checkSilence() {
    if (this.streamLive && performance.now() - this.lastMessageAt > SILENCE_MS) this.streamFailed(this.source);
  }

  // EventSource retries on its own, but at its own pace and without telling us when it gives
  // up; closing it and scheduling our own attempt keeps the fallback predictable.
  streamFailed(source) {
    if (!source || source !== this.source) return;
    clearTimeout(this.timers.hello);
    this.streamLive = false;
    this.source.close();
    this.source = null;
    this.startPolling();
    const delay = this.backoffMs * (0.8 + 0.4 * Math.random());
    this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    this.timers.reconnect = setTimeout(() => this.openStream(), delay);
  }

  startPolling() {
    if (this.timers.poll) return;
    // A poll still in flight when polling stops (and restarts) must not start a second loop.
    const gen = ++this.pollGen;
    const poll = async () => {
      try {
        await this.h.poll();
        if (!this.streamLive) this.setMode('polling');
      } catch {
        if (!this.streamLive) this.setMode('offline');
      }
      if (gen === this.pollGen && this.timers.poll) this.timers.poll = setTimeout(poll, POLL_MS);
    };
    this.timers.poll = setTimeout(poll, 0);
  }

  stopPolling() {
    this.pollGen += 1;
    clearTimeout(this.timers.poll);
    this.timers.poll = 0;
  }
}

/** GET a JSON answer; throws on a transport error or a non-2xx status. */
export async function getJson(url) {
  const res = await fetch(url, { cache: 'no-store', headers: { Accept: 'application/json' } });
  if (!res.ok) {
    const err = new Error(`${url}: HTTP ${res.status}`);
    err.status = res.status;
    throw err;
  }
  return res.json();
}

function parse(text) {
  try {
    const v = JSON.parse(text);
    return v && typeof v === 'object' ? v : null;
  } catch {
    return null;
  }
}
