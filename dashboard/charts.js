// Charts as inline SVG, drawn from the host's per-minute series: the concurrent viewers by
// status, stacked (GET /api/concurrency), and the rebuffering ratio (GET /api/windows/series).

import { count as fmtCount, GROUP_LABELS, GROUPS, HOST_GROUPS, parseTime, percent } from './format.js';

const NS = 'http://www.w3.org/2000/svg';
const PAD = { left: 40, right: 14, top: 10, bottom: 24 };

class Canvas {
  constructor(container) {
    this.container = container;
    this.svg = svgEl('svg', { class: 'chart-svg', 'aria-hidden': 'true' });
    container.append(this.svg);
    new ResizeObserver(() => this.draw()).observe(container);
  }

  size() {
    const w = this.container.clientWidth;
    const h = this.container.clientHeight;
    if (w <= 0 || h <= 0) return null;
    this.svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
    this.svg.setAttribute('width', w);
    this.svg.setAttribute('height', h);
    return { w, h, iw: w - PAD.left - PAD.right, ih: h - PAD.top - PAD.bottom };
  }

  empty(w, h, text) {
    this.svg.replaceChildren(svgEl('text', { x: w / 2, y: h / 2, class: 'chart-empty', 'text-anchor': 'middle' }, text));
  }
}

/** Concurrent viewers per minute, stacked by status group. */
export class ConcurrencyChart extends Canvas {
  constructor(container, legend) {
    super(container);
    this.legend = legend;
    this.points = [];
    this.spanMs = 3_600_000;
    legend.replaceChildren(...GROUPS.map((g) => {
      const li = document.createElement('li');
      li.dataset.group = g;
      li.textContent = GROUP_LABELS[g];
      return li;
    }));
  }

  /** body: GET /api/concurrency; spanMs: how far back the axis goes. */
  update(body, spanMs) {
    this.spanMs = spanMs;
    const to = parseTime(body?.to);
    this.to = Number.isFinite(to) ? to : Date.now();
    this.points = (Array.isArray(body?.points) ? body.points : [])
      .map((p) => {
        const groups = Object.fromEntries(GROUPS.map((g) => [g, 0]));
        for (const [k, v] of Object.entries(p.groups ?? {})) {
          const g = HOST_GROUPS[k];
          if (g && Number.isFinite(v)) groups[g] += v;
        }
        return { t: parseTime(p.t), total: Number(p.total) || 0, groups };
      })
      .filter((p) => Number.isFinite(p.t))
      .sort((a, b) => a.t - b.t);
    this.draw();
  }

  draw() {
    const s = this.size();
    if (!s) return;
    const { w, h, iw, ih } = s;
    if (this.points.length === 0) {
      this.empty(w, h, 'No samples yet: one is taken at the start of every minute');
      this.container.setAttribute('aria-label', 'Concurrent viewers by status: no samples yet');
      return;
    }
    const t1 = this.to;
    const t0 = t1 - this.spanMs;
    const pts = this.points.filter((p) => p.t >= t0);
    const { max: yMax, step: yStep } = niceScale(Math.max(0, ...pts.map((p) => p.total)));
    const x = (t) => PAD.left + ((t - t0) / (t1 - t0)) * iw;
    const y = (c) => PAD.top + ih - (c / yMax) * ih;
    const nodes = [];
    for (let v = 0; v <= yMax; v += yStep) {
      nodes.push(svgEl('line', { x1: PAD.left, x2: w - PAD.right, y1: y(v), y2: y(v), class: v === 0 ? 'chart-axis' : 'chart-grid' }));
      nodes.push(svgEl('text', { x: PAD.left - 6, y: y(v) + 4, class: 'chart-label', 'text-anchor': 'end' }, fmtCount(v)));
    }
    timeTicks(nodes, t0, t1, x, w, h, ih);
    // Bands from the bottom up, in the legend's order; a gap in the samples breaks the band.
    const base = pts.map(() => 0);
    for (const g of GROUPS) {
      const top = pts.map((p, i) => base[i] + p.groups[g]);
      if (top.some((v, i) => v > base[i])) {
        let d = '';
        for (const run of runs(pts)) {
          const upper = run.map((i) => `${x(pts[i].t).toFixed(1)},${y(top[i]).toFixed(1)}`);
          const lower = run.slice().reverse().map((i) => `${x(pts[i].t).toFixed(1)},${y(base[i]).toFixed(1)}`);
          if (run.length === 1) {
            const i = run[0];
            const bw = Math.max(2, iw / (this.spanMs / 60_000));
            d += `M${(x(pts[i].t) - bw / 2).toFixed(1)},${y(top[i]).toFixed(1)}h${bw.toFixed(1)}V${y(base[i]).toFixed(1)}h${(-bw).toFixed(1)}Z`;
          } else {
            d += `M${upper.join('L')}L${lower.join('L')}Z`;
          }
        }
        nodes.push(svgEl('path', { d, class: 'band', 'data-group': g }));
      }
      top.forEach((v, i) => { base[i] = v; });
    }
    this.svg.replaceChildren(...nodes);
    const last = pts[pts.length - 1];
    const parts = GROUPS.filter((g) => last.groups[g] > 0).map((g) => `${fmtCount(last.groups[g])} ${GROUP_LABELS[g].toLowerCase()}`);
    this.container.setAttribute('aria-label', `Concurrent viewers by status: ${fmtCount(last.total)} at the latest minute (${parts.join(', ') || 'none'})`);
  }
}

