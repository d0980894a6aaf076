// SPEC §9, the operator console, in a real browser (Chromium driven by playwright-core)
// against the built worker in workerd (Miniflare's API): its static files, the admin API on a
// local event log, and a real local backend that is down and then comes back. A second
// worker, without a delivery queue (a replay call takes 12 deliveries there), shows the
// bulk replay's count and a replay that takes more than one call.
//
// UPDATE_SCREENSHOTS=1 writes the README's screenshots to docs/console/; otherwise
// they go to .test/console-screenshots/ so a test run leaves the work tree as it was.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { ROOT } from '../../tools/lib/leadnest.mjs';
import { launchBrowser, scrollsSideways, watchedPage } from './browser.mjs';
import { event, everyLineWasJson, startWorker, waitFor } from './harness.mjs';

const TOKEN = 'console-e2e-admin-token-0123456789abcdef';
/** A test that hangs fails instead, naming itself. */
const LIMIT = { timeout: 90_000 };
const RUN = Date.now().toString(36);
const id = (label) => `msg_${RUN}_${label}`;
const SHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? join(ROOT, 'docs', 'console') : join(ROOT, '.test', 'console-screenshots');

// What an attacker could put in a body LeadNest signs: markup, a script end tag, and a
// string long enough to break a layout that does not wrap.
const HOSTILE = {
  message_id: id('hostile<img src=x onerror=alert(1)>'),
  text: '<img src=x onerror="window.__pwned=1;alert(document.domain)">',
  html: '</script><script>window.__pwned=2;alert(2)</script><b onmouseover=alert(3)>bold</b>',
  long: 'A'.repeat(10_000),
};

/**
 * A backend that answers 500 (with a body and a header to show) until it is made healthy;
 * `delivered` lists the message id of each event it answered 200.
 */
