// SPEC §10 in the operator console, in Chromium (playwright-core): the routes panel lists
// each route with its state, held deliveries and last hour's success rate, pauses and
// resumes by mouse and keyboard, follows the live refresh, and a banner shows while a
// route is tripped. One worker has a stand-in for the routes' state objects
// (route-health-stand-in.mjs: crm active, tripped-billing tripped, broken-analytics
// failing); another has none (destination health off), where a pause says what to bind.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../tools/lib/leadnest.mjs';
import { launchBrowser, scrollsSideways, watchedPage } from './browser.mjs';
import { everyLineWasJson, startWorker, waitFor } from './harness.mjs';

const TOKEN = 'console-routes-e2e-admin-token-0123456789';
const LIMIT = { timeout: 60_000 };
const SHOTS = join(ROOT, '.test', 'console-screenshots');
const ROUTES = [
  { name: 'crm', url: 'http://127.0.0.1:9/hooks/leadnest', events: ['email.*'] },
  { name: 'warehouse', queue: 'WAREHOUSE', events: ['*'] },
  { name: 'tripped-billing', url: 'http://127.0.0.1:9/billing', events: ['sms.*'] },
  { name: 'broken-analytics', url: 'http://127.0.0.1:9/in', events: ['sms.*'] },
];

async function signIn(page, worker) {
  await page.goto(`${worker.url}/admin`);
  await page.locator('#token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('[data-testid=route-row]').first().waitFor();
}

/** A route's row, and its cells' text. */
const routeRow = (page, name) => page.locator(`[data-testid=route-row][data-route="${name}"]`);
const cell = (page, name, label) => routeRow(page, name).locator(`td[data-label="${label}"]`).textContent();

describe('the routes panel of the console (SPEC §10) in Chromium', () => {
  let worker;
  let off;
  let browser;
  let context;
  let page;
  let record;

  before(async () => {
    [worker, off, browser] = await Promise.all([
      startWorker('console-routes', {
        adminToken: TOKEN, assets: true, vars: { ROUTES }, queues: { WAREHOUSE: 'console-routes-warehouse' }, routeHealth: 'stand-in',
      }),
      startWorker('console-routes-off', {
        adminToken: TOKEN, assets: true, vars: { ROUTES: ROUTES.slice(0, 2) }, queues: { WAREHOUSE: 'console-routes-off-warehouse' },
      }),
      launchBrowser(),
    ]);
    mkdirSync(SHOTS, { recursive: true });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    ({ page, record } = await watchedPage(context));
  }, { timeout: 120_000 });

  after(async () => {
    await browser?.close();
    await Promise.all([worker?.stop(), off?.stop()]);
  });

  test('each route with its state, held count and last hour\'s success rate; buttons only where they apply', LIMIT, async () => {
    await signIn(page, worker);
    const names = await page.locator('[data-testid=route-row] .route-name').allTextContents();
    assert.deepEqual(names, ROUTES.map((r) => r.name), 'in configuration order');
    assert.match(await cell(page, 'crm', 'state'), /^\s*active\s*$/);
    assert.equal((await cell(page, 'crm', 'held')).trim(), '0');
    // 18 delivered, 2 failed in the stand-in's last hour.
    assert.equal((await cell(page, 'crm', 'delivered, last hour')).trim(), '90%');
    assert.match(await cell(page, 'tripped-billing', 'state'), /tripped\s+since/);
    assert.equal((await cell(page, 'tripped-billing', 'held')).trim(), '7');
    assert.equal((await cell(page, 'tripped-billing', 'delivered, last hour')).trim(), '0%');
    // A queue route keeps no state: active, no counts, nothing to press.
    assert.match(await cell(page, 'warehouse', 'route'), /warehouse\s+queue/);
    assert.equal((await cell(page, 'warehouse', 'delivered, last hour')).trim(), '—');
    // An object that fails: its state unknown, its figures dashes, nothing to press.
    assert.match(await cell(page, 'broken-analytics', 'state'), /unknown/);
    assert.equal((await cell(page, 'broken-analytics', 'held')).trim(), '—');
    const buttons = await page.locator('[data-testid=route-row] button').evaluateAll((all) => all.map((b) => b.getAttribute('aria-label')));
    assert.deepEqual(buttons, ['Pause route crm', 'Resume route tripped-billing']);
    await page.screenshot({ path: join(SHOTS, 'routes.png') });
  });

  test('a banner across the top while a route is tripped; its last error shows as text', LIMIT, async () => {
    const banner = page.locator('[data-testid=tripped-banner]');
    assert.match(await banner.textContent(), /Route tripped-billing is tripped\..*held \(7 deliveries now\)/s);
    assert.equal(await banner.getAttribute('role'), 'alert');
    // Above everything else of the console.
    const [bannerTop, headerTop] = await Promise.all([banner, page.locator('header.top')].map((l) => l.evaluate((el) => el.getBoundingClientRect().top)));
    assert.ok(bannerTop < headerTop, 'the banner is at the top');
    assert.match(await cell(page, 'tripped-billing', 'state'), /last error: HTTP 503 <img src=x onerror=alert\(1\)>/);
    assert.equal(await page.locator('[data-testid=routes-panel] img').count(), 0, 'no element made from the error');
  });

  test('keyboard only: pause a route, then resume it; the focus stays on its button', LIMIT, async () => {
    await page.evaluate(() => document.activeElement?.blur());
    let reached = false;
    for (let i = 0; i < 60 && !reached; i += 1) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement?.getAttribute('aria-label') === 'Pause route crm');
    }
    assert.ok(reached, 'Tab reaches the pause button');
    await page.keyboard.press('Enter');
    await waitFor(async () => /^\s*paused\s+since/.test(await cell(page, 'crm', 'state')), { what: 'crm paused' });
    assert.match(await page.locator('[data-testid=notice]').textContent(), /Paused crm: its deliveries are held/);
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Resume route crm');
    assert.equal((await cell(page, 'crm', 'held')).trim(), '7');
    await page.keyboard.press('Enter');
    await waitFor(async () => /^\s*active\b/.test(await cell(page, 'crm', 'state')), { what: 'crm active again' });
    assert.match(await page.locator('[data-testid=notice]').textContent(), /Resumed crm/);
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Pause route crm');
  });

  test('resuming the tripped route takes the banner away', LIMIT, async () => {
    await page.getByRole('button', { name: 'Resume route tripped-billing' }).click();
    await waitFor(async () => /^\s*active/.test(await cell(page, 'tripped-billing', 'state')), { what: 'tripped-billing active' });
    await waitFor(async () => (await page.locator('[data-testid=tripped-banner]').count()) === 0, { what: 'the banner gone' });
  });

  test('the live refresh shows a change made elsewhere', LIMIT, async () => {
    const paused = await worker.admin('POST', '/admin/api/routes/crm/pause');
    assert.equal(paused.status, 200);
    await waitFor(async () => /paused/.test(await cell(page, 'crm', 'state')), { timeoutMs: 15_000, what: 'the refresh to show crm paused' });
    assert.equal((await worker.admin('POST', '/admin/api/routes/crm/resume')).status, 200);
    await waitFor(async () => /active/.test(await cell(page, 'crm', 'state')), { timeoutMs: 15_000, what: 'the refresh to show crm active' });
  });

  test('375 px wide, dark: the routes as cards, no sideways scroll', LIMIT, async () => {
    // One route paused, for its card.
    assert.equal((await worker.admin('POST', '/admin/api/routes/tripped-billing/pause')).status, 200);
    const narrow = await browser.newContext({ viewport: { width: 375, height: 800 }, colorScheme: 'dark' });
    const { page: phone, record: phoneRecord } = await watchedPage(narrow);
    await signIn(phone, worker);
    assert.equal(await scrollsSideways(phone), false);
    const display = await routeRow(phone, 'crm').evaluate((el) => getComputedStyle(el).display);
    assert.equal(display, 'grid', 'a row is a card');
    await phone.locator('#routes-title').evaluate((heading) => heading.scrollIntoView());
    await phone.screenshot({ path: join(SHOTS, 'routes-375.png') });
    assert.deepEqual(phoneRecord.dialogs, []);
    assert.deepEqual(phoneRecord.errors, []);
    await narrow.close();
  });

  test('with destination health off: every route active, and a pause says what to bind', LIMIT, async () => {
    const { page: offPage, record: offRecord } = await watchedPage(context);
    await signIn(offPage, off);
    assert.match(await cell(offPage, 'crm', 'state'), /^\s*active\s*$/);
    assert.equal((await cell(offPage, 'crm', 'delivered, last hour')).trim(), '—');
    assert.equal(await offPage.locator('[data-testid=tripped-banner]').count(), 0);
    await offPage.getByRole('button', { name: 'Pause route crm' }).click();
    await waitFor(async () => /Could not pause crm: .*ROUTE_HEALTH is not bound/.test(await offPage.locator('[data-testid=notice]').textContent()),
      { what: 'the 409 said' });
    assert.match(await cell(offPage, 'crm', 'state'), /active/);
    assert.deepEqual(offRecord.errors, []);
    await offPage.close();
  });

  test('nothing broke the rules: no dialog, error or CSP violation, nothing from elsewhere', LIMIT, () => {
    assert.deepEqual(record.dialogs, []);
    assert.deepEqual(record.errors, []);
    assert.deepEqual(record.cspViolations, []);
    assert.deepEqual(record.urls.filter((url) => !url.startsWith(worker.url)), []);
    assert.deepEqual(record.urls.filter((url) => url.includes(TOKEN)), []);
  });

  test('every line the workers printed is one JSON object', LIMIT, () => everyLineWasJson());
});
