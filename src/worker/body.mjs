// Reading a request body with a cap, and letting go of one the worker will not
// use. Past the cap reading stops and the rest is cancelled; `drain` reads it out
// instead (under `wrangler dev`, whose proxy breaks the next request after an
// early answer), at most DRAIN_LIMIT bytes, so an endless body cannot keep a
// worker reading.

export const DRAIN_LIMIT = 16 << 20;

/** What reading gave, as IngressTask.body_read takes it. */
export const COMPLETE = 0;
export const TOO_LARGE = 1;
export const BROKEN = 2;

/** Reads at most `limit` bytes: `{ result, bytes }`. `declared`: a Content-Length within the limit was sent. */
export async function readCapped(request, limit, declared, drain) {
  // A declared length bounds the read (the runtime frames the body by it), so one
  // read is safe and the fastest path.
  if (declared) {
    try {
      const bytes = new Uint8Array(await request.arrayBuffer());
      return bytes.byteLength > limit ? { result: TOO_LARGE } : { result: COMPLETE, bytes };
    } catch {
      return { result: BROKEN };
    }
  }
  if (request.body === null) return { result: COMPLETE, bytes: new Uint8Array(0) };
  const reader = request.body.getReader();
  const chunks = [];
  let seen = 0;
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch {
      // Already too large: a broken rest changes nothing.
      return { result: seen > limit ? TOO_LARGE : BROKEN };
    }
    if (chunk.done) break;
    seen += chunk.value.byteLength;
    if (seen > limit) {
      chunks.length = 0;
      if (!drain || seen > DRAIN_LIMIT) {
        await settle(reader.cancel());
        return { result: TOO_LARGE };
      }
    } else {
      chunks.push(chunk.value);
    }
  }
  if (seen > limit) return { result: TOO_LARGE };
  const bytes = new Uint8Array(seen);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return { result: COMPLETE, bytes };
}

/** Lets go of a body the worker will not read: 1 cancel, 2 drain (Reply.unread). */
export async function discard(request, unread) {
  if (unread === 1 && request.body !== null) {
    await settle(request.body.cancel());
  } else if (unread === 2) {
    await readCapped(request, 0, false, true);
  }
}

// A cancellation's rejection left unawaited would be printed by the runtime as
// a line that is not one of ours.
async function settle(promise) {
  try { await promise; } catch { /* nothing to do */ }
}
