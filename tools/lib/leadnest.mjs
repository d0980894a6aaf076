// Shared helpers for the local tools (send.mjs, backend.mjs) and their tests.
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const FIXTURES_DIR = join(ROOT, 'fixtures', 'events');

// The events LeadNest documents (SPEC §1): the samples in fixtures/events, one an
// event, the one list the tools, the admin API (src/admin/sample.rs) and the console use.
export const EVENTS = Object.freeze(readdirSync(FIXTURES_DIR)
  .filter((file) => file.endsWith('.json')).map((file) => file.slice(0, -'.json'.length)).sort());

/** An error a CLI reports as one line and exits with `exitCode`, without a stack trace. */
export class CliError extends Error {
  constructor(message, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

export function unknownEventError(event) {
  return new CliError(`unknown event "${event}"; known events:\n  ${EVENTS.join('\n  ')}`, 2);
}

/**
 * The sample of `event`, as the admin API builds it too (src/admin/sample.rs, checked
 * against fixtures/vectors/samples.json): its `timestamp` and every `data.*_at` the
 * second `timestamp` is (a Date, now by default; a string is kept as given), and its
 * `data.message_id`, when the event carries one, `messageId` (a fresh one by default).
 * Subscriber events carry none: the worker then dedups on the body hash.
 */
export function samplePayload(event, { timestamp, messageId } = {}) {
  if (!EVENTS.includes(event)) throw unknownEventError(event);
  const payload = JSON.parse(readFileSync(join(FIXTURES_DIR, `${event}.json`), 'utf8'));
  const when = timestamp ?? new Date();
  // LeadNest's timestamps carry whole seconds.
  const ts = typeof when === 'string' ? when
    : new Date(Math.floor(when.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  payload.timestamp = ts;
  for (const key of Object.keys(payload.data)) {
    if (key.endsWith('_at')) payload.data[key] = ts;
    else if (key === 'message_id') payload.data[key] = messageId ?? `msg_${randomBytes(8).toString('hex')}`;
  }
  return payload;
}

/** X-LeadNest-Signature: hex HMAC-SHA256 of the raw body, as LeadNest computes it. */
export function sign(body, secret) {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/** Parses dotenv-style `KEY=value` lines (as wrangler reads .dev.vars). */
export function parseDevVars(text) {
  const vars = {};
  for (const line of text.split(/\r?\n/)) {
    const m = line.match(/^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/);
    if (!m) continue;
    let value = m[2];
    const quoted = value.match(/^(['"])(.*)\1$/);
    if (quoted) value = quoted[2];
    else value = value.replace(/\s+#.*$/, '');
    vars[m[1]] = value;
  }
  return vars;
}

/** `name` from .dev.vars in `root`, else from .dev.vars.example; undefined when neither has it. */
export function readDevVar(name, root = ROOT) {
  for (const file of ['.dev.vars', '.dev.vars.example']) {
    const path = join(root, file);
    if (!existsSync(path)) continue;
    const value = parseDevVars(readFileSync(path, 'utf8'))[name];
    if (value) return value;
  }
  return undefined;
}

/** The local webhook secret; during rotation WEBHOOK_SECRET lists several, and the first signs. */
export function defaultSecret(root = ROOT) {
  return readDevVar('WEBHOOK_SECRET', root)?.split(',')[0].trim() || undefined;
}

/** node:util parseArgs, with its errors turned into usage errors (exit 2). */
export function parseCliArgs(args, options, allowPositionals = false) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (err) {
    throw new CliError(`${err.message} (see --help)`, 2);
  }
}

/** An integer option in [min, max], or `fallback` when absent. */
export function intOption(value, name, { min = 0, max = Number.MAX_SAFE_INTEGER, fallback } = {}) {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(String(value).trim()) || n < min || n > max) {
    throw new CliError(`--${name} must be an integer from ${min} to ${max}, got "${value}"`, 2);
  }
  return n;
}

/** True when the module at `moduleUrl` is the script node was started with. */
export function isMain(moduleUrl) {
  return Boolean(process.argv[1]) && moduleUrl === pathToFileURL(process.argv[1]).href;
}

/** Runs a CLI's `main(argv)` and exits with its code; a CliError prints as one line. */
export async function runCli(main) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (err) {
    console.error(err instanceof CliError ? err.message : err);
    process.exitCode = err instanceof CliError ? err.exitCode : 1;
  }
}
