// Opens a host's dashboard in Debian's chromium and waits until a viewer's card is on the
// page: the fleet tests (host/tests/fleet.rs) use it to see, in a real browser, a viewer whose
// events another host processed.
//
//   node tests/watch-viewer.mjs URL VIEWER_ID [TIMEOUT_MS] [--after-ready FILE]
//
// Prints `ready` once the page has loaded (so the caller produces the viewer's event only
// then: the card must arrive live, through the push channel), then `seen <ms>` when the card
// shows, and exits 0; exits 1 on timeout, with the page's console in the message.

import { chromium } from 'playwright-core';

const [url, viewer, timeoutArg] = process.argv.slice(2);
const timeout = Number(timeoutArg ?? 30000);
if (!url || !viewer) {
  console.error('usage: watch-viewer.mjs URL VIEWER_ID [TIMEOUT_MS]');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const console_ = [];
try {
  const page = await browser.newPage();
  page.on('console', (m) => console_.push(`${m.type()}: ${m.text()}`));
  await page.goto(url, { waitUntil: 'load' });
  // The push channel is open (the connection indicator says live), and the list looks for the
  // viewer (a fleet's page may have many pages of viewers).
  await page.waitForSelector('#conn[data-mode="live"]', { timeout: 15000 });
  await page.fill('#viewer-search', viewer);
  await page.waitForFunction(() => document.getElementById('viewer-range')?.textContent === 'No viewer matches', null, { timeout: 15000 });
  console.log('ready');
  const start = Date.now();
  await page.waitForSelector(`[data-viewer-id="${viewer.replace(/"/g, '\\"')}"]`, { timeout });
  console.log(`seen ${Date.now() - start}`);
  await browser.close();
  process.exit(0);
} catch (e) {
  console.error(`${viewer} not shown on ${url}: ${e.message}\n${console_.slice(-20).join('\n')}`);
  await browser.close();
  process.exit(1);
}