/** Rebuffering ratio per minute. */
export class RatioChart extends Canvas {
  constructor(container) {
    super(container);
    this.points = [];
  }

  update(body) {
    const to = parseTime(body?.to);
    this.to = Number.isFinite(to) ? to : Date.now();
    this.points = (Array.isArray(body?.minutes) ? body.minutes : [])
      .map((m) => ({ t: parseTime(m.t), r: typeof m.rebuffering_ratio === 'number' ? m.rebuffering_ratio : null }))
      .filter((p) => Number.isFinite(p.t));
    this.draw();
  }

  draw() {
    const s = this.size();
    if (!s) return;
    const { w, h, iw, ih } = s;
    const known = this.points.filter((p) => p.r !== null);
    if (known.length === 0) {
      this.empty(w, h, 'No playback in the last hour');
      return;
    }
    const t1 = this.to;
    const t0 = t1 - 3_600_000;
    const peak = Math.max(...known.map((p) => p.r));
    const yMax = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1].find((m) => m >= peak) ?? 1;
    const x = (t) => PAD.left + ((t - t0) / (t1 - t0)) * iw;
    const y = (r) => PAD.top + ih - (r / yMax) * ih;
    const nodes = [];
    for (const v of [0, yMax / 2, yMax]) {
      nodes.push(svgEl('line', { x1: PAD.left, x2: w - PAD.right, y1: y(v), y2: y(v), class: v === 0 ? 'chart-axis' : 'chart-grid' }));
      nodes.push(svgEl('text', { x: PAD.left - 6, y: y(v) + 4, class: 'chart-label', 'text-anchor': 'end' }, percent(v)));
    }
    timeTicks(nodes, t0, t1, x, w, h, ih);
    // Minutes without playback have no ratio: the line breaks there.
    let d = '';
    let pen = false;
    for (const p of this.points) {
      if (p.r === null) { pen = false; continue; }
      d += `${pen ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.r).toFixed(1)}`;
      pen = true;
    }
    nodes.push(svgEl('path', { d, class: 'chart-line rebuffer-line' }));
    const last = known[known.length - 1];
    nodes.push(svgEl('circle', { cx: x(last.t), cy: y(last.r), r: 3.5, class: 'chart-dot rebuffer-dot' }));
    this.svg.replaceChildren(...nodes);
    this.container.setAttribute('aria-label', `Rebuffering ratio per minute over the last hour: ${percent(last.r)} at the latest minute with playback`);
  }
}

/** Runs of consecutive minutes (indices), so that a missing sample shows as a gap. */
function runs(pts) {
  const out = [];
  let cur = [];
  pts.forEach((p, i) => {
    if (cur.length && p.t - pts[cur[cur.length - 1]].t > 90_000) {
      out.push(cur);
      cur = [];
    }
    cur.push(i);
  });
  if (cur.length) out.push(cur);
  return out;
}

function timeTicks(nodes, t0, t1, x, w, h, ih) {
  const span = t1 - t0;
  const stepMin = [5, 10, 15, 30, 60, 120, 180, 240, 360].find((m) => span / (m * 60_000) <= (w < 500 ? 4 : 7)) ?? 720;
  const stepMs = stepMin * 60_000;
  for (let t = Math.ceil(t0 / stepMs) * stepMs; t <= t1; t += stepMs) {
    if (x(t) < PAD.left + 16 || x(t) > w - PAD.right - 16) continue;
    nodes.push(svgEl('line', { x1: x(t), x2: x(t), y1: PAD.top + ih, y2: PAD.top + ih + 4, class: 'chart-axis' }));
    nodes.push(svgEl('text', { x: x(t), y: h - 6, class: 'chart-label', 'text-anchor': 'middle' }, clockLabel(t)));
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

function svgEl(tag, attrs, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}
