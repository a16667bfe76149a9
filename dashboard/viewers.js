// The viewer list: one page of the active viewers at a time, in arrival order, filtered by a
// piece of the viewer id, a status and a content, fetched from the host (never the whole list),
// kept live by the push channel for the viewers on the page, and fetched again only when its
// membership may have changed: a viewer on it left, or new viewers arrived and the page has
// room for them (the last page, or one not full).

import { CardGrid } from './cards.js';
import { getJson } from './connection.js';
import { count, parseTime } from './format.js';
import { isActiveAt } from './model.js';

export const PAGE_SIZE = 48;
// A page is fetched again at most this often, however much changes.
const REFETCH_MIN_MS = 1500;

export class ViewerList {
  /**
   * els: { grid, empty, range, pager }; onPage(body) gets every list answer; onFollow(ids)
   * when the viewers on the page change.
   */
  constructor(els, { clock, headline, onPage, onFollow, onOpen }) {
    this.els = els;
    this.clock = clock;
    this.headline = headline;
    this.onPage = onPage;
    this.onFollow = onFollow;
    this.cards = new CardGrid(els.grid, null, els.empty, onOpen);
    this.filter = { q: '', status: '', content: '' };
    this.offset = 0;
    this.total = null;
    this.entries = new Map();
    this.order = [];
    this.arrivals = null;
    this.loadedAt = -Infinity;
    this.inFlight = null;
    this.again = false;
    this.timer = 0;
    for (const b of els.pager.querySelectorAll('button[data-step]')) {
      b.addEventListener('click', () => this.step(Number(b.dataset.step)));
    }
  }

  url() {
    const p = new URLSearchParams({ order: 'arrival', limit: String(PAGE_SIZE), offset: String(this.offset) });
    if (this.filter.q) p.set('q', this.filter.q);
    if (this.filter.status) p.set('status', this.filter.status);
    if (this.filter.content) p.set('content', this.filter.content);
    return `api/viewers?${p}`;
  }

  setFilter(change) {
    Object.assign(this.filter, change);
    this.offset = 0;
    return this.load();
  }

  step(direction) {
    const next = Math.max(0, this.offset + direction * PAGE_SIZE);
    if (next === this.offset || (this.total !== null && next >= this.total && direction > 0)) return;
    this.offset = next;
    this.load();
  }

  /** Fetches the page now (a fetch under way is followed by one more). */
  async load() {
    if (this.inFlight) {
      this.again = true;
      return this.inFlight;
    }
    this.inFlight = (async () => {
      try {
        do {
          this.again = false;
          const body = await getJson(this.url());
          this.apply(body);
        } while (this.again);
      } finally {
        this.inFlight = null;
        this.loadedAt = performance.now();
      }
    })();
    return this.inFlight;
  }

  /** Fetches the page again soon, no more often than REFETCH_MIN_MS. */
  refetchSoon() {
    if (this.timer) return;
    const wait = Math.max(0, this.loadedAt + REFETCH_MIN_MS - performance.now());
    this.timer = setTimeout(() => {
      this.timer = 0;
      this.load().catch(() => {});
    }, wait);
  }

  apply(body) {
    this.clock.sync(body.generated_at);
    this.headline.setWindow(body.active_window_s);
    this.onPage(body);
    this.total = typeof body.total === 'number' ? body.total : null;
    if (typeof body.arrivals === 'number') this.arrivals = body.arrivals;
    // Past the end (viewers left): the last page that has any.
    if (this.total !== null && this.offset > 0 && this.offset >= this.total) {
      this.offset = Math.max(0, Math.floor((this.total - 1) / PAGE_SIZE) * PAGE_SIZE);
      this.again = true;
      return;
    }
    const viewers = Array.isArray(body.viewers) ? body.viewers : [];
    const next = new Map();
    for (const p of viewers) {
      if (!p || typeof p.viewer_id !== 'string') continue;
      const held = this.entries.get(p.viewer_id);
      const lastSeen = parseTime(p.last_seen);
      // The push channel may already have brought a newer copy.
      if (held && held.lastSeen > lastSeen) next.set(p.viewer_id, held);
      else next.set(p.viewer_id, { id: p.viewer_id, profile: p, lastSeen, version: held ? held.version + 1 : 0 });
    }
    this.entries = next;
    this.order = [...next.keys()];
    this.onFollow(this.order);
    this.render();
  }

  /** A change from the push channel: only viewers on the page are followed. */
  upsert(profile) {
    const held = this.entries.get(profile?.viewer_id);
    if (!held) return false;
    const lastSeen = parseTime(profile.last_seen);
    if (lastSeen < held.lastSeen) return false;
    held.profile = profile;
    held.lastSeen = lastSeen;
    held.version += 1;
    return true;
  }

  /** `stats`: new viewers may belong on this page. */
  onStats(stats) {
    const arrivals = typeof stats.arrivals === 'number' ? stats.arrivals : null;
    if (arrivals === null || arrivals === this.arrivals) return;
    this.arrivals = arrivals;
    const lastPage = this.total === null || this.offset + PAGE_SIZE >= this.total;
    if (lastPage || this.entries.size < PAGE_SIZE) this.refetchSoon();
  }

  /** Viewers past the active window leave the page, which is then filled again. */
  render() {
    const now = this.clock.now();
    let left = false;
    const shown = [];
    for (const id of this.order) {
      const e = this.entries.get(id);
      if (isActiveAt(e.lastSeen, now, this.headline.windowMs)) shown.push(e);
      else left = true;
    }
    if (left) {
      for (const id of this.order) {
        if (!shown.some((e) => e.id === id)) this.entries.delete(id);
      }
      this.order = shown.map((e) => e.id);
      this.refetchSoon();
    }
    this.cards.render(shown, now, shown.length);
    this.renderPager(shown.length);
  }

  renderPager(onPage) {
    const { range, pager, empty } = this.els;
    const total = this.total ?? 0;
    const filtered = Boolean(this.filter.q || this.filter.status || this.filter.content);
    const first = onPage ? this.offset + 1 : 0;
    const last = this.offset + onPage;
    setText(range, total ? `${count(first)}–${count(last)} of ${count(total)}${filtered ? ' matching' : ''}` : filtered ? 'No viewer matches' : 'No viewers');
    const [prev, next] = pager.querySelectorAll('button[data-step]');
    prev.disabled = this.offset === 0;
    next.disabled = this.offset + PAGE_SIZE >= total;
    if (!this.headline.heard) setText(empty, 'Waiting for the host…');
    else setText(empty, filtered ? 'No active viewer matches.' : 'No active viewers right now.');
    empty.hidden = onPage > 0;
  }
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}
