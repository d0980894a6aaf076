// @ts-check
// Reading a request body with a cap, and letting go of one the worker will not
// use. Past the cap reading stops and the rest is cancelled; `drain` reads it out
// instead (under `wrangler dev`, whose proxy breaks the next request after an
// early answer), at most DRAIN_LIMIT bytes, so an endless body cannot keep a
// worker reading.
import { BodyResult, UnreadBody } from './glue/index.js';

export const DRAIN_LIMIT = 16 << 20;

/**
 * Reads at most `limit` bytes. `declared`: a Content-Length within the limit was sent.
 * @param {Request} request
 * @param {number} limit
 * @param {boolean} declared
 * @param {boolean} drain
 * @returns {Promise<{ result: BodyResult, bytes: Uint8Array }>}
 */
export async function readCapped(request, limit, declared, drain) {
  const empty = new Uint8Array(0);
  // A declared length bounds the read (the runtime frames the body by it), so one
  // read is safe and the fastest path.
  if (declared) {
    try {
      const bytes = new Uint8Array(await request.arrayBuffer());
      return bytes.byteLength > limit ? { result: BodyResult.TooLarge, bytes: empty } : { result: BodyResult.Complete, bytes };
    } catch {
      return { result: BodyResult.Broken, bytes: empty };
    }
  }
  if (request.body === null) return { result: BodyResult.Complete, bytes: empty };
  const reader = request.body.getReader();
  /** @type {Uint8Array[]} */
  const chunks = [];
  let seen = 0;
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch {
      // Already too large: a broken rest changes nothing.
      return { result: seen > limit ? BodyResult.TooLarge : BodyResult.Broken, bytes: empty };
    }
    if (chunk.done) break;
    seen += chunk.value.byteLength;
    if (seen > limit) {
      chunks.length = 0;
      if (!drain || seen > DRAIN_LIMIT) {
        await settle(reader.cancel());
        return { result: BodyResult.TooLarge, bytes: empty };
      }
    } else {
      chunks.push(chunk.value);
    }
  }
  if (seen > limit) return { result: BodyResult.TooLarge, bytes: empty };
  const bytes = new Uint8Array(seen);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return { result: BodyResult.Complete, bytes };
}

/**
 * Lets go of a body the worker will not read, as the core says.
 * @param {Request} request
 * @param {UnreadBody} unread
 */
export async function discard(request, unread) {
  if (unread === UnreadBody.Cancel && request.body !== null) {
    await settle(request.body.cancel());
  } else if (unread === UnreadBody.Drain) {
    await readCapped(request, 0, false, true);
  }
}

// A cancellation's rejection left unawaited would be printed by the runtime as
// a line that is not one of ours.
/** @param {Promise<unknown>} promise */
async function settle(promise) {
  try { await promise; } catch { /* nothing to do */ }
}
