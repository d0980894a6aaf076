// LeadNest's "Send Test" button for local use: posts signed sample webhooks to the worker.
import { randomBytes } from 'node:crypto';
import {
  CliError, EVENTS, defaultSecret, intOption, isMain, parseCliArgs, runCli, samplePayload, sign, unknownEventError,
} from './lib/leadnest.mjs';

export const DEFAULT_URL = 'http://127.0.0.1:8787/webhooks/leadnest';
const TIMEOUT_MS = 30_000;

const USAGE = `Usage: npm run send -- <event> [options]
       npm run send -- --all [options]

Posts a realistic sample LeadNest webhook, signed with X-LeadNest-Signature, and prints
one line per request: event, HTTP status, the worker's JSON answer.

Options:
  --url URL          ingress URL (default ${DEFAULT_URL})
  --secret S         webhook secret (default: WEBHOOK_SECRET from .dev.vars, else .dev.vars.example)
  --count N          send N distinct events of each kind (default 1)
  --duplicate        send each body twice; the second should answer "duplicate"
  --stale            use a timestamp one hour old (expects 401)
  --bad-signature    sign with a wrong secret (expects 401)
  --set PATH=VALUE   set a field of the sample payload before signing, e.g.
                     --set data.bounce_type=hard --set data.amount=150 (repeatable;
                     a VALUE that parses as JSON is taken as JSON, else as a string:
                     150, true, null, [1,2] and '"150"' are JSON; hard is a string;
                     a dotted PATH creates the objects it lacks)
  --all              send one of every event
  --help             show this help

Exit code: 0 when every answer was the expected one, 1 otherwise, 2 on a usage error.

Events: ${EVENTS.join(' ')}`;

const OPTIONS = {
  url: { type: 'string', default: DEFAULT_URL },
  secret: { type: 'string' },
  count: { type: 'string' },
  duplicate: { type: 'boolean', default: false },
  stale: { type: 'boolean', default: false },
  'bad-signature': { type: 'boolean', default: false },
  all: { type: 'boolean', default: false },
  set: { type: 'string', multiple: true, default: [] },
  help: { type: 'boolean', default: false },
};

/**
 * One `--set PATH=VALUE`, parsed: { path: [segments], value }. VALUE is JSON when it
 * parses as JSON, else the string as given. A missing `=` or an empty segment
 * (`data..x`, `.x`, `x.`) is a CliError.
 */
export function parseSet(spec) {
  const eq = spec.indexOf('=');
  if (eq < 0) throw new CliError(`--set ${JSON.stringify(spec)}: expected PATH=VALUE, e.g. data.bounce_type=hard`);
  const path = spec.slice(0, eq).split('.');
  if (path.some((segment) => segment === '')) {
    throw new CliError(`--set ${JSON.stringify(spec)}: the path has an empty segment; give dotted field names, e.g. data.bounce_type`);
  }
  const raw = spec.slice(eq + 1);
  let value = raw;
  try { value = JSON.parse(raw); } catch { /* not JSON: the string itself */ }
  return { path, value };
}

const own = (object, key) => (Object.hasOwn(object, key) ? object[key] : undefined);
// An own property even for a key such as "__proto__", so the body says what was set.
const put = (object, key, value) => Object.defineProperty(object, key,
  { value, writable: true, enumerable: true, configurable: true });
const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Applies parsed `--set`s to `payload` in order, creating missing objects along each
 * path; a path through a value that is not an object is a CliError. Returns `payload`.
 */
export function applySets(payload, sets) {
  for (const { path, value } of sets) {
    let object = payload;
    path.slice(0, -1).forEach((segment, i) => {
      let next = own(object, segment);
      if (next === undefined) {
        next = {};
        put(object, segment, next);
      } else if (!isObject(next)) {
        const kind = Array.isArray(next) ? 'an array' : next === null ? 'null' : `a ${typeof next}`;
        throw new CliError(`--set ${path.join('.')}: ${path.slice(0, i + 1).join('.')} is ${kind}, not an object`);
      }
      object = next;
    });
    put(object, path.at(-1), value);
  }
  return payload;
}

/**
 * The requests to send, in order: { event, body, signature, expect } where expect is
 * 'accepted' (any 2xx), 'duplicate' (200 with status "duplicate") or 'rejected' (401).
 */
