// Browser test of the dashboard against the real host binary.
//
//   LIVEVIEWER_BIN=/path/to/liveviewer npm test
//
// Env: LIVEVIEWER_BIN (required) the host binary; ARTIFACTS_DIR (default test-artifacts/
// beside this directory) for screenshots and host logs; LIVEVIEWER_SIMULATOR=1 also runs a
// smoke check against the built-in traffic simulator (`demo --viewers 8`).
//
// The host runs as `demo --viewers 0` (no simulated traffic) and the test feeds it Snowbridge
// JSON events through POST /ingest/snowbridge, then checks what a person would see.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = process.env.LIVEVIEWER_BIN;
const ARTIFACTS = path.resolve(process.env.ARTIFACTS_DIR || path.join(HERE, '..', 'test-artifacts'));
const WITH_SIMULATOR = process.env.LIVEVIEWER_SIMULATOR === '1';
const CHROMIUM = '/usr/bin/chromium';
const ACTIVE_WINDOW_S = 6;
const DESKTOP = { width: 1440, height: 900 };
const PHONE = { width: 390, height: 844 };
const XSS_LABEL = '<img src=x onerror=alert(1)>';
const XSS_AD = '<svg onload=alert(2)>';

if (!BIN) {
  console.error('LIVEVIEWER_BIN is not set: point it at the liveviewer host binary, e.g.\n' +
    '  LIVEVIEWER_BIN=../target/debug/liveviewer npm test');
  process.exit(2);
}
if (!existsSync(CHROMIUM)) {
  console.error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); ` +
    'this test never downloads a browser.');
  process.exit(2);
}
mkdirSync(ARTIFACTS, { recursive: true });

// ---------------------------------------------------------------------------------------
// Host process

const running = new Set();

/** Starts `liveviewer demo` on a free port and resolves once it prints its dashboard URL. */
async function startHost(name, extraArgs) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'liveviewer-dashboard-test-'));
  const args = ['demo', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...extraArgs];
  const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const host = { name, child, dataDir, log: [], url: null };
  running.add(host);
  const record = (stream) => (line) => {
    host.log.push(`[${stream}] ${line}`);
    if (host.log.length > 5000) host.log.shift();
  };
  // Keep draining both pipes for the whole run: a full pipe would stall the host.
  createInterface({ input: child.stderr }).on('line', record('stderr'));
  const stdout = createInterface({ input: child.stdout });
  stdout.on('line', record('stdout'));
  host.url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no "dashboard at http://..." line within 30 s\n${tail(host)}`)), 30_000);
    stdout.on('line', (line) => {
      const m = /dashboard at (http:\/\/\S+)/.exec(line);
      if (m && !host.url) {
        clearTimeout(timer);
        resolve(new URL(m[1].endsWith('/') ? m[1] : `${m[1]}/`));
      }
    });
    child.once('error', (e) => { clearTimeout(timer); reject(new Error(`${name}: cannot start ${BIN}: ${e.message}`)); });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name}: host exited (${signal ?? code}) before printing its URL: ${BIN} ${args.join(' ')}\n${tail(host)}`));
    });
  });
  return host;
}

async function stopHost(host) {
  if (!host || !running.has(host)) return;
  running.delete(host);
  writeFileSync(path.join(ARTIFACTS, `host-${host.name}.log`), `${host.log.join('\n')}\n`);
  const { child } = host;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(host.dataDir, { recursive: true, force: true });
}

function tail(host) {
  return host.log.slice(-40).join('\n') || '(no output)';
}

// Whatever happens (a thrown error, Ctrl-C), no host outlives the test.
process.on('exit', () => { for (const h of running) h.child.kill('SIGKILL'); });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

// ---------------------------------------------------------------------------------------
// Snowbridge JSON events

const VENDOR = 'com_snowplowanalytics_snowplow_media';

/** One simulated viewer: its player state, media session counters and current ad. */
class Viewer {
  constructor(id, { label = 'Big Buck Bunny', duration = 596.5, livestream = false } = {}) {
    this.id = id;
    this.label = label;
    this.duration = duration;
    this.livestream = livestream;
    this.sessionId = randomUUID();
    this.currentTime = 12.5;
    this.paused = false;
    this.ended = false;
    this.ads = 0;
    this.adsSkipped = 0;
    this.adsClicked = 0;
    this.ad = null;
    this.adBreak = null;
    this.lastTs = 0;
    this.lastMoved = null;
  }

  event(name, payload = {}) {
    // Event time orders a viewer's events in the host; keep them strictly increasing.
    const ts = Math.max(Date.now(), this.lastTs + 1);
    this.lastMoved ??= ts;
    if (!this.paused && !this.ended && !this.ad) this.currentTime = Math.min(this.duration, this.currentTime + (ts - this.lastMoved) / 1000);
    this.lastMoved = ts;
    this.lastTs = ts;
    const now = new Date(ts).toISOString();
    const e = {
      event_id: randomUUID(),
      event: 'unstruct',
      domain_userid: this.id,
      collector_tstamp: now,
      dvce_created_tstamp: now,
      derived_tstamp: now,
      event_vendor: 'com.snowplowanalytics.snowplow.media',
      event_name: name,
      [`unstruct_event_${VENDOR}_${name}_1`]: payload,
      contexts_com_snowplowanalytics_snowplow_media_player_2: [{
        currentTime: Math.round(this.currentTime * 10) / 10,
        paused: this.paused,
        ended: this.ended,
        label: this.label,
        duration: this.livestream ? null : this.duration,
        livestream: this.livestream,
        mediaType: 'video',
        playerType: 'html5',
        playbackRate: 1,
        volume: 100,
        muted: false,
      }],
      [`contexts_${VENDOR}_session_1`]: [{
        mediaSessionId: this.sessionId,
        timePlayed: Math.floor(this.currentTime),
        ads: this.ads,
        adsSkipped: this.adsSkipped,
        adsClicked: this.adsClicked,
      }],
    };
    if (this.ad) {
      e[`contexts_${VENDOR}_ad_1`] = [this.ad];
      e[`contexts_${VENDOR}_ad_break_1`] = [this.adBreak];
    }
    return e;
  }

  play() { this.paused = false; return this.event('play_event'); }
  bufferStart() { return this.event('buffer_start_event'); }
  pause() { this.paused = true; return this.event('pause_event'); }
  ping() { return this.event('ping_event'); }
  end() { this.ended = true; this.paused = true; return this.event('end_event'); }

  adStart({ adId = 'a1', name = 'Summer sale' } = {}) {
    this.ads += 1;
    this.ad = { adId, name, podPosition: 1, duration: 15, skippable: true };
    this.adBreak = { breakId: 'b1', name: 'mid-roll', breakType: 'linear', startTime: 30 };
    return this.event('ad_start_event');
  }

  adQuartile(percentProgress) { return this.event('ad_quartile_event', { percentProgress }); }
}

async function ingest(host, events) {
  const res = await fetch(new URL('ingest/snowbridge', host.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(events),
  });
  const body = await res.text();
  assert.equal(res.status, 200, `POST /ingest/snowbridge answered ${res.status}: ${body}`);
}

/** Sends a ping for each viewer in the set every 1.5 s, so they stay inside the 6 s window. */
function keepAlive(host, viewers) {
  let failure = null;
  const timer = setInterval(() => {
    if (viewers.size === 0) return;
    ingest(host, [...viewers].map((v) => v.ping())).catch((e) => { failure = e; });
  }, 1500);
  return {
    stop: () => clearInterval(timer),
    check: () => { if (failure) throw failure; },
  };
}

// ---------------------------------------------------------------------------------------
// Browser

let browser;

async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** Opens the dashboard and records everything a person should never see go wrong. */
async function openDashboard(host, { viewport = DESKTOP, before: prepare } = {}) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const problems = { console: [], pageErrors: [], dialogs: [] };
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') {
      problems.console.push(`${msg.type()}: ${msg.text()} (${msg.location().url || 'no url'})`);
    }
  });
  page.on('pageerror', (err) => problems.pageErrors.push(String(err?.stack || err)));
  page.on('dialog', (dialog) => {
    problems.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });
  if (prepare) await prepare(page);
  await page.goto(host.url.href, { waitUntil: 'load' });
  return { page, context, problems };
}

/** Retries a check until it passes; the last failure explains what was seen instead. */
async function eventually(what, check, { timeout = 8000, interval = 200 } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not true within ${timeout / 1000} s. Last check: ${last?.message ?? last}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

async function activeCount(page) {
  const text = (await page.textContent('#active-count')).trim();
  const n = Number(text.replace(/,/g, ''));
  assert.ok(Number.isInteger(n), `active count shows "${text}", not a number`);
  return n;
}

async function connectionMode(page) {
  return (await page.textContent('#conn-text')).trim();
}

/** What a viewer's card shows, read as text (ids are matched in the page, never as a selector). */
async function readCard(page, viewerId) {
  return page.evaluate((id) => {
    const card = [...document.querySelectorAll('#grid .card:not(.leaving)')].find((c) => c.dataset.viewerId === id);
    if (!card) return null;
    const text = (sel) => card.querySelector(sel)?.textContent ?? null;
    const r = card.getBoundingClientRect();
    return {
      viewerId: text('.viewer-id'),
      status: text('.status-text'),
      label: text('.media-label'),
      position: text('.position'),
      adName: text('.ad-name'),
      quartile: text('.quartile-text'),
      adDetail: text('.ad-detail'),
      session: text('.session-ads'),
      seen: text('.seen'),
      flashing: card.classList.contains('flash-a') || card.classList.contains('flash-b'),
      box: { x: r.x, y: r.y, w: r.width, h: r.height },
    };
  }, viewerId);
}

async function cardOf(page, viewer) {
  const card = await readCard(page, viewer.id);
  assert.ok(card, `no card for viewer ${JSON.stringify(viewer.id)}`);
  return card;
}

async function splitCounts(page) {
  return page.evaluate(() => Object.fromEntries(
    [...document.querySelectorAll('#status-split .split-item')]
      .map((li) => [li.dataset.group, Number(li.querySelector('.split-value').textContent)]),
  ));
}

/** The ad funnel of one window ('5m' or '1h'): the count of each step. */
async function funnel(page, window) {
  return page.evaluate((w) => Object.fromEntries(
    [...document.querySelectorAll(`#funnel .funnel-col[data-window="${w}"] .funnel-step`)]
      .map((s) => [s.dataset.key, Number(s.querySelector('.funnel-value').textContent.split('·')[0].replace(/,/g, '').trim())]),
  ), window);
}

