// The dashboard at scale, in Debian's chromium: a host holding SCALE_VIEWERS active viewers
// (default 100 000) and a steady stream of changes; how long the page takes to first show
// them, and how much of the browser's main thread a second of updates costs.
//
//   LIVEVIEWER_BIN=/path/to/release/liveviewer node tests/scale.mjs [OUT.json]
//
// Env: SCALE_VIEWERS (100000), SCALE_CHANGES_PER_S (1000), SCALE_SECONDS (20), SCALE_CONTENTS
// (200), SCALE_STREAMS (4: requests of changes in flight at once, at most), SCALE_PAGE_RATE
// (0.2: changes per second to each viewer the page shows), SCALE_BUSY_PAGE_RATE (2: the same
// for a second, busier measurement). The host runs `demo --viewers 0`
// (no simulator: on 2 cores it could not keep 100 000 simulated viewers playing) with a
// 15-minute active window, so that viewers stay active without a ping each 90 s; every
// viewer's first event comes through POST /ingest/snowbridge in requests of 5000, then changes
// (plays, pauses, buffering, ads, pings) go to random viewers at SCALE_CHANGES_PER_S while the
// page is measured. A page shows 48 of the viewers, and 1000 changes/s spread over 100 000
// viewers would hardly ever touch one of them (the figure would measure an idle page), so a
// share of the changes goes to the viewers on the page: 0.2/s each, a watching viewer's ping
// every 10 s and a change of state about as often; then ten times that, a page where every
// viewer changes twice a second. SCALE_TRACE=FILE writes a Chrome trace of the first. Prints one
// JSON object (and writes it to OUT.json when given); exits 1 if the page did not show the
// viewers.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const BIN = process.env.LIVEVIEWER_BIN;
const VIEWERS = Number(process.env.SCALE_VIEWERS ?? 100_000);
const RATE = Number(process.env.SCALE_CHANGES_PER_S ?? 1000);
const SECONDS = Number(process.env.SCALE_SECONDS ?? 20);
const CONTENTS = Number(process.env.SCALE_CONTENTS ?? 200);
const STREAMS = Number(process.env.SCALE_STREAMS ?? 4);
const PAGE_RATE = Number(process.env.SCALE_PAGE_RATE ?? 0.2);
const BUSY_PAGE_RATE = Number(process.env.SCALE_BUSY_PAGE_RATE ?? 2);
const OUT = process.argv[2];
const CHUNK = 5000;
const VENDOR = 'com_snowplowanalytics_snowplow_media';

if (!BIN) {
  console.error('LIVEVIEWER_BIN is not set: point it at a (release) liveviewer binary');
  process.exit(2);
}

