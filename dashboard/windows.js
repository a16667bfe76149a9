// The windowed figures (GET /api/windows): plays, completions, watch time and rebuffering for
// the last 5 minutes and the last hour, and the ad funnel of each window.

import { count, duration, num, percent } from './format.js';

const FIGURE_FORMAT = {
  plays_started: (v) => count(v),
  completions: (v) => count(v),
  avg_watch_time_s: (v) => duration(v),
  rebuffering_ratio: (v) => percent(v),
};

const FUNNEL = [
  { key: 'ad_impressions', label: 'Impressions' },
  { key: 'ad_completions', label: 'Completed', rate: 'ad_completion_rate' },
  { key: 'ad_skips', label: 'Skipped', rate: 'ad_skip_rate' },
  { key: 'ad_clicks', label: 'Clicked', rate: 'ad_click_rate' },
];
const WINDOW_LABELS = { '5m': 'Last 5 min', '1h': 'Last hour' };

export class WindowsPanel {
  constructor(figures, funnel, hint) {
    this.figures = figures;
    this.funnel = funnel;
    this.hint = hint;
    this.built = false;
  }

  build() {
    const cols = Object.keys(WINDOW_LABELS).map((w) => {
      const col = document.createElement('div');
      col.className = 'funnel-col';
      col.dataset.window = w;
      const h = document.createElement('div');
      h.className = 'funnel-head';
      h.textContent = WINDOW_LABELS[w];
      col.append(h);
      for (const f of FUNNEL) {
        const step = document.createElement('div');
        step.className = 'funnel-step';
        step.dataset.key = f.key;
        const label = document.createElement('span');
        label.className = 'funnel-label';
        label.textContent = f.label;
        const value = document.createElement('span');
        value.className = 'funnel-value';
        const bar = document.createElement('span');
        bar.className = 'funnel-bar';
        const fill = document.createElement('i');
        bar.append(fill);
        step.append(label, value, bar);
        col.append(step);
      }
      return col;
    });
    this.funnel.replaceChildren(...cols);
    this.built = true;
  }

  render(body) {
    if (!this.built) this.build();
    const windows = body?.windows ?? {};
    for (const tr of this.figures.querySelectorAll('tbody tr[data-key]')) {
      const fmt = FIGURE_FORMAT[tr.dataset.key];
      for (const td of tr.querySelectorAll('td[data-window]')) {
        const v = windows[td.dataset.window]?.[tr.dataset.key];
        setText(td, v === null || v === undefined ? '–' : fmt(v));
      }
    }
    for (const col of this.funnel.querySelectorAll('.funnel-col')) {
      const w = windows[col.dataset.window] ?? {};
      const impressions = num(w.ad_impressions) ?? 0;
      for (const step of col.querySelectorAll('.funnel-step')) {
        const f = FUNNEL.find((x) => x.key === step.dataset.key);
        const n = num(w[f.key]) ?? 0;
        const rate = f.rate ? num(w[f.rate]) : impressions > 0 ? 1 : null;
        setText(step.querySelector('.funnel-value'), f.rate ? `${count(n)} · ${percent(rate ?? NaN)}` : count(n));
        step.querySelector('.funnel-bar i').style.transform = `scaleX(${Math.min(1, Math.max(0, rate ?? 0))})`;
        step.title = f.rate ? `${f.label}: ${count(n)} of ${count(impressions)} impressions` : `${count(n)} ad impressions`;
      }
    }
    const lateness = num(body?.allowed_lateness_s);
    if (lateness !== null) this.hint.title = `Counted by event time; events up to ${lateness} s late count in their own minute`;
  }
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}