/** A figure of the windows table ('plays_started', ...) for one window, as shown. */
async function figure(page, key, window) {
  return page.evaluate(([k, w]) => document.querySelector(`#figures tr[data-key="${k}"] td[data-window="${w}"]`)?.textContent ?? null, [key, window]);
}

async function contentRows(page) {
  return page.evaluate(() => [...document.querySelectorAll('#content-rows tr')].map((tr) => ({
    key: tr.dataset.key,
    type: tr.cells[1].textContent,
    viewers: Number(tr.cells[2].textContent),
    watching: Number(tr.cells[3].textContent),
    paused: Number(tr.cells[4].textContent),
    buffering: Number(tr.cells[5].textContent),
    inAd: Number(tr.cells[6].textContent),
  })));
}

async function cardIds(page) {
  return page.evaluate(() => [...document.querySelectorAll('#grid .card:not(.leaving)')].map((c) => c.dataset.viewerId).sort());
}

async function screenshots(page, prefix) {
  await page.setViewportSize(DESKTOP);
  await page.waitForTimeout(400);
  await page.screenshot({ path: path.join(ARTIFACTS, `${prefix}-desktop.png`) });
  await page.setViewportSize(PHONE);
  await page.waitForTimeout(400);
  await page.screenshot({ path: path.join(ARTIFACTS, `${prefix}-phone.png`) });
  await page.screenshot({ path: path.join(ARTIFACTS, `${prefix}-phone-full.png`), fullPage: true });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await page.setViewportSize(DESKTOP);
  assert.ok(overflow <= 0, `at ${PHONE.width} px wide the page scrolls sideways by ${overflow} px`);
}

