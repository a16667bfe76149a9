// Browser test of the watch page: Debian's chromium, driven by playwright-core (which never
// downloads a browser). The page is served from dist/ on 127.0.0.1; the tracker's collector is a
// fake URL whose requests are intercepted with route() and answered 200, then decoded and
// checked for the media events and entities the liveviewer module reads.
//
// Run through `npm test` (test/run.sh builds dist/ first).

import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from './server.mjs';
import { decodeRequest } from './payloads.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const artifacts = process.env.ARTIFACTS_DIR || join(root, 'test-artifacts');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

// Never resolved: every request to it is answered by the route handler below.
const COLLECTOR = 'http://collector.liveviewer.invalid:9090';
const MEDIA = 'iglu:com.snowplowanalytics.snowplow.media/';
const media = (name) => `${MEDIA}${name}/jsonschema/1-0-0`;
const PLAYER = 'iglu:com.snowplowanalytics.snowplow/media_player/jsonschema/2-0-0';
const SESSION = media('session');
const AD = media('ad');
const AD_BREAK = media('ad_break');
const AD_EVENTS = ['ad_start_event', 'ad_quartile_event', 'ad_complete_event', 'ad_skip_event', 'ad_click_event'];

const LAUNCH_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--autoplay-policy=no-user-gesture-required',
];

const step = (msg) => console.log(`  - ${msg}`);
// A media event's name without the `_event` suffix ('ad_start'), or null for other events.
const nameOf = (ev) => (ev.schema && ev.schema.startsWith(MEDIA)
  ? ev.schema.slice(MEDIA.length).split('/')[0].replace(/_event$/, '')
  : null);
const entity = (ev, schema) => ev.entities.find((x) => x.schema === schema);

