// @ts-check
// Deliveries: performs each need the core's DeliveryTask returns (the POST, a
// wait, the event log's write, ack or retry). Which route, which timeout, what
// counts as delivered and what comes next are the core's.
import * as core from './glue/index.js';
import { later, write } from './event-log.mjs';
import { healthObject, why } from './route-health-object.mjs';

const { DeliveryStep, HealthWarning } = core;

/**
 * One POST, and the start of the answer, within the need's timeout; reported to the task.
 * @param {core.DeliveryTask} task
 * @param {Extract<core.DeliveryNeed, { step: core.DeliveryStep.Attempt }>} need
 * @returns {Promise<core.DeliveryNeed>}
 */
export async function attempt(task, need) {
  const started = Date.now();
  const headers = new Headers();
  try {
    for (const [name, value] of need.headers) headers.set(name, value);
  } catch {
    return task.no_answer('header not accepted', started, Date.now() - started, Date.now());
  }
  const controller = new AbortController();
  /** @type {any} */
  let timer;
  /** @type {Promise<'timeout'>} */
  const deadline = new Promise((resolve) => { timer = setTimeout(() => resolve('timeout'), need.timeout_ms); });
  try {
    // Following a redirect would turn the POST into a GET elsewhere, send the
    // signatures to another URL and count that URL's 2xx as delivered.
    const sent = fetch(need.url, {
      method: 'POST', headers, body: need.body, redirect: 'manual', signal: controller.signal,
    }).then((response) => response, () => 'network error');
    const response = await Promise.race([sent, deadline]);
    if (typeof response === 'string') {
      controller.abort();
      return task.no_answer(response, started, Date.now() - started, Date.now());
    }
    // An unread body holds one of the invocation's six connections until the
    // invocation ends: keep its start, cancel the rest, within the same deadline.
    const { bytes, error } = await keepStart(response, need.keep_bytes, deadline, controller);
    return task.answered(response.status, [...response.headers], bytes, error, started, Date.now() - started, Date.now());
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The first `keep` bytes of an answer's body, the rest cancelled.
 * @param {Response} response
 * @param {number} keep
 * @param {Promise<'timeout'>} deadline
 * @param {AbortController} controller
 * @returns {Promise<{ bytes: Uint8Array, error?: string }>}
 */
async function keepStart(response, keep, deadline, controller) {
  if (response.body === null) return { bytes: new Uint8Array(0) };
  const reader = response.body.getReader();
  const kept = new Uint8Array(keep);
  let length = 0;
  const read = (async () => {
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) return 'end';
      const take = Math.min(keep - length, chunk.value.byteLength);
      kept.set(chunk.value.subarray(0, take), length);
      length += take;
      if (length === keep) return 'full';
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

/** @param {number} ms */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Prints a need's lines and runs its flush loop; writes its log, telling the
 * task when that failed (which may change what comes next).
 * @param {core.DeliveryTask} task
 * @param {core.DeliveryNeed} need
 * @param {any} env
 * @param {{ waitUntil(promise: Promise<unknown>): void }} ctx
 */
async function logged(task, need, env, ctx) {
  for (const line of need.lines) console.log(line);
  later(env, ctx, need.flush);
  if (need.log === undefined || (await write(env, need.log))) return need;
  const next = task.log_unwritten(Date.now());
  later(env, ctx, next.flush);
  return next;
}

/**
 * A delivery after the answer (no DELIVERY_QUEUE): attempts and waits until the core says stop, each attempt logged as it ends.
 * @param {core.DeliveryStart} start
 * @param {any} env
 * @param {ExecutionContext} ctx
 */
export async function runDirect({ task, need }, env, ctx) {
  try {
    for (;;) {
      need = await logged(task, need, env, ctx);
      if (need.step === DeliveryStep.Attempt) {
        need = await attempt(task, need);
      } else if (need.step === DeliveryStep.Wait) {
        await sleep(need.ms);
        need = task.waited(Date.now());
      } else return;
    }
  } finally {
    task.free();
  }
}

/**
 * A held delivery its route's drain sends: attempted, its log written.
 * Returns the settling need (its `report` says how the attempt went) and,
 * when it failed, the queue message that sends it again, counting on from
 * the attempts it made.
 * @param {any} env
 * @param {{ waitUntil(promise: Promise<unknown>): void }} ctx
 * @param {Uint8Array} message
 * @param {number} attempts
 * @param {boolean} probe the probe of a tripped route: if it fails, it stays held
 * @returns {Promise<{ need: Extract<core.DeliveryNeed, { step: core.DeliveryStep.Settle }>, again?: Uint8Array }>}
 */
export async function performHeld(env, ctx, message, attempts, probe) {
  let { task, need } = core.DeliveryTask.drained(env, message, attempts, probe, Date.now());
  try {
    while (need.step === DeliveryStep.Attempt) need = await attempt(task, need);
    // A run never waits under a queue: its last need settles it.
    const settled = /** @type {any} */ (await logged(task, need, env, ctx));
    return { need: settled, again: settled.report?.delivered === true ? undefined : task.requeued() };
  } finally {
    task.free();
  }
}

/**
 * Asks each guarded route's health, once a route, whether its deliveries may
 * go now: each entry's need becomes its attempt, or the settling of a
 * delivery the route now holds. When a route's object cannot be asked, its
 * deliveries are kept for a retry, on the core's schedule.
 * @param {{ message: Message<unknown>, body: Uint8Array | undefined, task: core.DeliveryTask, need: core.DeliveryNeed }[]} entries
 * @param {any} env
 * @param {number} now
 */
async function admit(entries, env, now) {
  /** @type {Map<string, typeof entries>} */
  const byRoute = new Map();
  for (const entry of entries) {
    const route = entry.need.step === DeliveryStep.Attempt ? entry.need.guard : undefined;
    if (route !== undefined && entry.body !== undefined) byRoute.set(route, [...(byRoute.get(route) ?? []), entry]);
  }
  await Promise.all([...byRoute].map(async ([route, guarded]) => {
    /** @type {boolean[] | undefined} */
    let go;
    try {
      go = await healthObject(env, route).admit(route, now, guarded.map((entry) =>
        ({ message: /** @type {Uint8Array} */ (entry.body), attempt: entry.message.attempts ?? 1 })));
    } catch (error) {
      unreachable(route, error);
    }
    guarded.forEach((entry, i) => {
      entry.need = go === undefined ? entry.task.unadmitted(now)
        : go[i] ? entry.task.admitted(now) : entry.task.held(now);
    });
  }));
}

/**
 * Prints that the route's health object could not be asked.
 * @param {string} route
 * @param {unknown} error
 */
function unreachable(route, error) {
  console.error(core.health_warning(HealthWarning.Unreachable, route, why(error), 0, 0).line);
}

/**
 * Tells each route's health what its deliveries came to: attempts in the
 * order they ended, and dead letters once logged.
 * @param {core.HealthReport[]} reports
 * @param {any} env
 * @param {number} now
 */
async function tell(reports, env, now) {
  /** @type {Map<string, { outcomes: number[], failure?: string, dead: number }>} */
  const byRoute = new Map();
  for (const report of reports) {
    const route = byRoute.get(report.route) ?? { outcomes: [], dead: 0 };
    if (report.delivered !== undefined) route.outcomes.push(report.delivered ? 1 : 0);
    if (report.failure !== undefined) route.failure = report.failure;
    if (report.dead_lettered) route.dead += 1;
    byRoute.set(report.route, route);
  }
  await Promise.all([...byRoute].map(async ([route, { outcomes, failure, dead }]) => {
    try {
      const object = healthObject(env, route);
      if (outcomes.length > 0) await object.settle(route, now, Uint8Array.from(outcomes), failure);
      if (dead > 0) await object.failed(route, now, dead);
    } catch (error) {
      unreachable(route, error);
    }
  }));
}

/**
 * The queue handler: one attempt per message, then ack or retry as the core
 * decided. A message leaves the queue only by ack or by the platform moving it
 * to the dead-letter queue once max_retries is spent; a handler that returns
 * normally acks every message it did not retry, so when a retry cannot be
 * recorded the handler fails and the batch comes back.
 * @param {MessageBatch<unknown>} batch
 * @param {any} env
 * @param {ExecutionContext} ctx
 */
export async function consume(batch, env, ctx) {
  const now = Date.now();
  const entries = batch.messages.map((message) => {
    // Only bytes can be a delivery: `new Uint8Array(x)` of another producer's
    // object would read its `length`, however large.
    const body = message.body instanceof Uint8Array ? message.body
      : message.body instanceof ArrayBuffer ? new Uint8Array(message.body) : undefined;
    return { message, body, ...core.DeliveryTask.queued(env, body, message.attempts ?? 1, batch.queue, message.id, now) };
  });
  await admit(entries, env, now);
  /** @type {core.HealthReport[]} */
  const reports = [];
  const handled = await Promise.all(entries.map(async ({ message, task, need }) => {
    while (need.step === DeliveryStep.Attempt) need = await attempt(task, need);
    for (const line of need.lines) console.log(line);
    later(env, ctx, need.flush);
    // In the order the attempts ended: the breaker counts consecutive failures.
    if (need.step === DeliveryStep.Settle && need.report !== undefined && !need.report.dead_lettered) reports.push(need.report);
    return { message, task, need };
  }));
  // The batch's log, one write a shard, the shards at once.
  /** @type {Map<string, core.Statement[]>} */
  const shards = new Map();
  for (const { need } of handled) {
    if (need.log !== undefined) shards.set(need.log.shard, [...(shards.get(need.log.shard) ?? []), ...need.log.statements]);
  }
  const written = new Map(await Promise.all([...shards].map(async ([shard, statements]) =>
    /** @type {const} */ ([shard, await write(env, { shard, statements: core.log_merge(statements) })]))));
  const settled = handled.map(({ message, task, need: last }) => {
    /** @type {core.DeliveryNeed} */
    let need = last;
    try {
      // A dead letter leaves its queue only once the log holds it; the core
      // says when to try again. An attempt's record is counted lost.
      if (need.log !== undefined && !written.get(need.log.shard)) {
        need = task.log_unwritten(Date.now());
        later(env, ctx, need.flush);
      }
    } finally {
      task.free();
    }
    // Only what the core settled as delivered is acked: anything else comes back.
    if (need.step === DeliveryStep.Settle && need.retry_seconds === undefined) {
      if (need.report?.dead_lettered) reports.push(need.report);
      // One the platform fails to ack is acked when the handler returns.
      try { message.ack(); } catch { /* acked on return */ }
      return true;
    }
    try {
      message.retry(need.step === DeliveryStep.Settle ? { delaySeconds: need.retry_seconds } : {});
      return true;
    } catch {
      return false;
    }
  });
  await tell(reports, env, Date.now());
  const unsettled = settled.filter((done) => !done).length;
  if (unsettled > 0) {
    console.error(core.unsettled(batch.queue, unsettled));
    throw new Error('queue messages left unsettled; the batch is retried');
  }
}