async function switchableBackend(healthy = false) {
  const state = { healthy, received: 0, delivered: [] };
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    state.received += 1;
    if (state.healthy) {
      try { state.delivered.push(JSON.parse(Buffer.concat(chunks).toString()).data?.message_id); } catch { /* not an event */ }
      res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': 'console-e2e' });
      res.end('ok, stored');
    } else {
      res.writeHead(500, { 'content-type': 'text/plain', 'x-backend': 'console-e2e' });
      res.end('backend down for maintenance <b>not html</b>');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${server.address().port}/hooks/leadnest`;
  state.close = () => new Promise((resolve) => server.close(resolve));
  return state;
}

/** The admin API, called directly: to wait for the state the browser should then show. */
async function adminApi(worker, path) {
  const response = await fetch(`${worker.url}/admin/api${path}`,
    { headers: { authorization: `Bearer ${TOKEN}` }, signal: AbortSignal.timeout(10_000) });
  assert.equal(response.status, 200, `GET /admin/api${path}: ${response.status}`);
  return response.json();
}

async function eventByMessageId(worker, messageId) {
  const { events } = await adminApi(worker, `/events?message_id=${encodeURIComponent(messageId)}`);
  return events[0];
}

/** The list row of the event whose message id is `messageId`. */
const row = (page, messageId) => page.locator('[data-testid=event-row]').filter({ hasText: messageId });

async function signIn(page, worker) {
  await page.goto(`${worker.url}/admin`);
  await page.locator('#token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('[data-testid=event-row]').first().waitFor();
}

async function openEvent(page, messageId) {
  await row(page, messageId).locator('button.event-name').click();
  const detail = page.locator('[data-testid=event-detail]');
  await detail.locator('.delivery, .muted').first().waitFor();
  return detail;
}

describe('operator console (SPEC §9) in Chromium', () => {
  let worker;
  let disabled;
  let backend;
  let analytics;
  let browser;
  let context;
  let page;
  let record;
  const failing = ['mouse', 'keyboard', 'bulk1', 'bulk2'].map((label) => id(`fail_${label}`));
  // The worker without a delivery queue: 15 events whose delivery to crm fails, 3 of them
  // (email.clicked) delivered to analytics too; more than one replay call's 12 deliveries.
  let direct;
  let directBackend;
  let directPage;
  let directRecord;
  const directFailing = Array.from({ length: 15 }, (_, i) => id(`direct_${i}`));
  const directClicked = directFailing.slice(0, 3);

  before(async () => {
    // crm is down until a test brings it back; analytics always answers 200.
    [backend, analytics, directBackend] = await Promise.all([switchableBackend(false), switchableBackend(true), switchableBackend(false)]);
    const routes = [{ name: 'crm', url: backend.url, events: ['email.*'] },
      { name: 'analytics', url: analytics.url, events: ['sms.*', 'subscriber.*'] }];
    [worker, disabled, direct, browser] = await Promise.all([
      startWorker('console', {
        adminToken: TOKEN,
        assets: true,
        // One retry a second later, then the dead-letter queue, whose consumer records
        // the failure in the event log: failed within seconds, as deployed but faster.
        vars: { ROUTES: routes, DELIVERY_RETRY_BASE_SECONDS: '1' },
        maxRetries: 1,
        deadLetterConsumer: true,
      }),
      startWorker('console-disabled', { vars: { ROUTES: routes }, assets: true }),
      startWorker('console-direct', {
        adminToken: TOKEN,
        assets: true,
        deliveryQueue: false,
        vars: { ROUTES: [{ name: 'crm', url: directBackend.url, events: ['email.*'] },
          { name: 'analytics', url: analytics.url, events: ['email.clicked'] }] },
      }),
      launchBrowser(),
    ]);
    // Their three attempts each (a few seconds) run while the tests below do.
    for (const messageId of directFailing) {
      const name = directClicked.includes(messageId) ? 'email.clicked' : 'email.bounced';
      assert.equal((await direct.post(event(name, { messageId }))).status, 200);
    }
    // Events the tests look for: failures to replay, an event per family, the hostile body.
    for (const messageId of failing) {
      assert.equal((await worker.post(event('email.bounced', { messageId }))).status, 200);
    }
    const sms = event('sms.delivered', { messageId: id('sms') });
    assert.equal((await worker.post(sms)).status, 200);
    // A redelivery and a forgery, for the redeliveries column and the chart.
    assert.equal((await worker.post(sms)).json.status, 'duplicate');
    assert.equal((await worker.post(sms, { secret: 'not-the-webhook-secret' })).status, 401);
    assert.equal((await worker.post(event('whatsapp.read', { messageId: id('unrouted') }))).status, 200);
    assert.equal((await worker.post(event('subscriber.created', { messageId: HOSTILE.message_id, data: HOSTILE }))).status, 200);
    // A held delivery (SPEC §10): the row its record leaves (run on SQLite by tests/it),
    // as if analytics took this event and was paused before its first attempt; a
    // redelivery then writes the shard, which tells the directory it holds one.
    const held = event('whatsapp.delivered', { messageId: id('held') });
    assert.equal((await worker.post(held)).status, 200);
    await waitFor(async () => Boolean(await eventByMessageId(worker, id('held'))), { what: 'the event to hold in the log' });
    await worker.sql(`UPDATE events SET routes = json_object('analytics', json_object('status', 'pending', 'held', json('true'),
      'attempts', json_array())) WHERE message_id = '${id('held')}'`);
    assert.equal((await worker.post(held)).json.status, 'duplicate');
    await waitFor(async () => (await adminApi(worker, '/events?status=held')).events.length === 1, { what: 'the held event listed' });
    // Every delivery so far fails; wait until the log says so.
    await waitFor(async () => {
      const found = await Promise.all(failing.map((m) => eventByMessageId(worker, m)));
      return found.every((e) => e && e.status === 'failed');
    }, { timeoutMs: 60_000, intervalMs: 500, what: 'the failing deliveries to be recorded as failed' });
    mkdirSync(SHOTS, { recursive: true });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: worker.url });
    ({ page, record } = await watchedPage(context));
  }, { timeout: 180_000 });

  after(async () => {
    await browser?.close();
    await Promise.all([worker?.stop(), disabled?.stop(), direct?.stop()]);
    await Promise.all([backend?.close(), analytics?.close(), directBackend?.close()]);
  });

  test('the page is served with a strict CSP and frame-ancestors none', LIMIT, async () => {
    const response = await fetch(`${worker.url}/admin/`);
    assert.equal(response.status, 200);
    const csp = response.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(csp, /frame-ancestors 'none'/);
    await response.arrayBuffer();
  });

  test('sign-in: a wrong token is refused and says so, the right one shows the list', LIMIT, async () => {
    await page.goto(`${worker.url}/admin`);
    await page.locator('#token').fill('not-the-admin-token-but-long-enough-0000');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const error = page.locator('#token-error');
    await waitFor(async () => /refused/.test(await error.textContent()), { what: 'the refusal' });
    assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'a refused token is not kept');

    await page.locator('#token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('[data-testid=event-row]').first().waitFor();
    assert.equal(await page.evaluate(() => Object.values(sessionStorage).includes('console-e2e-admin-token-0123456789abcdef')), true);
    assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing in localStorage');
    // The token stays out of every URL the page asked for.
    assert.deepEqual(record.urls.filter((url) => url.includes(TOKEN)), []);
  });

  test('the list shows the events this test sent, with status and routes', LIMIT, async () => {
    for (const messageId of [...failing, id('sms'), id('unrouted')]) {
      await row(page, messageId).waitFor();
    }
    assert.match(await row(page, failing[0]).textContent(), /email\.bounced.*failed.*crm/s);
    assert.match(await row(page, id('unrouted')).textContent(), /unrouted.*no route/s);
    await waitFor(async () => /1$/.test((await row(page, id('sms')).textContent()).trim()), { what: 'the redelivery counted' });
    await page.screenshot({ path: join(SHOTS, 'list.png') });
  });

  test('filters: status, event pattern, route, message id and time window', LIMIT, async () => {
    const rows = page.locator('[data-testid=event-row]');
    const texts = async () => rows.allTextContents();
    const settle = (check, what) => waitFor(async () => check(await texts()), { what, timeoutMs: 10_000 });

    await page.getByLabel('Status', { exact: true }).selectOption('failed');
    await settle((t) => t.length === failing.length && t.every((r) => r.includes('failed')), 'only failed events');
    // Held: the event is pending, its delivery held, shown as a status of its own.
    await page.getByLabel('Status', { exact: true }).selectOption('held');
    await settle((t) => t.length === 1 && /whatsapp\.delivered.*pending.*analytics\s*held/s.test(t[0]), 'only the held event');
    assert.equal(await row(page, id('held')).locator('.chip.st-held').count(), 1);
    const detail = await openEvent(page, id('held'));
    assert.equal(await detail.locator('.delivery .badge.st-held').textContent(), 'held');
    await page.keyboard.press('Escape');
    await page.getByLabel('Status', { exact: true }).selectOption('');

    await page.getByLabel('Event', { exact: true }).fill('sms.*');
    await settle((t) => t.length === 1 && t[0].includes(id('sms')), 'only the sms event');
    await page.getByLabel('Event', { exact: true }).fill('');

    await page.getByLabel('Message id', { exact: true }).fill(id('unrouted'));
    await settle((t) => t.length === 1 && t[0].includes('whatsapp.read'), 'one message id');
    await page.getByLabel('Message id', { exact: true }).fill('');

    await page.getByLabel('Route', { exact: true }).fill('crm');
    await settle((t) => t.length === failing.length && t.every((r) => r.includes('email.bounced')), 'the crm route only');
    await page.getByLabel('Route', { exact: true }).fill('');

    await page.getByLabel('Received', { exact: true }).selectOption('custom');
    await page.getByLabel('To', { exact: true }).fill('2020-01-01T00:00');
    await settle((t) => t.length === 0, 'nothing before 2020');
    // The empty state says what to do: how to send an event.
    assert.match(await page.locator('[data-testid=empty]').textContent(), /No events received between.*npm run send -- email\.opened/s);
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await settle((t) => t.length >= 7, 'every event again');
  });

  test('opening an event: the body pretty-printed and each attempt with its response', LIMIT, async () => {
    const detail = await openEvent(page, failing[0]);
    assert.match(await detail.locator('h2').textContent(), /email\.bounced/);
    const body = detail.locator('ul.json');
    assert.match(await body.textContent(), new RegExp(`"message_id": "${failing[0]}"`));
    // Collapsible: the data node closes and opens.
    const dataNode = body.locator('details.j-node').nth(1);
    await dataNode.locator('summary').first().click();
    assert.equal(await dataNode.evaluate((el) => el.open), false);
    await dataNode.locator('summary').first().click();

    const delivery = detail.locator('.delivery').first();
    assert.match(await delivery.textContent(), /crm.*failed/s);
    const attempts = delivery.locator('.attempt');
    assert.ok(await attempts.count() >= 1);
    assert.match(await attempts.first().textContent(), /HTTP 500/);
    await attempts.first().locator('details.response summary').click();
    const response = await attempts.first().locator('details.response').textContent();
    assert.match(response, /x-backend.*console-e2e/s);
    assert.match(response, /backend down for maintenance <b>not html<\/b>/, 'the response body as text');
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(SHOTS, 'event.png') });

    // Copy: the webhook-id and the body as received, byte for byte.
    const webhookId = (await detail.locator('.fact', { hasText: 'webhook-id' }).locator('dd').textContent()).trim();
    await detail.getByRole('button', { name: 'Copy webhook-id' }).click();
    await waitFor(async () => /Copied the webhook-id/.test(await page.locator('[data-testid=notice]').textContent()), { what: 'the copy notice' });
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), webhookId);
    await detail.getByRole('button', { name: 'Copy body' }).click();
    const { body: received } = await adminApi(worker, `/events/${encodeURIComponent(webhookId)}`);
    await waitFor(async () => (await page.evaluate(() => navigator.clipboard.readText())) === received, { what: 'the body copied' });
  });

  test('replaying a failed event after its backend recovers shows it delivered', LIMIT, async () => {
    backend.healthy = true;
    const detail = page.locator('[data-testid=event-detail]');
    await detail.getByRole('button', { name: 'Replay to every route' }).click();
    await waitFor(async () => /Replaying to crm/.test(await page.locator('[data-testid=notice]').textContent()), { what: 'the replay notice' });
    await waitFor(async () => (await detail.locator('.detail-head .badge').textContent()) === 'delivered',
      { timeoutMs: 30_000, what: 'the event to show delivered' });
    const attempts = await detail.locator('.attempt').allTextContents();
    assert.match(attempts.at(-1), /delivered.*HTTP 200/s, 'the new attempt appears');
    await waitFor(async () => /delivered/.test(await row(page, failing[0]).locator('.badge').textContent()),
      { what: 'the list row to show delivered' });
    await page.keyboard.press('Escape');
  });

  test('an event body with markup, a script end tag and 10,000 characters shows as text', LIMIT, async () => {
    const before = await page.evaluate(() => ({ scripts: document.scripts.length, images: document.images.length }));
    const detail = await openEvent(page, HOSTILE.message_id);
    const body = detail.locator('ul.json');
    await body.waitFor();
    const text = await body.textContent();
    assert.ok(text.includes(JSON.stringify(HOSTILE.text)), 'the markup, as text');
    assert.ok(text.includes(JSON.stringify(HOSTILE.html)), 'the script end tag, as text');
    await detail.getByRole('button', { name: /show all 10,000 characters/ }).click();
    assert.ok((await body.textContent()).includes(HOSTILE.long));
    await detail.getByRole('button', { name: 'As received' }).click();
    assert.ok((await detail.getByLabel('Body as received').textContent()).includes('</script><script>'));
    // The message id holds markup too: the list row and the heading show it as text.
    assert.ok((await row(page, HOSTILE.message_id).textContent()).includes('<img src=x onerror=alert(1)>'));

    const after = await page.evaluate(() => ({
      scripts: document.scripts.length,
      images: document.images.length,
      bold: document.querySelectorAll('b').length,
      handlers: [...document.querySelectorAll('*')].filter((el) => [...el.attributes].some((a) => a.name.startsWith('on'))).length,
      pwned: window.__pwned ?? null,
    }));
    assert.deepEqual(after, { ...before, bold: 0, handlers: 0, pwned: null }, 'no element was created from the body');
    assert.deepEqual(record.dialogs, [], 'no dialog opened');
    assert.equal(await scrollsSideways(page), false, 'the layout holds: no sideways scroll');
    await page.keyboard.press('Escape');
  });

  test('keyboard only: open a failed event and replay it', LIMIT, async () => {
    const target = failing[1];
    await page.getByRole('heading', { name: /^Events/ }).waitFor();
    await page.evaluate(() => document.activeElement?.blur());
    // Tab from the top of the page to the event's button, as a keyboard user would.
    let reached = false;
    for (let i = 0; i < 200 && !reached; i += 1) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate((m) => document.activeElement?.getAttribute('aria-label')?.includes(m) ?? false, target);
    }
    assert.ok(reached, 'Tab reaches the event');
    await page.keyboard.press('Enter');
    const detail = page.locator('[data-testid=event-detail]');
    await detail.locator('.delivery').first().waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'detail-title', 'focus moves into the event');
    let onReplay = false;
    for (let i = 0; i < 30 && !onReplay; i += 1) {
      await page.keyboard.press('Tab');
      onReplay = await page.evaluate(() => document.activeElement?.textContent === 'Replay to every route');
    }
    assert.ok(onReplay, 'Tab reaches the replay button');
    await page.keyboard.press('Enter');
    await waitFor(async () => (await detail.locator('.detail-head .badge').textContent()) === 'delivered',
      { timeoutMs: 30_000, what: 'the keyboard replay to deliver' });
    await page.keyboard.press('Escape');
    assert.equal(await detail.count(), 0, 'Escape closes the event');
    assert.match(await page.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? ''), new RegExp(target),
      'focus returns to the row');
  });

  test('a click anywhere on a row opens its event: on its message id, on its time', LIMIT, async () => {
    const detail = page.locator('[data-testid=event-detail]');
    const opened = (messageId) => waitFor(async () => (await detail.count()) === 1
      && (await detail.locator('.facts').textContent()).includes(messageId), { what: `${messageId} open` });
    await row(page, id('sms')).locator('td[data-label="message id"]').click();
    await opened(id('sms'));
    assert.match(await detail.locator('h2').textContent(), /sms\.delivered/);
    await page.keyboard.press('Escape');
    assert.match(await page.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? ''), new RegExp(id('sms')),
      'focus goes to the row\'s button, the way back in by keyboard');
    await row(page, id('unrouted')).locator('td[data-label="received"] time').click();
    await opened(id('unrouted'));
    assert.match(await detail.locator('h2').textContent(), /whatsapp\.read/);
    await page.keyboard.press('Escape');
    assert.equal(await detail.count(), 0);
  });

  test('replay every failed event in the window, after a confirmation that counts them', LIMIT, async () => {
    await page.getByRole('button', { name: 'Replay failed…' }).click();
    const dialog = page.locator('[data-testid=replay-dialog]');
    await dialog.locator('[data-testid=replay-count]').waitFor();
    assert.match(await dialog.textContent(), /Replay 2 failed events/);
    await dialog.getByRole('button', { name: 'Replay 2 events' }).click();
    await waitFor(async () => /2 events sent to be delivered again/.test(await dialog.textContent()), { what: 'the bulk replay' });
    await dialog.getByRole('button', { name: 'Close' }).click();
    for (const messageId of failing.slice(2)) {
      await waitFor(async () => /delivered/.test(await row(page, messageId).locator('.badge').textContent()),
        { timeoutMs: 30_000, what: `${messageId} delivered` });
    }
  });

  test('counts per hour: the chart and its numbers', LIMIT, async () => {
    const legend = await page.locator('.legend').textContent();
    const accepted = Number(/accepted\s*(\d+)/.exec(legend)?.[1]);
    assert.ok(accepted >= 7, `accepted ${accepted}`);
    assert.ok(await page.locator('.chart-svg rect.s-accepted').count() >= 1);
  });

  test('the log\'s size and cost, and writes lost, are shown with the counts', LIMIT, async () => {
    const storage = page.locator('[data-testid=storage]');
    await storage.waitFor();
    const kept = (await adminApi(worker, '/stats')).storage;
    assert.ok(kept.events_kept >= 7 && kept.shards >= 1, JSON.stringify(kept));
    assert.match(await storage.textContent(), new RegExp(`log: [\\d.]+ (KB|MB|GB|bytes), \\d+ events in ${kept.shards} shards?`));
    assert.equal(await page.locator('[data-testid=lost]').count(), 0);
    // Writes the worker gave up on are counted in the log and said, never hidden (one
    // shard's count: each shard holds its own counts).
    const hour = Math.floor(Date.now() / 3_600_000) * 3600;
    await worker.sql(`INSERT INTO counts (hour, name, count) VALUES (${hour}, 'lost', 3)`, { one: true });
    await waitFor(async () => /3 log writes lost since/.test((await page.locator('[data-testid=lost]').textContent().catch(() => '')) ?? ''),
      { timeoutMs: 40_000, intervalMs: 250, what: 'the lost writes shown (the counts refresh every 30 s)' });
    await worker.sql(`DELETE FROM counts WHERE name = 'lost'`);
  });

  test('send a test event from the form and watch it arrive', LIMIT, async () => {
    await page.getByLabel('Event type', { exact: true }).selectOption('whatsapp.replied');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    const result = page.locator('[data-testid=send-result]');
    await waitFor(async () => /^200 accepted: whatsapp\.replied/.test(await result.textContent()), { what: 'the test answer' });
    const messageId = /message id (\S+),/.exec(await result.textContent())[1];
    await row(page, messageId).waitFor({ timeout: 15_000 });
  });

  test('a live refresh keeps the scroll position and the open event', LIMIT, async () => {
    const detail = await openEvent(page, id('sms'));
    await page.setViewportSize({ width: 1280, height: 600 });
    await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
    const scrolled = await page.evaluate(() => window.scrollY);
    assert.ok(scrolled > 0, 'the page scrolls');
    // An event arrives from elsewhere while the page sits there.
    const response = await fetch(`${worker.url}/admin/api/test`, {
      method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ event: 'sms.sent' }),
    });
    const { message_id: messageId } = await response.json();
    await row(page, messageId).waitFor({ state: 'attached', timeout: 15_000 });
    assert.ok(await page.evaluate(() => window.scrollY) >= scrolled, 'the scroll position was not reset');
    assert.match(await detail.locator('.facts').textContent(), new RegExp(id('sms')), 'the open event stays open');
    await page.keyboard.press('Escape');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  test('375 px wide: no sideways scroll, on the list and on an open event', LIMIT, async () => {
    const narrow = await browser.newContext({ viewport: { width: 375, height: 800 }, colorScheme: 'dark' });
    const { page: phone, record: phoneRecord } = await watchedPage(narrow);
    await signIn(phone, worker);
    assert.equal(await scrollsSideways(phone), false, 'the list');
    await phone.locator('#events-title').evaluate((heading) => heading.scrollIntoView());
    await phone.screenshot({ path: join(SHOTS, 'list-375.png') });
    await openEvent(phone, HOSTILE.message_id);
    assert.equal(await scrollsSideways(phone), false, 'the open event');
    await phone.screenshot({ path: join(SHOTS, 'event-375.png') });
    // Dark mode is dark: light text on a dark background.
    const [bg, fg] = await phone.evaluate(() => [getComputedStyle(document.body).backgroundColor, getComputedStyle(document.body).color]);
    const light = (rgb) => rgb.match(/\d+/g).slice(0, 3).reduce((a, b) => a + Number(b), 0) / 3;
    assert.ok(light(bg) < 60 && light(fg) > 180, `dark mode: ${bg} on ${fg}`);
    assert.deepEqual(phoneRecord.dialogs, []);
    await narrow.close();
  });

  test('a reload with the token in the tab lists events without signing in again', LIMIT, async () => {
    await page.reload();
    await page.locator('[data-testid=event-row]').first().waitFor();
    assert.equal(await page.locator('#token').count(), 0, 'no sign-in form');
    // The page marks when its first list was shown (what `npm run bench` times).
    assert.equal(await page.evaluate(() => performance.getEntriesByName('first-list').length), 1);
  });

  test('load older events: the next page follows the first, no event twice or missing', LIMIT, async () => {
    // More than the list's first page (50) in all.
    const more = Array.from({ length: 55 }, (_, i) => id(`older_${i}`));
    for (const messageId of more) {
      assert.equal((await worker.post(event('subscriber.updated', { messageId }))).status, 200);
    }
    const all = await waitFor(async () => {
      const { events } = await adminApi(worker, '/events?limit=200');
      const ids = new Set(events.map((e) => e.message_id));
      return more.every((m) => ids.has(m)) ? events : null;
    }, { timeoutMs: 30_000, intervalMs: 500, what: 'the 55 events in the log' });
    assert.ok(all.length > 50);
    const rows = page.locator('[data-testid=event-row]');
    const older = page.getByRole('button', { name: 'Load older events' });
    await waitFor(async () => (await rows.count()) === 50 && (await older.isVisible()), { what: 'a first page of 50, with older ones to load' });
    await older.click();
    await waitFor(async () => (await rows.count()) === all.length, { what: `all ${all.length} events listed` });
    const inOrder = async () => {
      const texts = await rows.allTextContents();
      return texts.length === all.length && all.every((e, i) => texts[i].includes(e.message_id));
    };
    assert.ok(await inOrder(), 'newest first, each event once, as the API lists them');
    assert.equal(await older.count(), 0, 'nothing older is left to load');
    // The next live refresh keeps the older page.
    const refresh = await page.waitForResponse((r) => r.url().includes('/admin/api/events'), { timeout: 15_000 });
    await refresh.finished();
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    assert.ok(await inOrder(), 'still every event after a live refresh');
    // Events arriving on top push the listed ones down; none of them vanishes.
    const arriving = [id('arriving_0'), id('arriving_1'), id('arriving_2')];
    for (const messageId of arriving) {
      assert.equal((await worker.post(event('subscriber.updated', { messageId }))).status, 200);
    }
    await waitFor(async () => (await rows.count()) === all.length + arriving.length,
      { what: `the ${arriving.length} new events above the ${all.length} listed` });
    const texts = await rows.allTextContents();
    assert.ok(arriving.every((m) => texts.slice(0, arriving.length).some((t) => t.includes(m))), 'the new events on top');
    assert.ok(all.every((e, i) => texts[arriving.length + i].includes(e.message_id)), 'the oldest rows still listed, in order');
    assert.equal(await older.count(), 0, 'nothing to load again');
  });

  test('the bulk replay counts what the replay takes (its dry run), not every failed event listed on the route', LIMIT, async () => {
    await waitFor(async () => (await adminApi(direct, '/events?status=failed&limit=200')).events.length === directFailing.length,
      { timeoutMs: 30_000, intervalMs: 500, what: 'the direct deliveries to crm recorded as failed' });
    ({ page: directPage, record: directRecord } = await watchedPage(context));
    await signIn(directPage, direct);
    // Failed events (on crm) that analytics delivered: listed under analytics, nothing to replay there.
    assert.equal((await adminApi(direct, '/events?status=failed&route=analytics')).events.length, directClicked.length);
    const dryRun = async (scope) => (await direct.admin('POST', '/admin/api/replay', { status: 'failed', ...scope, dry_run: true })).json.would_replay;
    assert.equal(await dryRun({ route: 'analytics' }), 0);
    const dialog = directPage.locator('[data-testid=replay-dialog]');
    await directPage.getByLabel('Route', { exact: true }).fill('analytics');
    await directPage.getByRole('button', { name: 'Replay failed…' }).click();
    await waitFor(async () => /nothing to replay/.test(await dialog.textContent()), { what: 'nothing to replay on analytics' });
    assert.match(await dialog.textContent(), /No failed event in the last 24 hours \(route analytics\)/);
    assert.equal(await dialog.locator('[data-testid=replay-count]').count(), 0);
    await dialog.getByRole('button', { name: 'Cancel' }).click();

    await directPage.getByLabel('Route', { exact: true }).fill('');
    const all = await dryRun({});
    assert.equal(all, directFailing.length);
    await directPage.getByRole('button', { name: 'Replay failed…' }).click();
    await dialog.locator('[data-testid=replay-count]').waitFor();
    assert.match(await dialog.textContent(), new RegExp(`Replay ${all} failed events`));
    await dialog.getByRole('button', { name: 'Cancel' }).click();
  });

  test('a bulk replay of more than one call goes on to the end: progress, Stop with what remains, Continue', LIMIT, async () => {
    directBackend.healthy = true;
    // The first replay call waits here until Stop is pressed, so the stop lands mid-run.
    let release;
    const held = new Promise((resolve) => { release = resolve; });
    let calls = 0;
    await directPage.route('**/admin/api/replay', async (route) => {
      if (!route.request().postDataJSON().dry_run && calls++ === 0) await held;
      await route.continue();
    });
    const dialog = directPage.locator('[data-testid=replay-dialog]');
    await directPage.getByRole('button', { name: 'Replay failed…' }).click();
    await dialog.getByRole('button', { name: 'Replay 15 events' }).click();
    const progress = dialog.locator('[data-testid=replay-progress]');
    await waitFor(async () => /Replayed 0 of 15 events/.test(await progress.textContent()), { what: 'the progress' });
    await dialog.getByRole('button', { name: 'Stop' }).click();
    await waitFor(async () => /Stopping after the current call/.test(await progress.textContent()), { what: 'the stop taken' });
    release();
    // Without a queue a call takes 12 deliveries: the other 3 stay failed, behind the cursor.
    const stopped = dialog.locator('[data-testid=replay-stopped]');
    await stopped.waitFor({ timeout: 20_000 });
    assert.match(await stopped.textContent(), /Stopped with 12 of 15 events replayed:\s*3 failed events not replayed yet/);
    await dialog.getByRole('button', { name: 'Continue: 3 events left' }).click();
    await waitFor(async () => /15 events sent to be delivered again/.test(await dialog.textContent()), { what: 'the rest replayed' });
    assert.equal(calls, 2, 'one call for 12 deliveries, one from its cursor for the rest');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await directPage.unroute('**/admin/api/replay');
    // Every event was delivered again, each exactly once, and none is failed now.
    await waitFor(async () => (await adminApi(direct, '/events?status=failed')).events.length === 0,
      { timeoutMs: 30_000, intervalMs: 500, what: 'no failed event left' });
    assert.deepEqual([...directBackend.delivered].sort(), [...directFailing].sort());
  });

  test('nothing broke the rules while the console ran: no dialog, error or CSP violation', LIMIT, () => {
    for (const [seen, origin] of [[record, worker.url], [directRecord, direct.url]]) {
      assert.deepEqual(seen.dialogs, []);
      assert.deepEqual(seen.errors, []);
      assert.deepEqual(seen.cspViolations, []);
      assert.deepEqual(seen.urls.filter((url) => url.includes(TOKEN)), []);
      assert.deepEqual(seen.urls.filter((url) => !url.startsWith(origin)), [], 'nothing from elsewhere');
    }
  });

  test('without ADMIN_TOKEN, /admin is a 404 page that says how to set it', LIMIT, async () => {
    const response = await fetch(`${disabled.url}/admin`, { headers: { accept: 'text/html' } });
    assert.equal(response.status, 404);
    assert.match(response.headers.get('content-type') ?? '', /text\/html/);
    await response.arrayBuffer();
    const off = await context.newPage();
    await off.goto(`${disabled.url}/admin`);
    assert.match(await off.locator('h1').textContent(), /disabled/);
    assert.match(await off.locator('main').textContent(), /wrangler secret put ADMIN_TOKEN/);
    await off.close();
  });

  test('every line the workers printed is one JSON object', LIMIT, () => everyLineWasJson());
});
