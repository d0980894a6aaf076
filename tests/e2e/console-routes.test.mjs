// SPEC §10 in the operator console, in Chromium (playwright-core): the routes panel lists
// each route with its state, held deliveries and last hour's success rate, pauses and
// resumes by mouse and keyboard, follows the live refresh, and a banner shows while a
// route is tripped. One worker has the routes' real state objects (harness option
// `health`) and real local backends: crm's always answers, billing's answers twice and
// then fails until its breaker (3 failures, probe_seconds 900: no probe comes while the
// test runs) trips the route, whose retries are then held. Another worker has no state
// objects (destination health off), where a pause says what to bind.
//
// Not shown here, as only a test double of the objects could: a route whose object fails
// or garbles its report (the API's state `unknown`, every count null; the panel's dashes
// and no button for it). The API's side is covered by the native tests of the admin call
// (src/admin/call.rs) and of the report's reading (src/admin/route_state.rs). Nor is
// markup in a last error: the real one is the core's own text ("HTTP 500", "timeout"),
// never a backend's; values shown as text are covered by console.test.mjs (a hostile
// event body) and tests/node/console-files.test.mjs (no way for a value to become HTML).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../tools/lib/leadnest.mjs';
import { backend, counts, postEach, routesOf } from './health-kit.mjs';
import { launchBrowser, scrollsSideways, watchedPage } from './browser.mjs';
import { everyLineWasJson, startWorker, waitFor } from './harness.mjs';

const TOKEN = 'console-routes-e2e-admin-token-0123456789';
const LIMIT = { timeout: 60_000 };
const RUN = Date.now().toString(36);
const SHOTS = join(ROOT, '.test', 'console-screenshots');

