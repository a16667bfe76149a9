// One card per active viewer. Every string from a profile goes in through textContent or an
// attribute value, never as markup: labels, ad names and ids come straight from trackers.
//
// Cards keep their place (arrival order, new ones at the end) and their size (every row is
// always there, one line high), so a busy dashboard does not jump under the reader's eyes.
// A card opens its viewer's story (a click anywhere on it, or its id as a button).

import { ago, clockTime, count, elapsed, eventName, num, parseTime, statusInfo, str } from './format.js';

const LEAVE_MS = 600;
const NS = 'http://www.w3.org/2000/svg';

const ICONS = {
  watching: { d: 'M5 3.5 13 8 5 12.5Z', fill: true },
  paused: { d: 'M4.5 3.5h2.5v9H4.5ZM9 3.5h2.5v9H9Z', fill: true },
  ad: { d: 'M2 6.5h3l6.5-3.5v10L5 9.5H2Z', fill: true },
  completed: { d: 'M3 8.5 6.5 12 13 4.5', fill: false },
  buffering: { d: 'M8 3.5a4.5 4.5 0 1 0 4.5 4.5', fill: false },
  other: { d: 'M8 3.5a4.5 4.5 0 1 0 0 9a4.5 4.5 0 1 0 0-9Z', fill: false },
};

export class CardGrid {
  constructor(grid, more, empty, onOpen) {
    this.grid = grid;
    this.more = more;
    this.empty = empty;
    this.onOpen = onOpen;
    this.cards = new Map();
    grid.addEventListener('click', (e) => {
      const card = e.target.closest?.('.card');
      if (card && !card.classList.contains('leaving') && this.onOpen) this.onOpen(card.dataset.viewerId);
    });
  }

  /** entries: the viewers to show, in order. */
  render(entries, now) {
    const shown = entries;
    const keep = new Set(shown.map((e) => e.id));
    for (const [id, card] of this.cards) {
      if (!keep.has(id)) {
        this.cards.delete(id);
        leave(card);
      }
    }
    for (const entry of shown) {
      let card = this.cards.get(entry.id);
      if (!card) {
        card = build(entry.id);
        this.cards.set(entry.id, card);
        // Arrival order is append order: a new card always belongs at the end.
        this.grid.append(card.root);
      }
      if (card.version !== entry.version) fill(card, entry.profile, card.version !== -1);
      card.version = entry.version;
      tick(card, now);
    }
  }
}

