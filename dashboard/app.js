// Entry point: wires the push channel, the viewer list, the content table, the windowed
// figures, the charts and the viewer story. Everything the page holds is bounded: a page of
// viewers, a page of content, fixed-length series; nothing grows with the number of viewers.

import { ConcurrencyChart, RatioChart } from './charts.js';
import { Connection, getJson } from './connection.js';
import { ContentTable } from './content.js';
import { count, GROUPS, rate, str } from './format.js';
import { Headline, ServerClock } from './model.js';
import { Story } from './story.js';
import { ViewerList } from './viewers.js';
import { WindowsPanel } from './windows.js';

const $ = (id) => document.getElementById(id);

const CONN_TEXT = {
  connecting: ['Connecting…', 'Waiting for the host'],
  live: ['Live', 'Receiving live updates (Server-Sent Events)'],
  polling: ['Polling', 'Live channel unavailable: refreshing every 2 s while reconnecting'],
  offline: ['Offline', 'The host does not answer; retrying'],
};
const CONTENT_MS = 5000;
const WINDOWS_MS = 5000;
const SERIES_MS = 30_000;
const FILTER_OPTIONS = 100;

const clock = new ServerClock();
const headline = new Headline();
let pageIds = [];
let storyId = null;
let concurrencyMinutes = 60;

function follow() {
  connection.follow(storyId ? [...pageIds, storyId] : pageIds);
}

const story = new Story({
  panel: $('story'),
  id: $('story-id'),
  error: $('story-error'),
  now: $('story-now'),
  sessions: $('story-sessions'),
  history: $('story-history'),
  older: $('story-older'),
  close: $('story-close'),
}, clock, (id) => {
  storyId = id;
  follow();
});

const list = new ViewerList(
  { grid: $('grid'), empty: $('empty'), range: $('viewer-range'), pager: $('viewer-pager') },
  {
    clock,
    headline,
    onPage(body) {
      headline.apply(body);
      renderHeadline();
    },
    onFollow(ids) {
      pageIds = ids;
      follow();
    },
    onOpen: (id) => story.open(id),
  },
);

const content = new ContentTable(
  { rows: $('content-rows'), empty: $('content-empty'), all: $('content-all'), search: $('content-search'), pager: $('content-pager') },
  (key, label) => {
    setContentFilter(key, label);
    $('viewers-title').scrollIntoView({ block: 'start', behavior: 'smooth' });
  },
);
const windowsPanel = new WindowsPanel($('figures'), $('funnel'), $('windows-hint'));
const concurrency = new ConcurrencyChart($('chart'), $('chart-legend'));
const rebuffer = new RatioChart($('rebuffer-chart'));

function renderHeadline() {
  setText($('active-count'), headline.activeCount === null ? '–' : count(headline.activeCount));
  setText($('active-note'), `seen in the last ${Math.round(headline.windowMs / 1000)} s`);
  const bar = $('split-bar');
  if (bar.childElementCount === 0) {
    for (const g of GROUPS) {
      const seg = document.createElement('span');
      seg.dataset.group = g;
      bar.append(seg);
    }
  }
  for (const item of $('status-split').children) {
    const n = headline.groups[item.dataset.group] ?? 0;
    setText(item.querySelector('.split-value'), count(n));
    item.classList.toggle('zero', n === 0);
  }
  for (const seg of bar.children) {
    const n = headline.groups[seg.dataset.group] ?? 0;
    seg.style.flexGrow = String(n);
    seg.hidden = n === 0;
  }
}

let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  // A burst of changes lands as many messages in a row; draw once for all of them.
  requestAnimationFrame(() => {
    renderQueued = false;
    list.render();
  });
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
    clock.sync(data.generated_at);
    headline.setWindow(data.active_window_s);
    scheduleRender();
  },
  onProfile(profile) {
    if (list.upsert(profile)) scheduleRender();
    if (profile.viewer_id === storyId) story.update(profile);
  },
  onStats(data) {
    clock.sync(data.generated_at);
    if (headline.apply(data)) renderHeadline();
    list.onStats(data);
    setText($('rate'), `${rate(data.events_per_s)} ev/s`);
  },
  onMode: setMode,
  // While the stream is down the page is fetched again every 2 s: its answer carries the counts.
  poll: () => list.load(),
  onResumed: () => list.load().catch(() => {}),
});

// Filters: a piece of the viewer id, a status, a content.
let searchTimer = 0;
$('viewer-search').addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => list.setFilter({ q: $('viewer-search').value.trim() }).catch(() => {}), 250);
});
$('status-filter').addEventListener('change', () => list.setFilter({ status: $('status-filter').value }).catch(() => {}));
$('content-filter').addEventListener('change', () => list.setFilter({ content: $('content-filter').value }).catch(() => {}));

function setContentFilter(key, label) {
  const select = $('content-filter');
  if (![...select.options].some((o) => o.value === key)) select.append(new Option(label, key));
  select.value = key;
  list.setFilter({ content: key }).catch(() => {});
}

async function refreshContentOptions() {
  const body = await getJson(`api/content?limit=${FILTER_OPTIONS}`);
  const select = $('content-filter');
  const chosen = select.value;
  const opts = [new Option('Any content', '')];
  for (const c of Array.isArray(body.content) ? body.content : []) {
    opts.push(new Option(`${str(c.label) || str(c.key)} (${count(c.viewers)})`, str(c.key)));
  }
  if (chosen && !opts.some((o) => o.value === chosen)) opts.push(new Option(chosen, chosen));
  select.replaceChildren(...opts);
  select.value = chosen;
}

$('lookup').addEventListener('submit', (e) => {
  e.preventDefault();
  const id = $('lookup-id').value.trim();
  if (id) story.open(id);
});

for (const b of $('range').querySelectorAll('button[data-minutes]')) {
  b.addEventListener('click', () => {
    concurrencyMinutes = Number(b.dataset.minutes);
    for (const o of $('range').querySelectorAll('button')) o.setAttribute('aria-pressed', String(o === b));
    refreshConcurrency().catch(() => {});
  });
}

async function refreshConcurrency() {
  concurrency.update(await getJson(`api/concurrency?minutes=${concurrencyMinutes}`), concurrencyMinutes * 60_000);
}

async function refreshWindows() {
  windowsPanel.render(await getJson('api/windows'));
}

async function refreshSeries() {
  rebuffer.update(await getJson('api/windows/series?minutes=60'));
}

function every(ms, f) {
  const run = () => f().catch(() => {});
  run();
  return setInterval(run, ms);
}

every(CONTENT_MS, () => content.refresh());
every(SERIES_MS, refreshContentOptions);
every(WINDOWS_MS, refreshWindows);
every(SERIES_MS, refreshSeries);
every(SERIES_MS, refreshConcurrency);
list.load().catch(() => {});
setInterval(() => list.render(), 1000);
connection.start();
renderHeadline();
