// The event log's configuration (SPEC section 8): wrangler.toml binds the D1 database
// EVENTS to the committed migrations, runs the retention purge on a cron, keeps the
// default retention, and ships the console's static files with the worker going first.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../../tools/lib/leadnest.mjs';

const WRANGLER = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8');

/** The tables of a TOML text named `header` ([x] or [[x]]), as { key: raw value } (comments skipped). */
function tables(text, header) {
  const found = [];
  let current = null;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line.startsWith('[')) {
      current = line === header ? {} : null;
      if (current) found.push(current);
      continue;
    }
    const pair = /^([A-Za-z_]+)\s*=\s*(.+)$/.exec(line);
    if (current && pair) current[pair[1]] = pair[2].replace(/^"(.*)"$/, '$1');
  }
  return found;
}

test('wrangler.toml binds EVENTS to a D1 database whose migrations are committed', () => {
  const [d1, ...more] = tables(WRANGLER, '[[d1_databases]]').filter((t) => t.binding === 'EVENTS');
  assert.ok(d1, 'no [[d1_databases]] binding = "EVENTS"');
  assert.equal(more.length, 0);
  assert.equal(d1.database_name, 'leadnest-edge-events');
  assert.ok(d1.database_id, 'a database_id (a placeholder until `wrangler d1 create`)');
  assert.ok(existsSync(join(ROOT, d1.migrations_dir)), `migrations_dir ${d1.migrations_dir} does not exist`);
  const migrations = readdirSync(join(ROOT, d1.migrations_dir)).filter((f) => f.endsWith('.sql'));
  assert.ok(migrations.length > 0, 'no migration');
  // wrangler applies them in name order and records each name: numbered, never renamed.
  for (const file of migrations) assert.match(file, /^\d{4}_[a-z0-9_]+\.sql$/);
});

test('a cron trigger runs the retention purge, with the default retention of SPEC section 8', () => {
  const [triggers] = tables(WRANGLER, '[triggers]');
  assert.ok(triggers, 'no [triggers]');
  const crons = JSON.parse(triggers.crons);
  assert.ok(Array.isArray(crons) && crons.length > 0, 'no cron');
  assert.match(WRANGLER, /^EVENT_RETENTION_DAYS\s*=\s*"7"\s*$/m);
});

test('the console\'s static files ship as ASSETS, and the worker answers every request first', () => {
  const [assets] = tables(WRANGLER, '[assets]');
  assert.ok(assets, 'no [assets]');
  assert.equal(assets.binding, 'ASSETS');
  assert.ok(existsSync(join(ROOT, assets.directory)), `assets directory ${assets.directory} does not exist`);
  // Only the worker decides whether /admin is served (404 without ADMIN_TOKEN).
  assert.equal(assets.run_worker_first, 'true');
});

test('the local ADMIN_TOKEN of .dev.vars.example is long enough to enable the admin API, and plainly a dev value', () => {
  const token = /^ADMIN_TOKEN=(.*)$/m.exec(readFileSync(join(ROOT, '.dev.vars.example'), 'utf8'))?.[1];
  assert.ok(token, '.dev.vars.example sets no ADMIN_TOKEN');
  assert.ok(token.length >= 32, `${token.length} characters`);
  assert.match(token, /dev/);
});
