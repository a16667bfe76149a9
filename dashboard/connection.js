// Keeps the page fed: Server-Sent Events while they work, polling GET /api/viewers every 2 s
// while they don't, and SSE reconnects with backoff in the background.
//
// Modes: 'connecting' (nothing heard yet), 'live' (SSE open), 'polling' (SSE down, polls
// answer), 'offline' (neither answers).

const POLL_MS = 2000;
const STATS_POLL_MS = 10_000;
// The host sends `stats` every 2 s; this much silence means the stream is dead even if the
// socket is not (a proxy holding it, a suspended laptop).
const SILENCE_MS = 7000;
const HELLO_TIMEOUT_MS = 5000;
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30_000;
// While the host holds more active viewers than one list answer carries, the status split
// and ad figures come from its list answers; refresh them this often even while live.
const TRUNCATED_REFRESH_MS = 10_000;

export class Connection {
  /**
   * handlers: onHello(data), onProfile(profile), onStats(data), onSnapshot(body),
   * onStatsSnapshot(body), onMode(mode), isTruncated() -> bool
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
    this.timers = { reconnect: 0, poll: 0, hello: 0, watchdog: 0, statsPoll: 0, refresh: 0 };
  }

  start() {
    this.setMode('connecting');
    // Paint from a list answer at once rather than waiting for the stream's first events.
    this.fetchSnapshot().catch(() => {});
    this.fetchStats().catch(() => {});
    this.openStream();
    this.timers.watchdog = setInterval(() => this.checkSilence(), 1000);
    this.timers.refresh = setInterval(() => {
      if (this.streamLive && this.h.isTruncated()) this.fetchSnapshot().catch(() => {});
    }, TRUNCATED_REFRESH_MS);
  }

  setMode(mode) {
    if (mode === this.mode) return;
    this.mode = mode;
    this.h.onMode(mode);
  }

  openStream() {
    clearTimeout(this.timers.reconnect);
    const source = new EventSource('api/events');
    this.source = source;
    source.addEventListener('hello', (e) => this.onHello(e));
    source.addEventListener('profile', (e) => this.onMessage(e, this.h.onProfile));
    source.addEventListener('stats', (e) => this.onMessage(e, this.h.onStats));
    source.addEventListener('error', () => this.streamFailed());
    this.timers.hello = setTimeout(() => this.streamFailed(), HELLO_TIMEOUT_MS);
  }

  onHello(e) {
    const data = parse(e.data);
    if (!data) return;
    clearTimeout(this.timers.hello);
    this.lastMessageAt = performance.now();
    this.backoffMs = BACKOFF_MIN_MS;
    this.stopPolling();
    this.streamLive = true;
    this.h.onHello(data);
    this.setMode('live');
    // Whatever changed while the stream was down was not sent on it: catch up once.
    if (this.everLive) {
      this.fetchSnapshot().catch(() => {});
      this.fetchStats().catch(() => {});
    }
    this.everLive = true;
  }

  onMessage(e, handler) {
    if (e.currentTarget !== this.source) return;
    this.lastMessageAt = performance.now();
    const data = parse(e.data);
    if (data) handler(data);
  }

  checkSilence() {
    if (this.streamLive && performance.now() - this.lastMessageAt > SILENCE_MS) this.streamFailed();
  }

  // EventSource retries on its own, but at its own pace and without telling us when it gives
  // up; closing it and scheduling our own attempt keeps the fallback predictable.
  streamFailed() {
    clearTimeout(this.timers.hello);
    this.streamLive = false;
    if (this.source) {
      this.source.close();
      this.source = null;
    } else {
      return;
    }
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
        await this.fetchSnapshot();
        if (!this.streamLive) this.setMode('polling');
      } catch {
        if (!this.streamLive) this.setMode('offline');
      }
      if (gen === this.pollGen && this.timers.poll) this.timers.poll = setTimeout(poll, POLL_MS);
    };
    this.timers.poll = setTimeout(poll, 0);
    this.timers.statsPoll = setInterval(() => this.fetchStats().catch(() => {}), STATS_POLL_MS);
  }

  stopPolling() {
    this.pollGen += 1;
    clearTimeout(this.timers.poll);
    clearInterval(this.timers.statsPoll);
    this.timers.poll = 0;
    this.timers.statsPoll = 0;
  }

  async fetchSnapshot() {
    this.h.onSnapshot(await getJson('api/viewers?limit=200'));
  }

  async fetchStats() {
    this.h.onStatsSnapshot(await getJson('api/stats'));
  }
}

async function getJson(url) {
  const res = await fetch(url, { cache: 'no-store', headers: { Accept: 'application/json' } });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
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
