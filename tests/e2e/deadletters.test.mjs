// SPEC section 5, Delivery: nothing ends in a silent delete. A delivery that cannot be
// made waits on the backoff schedule, moves to the dead-letter queue, and — drained as
// docs/delivery.md says while it still fails — comes to rest in the parked queue.
//
// One workerd runs three workers on shared local queues: the ingress, with routes
// `down` (a backend answering 500), `gone` and `junk` (a queue route that drops a
// payload into the delivery queue, which no delivery reads); the consumer, the same
// bundle deployed without the route `gone`, which consumes the delivery queue and drains
// the dead-letter queue into `-parked`; and a recorder standing in for the parked queue.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { event, startWorker, waitFor, everyLineWasJson } from './harness.mjs';
import { startBackend } from '../../tools/backend.mjs';

const quiet = () => {};
const RUN = Date.now().toString(36);
const QUEUES = {
  deliveries: 'e2e-dead-letters-deliveries',
  deadLetters: 'e2e-dead-letters-dead-letters',
  parked: 'e2e-dead-letters-parked',
};
// Delivery queue: max_retries 1 (two attempts). The drain: max_retries 4 (five). Base 1 s.
const SCHEDULE = [1, 2, 1, 2, 4, 8, 16];
const moved = (from, to) => new RegExp(`Moving message "\\w+" on queue "${from}" to dead letter queue "${to}"`, 'g');
const count = (text, pattern) => (text.match(pattern) ?? []).length;

describe('the dead-letter path ends in the parked queue, never in a delete', () => {
  let worker;
  let down;
  let gone;
  const answers = {};

  before(async () => {
    down = await startBackend({ port: 0, status: 500, log: quiet });
    gone = await startBackend({ port: 0, log: quiet });
    // Without the event log the dead-letter consumer attempts again (the drain);
    // with it, it records the failure instead (event-log.test.mjs).
    worker = await startWorker('dead-letters', {
      events: false,
      maxRetries: 1,
      deadLetterConsumer: true,
      parkedRecorder: true,
      vars: {
        DELIVERY_RETRY_BASE_SECONDS: '1',
        ROUTES: [
          { name: 'down', url: down.url, events: ['sms.*'] },
          { name: 'gone', url: gone.url, events: ['email.*'] },
          { name: 'junk', queue: 'JUNK_QUEUE', events: ['whatsapp.*'] },
        ],
      },
      queues: { JUNK_QUEUE: QUEUES.deliveries },
      consumerVars: {
        DELIVERY_RETRY_BASE_SECONDS: '1',
        ROUTES: [{ name: 'down', url: down.url, events: ['sms.*'] }],
      },
    });
    // All three go in together, as events do; each test follows one.
    answers.down = await worker.post(event('sms.failed', { messageId: `msg_${RUN}_down` }));
    answers.gone = await worker.post(event('email.opened', { messageId: `msg_${RUN}_gone` }));
    answers.junk = await worker.post(event('whatsapp.sent', { messageId: `msg_${RUN}_junk` }));
  });
  after(async () => {
    await worker?.stop();
    await Promise.all([down?.close(), gone?.close()]);
  });

  const parked = (predicate) => worker.logs.map((line) => line.parked).filter((p) => p && predicate(p));
  const attempts = (route) => worker.deliveries().filter((line) => line.route === route);

  test('a backend down past max_retries: dead-letter queue, then, drained while still down, parked', async () => {
    assert.deepEqual(answers.down.json.routes, ['down']);
    const [rest] = await waitFor(() => {
      const found = parked((p) => p.route === 'down');
      return found.length > 0 && found;
    }, { timeoutMs: 90_000, what: 'the delivery in the parked queue' });
    assert.equal(rest.kind, 'delivery');
    assert.equal(rest.queue, QUEUES.parked);
    // Two attempts from the delivery queue, five from the drain, each on the schedule.
    const lines = attempts('down');
    assert.deepEqual(lines.map((l) => [l.attempt, l.outcome, l.status, l.retry_in_seconds]),
      SCHEDULE.map((delay, i) => [i < 2 ? i + 1 : i - 1, 'retry', 500, delay]));
    assert.ok(lines.every((l) => l.webhook_id === rest.webhook_id));
    assert.equal(down.received.length, SCHEDULE.length);
    assert.ok(count(worker.output, moved(QUEUES.deliveries, QUEUES.deadLetters)) >= 1);
    assert.ok(count(worker.output, moved(QUEUES.deadLetters, QUEUES.parked)) >= 1);
    // wrangler says "Dropped message" when a message spends its retries with no dead-letter queue.
    assert.doesNotMatch(worker.output, /Dropped message/);
  });

  test('a delivery whose route was removed waits on the schedule, then rests parked; nothing is acked', async () => {
    assert.deepEqual(answers.gone.json.routes, ['gone']);
    const [rest] = await waitFor(() => {
      const found = parked((p) => p.route === 'gone');
      return found.length > 0 && found;
    }, { timeoutMs: 90_000, what: 'the delivery for the removed route in the parked queue' });
    assert.equal(rest.event, 'email.opened');
    // Not spent at zero delay: every try is logged with the wait before the next.
    const lines = attempts('gone');
    assert.deepEqual(lines.map((l) => [l.outcome, l.error, l.retry_in_seconds]),
      SCHEDULE.map((delay) => ['retry', 'route no longer configured', delay]));
    assert.ok(lines.every((l) => l.webhook_id === rest.webhook_id));
    assert.equal(gone.received.length, 0, 'the consumer no longer knows the route');
    assert.doesNotMatch(worker.output, /Dropped message/);
  });

  test('a message that is not a delivery waits on the schedule, then rests parked', async () => {
    assert.deepEqual(answers.junk.json.routes, ['junk']);
    const [rest] = await waitFor(() => {
      const found = parked((p) => p.message_id === `msg_${RUN}_junk`);
      return found.length > 0 && found;
    }, { timeoutMs: 90_000, what: 'the unreadable message in the parked queue' });
    assert.deepEqual([rest.kind, rest.event], ['unreadable', 'whatsapp.sent']);
    const lines = worker.logs.filter((line) => line.warning === 'malformed_delivery');
    assert.deepEqual(lines.map((l) => [l.queue, l.outcome, l.retry_in_seconds]),
      SCHEDULE.map((delay, i) => [i < 2 ? QUEUES.deliveries : QUEUES.deadLetters, 'retry', delay]));
    assert.deepEqual(lines.map((l) => l.attempt), [1, 2, 1, 2, 3, 4, 5]);
    // Each line names the one message (its id survives the moves), never its content.
    assert.ok(lines.every((l) => l.queue_message_id === rest.queue_message_id && !JSON.stringify(l).includes(RUN)));
    assert.doesNotMatch(worker.output, /Dropped message/);
  });
});

test('every line its workers printed is one JSON object (SPEC section 6)', everyLineWasJson);