async function main() {
  mkdirSync(artifacts, { recursive: true });
  const server = await serve(join(root, 'dist'));
  const browser = await chromium.launch({ executablePath, headless: true, args: LAUNCH_ARGS });
  const requests = [];
  const pageErrors = [];
  let page;
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    // The fake collector. The tracker sends with credentials, so CORS must name the origin.
    await context.route((url) => url.href.startsWith(COLLECTOR), async (route) => {
      const req = route.request();
      const cors = {
        'access-control-allow-origin': req.headers().origin || server.url,
        'access-control-allow-credentials': 'true',
        'access-control-allow-headers': 'Content-Type',
        'access-control-allow-methods': 'GET, POST, OPTIONS',
      };
      if (req.method() === 'OPTIONS') {
        await route.fulfill({ status: 204, headers: cors });
        return;
      }
      requests.push({ method: req.method(), url: req.url(), body: req.postData() || '' });
      await route.fulfill({ status: 200, headers: { ...cors, 'content-type': 'text/plain' }, body: 'ok' });
    });

    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`); });

    // ----- Phase 1: plain JSON over POST, the full scenario -----------------------------------
    console.log('phase 1: POST, plain JSON');
    const appId = 'watch-test-post';
    await page.goto(`${server.url}/?collector=${encodeURIComponent(COLLECTOR)}&ping=1&app_id=${appId}`);
    await page.waitForFunction(() => window.__watch && window.__watch.ready, null, { timeout: 20000 });
    const { mediaId, viewerId } = await page.evaluate(() => ({ mediaId: window.__watch.mediaId, viewerId: window.__watch.viewerId }));
    step(`ready; media session ${mediaId}, viewer ${viewerId}`);

    await page.click('#btn-play');
    await page.waitForSelector('#ad-layer:not([hidden])', { timeout: 10000 });
    await page.waitForFunction(() => window.__watch.adPlaying, null, { timeout: 10000 });
    step('pre-roll playing');
    await page.click('#ad-click');
    await page.waitForSelector('#ad-skip:not([disabled])', { timeout: 10000 });
    await page.screenshot({ path: join(artifacts, 'watch-preroll.png') });
    await page.click('#ad-skip');
    await page.waitForFunction(() => window.__watch.breaksDone.includes('pre-roll-1'), null, { timeout: 10000 });
    await page.waitForFunction(() => !document.getElementById('content').paused, null, { timeout: 10000 });
    step('pre-roll clicked and skipped; content playing');

    await page.waitForTimeout(2500); // pings every second while playing
    await page.click('#btn-pause');
    await page.waitForTimeout(700);
    await page.click('#btn-play');
    step('paused and resumed');

    await page.click('#btn-jump'); // seeks to 2 s before the mid-roll
    await page.waitForFunction(() => window.__watch.events.filter((e) => e === 'ad_break_start').length === 2, null, { timeout: 15000 });
    await page.waitForTimeout(1000);
    await page.screenshot({ path: join(artifacts, 'watch-midroll.png') });
    step('mid-roll playing');
    await page.waitForFunction(() => window.__watch.breaksDone.includes('mid-roll-1'), null, { timeout: 30000 });
    await page.waitForFunction(() => !document.getElementById('content').paused, null, { timeout: 10000 });
    step('mid-roll watched to the end; content playing');
    await page.waitForTimeout(1200);
    await page.click('#btn-pause');

    // Wait until the tracker has sent everything the page tracked (one request per event).
    const tracked = await page.evaluate(() => window.__watch.events.length);
    const phase1 = () => requests
      .flatMap((r) => decodeRequest(r.method, r.url, r.body).map((ev) => ({ ...ev, method: r.method })))
      .filter((ev) => ev.aid === appId);
    const deadline = Date.now() + 15000;
    while (phase1().filter((ev) => nameOf(ev) && nameOf(ev) !== 'ping' && nameOf(ev) !== 'percent_progress').length < tracked && Date.now() < deadline) {
      await page.waitForTimeout(200);
    }
    await page.screenshot({ path: join(artifacts, 'watch.png') });

    const events = phase1();
    checkPhase1(events, { mediaId, viewerId, appId, tracked });

    // ----- Phase 2: base64 over GET (the tracker's other encodings) ---------------------------
    console.log('phase 2: GET, base64');
    const appId2 = 'watch-test-get-base64';
    await page.goto(`${server.url}/?collector=${encodeURIComponent(COLLECTOR)}&method=get&base64=1&app_id=${appId2}`);
    await page.waitForFunction(() => window.__watch && window.__watch.ready, null, { timeout: 20000 });
    await page.click('#btn-play');
    await page.waitForFunction(() => window.__watch.adPlaying, null, { timeout: 10000 });
    const deadline2 = Date.now() + 10000;
    const phase2 = () => requests
      .flatMap((r) => decodeRequest(r.method, r.url, r.body).map((ev) => ({ ...ev, method: r.method })))
      .filter((ev) => ev.aid === appId2);
    while (!phase2().some((ev) => nameOf(ev) === 'ad_start') && Date.now() < deadline2) {
      await page.waitForTimeout(200);
    }
    checkPhase2(phase2());

    assert.deepEqual(pageErrors, [], `the page logged errors:\n${pageErrors.join('\n')}`);
    console.log(`PASS: ${requests.length} collector requests checked; screenshots in ${artifacts}`);
  } catch (e) {
    if (page) await page.screenshot({ path: join(artifacts, 'watch-failure.png') }).catch(() => {});
    const summary = requests
      .flatMap((r) => { try { return decodeRequest(r.method, r.url, r.body); } catch { return []; } })
      .map((ev) => `${ev.aid} ${ev.e} ${nameOf(ev) || ''}`);
    console.error(`FAIL: ${e.message}`);
    console.error(`decoded events (${summary.length}):\n  ${summary.join('\n  ')}`);
    if (pageErrors.length) console.error(`page errors:\n  ${pageErrors.join('\n  ')}`);
    process.exitCode = 1;
  } finally {
    await browser.close();
    await server.close();
  }
}

function count(events, name) {
  return events.filter((ev) => nameOf(ev) === name).length;
}

function checkPhase1(events, { mediaId, viewerId, appId, tracked }) {
  const mediaEvents = events.filter((ev) => nameOf(ev));
  const names = mediaEvents.map(nameOf);
  step(`decoded ${events.length} events (${mediaEvents.length} media; the page tracked ${tracked} media calls)`);
  step(`media events in order: ${names.join(', ')}`);

  // Every request is POST with plain JSON, from this page's tracker.
  for (const ev of events) {
    assert.equal(ev.method, 'POST', 'phase 1 sends with POST');
    assert.equal(ev.p, 'web');
    assert.equal(ev.duid, viewerId, 'domain_userid is the viewer id the page shows');
    if (ev.e === 'ue') assert.equal(ev.encoding, 'plain', 'encodeBase64: false gives ue_pr/co');
  }
  assert.ok(events.some((ev) => ev.e === 'pv'), 'a page view is tracked');

  // The events the scenario must produce.
  const expected = {
    ready_event: [1, 1],
    play_event: [4, 99], // start, after the pre-roll, resume, after the mid-roll
    pause_event: [3, 99], // pre-roll, our pause, mid-roll (and the final pause)
    seek_start_event: [1, 99],
    seek_end_event: [1, 99],
    ping_event: [1, 99],
    ad_break_start_event: [2, 2],
    ad_break_end_event: [2, 2],
    ad_start_event: [3, 3],
    ad_quartile_event: [6, 9],
    ad_complete_event: [2, 2],
    ad_skip_event: [1, 1],
    ad_click_event: [1, 1],
  };
  for (const [name, [min, max]] of Object.entries(expected)) {
    const n = count(mediaEvents, name.replace(/_event$/, ''));
    assert.ok(n >= min && n <= max, `${name}: expected ${min === max ? min : `${min}..${max}`}, got ${n}`);
  }

  // Entities: the player and the media session on every media event, one session throughout.
  for (const ev of mediaEvents) {
    assert.equal(ev.schema, media(`${nameOf(ev)}_event`), `event schema ${ev.schema}`);
    const player = entity(ev, PLAYER);
    const session = entity(ev, SESSION);
    assert.ok(player, `${nameOf(ev)} has the media_player 2-0-0 entity`);
    assert.ok(session, `${nameOf(ev)} has the media session entity`);
    assert.equal(session.data.mediaSessionId, mediaId, 'one media session for the page');
    assert.equal(player.data.mediaType, 'video');
    assert.equal(player.data.playerType, 'org.whatwg-media_element');
    assert.ok(player.data.duration > 59 && player.data.duration < 61, `duration ${player.data.duration}`);
  }

  // Ad events carry the ad and ad_break entities; break events the ad_break one.
  for (const ev of mediaEvents) {
    const name = `${nameOf(ev)}_event`;
    if (AD_EVENTS.includes(name)) {
      assert.ok(entity(ev, AD_BREAK), `${name} has the ad_break entity`);
      if (name !== 'ad_click_event') assert.ok(entity(ev, AD), `${name} has the ad entity`);
    }
    if (name === 'ad_break_start_event' || name === 'ad_break_end_event') {
      assert.ok(entity(ev, AD_BREAK), `${name} has the ad_break entity`);
    }
  }

  // The pre-roll: clicked, then skipped.
  const skip = mediaEvents.find((ev) => nameOf(ev) === 'ad_skip');
  assert.equal(entity(skip, AD).data.adId, 'ad-spring-sale');
  assert.equal(entity(skip, AD_BREAK).data.name, 'pre-roll');
  assert.equal(entity(skip, AD_BREAK).data.breakType, 'linear');
  assert.equal(entity(skip, AD_BREAK).data.podSize, 1);
  assert.ok(skip.data.percentProgress >= 0 && skip.data.percentProgress < 100, `skip at ${skip.data.percentProgress}%`);
  const click = mediaEvents.find((ev) => nameOf(ev) === 'ad_click');
  assert.equal(entity(click, AD_BREAK).data.name, 'pre-roll');

  // The mid-roll: two ads watched to the end, each with its three quartiles.
  const midStarts = mediaEvents.filter((ev) => nameOf(ev) === 'ad_start' && entity(ev, AD_BREAK).data.name === 'mid-roll');
  assert.deepEqual(midStarts.map((ev) => entity(ev, AD).data.adId), ['ad-morning-coffee', 'ad-city-bikes']);
  assert.deepEqual(midStarts.map((ev) => entity(ev, AD).data.podPosition), [1, 2]);
  assert.equal(entity(midStarts[0], AD_BREAK).data.podSize, 2);
  assert.ok(entity(midStarts[0], AD).data.duration > 3.5, 'the ad entity has the creative duration');
  for (const adId of ['ad-morning-coffee', 'ad-city-bikes']) {
    const quartiles = mediaEvents
      .filter((ev) => nameOf(ev) === 'ad_quartile' && entity(ev, AD).data.adId === adId)
      .map((ev) => ev.data.percentProgress);
    assert.deepEqual(quartiles, [25, 50, 75], `${adId} quartiles`);
    assert.equal(mediaEvents.filter((ev) => nameOf(ev) === 'ad_complete' && entity(ev, AD).data.adId === adId).length, 1, `${adId} completes`);
  }

  // Order: play, then the pre-roll's break start; the content is paused (player.paused) in the
  // pause event that follows the first ad start, as the Snowplow Micro recording shows.
  assert.equal(names[0], 'ready');
  const firstPlay = names.indexOf('play');
  const firstBreak = names.indexOf('ad_break_start');
  assert.ok(firstPlay >= 0 && firstPlay < firstBreak, 'play comes before the pre-roll');
  const pauseAfterAd = mediaEvents.slice(names.indexOf('ad_start')).find((ev) => nameOf(ev) === 'pause');
  assert.equal(entity(pauseAfterAd, PLAYER).data.paused, true);
  step('phase 1 checks passed');
}

function checkPhase2(events) {
  const names = events.map(nameOf).filter(Boolean);
  step(`decoded ${events.length} events: ${names.join(', ')}`);
  assert.ok(events.length > 0, 'phase 2 sent events');
  for (const ev of events) {
    assert.equal(ev.method, 'GET', 'phase 2 sends with GET');
    if (ev.e === 'ue') assert.equal(ev.encoding, 'base64', 'default encoding gives ue_px/cx');
  }
  for (const name of ['ready', 'play', 'ad_break_start', 'ad_start']) {
    assert.ok(names.includes(name), `${name}_event decoded from base64`);
  }
  const adStart = events.find((ev) => nameOf(ev) === 'ad_start');
  assert.ok(entity(adStart, PLAYER) && entity(adStart, SESSION) && entity(adStart, AD) && entity(adStart, AD_BREAK),
    'ad_start carries media_player, session, ad and ad_break decoded from cx');
  assert.equal(entity(adStart, AD).data.adId, 'ad-spring-sale');
  step('phase 2 checks passed');
}

const timer = setTimeout(() => {
  console.error('FAIL: the test did not finish within 180 s');
  process.exit(1);
}, 180000);
await main();
clearTimeout(timer);
