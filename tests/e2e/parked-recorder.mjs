// Test double of a resting place: a worker that consumes a parked queue and logs one
// JSON line per message it receives, then acks it. In production the parked queue has
// no consumer and keeps its messages; locally such a queue would drop them unseen.
// Logs what identifies a message, never its signature or body.
export default {
  async queue(batch) {
    for (const message of batch.messages) {
      console.log(JSON.stringify({
        parked: { queue: batch.queue, queue_message_id: message.id, attempts: message.attempts, ...describe(message.body) },
      }));
      message.ack();
    }
  },
};

/** A delivery's route, event and webhook-id; for anything else, what it is. */
function describe(body) {
  if (body instanceof Uint8Array) {
    const newline = body.indexOf(10);
    try {
      const { route, event, webhook_id } = JSON.parse(new TextDecoder().decode(body.subarray(0, newline)));
      return { kind: 'delivery', route, event, webhook_id };
    } catch {
      return { kind: 'unreadable', bytes: body.length };
    }
  }
  // A JSON payload (another producer's message): its event and LeadNest message id.
  return { kind: 'unreadable', event: body?.event, message_id: body?.data?.message_id };
}
