// What is being watched now: the top content by viewers, and every content a page at a time
// ("All content"), from GET /api/content. A row's content filters the viewer list.

import { getJson } from './connection.js';
import { clockTime, count, num, str } from './format.js';

const TOP = 10;
const PAGE = 50;

export class ContentTable {
  /** els: { rows, empty, all, search, pager }; onPick(key, label) when a row is chosen. */
  constructor(els, onPick) {
    this.els = els;
    this.onPick = onPick;
    this.expanded = false;
    this.offset = 0;
    this.search = '';
    this.total = 0;
    this.rows = [];
    els.all.addEventListener('click', () => this.toggle());
    els.search.addEventListener('input', () => {
      this.search = els.search.value.trim();
      this.offset = 0;
      this.refresh().catch(() => {});
    });
    for (const b of els.pager.querySelectorAll('button[data-step]')) {
      b.addEventListener('click', () => {
        const next = Math.max(0, this.offset + Number(b.dataset.step) * PAGE);
        if (next < this.total || next === 0) {
          this.offset = next;
          this.refresh().catch(() => {});
        }
      });
    }
    els.rows.addEventListener('click', (e) => {
      const tr = e.target.closest?.('tr[data-key]');
      if (tr) this.onPick(tr.dataset.key, tr.dataset.label || tr.dataset.key);
    });
  }

  toggle() {
    this.expanded = !this.expanded;
    this.offset = 0;
    this.els.all.setAttribute('aria-expanded', String(this.expanded));
    this.els.search.hidden = !this.expanded;
    if (!this.expanded) {
      this.search = '';
      this.els.search.value = '';
    }
    this.refresh().catch(() => {});
  }

  async refresh() {
    const p = new URLSearchParams({ limit: String(this.expanded ? PAGE : TOP), offset: String(this.offset) });
    if (this.expanded && this.search) p.set('q', this.search);
    const body = await getJson(`api/content?${p}`);
    this.total = num(body.total) ?? 0;
    this.rows = Array.isArray(body.content) ? body.content : [];
    this.render();
    return body;
  }

  render() {
    const { rows: tbody, empty, all, pager } = this.els;
    const trs = this.rows.map((c) => row(c));
    tbody.replaceChildren(...trs);
    empty.hidden = this.rows.length > 0;
    setText(all, this.expanded ? 'Top content' : `All content (${count(this.total)})`);
    pager.hidden = !this.expanded || this.total <= PAGE;
    const first = this.rows.length ? this.offset + 1 : 0;
    setText(pager.querySelector('.pager-text'), `${count(first)}–${count(this.offset + this.rows.length)} of ${count(this.total)}`);
    const [prev, next] = pager.querySelectorAll('button[data-step]');
    prev.disabled = this.offset === 0;
    next.disabled = this.offset + PAGE >= this.total;
  }
}

function row(c) {
  const tr = document.createElement('tr');
  tr.dataset.key = str(c.key);
  tr.dataset.label = str(c.label) || str(c.key);
  tr.title = `Show the viewers of ${tr.dataset.label}`;
  const cell = (text, cls) => {
    const td = document.createElement('td');
    if (cls) td.className = cls;
    td.textContent = text;
    tr.append(td);
    return td;
  };
  cell(str(c.label) || str(c.key), 'content-name');
  const type = cell(c.livestream === true ? 'LIVE' : c.livestream === false ? 'On demand' : '–', 'content-type');
  if (c.livestream === true) type.classList.add('is-live');
  for (const k of ['viewers', 'watching', 'paused', 'buffering', 'in_ad']) cell(count(num(c[k]) ?? 0), 'num');
  const pos = num(c.avg_position_s);
  const pct = num(c.avg_percent);
  cell(pct !== null ? `${Math.round(pct)}% · ${clockTime(pos ?? NaN)}` : pos !== null ? clockTime(pos) : '–', 'num');
  return tr;
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}
