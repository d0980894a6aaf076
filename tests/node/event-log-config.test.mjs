// The event log's configuration (SPEC section 8): wrangler.toml binds EVENTS to the
// Durable Object class the worker exports, made SQLite-backed by a migration, runs the
// retention on a cron, keeps the default retention, and ships the console's static
// files with the worker going first.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
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

test('wrangler.toml binds EVENTS to the SQLite-backed Durable Object class the worker exports', () => {
  const [binding, ...more] = tables(WRANGLER, '[[durable_objects.bindings]]').filter((t) => t.name === 'EVENTS');
  assert.ok(binding, 'no [[durable_objects.bindings]] name = "EVENTS"');
  assert.equal(more.length, 0);
  assert.equal(binding.class_name, 'EventLog');
  // A class made by a migration with new_sqlite_classes: its storage is SQLite.
  const made = tables(WRANGLER, '[[migrations]]').filter((m) => JSON.parse(m.new_sqlite_classes ?? '[]').includes('EventLog'));
  assert.equal(made.length, 1, 'one [[migrations]] with new_sqlite_classes = ["EventLog"]');
  assert.match(readFileSync(join(ROOT, 'src', 'worker', 'entry.mjs'), 'utf8'), /export \{ EventLog \}/);
  assert.equal(tables(WRANGLER, '[[d1_databases]]').length, 0, 'no D1 database is needed');
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