function assertNoProblems(problems, { ignore = () => false } = {}) {
  const consoleProblems = problems.console.filter((m) => !ignore(m));
  assert.deepEqual(problems.dialogs, [], 'a dialog opened: tracker data ran as code');
  assert.deepEqual(problems.pageErrors, [], 'uncaught errors in the page');
  assert.deepEqual(consoleProblems, [], 'console errors or warnings');
}

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  for (const h of [...running]) await stopHost(h);
});

// ---------------------------------------------------------------------------------------
// Events injected through the ingest endpoint

describe('dashboard with injected events', () => {
  let host;
  let dash;
  let alive;
  const A = new Viewer(`viewer-a-${randomUUID()}`);
  const B = new Viewer(`viewer-b-${randomUUID()}`, { label: 'Sintel', duration: 888 });
  const C = new Viewer(`viewer-c-${randomUUID()}`, { label: 'Tears of Steel', duration: 734 });
  const D = new Viewer(`xss-<b>${randomUUID().slice(0, 8)}</b>`, { label: XSS_LABEL });
  const kept = new Set();

  before(async () => {
    host = await startHost('ingest', ['--viewers', '0', '--active-window-s', String(ACTIVE_WINDOW_S)]);
    dash = await openDashboard(host);
    alive = keepAlive(host, kept);
  });

  after(async () => {
    alive?.stop();
    await dash?.context.close();
    await stopHost(host);
  });

  it('starts empty and live', async () => {
    await eventually('connection indicator says Live', async () => assert.equal(await connectionMode(dash.page), 'Live'));
    assert.equal(await activeCount(dash.page), 0);
    assert.ok(await dash.page.isVisible('#empty'), 'the "no active viewers" note is not shown');
  });

  it('counts three new viewers and shows their cards', async () => {
    await ingest(host, [A.play(), B.play(), C.play()]);
    for (const v of [A, B, C]) kept.add(v);
    await eventually('active count shows 3', async () => assert.equal(await activeCount(dash.page), 3));
    const card = await eventually('card of viewer A', () => cardOf(dash.page, A));
    assert.equal(card.viewerId, A.id);
    assert.match(card.status, /^Watching · \d+s$/);
    assert.equal(card.label, 'Big Buck Bunny');
    assert.match(card.position, /^0:\d\d \/ 9:56$/);
    assert.match(card.seen, /ago|just now/);
    await eventually('status split 3 watching', async () => {
      assert.deepEqual(await splitCounts(dash.page), { watching: 3, paused: 0, buffering: 0, ad: 0, completed: 0, other: 0 });
    });
  });

  it('shows a pause live, through SSE, without reloading', async () => {
    await dash.page.evaluate(() => { window.__notReloaded = true; });
    const polls = [];
    const onRequest = (req) => { if (new URL(req.url()).pathname.endsWith('/api/viewers')) polls.push(req.url()); };
    dash.page.on('request', onRequest);
    await ingest(host, [A.pause()]);
    const card = await eventually('card A shows Paused', async () => {
      const c = await cardOf(dash.page, A);
      assert.match(c.status, /^Paused · \d+s$/);
      return c;
    }, { timeout: 5000, interval: 100 });
    dash.page.off('request', onRequest);
    assert.ok(card.flashing, 'the changed card is not highlighted');
    assert.equal(await dash.page.evaluate(() => window.__notReloaded), true, 'the page reloaded');
    assert.deepEqual(polls, [], 'the update came from polling, not from the live channel');
    assert.equal(await connectionMode(dash.page), 'Live');
  });

  it('shows an ad with its quartile and counts it in the ad funnel', async () => {
    await ingest(host, [B.adStart()]);
    await ingest(host, [B.adQuartile(50)]);
    const card = await eventually('card B shows the ad at 2/4', async () => {
      const c = await cardOf(dash.page, B);
      assert.match(c.status, /^In ad · \d+s$/);
      assert.equal(c.quartile, '2/4');
      return c;
    });
    assert.equal(card.adName, 'Summer sale');
    assert.match(card.adDetail, /mid-roll \(linear\)/);
    assert.match(card.adDetail, /skippable/);
    assert.match(card.session, /^Ads 1 · skipped 0 · clicked 0$/);
    await eventually('the ad funnel counts one impression in both windows', async () => {
      assert.deepEqual(await funnel(dash.page, '5m'), { ad_impressions: 1, ad_completions: 0, ad_skips: 0, ad_clicks: 0 });
      assert.deepEqual(await funnel(dash.page, '1h'), { ad_impressions: 1, ad_completions: 0, ad_skips: 0, ad_clicks: 0 });
    }, { timeout: 15_000 });
    await eventually('status split 1 watching, 1 paused, 1 in ad', async () => {
      assert.deepEqual(await splitCounts(dash.page), { watching: 1, paused: 1, buffering: 0, ad: 1, completed: 0, other: 0 });
    });
  });

  it('shows tracker strings as text, never as markup', async () => {
    await ingest(host, [D.play()]);
    kept.add(D);
    const card = await eventually('card of the XSS viewer', () => cardOf(dash.page, D));
    assert.equal(card.label, XSS_LABEL);
    assert.equal(card.viewerId, D.id);
    await ingest(host, [D.adStart({ adId: 'x1', name: XSS_AD })]);
    await eventually('XSS ad name shown literally', async () => assert.equal((await cardOf(dash.page, D)).adName, XSS_AD));
    const injected = await dash.page.evaluate(() => ({
      imgs: document.querySelectorAll('img[src="x"], img[onerror]').length,
      svgs: document.querySelectorAll('svg[onload]').length,
      bold: document.querySelectorAll('#grid b').length,
      literal: document.body.textContent.includes('<img src=x onerror=alert(1)>'),
    }));
    assert.deepEqual(injected, { imgs: 0, svgs: 0, bold: 0, literal: true });
    assert.deepEqual(dash.problems.dialogs, []);
    await eventually('active count shows 4', async () => assert.equal(await activeCount(dash.page), 4));
  });

  it('updates a card in place without moving the others', async () => {
    const before = {};
    for (const v of [A, B, C, D]) before[v.id] = (await cardOf(dash.page, v)).box;
    await ingest(host, [C.end()]);
    await eventually('card C shows Completed', async () => assert.match((await cardOf(dash.page, C)).status, /^Completed · /));
    for (const v of [A, B, C, D]) {
      assert.deepEqual((await cardOf(dash.page, v)).box, before[v.id], `card ${v.id} moved or changed size`);
    }
    const ids = await dash.page.evaluate(() => [...document.querySelectorAll('#grid .card')].map((c) => c.dataset.viewerId));
    assert.deepEqual(ids, [A.id, B.id, C.id, D.id], 'cards are not in arrival order');
  });

  it('looks right on a laptop and on a phone', async () => {
    await screenshots(dash.page, 'ingest');
  });

  it('counts down when a viewer leaves', async () => {
    assert.equal(await activeCount(dash.page), 4);
    kept.delete(C);
    const left = Date.now();
    await eventually('active count drops to 3', async () => assert.equal(await activeCount(dash.page), 3),
      { timeout: (ACTIVE_WINDOW_S + 8) * 1000, interval: 250 });
    const after = (Date.now() - left) / 1000;
    assert.ok(after >= ACTIVE_WINDOW_S - 3, `count dropped after ${after.toFixed(1)} s, before the ${ACTIVE_WINDOW_S} s window`);
    await eventually('card C removed', async () => assert.equal(await readCard(dash.page, C.id), null), { timeout: 3000 });
    for (const v of [A, B, D]) await cardOf(dash.page, v);
    alive.check();
  });

  it('falls back to polling when the live channel fails', async () => {
    const polled = [];
    const fallback = await openDashboard(host, {
      before: async (page) => {
        await page.route(/\/api\/events(\?|$)/, (route) => route.abort());
        page.on('request', (req) => { if (new URL(req.url()).pathname.endsWith('/api/viewers')) polled.push(Date.now()); });
      },
    });
    try {
      await eventually('connection indicator says Polling', async () => assert.equal(await connectionMode(fallback.page), 'Polling'));
      await eventually('polled page shows 3 active', async () => assert.equal(await activeCount(fallback.page), 3));
      await eventually('card A shows Paused', async () => assert.match((await cardOf(fallback.page, A)).status, /^Paused/));
      await ingest(host, [A.play()]);
      await eventually('card A shows Watching by polling', async () => {
        assert.match((await cardOf(fallback.page, A)).status, /^Watching · /);
      }, { timeout: 6000 });
      const recent = polled.filter((t) => t > Date.now() - 6000).length;
      assert.ok(recent >= 2, `only ${recent} polls of /api/viewers in the last 6 s`);
      await fallback.page.screenshot({ path: path.join(ARTIFACTS, 'polling-desktop.png') });
      // The aborted stream requests are the point of this check; anything else is a fault.
      assertNoProblems(fallback.problems, { ignore: (m) => m.includes('api/events') || m.includes('net::ERR_FAILED') });
    } finally {
      await fallback.context.close();
    }
  });

  it('expires viewers on its own clock when no event arrives at all', async () => {
    kept.clear();
    await eventually('active count drops to 0', async () => assert.equal(await activeCount(dash.page), 0),
      { timeout: (ACTIVE_WINDOW_S + 8) * 1000, interval: 250 });
    await eventually('"no active viewers" note shown', async () => assert.ok(await dash.page.isVisible('#empty')));
    assert.equal(await dash.page.locator('#grid .card:not(.leaving)').count(), 0);
    assert.equal(await connectionMode(dash.page), 'Live');
  });

  it('logged no console errors, page errors or dialogs', () => {
    assertNoProblems(dash.problems);
  });
});

