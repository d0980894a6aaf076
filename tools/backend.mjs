// A stand-in for a customer's backend: receives the worker's forwarded deliveries, checks
// their Standard Webhooks signature, and can fail on purpose so retries can be watched.
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';
import { CliError, intOption, isMain, parseCliArgs, readDevVar, runCli } from './lib/leadnest.mjs';

export const DEFAULT_PORT = 8788;

const USAGE = `Usage: npm run backend -- [options]

A local HTTP backend on 127.0.0.1 that prints one line per delivery: time, event,
webhook-id, and whether the Standard Webhooks signature is verified, INVALID or unsigned.

Options:
  --port N           port to listen on (default ${DEFAULT_PORT}; 0 picks a free one)
  --secret whsec_..  signing secret (default: LOCAL_BACKEND_SIGNING_SECRET from .dev.vars,
                     else .dev.vars.example)
  --fail-first N     answer the first N requests with --status, then 200
  --status S         the failure status (default 503); alone, every request fails with it
  --delay-ms MS      wait this long before answering
  --help             show this help`;

const OPTIONS = {
  port: { type: 'string' },
  secret: { type: 'string' },
  'fail-first': { type: 'string' },
  status: { type: 'string' },
  'delay-ms': { type: 'string' },
  help: { type: 'boolean', default: false },
};

/** true / false for a checked signature, null when unsigned or when there is no secret to check with. */
function checkSignature(webhook, body, headers) {
  if (!headers['webhook-signature'] || !webhook) return null;
  try {
    webhook.verify(body, headers, { jsonParse: false });
    return true;
  } catch {
    return false;
  }
}

function signatureLabel(verified, headers) {
  if (!headers['webhook-signature']) return 'unsigned';
  if (verified === null) return 'unchecked (no secret)';
  return verified ? 'verified' : 'INVALID';
}

/**
 * Starts the backend. Resolves to { url, port, received, close() }; `received` collects
 * { method, path, headers, body (Buffer), verified (true | false | null) } per request.
 * Requests fail with `status` while fewer than `failFirst` have arrived; with `status`
 * and no `failFirst`, all of them fail.
 */
export async function startBackend({
  port = DEFAULT_PORT, host = '127.0.0.1', secret, failFirst, status, delayMs = 0, log = console.log,
} = {}) {
  let webhook = null;
  if (secret) {
    try {
      webhook = new Webhook(secret);
    } catch {
      throw new CliError('the signing secret is not a Standard Webhooks secret (whsec_ + base64)', 2);
    }
  }
  const failStatus = status ?? 503;
  const failures = failFirst ?? (status === undefined ? 0 : Infinity);
  const received = [];
  const attempts = new Map(); // webhook-id -> deliveries seen, to make retries visible

  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const { headers } = req;
    const verified = checkSignature(webhook, body, headers);
    received.push({ method: req.method, path: req.url, headers, body, verified });

    const answer = received.length <= failures ? failStatus : 200;
    const id = headers['webhook-id'];
    const attempt = id ? (attempts.get(id) ?? 0) + 1 : 1;
    if (id) attempts.set(id, attempt);
    log([
      new Date().toISOString(),
      req.method === 'POST' ? '' : req.method,
      headers['x-leadnest-event'] ?? '(no event)',
      id ?? '(no webhook-id)',
      signatureLabel(verified, headers),
      attempt > 1 ? `attempt ${attempt}` : '',
      `-> ${answer}`,
    ].filter(Boolean).join('  '));

    if (delayMs > 0) await sleep(delayMs);
    res.writeHead(answer, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer === 200 ? { ok: true } : { ok: false, error: 'simulated failure' }));
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  }).catch((err) => {
    if (err.code === 'EADDRINUSE') throw new CliError(`port ${port} is in use: pass --port`);
    throw err;
  });
  const actualPort = server.address().port;
  return {
    url: `http://${host}:${actualPort}`,
    port: actualPort,
    received,
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** The CLI: starts the backend and keeps running until interrupted. */
export async function main(argv, log = console.log) {
  const { values } = parseCliArgs(argv, OPTIONS);
  if (values.help) {
    log(USAGE);
    return 0;
  }
  const secret = values.secret ?? readDevVar('LOCAL_BACKEND_SIGNING_SECRET');
  const backend = await startBackend({
    port: intOption(values.port, 'port', { max: 65535, fallback: DEFAULT_PORT }),
    secret,
    failFirst: intOption(values['fail-first'], 'fail-first'),
    status: intOption(values.status, 'status', { min: 200, max: 599 }),
    delayMs: intOption(values['delay-ms'], 'delay-ms', { fallback: 0 }),
    log,
  });
  log(`backend listening on ${backend.url} (signature check ${secret ? 'on' : 'off: no secret'}); Ctrl-C stops it`);
  return undefined; // keep running: the server holds the process open
}

if (isMain(import.meta.url)) await runCli(main);