function startHost() {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'liveviewer-scale-'));
  const args = ['demo', '--viewers', '0', '--listen', '127.0.0.1:0', '--active-window-s', '900', '--data-dir', dataDir];
  const env = {
    ...process.env,
    LIVEVIEWER_LOG: 'warn',
    LIVEVIEWER__HTTP__MAX_BODY_BYTES: String(64 << 20),
    LIVEVIEWER__PIPELINE__MAX_TRACKED_VIEWERS: String(Math.max(1_000_000, VIEWERS * 2)),
  };
  const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  const log = [];
  createInterface({ input: child.stderr }).on('line', (l) => { log.push(l); if (log.length > 200) log.shift(); });
  const url = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no dashboard URL within 60 s\n${log.join('\n')}`)), 60_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /dashboard at (http:\/\/\S+)/.exec(line);
      if (m) { clearTimeout(timer); resolve(new URL(m[1])); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`host exited (${code})\n${log.join('\n')}`)); });
  });
  return { child, dataDir, url, log };
}

/** A viewer's state, enough for events the module takes. */
function viewer(i) {
  return {
    id: `scale-${String(i).padStart(7, '0')}`,
    session: randomUUID(),
    label: `Title ${String(i % CONTENTS).padStart(3, '0')}`,
    live: i % CONTENTS < CONTENTS / 20,
    t: 0,
    played: 0,
    ads: 0,
    lastTs: 0,
  };
}

function event(v, name, { paused = false, ad = false } = {}) {
  const ts = Math.max(Date.now(), v.lastTs + 1);
  v.lastTs = ts;
  const now = new Date(ts).toISOString();
  const e = {
    event_id: randomUUID(),
    event: 'unstruct',
    domain_userid: v.id,
    collector_tstamp: now,
    dvce_created_tstamp: now,
    derived_tstamp: now,
    event_vendor: 'com.snowplowanalytics.snowplow.media',
    event_name: name,
    [`unstruct_event_${VENDOR}_${name}_1`]: {},
    contexts_com_snowplowanalytics_snowplow_media_player_2: [{
      currentTime: v.played, paused, ended: false, label: v.label, duration: v.live ? null : 1200, livestream: v.live,
      mediaType: 'video', playerType: 'html5', playbackRate: 1, volume: 100, muted: false,
    }],
    [`contexts_${VENDOR}_session_1`]: [{ mediaSessionId: v.session, timePlayed: v.played, ads: v.ads }],
  };
  if (ad) {
    e[`contexts_${VENDOR}_ad_1`] = [{ adId: `ad-${v.ads}`, name: 'Spring sale', podPosition: 1, duration: 15, skippable: true }];
    e[`contexts_${VENDOR}_ad_break_1`] = [{ breakId: 'b1', name: 'mid-roll', breakType: 'linear', startTime: 30 }];
  }
  return e;
}

/** A change to a viewer, of a kind picked by `r` in [0, 1). */
function change(v, r) {
  v.played += 5;
  if (r < 0.45) return event(v, 'ping_event');
  if (r < 0.6) return event(v, 'pause_event', { paused: true });
  if (r < 0.75) return event(v, 'play_event');
  if (r < 0.85) return event(v, 'buffer_start_event', { paused: true });
  v.ads += 1;
  return event(v, 'ad_start_event', { paused: true, ad: true });
}

/** Posts events; a busy host (503) is asked again shortly. */
async function ingest(url, events) {
  const body = JSON.stringify(events);
  for (let attempt = 0; ; attempt += 1) {
    const res = await fetch(new URL('ingest/snowbridge', url), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const text = await res.text();
    if (res.status === 200) return;
    if (res.status !== 503 || attempt > 100) throw new Error(`ingest answered ${res.status}: ${text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main() {
  const host = startHost();
  try {
    await measureWith(host);
  } finally {
    // Whatever failed, the host goes (a stray host holding 100 000 viewers would skew the
    // next measurement).
    if (host.child.exitCode === null) {
      const exited = new Promise((r) => host.child.once('exit', r));
      host.child.kill('SIGTERM');
      await exited;
    }
    rmSync(host.dataDir, { recursive: true, force: true });
  }
}

async function measureWith(host) {
  const url = await host.url;
  const viewers = Array.from({ length: VIEWERS }, (_, i) => viewer(i));
  const fed = performance.now();
  for (let i = 0; i < VIEWERS; i += CHUNK) {
    await ingest(url, viewers.slice(i, i + CHUNK).map((v, k) => change(v, ((i + k) % 100) / 100)));
  }
  const feedSeconds = (performance.now() - fed) / 1000;
  const stats = await (await fetch(new URL('api/content?limit=1', url))).json();
  assert.ok(stats.active_count >= VIEWERS, `the host holds ${stats.active_count} active viewers, not ${VIEWERS}`);

  // The steady stream of changes: STREAMS loops, each with one request in flight at a time,
  // every 100 ms or as soon as the last one is answered, carrying the changes due since its last
  // one. The host answers an ingest request once its profiles are written (the next flush
  // round, up to a second), so a fixed number of changes a request would set the rate to the
  // host's answer time instead of SCALE_CHANGES_PER_S. A host slower than the rate sets the
  // pace; the rate achieved is reported.
  let sent = 0;
  let sentOnPage = 0;
  let streamError = null;
  let streaming = true;
  // The viewers the page shows, once it shows them (read from its cards).
  let onPage = [];
  let pageRate = 0;
  const byId = new Map(viewers.map((v) => [v.id, v]));
  const pick = () => {
    if (onPage.length > 0 && Math.random() < (pageRate * onPage.length) / RATE) {
      sentOnPage += 1;
      return onPage[Math.floor(Math.random() * onPage.length)];
    }
    return viewers[Math.floor(Math.random() * VIEWERS)];
  };
  const perStreamPerMs = RATE / STREAMS / 1000;
  const streamStart = performance.now();
  const loop = async () => {
    let last = performance.now() - 100;
    let owed = 0;
    while (streaming) {
      const tick = performance.now();
      owed += (tick - last) * perStreamPerMs;
      last = tick;
      const n = Math.floor(owed);
      owed -= n;
      const batch = [];
      for (let k = 0; k < n; k += 1) batch.push(change(pick(), Math.random()));
      try {
        if (batch.length > 0) await ingest(url, batch);
        sent += batch.length;
      } catch (e) {
        streamError = e;
        return;
      }
      await new Promise((r) => setTimeout(r, Math.max(0, 100 - (performance.now() - tick))));
    }
  };
  const streamDone = Promise.all(Array.from({ length: STREAMS }, loop));

  const launched = chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  let browser;
  try {
    browser = await launched;
  } catch (e) {
    streaming = false;
    await streamDone;
    throw e;
  }
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 }, reducedMotion: process.env.SCALE_REDUCED_MOTION ? 'reduce' : 'no-preference' });
    const problems = [];
    page.on('pageerror', (e) => problems.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
    await page.addInitScript(() => {
      window.__longTasks = [];
      new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longTasks.push(e.duration); })
        .observe({ type: 'longtask', buffered: true });
    });
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    await cdp.send('Network.enable');
    let bytes = 0;
    let listFetches = 0;
    let measuring = false;
    cdp.on('Network.dataReceived', (e) => { if (measuring) bytes += e.encodedDataLength || e.dataLength || 0; });
    page.on('request', (r) => { if (measuring && new URL(r.url()).pathname.endsWith('/api/viewers')) listFetches += 1; });

    await page.goto(url.href, { waitUntil: 'commit' });
    // First render: the headline count and the first page of viewer cards are on screen.
    await page.waitForFunction((n) => {
      const count = Number(document.getElementById('active-count')?.textContent.replace(/,/g, ''));
      return count >= n && document.querySelectorAll('#grid .card').length > 0 && document.querySelectorAll('#content-rows tr').length > 0;
    }, VIEWERS, { timeout: 120_000, polling: 20 });
    const firstRender = await page.evaluate(() => performance.now());
    const paint = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null);
    const shownIds = await page.evaluate(() => [...document.querySelectorAll('#grid .card')].map((c) => c.dataset.viewerId));
    onPage = shownIds.map((id) => byId.get(id)).filter(Boolean);
    assert.ok(onPage.length > 0, `the page's cards name viewers this test fed: ${shownIds.slice(0, 3)}`);

    const metric = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
    /** SECONDS of updates with `rate` changes/s to each viewer on the page, after a settle. */
    const measure = async (rate) => {
      pageRate = rate;
      await page.waitForTimeout(3000);
      const longBefore = await page.evaluate(() => window.__longTasks.length);
      const m0 = await metric();
      const t0 = performance.now();
      const [sent0, onPage0, bytes0, fetches0] = [sent, sentOnPage, bytes, listFetches];
      await page.waitForTimeout(SECONDS * 1000);
      const m1 = await metric();
      const elapsed = (performance.now() - t0) / 1000;
      const long = await page.evaluate((from) => window.__longTasks.slice(from), longBefore);
      const perS = (k) => round(((m1[k] - m0[k]) * 1000) / elapsed);
      return {
        changes_per_s: round((sent - sent0) / elapsed),
        // Counted when picked (a request in flight at the end counts a little early).
        changes_on_page_per_s: round((sentOnPage - onPage0) / elapsed),
        main_thread_ms_per_s: perS('TaskDuration'),
        script_ms_per_s: perS('ScriptDuration'),
        layout_ms_per_s: perS('LayoutDuration'),
        style_ms_per_s: perS('RecalcStyleDuration'),
        // Paint, compositing and the rest of the browser's own work on the main thread.
        other_ms_per_s: perS('TaskOtherDuration'),
        long_tasks: long.length,
        longest_task_ms: round(Math.max(0, ...long)),
        bytes_per_s: round((bytes - bytes0) / elapsed),
        list_fetches: listFetches - fetches0,
        measured_seconds: round(elapsed),
      };
    };
    measuring = true;
    // SCALE_TRACE=FILE: a Chrome trace of the steady measurement, to see where its time goes.
    if (process.env.SCALE_TRACE) await browser.startTracing(page, { path: process.env.SCALE_TRACE, screenshots: false });
    const steady = await measure(PAGE_RATE);
    if (process.env.SCALE_TRACE) await browser.stopTracing();
    const busy = await measure(BUSY_PAGE_RATE);
    measuring = false;
    const heap = (await metric()).JSHeapUsedSize;
    const shown = await page.evaluate(() => ({
      cards: document.querySelectorAll('#grid .card:not(.leaving)').length,
      active: document.getElementById('active-count').textContent,
      range: document.getElementById('viewer-range').textContent,
      mode: document.getElementById('conn-text').textContent,
    }));
    if (streamError) throw streamError;
    // A host that stopped answering ingest would leave an idle page to measure.
    for (const [name, m] of [['steady', steady], ['busy', busy]]) {
      assert.ok(m.changes_per_s > 0 && m.changes_on_page_per_s > 0, `${name}: the host took no changes while the page was measured`);
      if (m.changes_per_s < RATE / 2) console.error(`warning: ${name}: ${m.changes_per_s} changes/s, asked ${RATE}/s (the host sets the pace)`);
    }
    assert.equal(shown.mode, 'Live', 'the page stayed live');
    assert.deepEqual(problems, [], 'no page errors');
    const result = {
      viewers: VIEWERS,
      viewers_on_page: onPage.length,
      feed_seconds: round(feedSeconds),
      feed_events_per_s: round(VIEWERS / feedSeconds),
      first_render_ms: round(firstRender),
      first_contentful_paint_ms: paint === null ? null : round(paint),
      js_heap_mb: round(heap / 1048576),
      page_rate: PAGE_RATE,
      ...steady,
      busy: { page_rate: BUSY_PAGE_RATE, ...busy },
      stream_seconds: round((performance.now() - streamStart) / 1000),
      shown,
    };
    const text = JSON.stringify(result, null, 2);
    console.log(text);
    if (OUT) writeFileSync(OUT, `${text}\n`);
  } finally {
    streaming = false;
    await streamDone;
    await browser.close();
  }
}

function round(v) {
  return Math.round(v * 100) / 100;
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
