// Deliveries: performs each step the core's DeliveryTask asks for (the POST, a
// wait, ack or retry). Which route, which timeout, what counts as delivered and
// what comes next are the core's.
import * as core from './glue/index.js';
import { later, write } from './journal.mjs';

const ATTEMPT = 0, WAIT = 1;
const ACK = 0, RETRY = 1;
/** How much of an answer's body is read; the core keeps no more. */
const KEPT_BYTES = core.DeliveryTask.kept_bytes();

/** One POST, and the start of the answer, within the task's timeout. */
async function attempt(task) {
  const started = Date.now();
  const list = task.headers(started);
  const headers = new Headers();
  try {
    for (let i = 0; i < list.length; i += 2) headers.set(list[i], list[i + 1]);
  } catch {
    return task.no_answer('header not accepted', started, Date.now() - started);
  }
  const controller = new AbortController();
  let timer;
  const deadline = new Promise((resolve) => { timer = setTimeout(() => resolve('timeout'), task.timeout_ms()); });
  try {
    // Following a redirect would turn the POST into a GET elsewhere, send the
    // signatures to another URL and count that URL's 2xx as delivered.
    const sent = fetch(task.url(), {
      method: 'POST', headers, body: task.body(), redirect: 'manual', signal: controller.signal,
    }).then((response) => response, () => 'network error');
    const response = await Promise.race([sent, deadline]);
    if (typeof response === 'string') {
      controller.abort();
      return task.no_answer(response, started, Date.now() - started);
    }
    const names = [];
    for (const [name, value] of response.headers) names.push(name, value);
    // An unread body holds one of the invocation's six connections until the
    // invocation ends: keep its start, cancel the rest, within the same deadline.
    const { bytes, error } = await keepStart(response, deadline, controller);
    task.answered(response.status, names, bytes, error, started, Date.now() - started);
  } finally {
    clearTimeout(timer);
  }
}

async function keepStart(response, deadline, controller) {
  if (response.body === null) return { bytes: new Uint8Array(0) };
  const reader = response.body.getReader();
  const kept = new Uint8Array(KEPT_BYTES);
  let length = 0;
  const read = (async () => {
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) return 'end';
      const take = Math.min(KEPT_BYTES - length, chunk.value.byteLength);
      kept.set(chunk.value.subarray(0, take), length);
      length += take;
      if (length === KEPT_BYTES) return 'full';
    }
  })().catch(() => 'read error');
  const ended = await Promise.race([read, deadline]);
  if (ended !== 'end') {
    if (ended === 'timeout') controller.abort();
    reader.cancel().catch(() => {});
  }
  const error = ended === 'timeout' || ended === 'read error' ? ended : undefined;
  return { bytes: kept.subarray(0, length), error };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function print(task) {
  for (const line of task.lines()) console.log(line);
}

/**
 * Writes the task's journal; one still unwritten after the last try is counted lost by the
 * core. The deliveries it settled join the isolate's pending counts.
 */
async function journal(task, env, ctx) {
  if (!(await write(env, task.journal()))) later(env, ctx, task.journal_unwritten(Date.now()));
  later(env, ctx, task.keep_counts(Date.now()));
}

/** A delivery after the answer (no DELIVERY_QUEUE): attempts and waits until the core says stop, each attempt logged as it ends. */
export async function runDirect(task, env, ctx) {
  for (;;) {
    const step = task.step();
    if (step === ATTEMPT) {
      await attempt(task);
      await journal(task, env, ctx);
    } else if (step === WAIT) {
      print(task);
      await sleep(task.wait_seconds() * 1000);
      task.waited();
    } else break;
  }
  print(task);
  await journal(task, env, ctx);
  task.free();
}

/**
 * The queue handler: one attempt per message, then ack or retry as the core
 * decided. A message leaves the queue only by ack or by the platform moving it
 * to the dead-letter queue once max_retries is spent; a handler that returns
 * normally acks every message it did not retry, so when a retry cannot be
 * recorded the handler fails and the batch comes back.
 */
export async function consume(batch, env, ctx) {
  const now = Date.now();
  const handled = await Promise.all(batch.messages.map(async (message) => {
    // Only bytes can be a delivery: `new Uint8Array(x)` of another producer's
    // object would read its `length`, however large.
    const body = message.body instanceof Uint8Array ? message.body
      : message.body instanceof ArrayBuffer ? new Uint8Array(message.body) : undefined;
    const task = core.DeliveryTask.queued(env, body, message.attempts ?? 1, batch.queue, message.id, now);
    while (task.step() === ATTEMPT) await attempt(task);
    print(task);
    return { message, task, journal: task.journal() };
  }));
  // The batch's log, one write a shard, the shards at once.
  const shards = new Map();
  for (const outcome of handled) {
    if (outcome.journal === undefined) continue;
    const [shard, statements] = outcome.journal;
    shards.set(shard, [...(shards.get(shard) ?? []), ...statements]);
  }
  const written = new Map(await Promise.all([...shards]
    .map(async ([shard, statements]) => [shard, await write(env, [shard, core.journal_merge(statements)])])));
  const settled = handled.map(({ message, task, journal }) => {
    // A dead letter leaves its queue only once the log holds it; the core
    // says when to try again. An attempt's record is counted lost.
    if (journal !== undefined && !written.get(journal[0])) later(env, ctx, task.journal_unwritten(Date.now()));
    later(env, ctx, task.keep_counts(Date.now()));
    const decision = task.decision();
    const delaySeconds = task.delay_seconds();
    task.free();
    // The queue policy never rests a message itself (the platform does, through
    // max_retries and the dead-letter queue): anything but an ack is retried.
    if (decision === ACK) {
      // One the platform fails to ack is acked when the handler returns.
      try { message.ack(); } catch { /* acked on return */ }
      return true;
    }
    try {
      message.retry({ delaySeconds });
      return true;
    } catch {
      return false;
    }
  });
  const unsettled = settled.filter((done) => !done).length;
  if (unsettled > 0) {
    console.error(core.unsettled(batch.queue, unsettled));
    throw new Error('queue messages left unsettled; the batch is retried');
  }
}
