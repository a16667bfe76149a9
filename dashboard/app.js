// Entry point: wires the connection to the viewer store and redraws the page from the store,
// once a second (so viewers expire without any event) and whenever data arrives.

import { CardGrid } from './cards.js';
import { ActiveChart } from './chart.js';
import { Connection } from './connection.js';
import { count, GROUPS, rate, share } from './format.js';
import { ServerClock, ViewerStore } from './model.js';

const $ = (id) => document.getElementById(id);

const clock = new ServerClock();
const store = new ViewerStore(clock);
const chart = new ActiveChart($('chart'), $('chart-hint'));
const grid = new CardGrid($('grid'), $('more'), $('empty'));

const CONN_TEXT = {
  connecting: ['Connecting…', 'Waiting for the host'],
  live: ['Live', 'Receiving live updates (Server-Sent Events)'],
  polling: ['Polling', 'Live channel unavailable: refreshing every 2 s while reconnecting'],
  offline: ['Offline', 'The host does not answer; retrying'],
};

let renderQueued = false;
// Until the host first answers, "0 viewers" would be a claim the page cannot make.
let heardFromHost = false;

function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  // A batch of SSE updates lands as many messages in a row; draw once for all of them.
  requestAnimationFrame(() => {
    if (renderQueued) render();
  });
}

function render() {
  renderQueued = false;
  const now = clock.now();
  store.prune(now);
  const active = store.active(now);
  const summary = store.summary(active);

  setText($('active-count'), heardFromHost ? count(summary.count) : '–');
  setText($('empty'), heardFromHost ? 'No active viewers right now.' : 'Waiting for the host…');
  setText($('active-note'), `seen in the last ${Math.round(store.windowMs / 1000)} s${summary.partial ? ' · host figures' : ''}`);
  renderSplit(summary);
  renderAds(summary);
  grid.render(active, now, summary.count);
  return summary;
}

function renderSplit(summary) {
  const bar = $('split-bar');
  if (bar.childElementCount === 0) {
    for (const g of GROUPS) {
      const seg = document.createElement('span');
      seg.dataset.group = g;
      bar.append(seg);
    }
  }
  for (const item of $('status-split').children) {
    const n = summary.groups[item.dataset.group] ?? 0;
    setText(item.querySelector('.split-value'), count(n));
    item.classList.toggle('zero', n === 0);
  }
  for (const seg of bar.children) {
    const n = summary.groups[seg.dataset.group] ?? 0;
    seg.style.flexGrow = String(n);
    seg.hidden = n === 0;
  }
}

function renderAds(summary) {
  const { ads } = summary;
  for (const item of $('ad-stats').children) {
    const key = item.dataset.key;
    setText(item.querySelector('.ad-value'), count(ads[key] ?? 0));
    // Completed, skipped and clicked as a share of the ads started.
    setText(item.querySelector('.ad-pct'), key === 'ads' ? '' : share(ads[key] ?? 0, ads.ads) ?? '');
  }
  setText($('ad-now'), `${count(summary.inAd)} viewer${summary.inAd === 1 ? '' : 's'} in an ad now`);
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function setMode(mode) {
  const conn = $('conn');
  const [text, title] = CONN_TEXT[mode];
  conn.dataset.mode = mode;
  conn.title = title;
  document.body.dataset.mode = mode;
  $('banner').hidden = mode !== 'offline';
  setText($('conn-text'), text);
  if (mode === 'offline') setText($('rate'), '– ev/s');
}

const connection = new Connection({
  onHello(data) {
    heardFromHost = true;
    clock.sync(data.generated_at);
    store.setWindow(data.active_window_s);
    scheduleRender();
  },
  onProfile(profile) {
    if (store.upsert(profile)) scheduleRender();
  },
  onStats(data) {
    clock.sync(data.generated_at);
    store.applyStats(data);
    setText($('rate'), `${rate(data.events_per_s)} ev/s`);
  },
  onSnapshot(body) {
    heardFromHost = true;
    clock.sync(body.generated_at);
    store.applySnapshot(body);
    scheduleRender();
  },
  onStatsSnapshot(body) {
    clock.sync(body.generated_at);
    chart.seed(body.active_viewers);
    setText($('rate'), `${rate(body.events_per_s)} ev/s`);
  },
  onMode: setMode,
  isTruncated: () => store.server.truncated,
});

setInterval(() => {
  const summary = render();
  chart.record(clock.now(), summary.count);
}, 1000);

connection.start();
render();