// ---------------------------------------------------------------------------------------
// What is on, the windows, the list's filters and a viewer's story

describe('content, windows, filters and a viewer story', () => {
  let host;
  let dash;
  let alive;
  const tag = randomUUID().slice(0, 6);
  const sintel = [1, 2, 3].map((i) => new Viewer(`sintel-${i}-${tag}`, { label: 'Sintel', duration: 888 }));
  const bunny = [1, 2].map((i) => new Viewer(`bunny-${i}-${tag}`));
  const news = new Viewer(`news-${tag}`, { label: 'Live: News', livestream: true });
  const story = new Viewer(`story-${tag}`, { label: 'Tears of Steel', duration: 734 });
  const everyone = [...sintel, ...bunny, news, story];
  const kept = new Set();

  before(async () => {
    host = await startHost('content', ['--viewers', '0', '--active-window-s', '60']);
    dash = await openDashboard(host);
    await ingest(host, [...sintel, ...bunny, news].map((v) => v.play()));
    await ingest(host, [sintel[2].adStart({ name: 'Spring sale' }), bunny[1].pause(), bunny[0].bufferStart()]);
    // Thirty status changes for one viewer: more than a page of its history.
    for (let i = 0; i < 30; i += 1) await ingest(host, [i % 2 === 0 ? story.play() : story.pause()]);
    for (const v of everyone) kept.add(v);
    alive = keepAlive(host, kept);
  });

  after(async () => {
    alive?.stop();
    await dash?.context.close();
    await stopHost(host);
  });

  it('lists what is being watched now, most viewers first', async () => {
    const rows = await eventually('four contents in the table', async () => {
      const r = await contentRows(dash.page);
      assert.equal(r.length, 4, JSON.stringify(r));
      return r;
    });
    assert.deepEqual(rows[0], { key: 'Sintel', type: 'On demand', viewers: 3, watching: 2, paused: 0, buffering: 0, inAd: 1 });
    assert.deepEqual(rows[1], { key: 'Big Buck Bunny', type: 'On demand', viewers: 2, watching: 0, paused: 1, buffering: 1, inAd: 0 });
    await eventually('the buffering viewer has its card', async () => assert.match((await cardOf(dash.page, bunny[0])).status, /^Buffering · /));
    const live = rows.find((r) => r.key === 'Live: News');
    assert.equal(live.type, 'LIVE');
    assert.equal((await dash.page.textContent('#content-all')).trim(), 'All content (4)');
  });

  it('shows every content a click away, searchable', async () => {
    await dash.page.click('#content-all');
    assert.ok(await dash.page.isVisible('#content-search'), 'the content search is shown');
    await dash.page.fill('#content-search', 'bunny');
    await eventually('only Big Buck Bunny matches', async () => {
      assert.deepEqual((await contentRows(dash.page)).map((r) => r.key), ['Big Buck Bunny']);
    });
    await dash.page.click('#content-all');
    await eventually('back to the top content', async () => assert.equal((await contentRows(dash.page)).length, 4));
  });

  it('filters the viewers by content, by status and by a piece of their id', async () => {
    await eventually('every viewer has a card', async () => assert.equal((await cardIds(dash.page)).length, everyone.length));
    // A content row filters the list.
    await dash.page.click('#content-rows tr[data-key="Sintel"]');
    await eventually('only the Sintel viewers', async () => {
      assert.deepEqual(await cardIds(dash.page), sintel.map((v) => v.id).sort());
    });
    assert.match(await dash.page.textContent('#viewer-range'), /^1–3 of 3 matching$/);
    await dash.page.selectOption('#status-filter', 'WATCHING_AD,PAUSED_AD');
    await eventually('only the Sintel viewer in an ad', async () => assert.deepEqual(await cardIds(dash.page), [sintel[2].id]));
    await dash.page.selectOption('#status-filter', '');
    await dash.page.selectOption('#content-filter', '');
    await dash.page.fill('#viewer-search', `BUNNY-2-${tag}`.toUpperCase());
    await eventually('the search finds one viewer, in any case', async () => assert.deepEqual(await cardIds(dash.page), [bunny[1].id]));
    await dash.page.fill('#viewer-search', 'nobody-at-all');
    await eventually('no viewer matches', async () => {
      assert.deepEqual(await cardIds(dash.page), []);
      assert.ok(await dash.page.isVisible('#empty'));
    });
    await dash.page.fill('#viewer-search', '');
    await eventually('every viewer again', async () => assert.equal((await cardIds(dash.page)).length, everyone.length));
  });

  it("tells a viewer's story: the profile, its session, its history newest first, a page at a time", async () => {
    await dash.page.fill('#lookup-id', story.id);
    await dash.page.press('#lookup-id', 'Enter');
    await eventually('the story shows the viewer', async () => {
      assert.ok(await dash.page.isVisible('#story'));
      assert.equal((await dash.page.textContent('#story-id')).trim(), story.id);
      assert.equal(await dash.page.textContent('#story-now dd[data-fact="Watching"]'), 'Tears of Steel');
    });
    const read = () => dash.page.evaluate(() => ({
      rows: [...document.querySelectorAll('#story-history tbody tr')].map((tr) => ({ at: Date.parse(tr.dataset.at), status: tr.dataset.status })),
      older: !document.getElementById('story-older').hidden,
      sessions: [...document.querySelectorAll('#story-sessions tbody tr')].map((tr) => tr.cells[0].textContent),
    }));
    const first = await eventually('a first page of 25 rows', async () => {
      const r = await read();
      assert.equal(r.rows.length, 25);
      return r;
    });
    assert.ok(first.older, 'an Older button for the rest');
    assert.deepEqual(first.sessions, ['Tears of Steel']);
    // The last event was a pause (the 30th change).
    assert.equal(first.rows[0].status, 'PAUSED_VIDEO');
    await dash.page.click('#story-older');
    const all = await eventually('the rest of the history', async () => {
      const r = await read();
      assert.equal(r.rows.length, 30);
      return r;
    });
    assert.equal(all.older, false, 'no Older button after the last page');
    for (let i = 1; i < all.rows.length; i += 1) {
      assert.ok(all.rows[i - 1].at > all.rows[i].at, `row ${i} is not older than row ${i - 1}`);
      assert.notEqual(all.rows[i - 1].status, all.rows[i].status, 'each row is a change of status');
    }
    // The story follows the viewer live.
    await ingest(host, [story.play()]);
    await eventually('the story shows the new status', async () => {
      assert.match(await dash.page.textContent('#story-now dd[data-fact="Status"]'), /^Watching/);
    }, { timeout: 5000 });
    await screenshots(dash.page, 'story');
    await dash.page.click('#story-close');
    assert.equal(await dash.page.isVisible('#story'), false);
    // A card opens its viewer's story too.
    await dash.page.click(`#grid .card[data-viewer-id="${bunny[0].id}"]`);
    await eventually('the card opened its story', async () => assert.equal((await dash.page.textContent('#story-id')).trim(), bunny[0].id));
    await dash.page.keyboard.press('Escape');
  });

  it('counts the windows: plays started, the ad funnel, and shows the charts', async () => {
    await eventually('seven plays started in both windows', async () => {
      assert.equal(await figure(dash.page, 'plays_started', '5m'), '7');
      assert.equal(await figure(dash.page, 'plays_started', '1h'), '7');
    }, { timeout: 15_000 });
    assert.deepEqual(await funnel(dash.page, '5m'), { ad_impressions: 1, ad_completions: 0, ad_skips: 0, ad_clicks: 0 });
    assert.match(await dash.page.getAttribute('#chart', 'aria-label'), /Concurrent viewers by status/);
    await dash.page.click('#range button[data-minutes="1440"]');
    assert.equal(await dash.page.getAttribute('#range button[data-minutes="1440"]', 'aria-pressed'), 'true');
    await screenshots(dash.page, 'content');
    alive.check();
  });

  it('logged no console errors, page errors or dialogs', () => {
    assertNoProblems(dash.problems);
  });
});

