// A viewer's story: the profile as it is now (live, through the push channel), the media
// sessions its stored profile holds, and its status history from the history table, newest
// first, a page at a time (GET /api/viewers/{id}, .../sessions, .../history).

import { getJson } from './connection.js';
import { ago, clockTime, count, duration, eventName, num, parseTime, statusInfo, str, timeOfDay } from './format.js';

const HISTORY_PAGE = 25;

export class Story {
  /** els: the panel's elements; clock: the host's clock; onFollow(id|null) while it is open. */
  constructor(els, clock, onFollow) {
    this.els = els;
    this.clock = clock;
    this.onFollow = onFollow;
    this.viewer = null;
    this.next = null;
    this.gen = 0;
    els.close.addEventListener('click', () => this.close());
    els.older.addEventListener('click', () => this.loadHistory(false).catch((e) => this.fail(e)));
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && !els.panel.hidden) this.close();
    });
  }

  async open(id) {
    if (typeof id !== 'string' || id === '') return;
    const gen = ++this.gen;
    this.viewer = id;
    this.next = null;
    const { panel, id: idEl, error, now, sessions, history, older } = this.els;
    panel.hidden = false;
    panel.dataset.viewerId = id;
    idEl.textContent = id;
    error.hidden = true;
    now.replaceChildren();
    sessions.tBodies[0].replaceChildren();
    history.tBodies[0].replaceChildren();
    older.hidden = true;
    this.onFollow(id);
    try {
      const profile = await getJson(`api/viewers/${encodeURIComponent(id)}`);
      if (gen !== this.gen) return;
      this.update(profile);
      const [s] = await Promise.all([
        getJson(`api/viewers/${encodeURIComponent(id)}/sessions`),
        this.loadHistory(true),
      ]);
      if (gen !== this.gen) return;
      this.renderSessions(s);
    } catch (e) {
      if (gen === this.gen) this.fail(e);
    }
  }

  close() {
    this.gen += 1;
    this.viewer = null;
    this.els.panel.hidden = true;
    delete this.els.panel.dataset.viewerId;
    this.onFollow(null);
  }

  fail(e) {
    const { error } = this.els;
    error.hidden = false;
    error.textContent = e?.status === 404 ? `No viewer ${JSON.stringify(this.viewer)}.` : `Could not load the viewer: ${e?.message ?? e}`;
  }

  /** The profile as it is now (also each change the push channel brings while open). */
  update(p) {
    if (!p || p.viewer_id !== this.viewer) return;
    const media = isObject(p.media) ? p.media : {};
    const session = isObject(p.session) ? p.session : {};
    const totals = isObject(p.totals) ? p.totals : {};
    const ad = isObject(p.ad) ? p.ad : null;
    const pos = num(media.current_time);
    const dur = num(media.duration);
    const facts = [
      ['Status', `${statusInfo(p.status).label}${p.status_at ? ` since ${ago(this.clock.now() - parseTime(p.status_at))}` : ''}`],
      ['Watching', str(media.label) || '–'],
      ['Position', media.livestream === true ? `${clockTime(pos ?? NaN)} (live)` : dur ? `${clockTime(pos ?? NaN)} / ${clockTime(dur)}` : clockTime(pos ?? NaN)],
      ['Ad', ad ? `${str(ad.name) || str(ad.ad_id) || 'break'}${num(ad.quartile) !== null ? ` · quartile ${num(ad.quartile)}/4` : ''}` : 'none'],
      ['This session', `${duration(num(session.time_played) ?? NaN)} watched · ${count(num(session.ads) ?? 0)} ads`],
      ['All sessions', `${count(num(totals.media_sessions) ?? 0)} sessions · ${duration(num(totals.time_played) ?? NaN)} watched · ${count(num(totals.completed) ?? 0)} completed`],
      ['First seen', timeOfDay(p.first_seen)],
      ['Last seen', p.last_seen ? `${ago(this.clock.now() - parseTime(p.last_seen))} (${eventName(p.last_event) || 'event'})` : '–'],
    ];
    this.els.now.replaceChildren(...facts.flatMap(([k, v]) => {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      dd.dataset.fact = k;
      return [dt, dd];
    }));
  }

  renderSessions(body) {
    const rows = (Array.isArray(body?.sessions) ? body.sessions : []).map((s) => tr([
      str(s.label) || str(s.session_id),
      timeOfDay(s.started_at || s.first_event_at),
      timeOfDay(s.last_event_at),
      duration(num(s.time_played) ?? NaN),
      count(num(s.ads) ?? 0),
      num(s.completed) ? 'yes' : '',
    ], [3, 4]));
    const folded = num(body?.folded?.sessions) ?? 0;
    if (folded > 0) rows.push(tr([`${count(folded)} older sessions`, '', '', duration(num(body.folded.totals?.time_played) ?? NaN), count(num(body.folded.totals?.ads) ?? 0), ''], [3, 4]));
    if (rows.length === 0) rows.push(tr(['No media session stored yet', '', '', '', '', '']));
    this.els.sessions.tBodies[0].replaceChildren(...rows);
  }

  /** The first page (`fresh`) or the next older one. */
  async loadHistory(fresh) {
    const id = this.viewer;
    const p = new URLSearchParams({ limit: String(HISTORY_PAGE) });
    if (!fresh && this.next) p.set('before', this.next);
    const body = await getJson(`api/viewers/${encodeURIComponent(id)}/history?${p}`);
    if (id !== this.viewer) return;
    const rows = (Array.isArray(body.rows) ? body.rows : []).map((r) => {
      const row = tr([timeOfDay(r.at), statusInfo(r.status).label, eventName(r.event), str(r.media_label)]);
      row.dataset.at = str(r.at);
      row.title = str(r.at);
      row.dataset.status = str(r.status);
      row.dataset.group = statusInfo(r.status).group;
      return row;
    });
    const tbody = this.els.history.tBodies[0];
    if (fresh) tbody.replaceChildren(...rows);
    else tbody.append(...rows);
    if (fresh && rows.length === 0) tbody.append(tr(['No status change recorded yet', '', '', '']));
    this.next = typeof body.next === 'string' ? body.next : null;
    this.els.older.hidden = this.next === null;
  }
}

function tr(cells, numeric = []) {
  const row = document.createElement('tr');
  cells.forEach((text, i) => {
    const td = document.createElement('td');
    td.textContent = text;
    if (numeric.includes(i)) td.className = 'num';
    row.append(td);
  });
  return row;
}

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