export function planRequests({ events, secret, count = 1, duplicate = false, stale = false, badSignature = false, sets = [] }) {
  const timestamp = stale ? new Date(Date.now() - 3600_000) : undefined;
  const signingSecret = badSignature ? `wrong_${randomBytes(16).toString('hex')}` : secret;
  const rejected = stale || badSignature;
  const requests = [];
  for (const event of events) {
    for (let i = 0; i < count; i++) {
      const body = JSON.stringify(applySets(samplePayload(event, { timestamp }), sets));
      const signature = sign(body, signingSecret);
      requests.push({ event, body, signature, expect: rejected ? 'rejected' : 'accepted' });
      if (duplicate) requests.push({ event, body, signature, expect: rejected ? 'rejected' : 'duplicate' });
    }
  }
  return requests;
}

/** Whether an answer is the one a request's `expect` asked for. */
export function isExpected(expect, status, answer) {
  if (expect === 'rejected') return status === 401;
  if (expect === 'duplicate') return status === 200 && answer?.status === 'duplicate';
  return status >= 200 && status < 300;
}

/** POSTs one signed body as LeadNest does; resolves to { status, answer } (parsed JSON, else text). */
export async function postWebhook(url, body, signature) {
  let res;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-leadnest-signature': signature },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    throw connectionError(url, err);
  }
  const text = await res.text();
  let answer = text;
  try { answer = JSON.parse(text); } catch { /* not JSON: show the text */ }
  return { status: res.status, answer };
}

function connectionError(url, err) {
  if (err.name === 'TimeoutError') return new CliError(`no answer from ${url} within ${TIMEOUT_MS / 1000} s`);
  // undici puts the socket error in `cause`; for a name with several addresses, in cause.errors.
  const causes = [err.cause, ...(err.cause?.errors ?? [])].filter(Boolean);
  if (causes.some((c) => c.code === 'ECONNREFUSED')) {
    return new CliError(`cannot reach ${url}: start the worker with "npm run dev"`);
  }
  return new CliError(`request to ${url} failed: ${causes[0]?.message ?? err.message}`);
}

function describe(answer) {
  const text = typeof answer === 'string' ? answer : JSON.stringify(answer);
  return text.length > 300 ? `${text.slice(0, 300)}...` : text;
}

/** Sends the planned requests one by one, logging a line each; resolves to true when all were as expected. */
export async function sendAll(url, requests, log = console.log) {
  let allExpected = true;
  for (const { event, body, signature, expect } of requests) {
    const { status, answer } = await postWebhook(url, body, signature);
    const ok = isExpected(expect, status, answer);
    allExpected &&= ok;
    const label = expect === 'duplicate' ? `${event} (again)` : event;
    log(`${label.padEnd(28)} ${status} ${describe(answer)}${ok ? '' : `  <- expected ${expect}`}`);
  }
  return allExpected;
}

/** The CLI: parses argv, sends, and resolves to the exit code. */
export async function main(argv, log = console.log) {
  const { values, positionals } = parseCliArgs(argv, OPTIONS, true);
  if (values.help) {
    log(USAGE);
    return 0;
  }
  if (values.all === (positionals.length > 0) || positionals.length > 1) {
    throw new CliError('give one event or --all (see --help)', 2);
  }
  const events = values.all ? EVENTS : positionals;
  if (!EVENTS.includes(events[0])) throw unknownEventError(events[0]);
  try {
    new URL(values.url);
  } catch {
    throw new CliError(`--url is not a URL: ${values.url}`, 2);
  }
  const sets = values.set.map(parseSet);
  const secret = values.secret ?? defaultSecret();
  if (!secret) {
    throw new CliError('no webhook secret: pass --secret, or set WEBHOOK_SECRET in .dev.vars', 2);
  }
  const requests = planRequests({
    events,
    secret,
    count: intOption(values.count, 'count', { min: 1, max: 10_000, fallback: 1 }),
    duplicate: values.duplicate,
    stale: values.stale,
    badSignature: values['bad-signature'],
    sets,
  });
  return (await sendAll(values.url, requests, log)) ? 0 : 1;
}

if (isMain(import.meta.url)) await runCli(main);