function leave(card) {
  card.root.classList.add('leaving');
  card.root.setAttribute('aria-hidden', 'true');
  setTimeout(() => card.root.remove(), LEAVE_MS);
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function icon() {
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('class', 'status-icon');
  svg.setAttribute('aria-hidden', 'true');
  svg.append(document.createElementNS(NS, 'path'));
  return svg;
}

function build(id) {
  const root = el('article', 'card entering');
  root.dataset.viewerId = id;
  const f = {};

  const head = el('div', 'card-head');
  f.status = el('span', 'status');
  f.icon = icon();
  f.statusText = el('span', 'status-text');
  f.status.append(f.icon, f.statusText);
  f.seen = el('span', 'seen');
  head.append(f.status, f.seen);

  f.viewer = el('button', 'viewer-id', id);
  f.viewer.type = 'button';
  f.viewer.title = `Open the story of ${id}`;

  const media = el('div', 'media');
  const titleRow = el('div', 'media-title');
  f.label = el('span', 'media-label');
  f.live = el('span', 'badge-live', 'LIVE');
  titleRow.append(f.label, f.live);
  f.bar = el('div', 'progress');
  f.bar.setAttribute('role', 'progressbar');
  f.bar.setAttribute('aria-valuemin', '0');
  f.bar.setAttribute('aria-valuemax', '100');
  f.fill = el('div', 'progress-fill');
  f.bar.append(f.fill);
  const metaRow = el('div', 'media-meta');
  f.position = el('span', 'position');
  f.percent = el('span', 'percent');
  metaRow.append(f.position, f.percent);
  media.append(titleRow, f.bar, metaRow);

  f.ad = el('div', 'ad');
  const adTop = el('div', 'ad-top');
  f.adName = el('span', 'ad-name');
  f.quartile = el('span', 'quartile');
  f.quartileMeter = el('span', 'quartile-meter');
  f.quartileMeter.setAttribute('aria-hidden', 'true');
  for (let i = 0; i < 4; i++) f.quartileMeter.append(el('i'));
  f.quartileText = el('span', 'quartile-text');
  f.quartile.append(f.quartileMeter, f.quartileText);
  adTop.append(el('span', 'ad-tag', 'AD'), f.adName, f.quartile);
  f.adDetail = el('div', 'ad-detail');
  f.ad.append(adTop, f.adDetail);

  const foot = el('div', 'card-foot');
  f.session = el('span', 'session-ads');
  f.lastEvent = el('span', 'last-event');
  foot.append(f.session, f.lastEvent);

  root.append(head, f.viewer, media, f.ad, foot);
  root.addEventListener('animationend', (e) => {
    if (e.animationName === 'enter') root.classList.remove('entering');
  });
  return { id, root, f, version: -1, flashKey: null, flashFlip: false, statusAt: NaN, lastSeen: NaN, statusLabel: '' };
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function fill(card, p, mayFlash) {
  const { f, root } = card;
  const { group, label } = statusInfo(p.status);
  root.dataset.group = group;
  f.icon.firstChild.setAttribute('d', ICONS[group].d);
  f.icon.classList.toggle('filled', ICONS[group].fill);
  card.statusLabel = label;
  card.statusAt = parseTime(p.status_at);
  card.lastSeen = parseTime(p.last_seen);
  f.seen.title = `Last event ${str(p.last_seen)}`;

  const media = isObject(p.media) ? p.media : {};
  const session = isObject(p.session) ? p.session : null;
  const mediaLabel = str(media.label) || str(session?.label);
  setText(f.label, mediaLabel || (isObject(p.media) ? 'Untitled media' : 'No media yet'));
  f.label.classList.toggle('muted', !mediaLabel);
  f.label.title = mediaLabel;
  const live = media.livestream === true;
  f.live.hidden = !live;

  const pos = num(media.current_time);
  const dur = num(media.duration);
  let pct = num(media.percent);
  if (pct === null && !live && pos !== null && dur) pct = (pos / dur) * 100;
  pct = pct === null ? null : Math.min(100, Math.max(0, pct));
  f.bar.classList.toggle('is-live', live);
  f.fill.style.transform = `scaleX(${live ? 1 : (pct ?? 0) / 100})`;
  if (pct === null) f.bar.removeAttribute('aria-valuenow');
  else f.bar.setAttribute('aria-valuenow', String(Math.round(pct)));
  setText(f.position, live || !dur ? clockTime(pos ?? NaN) : `${clockTime(pos ?? NaN)} / ${clockTime(dur)}`);
  setText(f.percent, live ? 'live stream' : pct === null ? '' : `${Math.round(pct)}%`);

  fillAd(f, isObject(p.ad) ? p.ad : null);

  if (session) {
    const n = (k) => count(num(session[k]) ?? 0);
    setText(f.session, `Ads ${n('ads')} · skipped ${n('ads_skipped')} · clicked ${n('ads_clicked')}`);
  } else {
    setText(f.session, 'No media session yet');
  }
  const last = eventName(p.last_event);
  setText(f.lastEvent, last);
  f.lastEvent.title = last ? `Last event: ${last}` : '';

  const ad = isObject(p.ad) ? p.ad : {};
  const key = JSON.stringify([
    p.status, p.status_at, mediaLabel, live, ad.ad_id, ad.break_id, ad.quartile, ad.clicked, ad.skipped,
    session?.session_id, session?.ads, session?.ads_skipped, session?.ads_clicked, session?.ads_completed,
  ]);
  // Position and ping updates change nothing a person is looking for; only state changes flash.
  if (mayFlash && card.flashKey !== null && key !== card.flashKey) {
    // Two identical animations under different names: switching restarts it without a reflow.
    card.flashFlip = !card.flashFlip;
    root.classList.toggle('flash-a', card.flashFlip);
    root.classList.toggle('flash-b', !card.flashFlip);
  }
  card.flashKey = key;
}

function fillAd(f, ad) {
  f.ad.classList.toggle('ad-off', !ad);
  if (!ad) {
    setText(f.adName, 'No ad playing');
    f.adName.title = '';
    f.quartile.hidden = true;
    setText(f.adDetail, '');
    return;
  }
  const name = str(ad.name) || str(ad.ad_id);
  const breakName = str(ad.break_name) || str(ad.break_id);
  setText(f.adName, name || 'Ad break starting');
  f.adName.title = name && str(ad.ad_id) && name !== str(ad.ad_id) ? `${name} (${str(ad.ad_id)})` : name;

  const q = num(ad.quartile);
  f.quartile.hidden = q === null;
  if (q !== null) {
    const reached = Math.min(4, Math.max(0, Math.round(q)));
    setText(f.quartileText, `${reached}/4`);
    f.quartile.title = `Quartile reached: ${reached * 25}%`;
    [...f.quartileMeter.children].forEach((seg, i) => seg.classList.toggle('on', i < reached));
  }

  const parts = [];
  if (breakName) parts.push(str(ad.break_type) ? `${breakName} (${str(ad.break_type).toLowerCase()})` : breakName);
  else if (str(ad.break_type)) parts.push(str(ad.break_type).toLowerCase());
  const podPos = num(ad.pod_position);
  const podSize = num(ad.pod_size);
  if (podPos !== null) parts.push(podSize ? `ad ${podPos} of ${podSize}` : `ad ${podPos}`);
  const adDur = num(ad.duration);
  if (adDur !== null) parts.push(clockTime(adDur));
  if (ad.skippable === true) parts.push('skippable');
  else if (ad.skippable === false) parts.push('not skippable');
  if (ad.skipped === true) parts.push('skipped');
  if (ad.clicked === true) parts.push('clicked');
  setText(f.adDetail, parts.join(' · '));
  f.adDetail.title = f.adDetail.textContent;
}

function tick(card, now) {
  const since = Number.isFinite(card.statusAt) ? ` · ${elapsed(now - card.statusAt)}` : '';
  setText(card.f.statusText, `${card.statusLabel}${since}`);
  setText(card.f.seen, ago(now - card.lastSeen));
}

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
