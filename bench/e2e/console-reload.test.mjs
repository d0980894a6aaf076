// `npm run bench` (bench/run.sh), after the table: the operator console's time to first
// list, in a real Chromium (playwright-core) against the built worker in workerd through
// the end-to-end harness, its static files and admin API on a local event log: the page
// reloaded with the token in the tab, median of 5. Skipped without a Chromium
// (`scripts/setup.sh --browser` installs Debian's).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { CHROMIUM, launchBrowser } from '../../tests/e2e/browser.mjs';
import { event, everyLineWasJson, startWorker, waitFor } from '../../tests/e2e/harness.mjs';

const TOKEN = 'bench-console-admin-token-0123456789abcdef';
const RELOADS = 5;
const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}`;

let worker;
let browser;
before(async () => {
  if (skip) return;
  worker = await startWorker('bench-console', { adminToken: TOKEN, assets: true, deliveryQueue: false });
  // A list of 50 rows to show, as a busy hour would have.
  for (let i = 0; i < 50; i += 1) assert.equal((await worker.post(event('email.opened'))).status, 200);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await worker?.stop();
});

test(`time to first list, the token in the tab: median of ${RELOADS} reloads`, { skip, timeout: 120_000 }, async (t) => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`${worker.url}/admin`);
  await page.locator('#token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await waitFor(async () => (await page.locator('[data-testid=event-row]').count()) === 50, { what: 'the 50 events listed' });
  const runs = [];
  for (let i = 0; i < RELOADS; i += 1) {
    await page.reload();
    await page.locator('[data-testid=event-row]').first().waitFor();
    assert.equal(await page.locator('#token').count(), 0, 'no sign-in form');
    runs.push(await page.evaluate(() => {
      const list = performance.getEntriesByType('resource').find((e) => e.name.includes('/admin/api/events'));
      return {
        firstList: performance.getEntriesByName('first-list')[0].startTime,
        html: performance.getEntriesByType('navigation')[0].responseEnd,
        modules: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
        listCall: list ? list.responseEnd - list.startTime : NaN,
      };
    }));
  }
  assert.ok(runs.every((run) => Number.isFinite(run.firstList) && run.firstList > 0), JSON.stringify(runs));
  runs.sort((a, b) => a.firstList - b.firstList);
  const median = runs[Math.floor(RELOADS / 2)];
  const ms = (v) => `${Math.round(v)} ms`;
  t.diagnostic(`console: time to first list (navigation start to rows shown), median of ${RELOADS}: ${ms(median.firstList)} `
    + `(HTML by ${ms(median.html)}, styles and modules by ${ms(median.modules)}, the list call ${ms(median.listCall)})`);
});

test('every line the worker printed is one JSON object', { skip }, everyLineWasJson);
