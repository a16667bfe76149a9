// Active viewers over time as an inline SVG line chart: seeded from GET /api/stats (a point
// every 10 s over the last hour) and extended here once a second.

import { count as fmtCount, num, parseTime } from './format.js';

const NS = 'http://www.w3.org/2000/svg';
const STEP_MS = 10_000;
const HOUR_MS = 3_600_000;
const MIN_SPAN_MS = 5 * 60_000;
const PAD = { left: 34, right: 14, top: 12, bottom: 24 };
const X_STEPS_MIN = [1, 2, 5, 10, 15, 20, 30];

export class ActiveChart {
  constructor(container, hint) {
    this.container = container;
    this.hint = hint;
    this.points = [];
    this.tip = null;
    this.svg = svgEl('svg', { class: 'chart-svg', 'aria-hidden': 'true' });
    container.append(this.svg);
    this.size = { w: 0, h: 0 };
    new ResizeObserver(() => this.draw()).observe(container);
  }

  /** Replaces history with the host's, keeping points recorded here after its last one. */
  seed(series) {
    if (!Array.isArray(series)) return;
    const pts = series
      .map((p) => ({ t: parseTime(p?.t), c: num(p?.count) }))
      .filter((p) => Number.isFinite(p.t) && p.c !== null)
      .sort((a, b) => a.t - b.t);
    const last = pts.length ? pts[pts.length - 1].t : -Infinity;
    this.points = pts.concat(this.points.filter((p) => p.t > last + STEP_MS / 2));
    this.draw();
  }

  record(now, c) {
    this.tip = { t: now, c };
    const last = this.points[this.points.length - 1];
    if (!last || now - last.t >= STEP_MS) this.points.push({ t: now, c });
    const cutoff = now - HOUR_MS - STEP_MS;
    while (this.points.length && this.points[0].t < cutoff) this.points.shift();
    this.draw();
  }

  draw() {
    const w = this.container.clientWidth;
    const h = this.container.clientHeight;
    if (w <= 0 || h <= 0) return;
    const svg = this.svg;
    svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
    svg.setAttribute('width', w);
    svg.setAttribute('height', h);

    const series = this.tip ? [...this.points.filter((p) => p.t < this.tip.t), this.tip] : this.points;
    if (series.length === 0) {
      svg.replaceChildren(svgEl('text', { x: w / 2, y: h / 2, class: 'chart-empty', 'text-anchor': 'middle' }, 'Waiting for data…'));
      return;
    }
    const now = series[series.length - 1].t;
    const span = Math.min(HOUR_MS, Math.max(MIN_SPAN_MS, now - series[0].t));
    const t0 = now - span;
    const visible = series.filter((p) => p.t >= t0 - STEP_MS);
    const { max: yMax, step: yStep } = niceScale(Math.max(...visible.map((p) => p.c)));

    const iw = w - PAD.left - PAD.right;
    const ih = h - PAD.top - PAD.bottom;
    const x = (t) => PAD.left + ((Math.max(t, t0) - t0) / span) * iw;
    const y = (c) => PAD.top + ih - (c / yMax) * ih;

    const nodes = [defs()];
    for (let v = 0; v <= yMax; v += yStep) {
      nodes.push(svgEl('line', { x1: PAD.left, x2: w - PAD.right, y1: y(v), y2: y(v), class: v === 0 ? 'chart-axis' : 'chart-grid' }));
      nodes.push(svgEl('text', { x: PAD.left - 8, y: y(v) + 4, class: 'chart-label', 'text-anchor': 'end' }, fmtCount(v)));
    }
    const stepMin = X_STEPS_MIN.find((m) => span / (m * 60_000) <= (w < 500 ? 3 : 6)) ?? 60;
    const stepMs = stepMin * 60_000;
    for (let t = Math.ceil(t0 / stepMs) * stepMs; t <= now; t += stepMs) {
      if (x(t) < PAD.left + 16 || x(t) > w - PAD.right - 16) continue;
      nodes.push(svgEl('line', { x1: x(t), x2: x(t), y1: PAD.top + ih, y2: PAD.top + ih + 4, class: 'chart-axis' }));
      nodes.push(svgEl('text', { x: x(t), y: h - 6, class: 'chart-label', 'text-anchor': 'middle' }, clockLabel(t)));
    }

    const line = visible.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.c).toFixed(1)}`).join('');
    const first = visible[0];
    const lastP = visible[visible.length - 1];
    const area = `${line}L${x(lastP.t).toFixed(1)},${y(0)}L${x(first.t).toFixed(1)},${y(0)}Z`;
    nodes.push(svgEl('path', { d: area, class: 'chart-area', fill: 'url(#chart-fill)' }));
    nodes.push(svgEl('path', { d: line, class: 'chart-line' }));
    nodes.push(svgEl('circle', { cx: x(lastP.t), cy: y(lastP.c), r: 4, class: 'chart-dot' }));
    svg.replaceChildren(...nodes);

    const minutes = Math.round(span / 60_000);
    this.hint.textContent = minutes >= 60 ? 'last hour' : `last ${minutes} min`;
    this.container.setAttribute('aria-label', `Active viewers over the ${this.hint.textContent}: now ${fmtCount(lastP.c)}`);
  }
}

/** A y-axis top that is a round number at or above max, with 2 to 4 steps. */
function niceScale(max) {
  const target = Math.max(max, 4);
  const raw = target / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, [1, 2, 2.5, 5, 10].map((m) => m * mag).filter(Number.isInteger).find((s) => s >= raw));
  return { max: Math.ceil(target / step) * step, step };
}

function clockLabel(t) {
  const d = new Date(t);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

function defs() {
  const grad = svgEl('linearGradient', { id: 'chart-fill', x1: 0, y1: 0, x2: 0, y2: 1 });
  grad.append(
    svgEl('stop', { offset: '0%', class: 'chart-fill-top' }),
    svgEl('stop', { offset: '100%', class: 'chart-fill-bottom' }),
  );
  const d = svgEl('defs', {});
  d.append(grad);
  return d;
}

function svgEl(tag, attrs, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}