async function signIn(page, worker) {
  await page.goto(`${worker.url}/admin`);
  await page.locator('#token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('[data-testid=route-row]').first().waitFor();
}

/** A route's row, and its cells' text. */
const routeRow = (page, name) => page.locator(`[data-testid=route-row][data-route="${name}"]`);
const cell = (page, name, label) => routeRow(page, name).locator(`td[data-label="${label}"]`).textContent();


/** Posts one `name` event per label, one after another; returns their message ids. */
const post = (worker, name, labels) => postEach(worker, name, labels.map((label) => `msg_${RUN}_${label}`));

describe('the routes panel of the console (SPEC §10) in Chromium', () => {
  let worker;
  let off;
  let browser;
  let context;
  let page;
  let record;
  let crm;
  let billing;
  const ROUTES = [];

  before(async () => {
    [crm, billing] = await Promise.all([backend(), backend()]);
    ROUTES.push(
      { name: 'crm', url: `${crm.url}/hooks/leadnest`, events: ['email.*'] },
      { name: 'warehouse', queue: 'WAREHOUSE', events: ['subscriber.*'] },
      { name: 'billing', url: `${billing.url}/billing`, events: ['sms.*'], breaker: { failures: 3, probe_seconds: 900 } },
    );
    [worker, off, browser] = await Promise.all([
      startWorker('console-routes', {
        health: true, adminToken: TOKEN, assets: true,
        vars: { ROUTES, DELIVERY_RETRY_BASE_SECONDS: '1' }, queues: { WAREHOUSE: 'console-routes-warehouse' },
      }),
      startWorker('console-routes-off', {
        adminToken: TOKEN, assets: true, vars: { ROUTES: ROUTES.slice(0, 2) }, queues: { WAREHOUSE: 'console-routes-off-warehouse' },
      }),
      launchBrowser(),
    ]);
    mkdirSync(SHOTS, { recursive: true });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    ({ page, record } = await watchedPage(context));

    // Real traffic: crm delivers 2; billing delivers 2, then its backend fails 3 times
    // and the breaker trips the route; those 3 come back as retries, and are held.
    await post(worker, 'email.opened', ['crm_1', 'crm_2']);
    await post(worker, 'sms.sent', ['billing_ok_1', 'billing_ok_2']);
    await waitFor(async () => (await routesOf(worker)).billing.delivered_1h === 2, { what: 'billing\'s 2 deliveries counted' });
    billing.setHealthy(false);
    await post(worker, 'sms.sent', ['billing_1', 'billing_2', 'billing_3']);
    await waitFor(async () => {
      const route = (await routesOf(worker)).billing;
      return route.state === 'tripped' && route.held === 3;
    }, { what: 'billing tripped, holding 3' });
    await waitFor(async () => (await routesOf(worker)).crm.delivered_1h === 2, { what: 'crm\'s 2 deliveries counted' });
  }, { timeout: 120_000 });

  after(async () => {
    await browser?.close();
    await Promise.all([worker?.stop(), off?.stop()]);
    await Promise.all([crm?.close(), billing?.close()]);
  });

  test('each route with its state, held count and last hour\'s success rate; buttons only where they apply', LIMIT, async () => {
    await signIn(page, worker);
    const names = await page.locator('[data-testid=route-row] .route-name').allTextContents();
    assert.deepEqual(names, ROUTES.map((r) => r.name), 'in configuration order');
    assert.match(await cell(page, 'crm', 'state'), /^\s*active\s*$/);
    assert.equal((await cell(page, 'crm', 'held')).trim(), '0');
    assert.equal((await cell(page, 'crm', 'delivered, last hour')).trim(), '100%');
    assert.match(await cell(page, 'billing', 'state'), /tripped\s+since/);
    assert.equal((await cell(page, 'billing', 'held')).trim(), '3');
    // 2 delivered, 3 failed in the last hour.
    assert.equal((await cell(page, 'billing', 'delivered, last hour')).trim(), '40%');
    assert.equal(await routeRow(page, 'billing').locator('td[data-label="delivered, last hour"]').getAttribute('title'),
      '2 delivered, 3 failed in the last hour');
    // A queue route keeps no state: active, no counts, nothing to press.
    assert.match(await cell(page, 'warehouse', 'route'), /warehouse\s+queue/);
    assert.match(await cell(page, 'warehouse', 'state'), /^\s*active\s*$/);
    assert.equal((await cell(page, 'warehouse', 'delivered, last hour')).trim(), '—');
    const buttons = await page.locator('[data-testid=route-row] button').evaluateAll((all) => all.map((b) => b.getAttribute('aria-label')));
    assert.deepEqual(buttons, ['Pause route crm', 'Resume route billing']);
    await page.screenshot({ path: join(SHOTS, 'routes.png') });
  });

  test('a banner across the top while a route is tripped, with its held count; its last error in its row', LIMIT, async () => {
    const banner = page.locator('[data-testid=tripped-banner]');
    assert.match(await banner.textContent(), /Route billing is tripped\..*held \(3 deliveries now\)/s);
    assert.equal(await banner.getAttribute('role'), 'alert');
    // Above everything else of the console.
    const [bannerTop, headerTop] = await Promise.all([banner, page.locator('header.top')].map((l) => l.evaluate((el) => el.getBoundingClientRect().top)));
    assert.ok(bannerTop < headerTop, 'the banner is at the top');
    assert.match(await cell(page, 'billing', 'state'), /last error: HTTP 500/);
  });

  test('keyboard only: pause a route, its new deliveries held, then resume it; the focus stays on its button', LIMIT, async () => {
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

    const ids = await post(worker, 'email.clicked', ['paused_1', 'paused_2']);
    await waitFor(async () => (await cell(page, 'crm', 'held')).trim() === '2', { what: 'the panel to show 2 held' });
    assert.equal(crm.received.length, 2, 'a paused route gets nothing');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Resume route crm',
      'the refresh keeps the focus');

    await page.keyboard.press('Enter');
    await waitFor(async () => /^\s*active\b/.test(await cell(page, 'crm', 'state')), { what: 'crm active again' });
    assert.match(await page.locator('[data-testid=notice]').textContent(), /Resumed crm/);
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Pause route crm');
    await waitFor(async () => (await cell(page, 'crm', 'held')).trim() === '0', { what: 'the panel to show nothing held' });
    assert.deepEqual(ids.map((id) => counts(crm.delivered()).get(id)), [1, 1], 'each held delivery sent once');
  });

  test('resuming the tripped route once its backend is back takes the banner away and sends what it held', LIMIT, async () => {
    billing.setHealthy(true);
    await page.getByRole('button', { name: 'Resume route billing' }).click();
    await waitFor(async () => /^\s*active/.test(await cell(page, 'billing', 'state')), { what: 'billing active' });
    await waitFor(async () => (await page.locator('[data-testid=tripped-banner]').count()) === 0, { what: 'the banner gone' });
    await waitFor(async () => (await cell(page, 'billing', 'held')).trim() === '0', { what: 'billing holding nothing' });
    const held = [`msg_${RUN}_billing_1`, `msg_${RUN}_billing_2`, `msg_${RUN}_billing_3`];
    await waitFor(() => held.every((id) => counts(billing.delivered()).get(id) === 1), { what: 'billing\'s 3 held delivered' });
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
    assert.equal((await worker.admin('POST', '/admin/api/routes/billing/pause')).status, 200);
    const narrow = await browser.newContext({ viewport: { width: 375, height: 800 }, colorScheme: 'dark' });
    const { page: phone, record: phoneRecord } = await watchedPage(narrow);
    await signIn(phone, worker);
    assert.equal(await scrollsSideways(phone), false);
    const display = await routeRow(phone, 'crm').evaluate((el) => getComputedStyle(el).display);
    assert.equal(display, 'grid', 'a row is a card');
    assert.match(await cell(phone, 'billing', 'state'), /paused/);
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
    await waitFor(async () => /Could not pause crm: .*ROUTE_HEALTH or HELD_DELIVERIES is not bound/
      .test(await offPage.locator('[data-testid=notice]').textContent()), { what: 'the 409 said' });
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