// ---------------------------------------------------------------------------------------
// Smoke check against the host's traffic simulator (LIVEVIEWER_SIMULATOR=1)

describe('dashboard with simulated traffic', { skip: !WITH_SIMULATOR && 'set LIVEVIEWER_SIMULATOR=1 to run' }, () => {
  let host;
  let dash;

  before(async () => {
    host = await startHost('simulator', ['--viewers', '8']);
    dash = await openDashboard(host);
  });

  after(async () => {
    await dash?.context.close();
    await stopHost(host);
  });

  it('fills with viewer cards', async () => {
    await eventually('connection indicator says Live', async () => assert.equal(await connectionMode(dash.page), 'Live'));
    await eventually('at least 4 viewer cards', async () => {
      const cards = await dash.page.locator('#grid .card:not(.leaving)').count();
      assert.ok(cards >= 4, `${cards} cards`);
    }, { timeout: 30_000, interval: 500 });
    const n = await activeCount(dash.page);
    assert.ok(n > 0, 'active count is 0');
    const split = await splitCounts(dash.page);
    assert.equal(Object.values(split).reduce((a, b) => a + b, 0), n, `status split ${JSON.stringify(split)} does not add up to ${n}`);
    // Let a few updates land so the chart and the relative times have moved.
    await dash.page.waitForTimeout(5000);
    await screenshots(dash.page, 'simulator');
    assertNoProblems(dash.problems);
  });
});
