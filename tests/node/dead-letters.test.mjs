// Every queue consumer the project ships (wrangler.toml) or tells users to add (the TOML
// blocks of README.md and docs/*.md) names a dead_letter_queue: Cloudflare deletes a
// message that spends max_retries without one. And every queue they name is one the docs
// say to create. The worker consumes its own dead-letter queue, knows it by
// DEAD_LETTER_QUEUE, and parks what it cannot record.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../../tools/lib/leadnest.mjs';

const read = (file) => readFileSync(join(ROOT, file), 'utf8');

/** The documents that tell users what to configure: the README and docs/*.md. */
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];

/** A Markdown text's ```toml blocks, each with the line it starts on. */
function tomlBlocks(markdown) {
  const blocks = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^```toml\s*$/.test(lines[i])) continue;
    const start = i + 1;
    while (i + 1 < lines.length && !/^```\s*$/.test(lines[i + 1])) i++;
    blocks.push({ text: lines.slice(start, i + 1).join('\n'), line: start + 1 });
    i++;
  }
  return blocks;
}

/**
 * The [[queues.consumers]] tables of a TOML text, as { line, keys }: a table runs to the
 * next table header. Comments are not configuration, so they are skipped.
 */
function consumers(text, firstLine = 1) {
  const found = [];
  let current = null;
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line.startsWith('[')) {
      current = /^\[\[\s*queues\.consumers\s*\]\]$/.test(line) ? { line: firstLine + index, keys: {} } : null;
      if (current) found.push(current);
      return;
    }
    const pair = /^([A-Za-z_]+)\s*=\s*(.+)$/.exec(line);
    if (current && pair) current.keys[pair[1]] = pair[2].replace(/^"(.*)"$/, '$1');
  });
  return found;
}

/** Queue names a TOML text mentions: consumed, produced or dead-lettered to. */
function queueNames(text) {
  const names = new Set();
  for (const match of text.matchAll(/^\s*(?:queue|dead_letter_queue)\s*=\s*"([^"]+)"/gm)) names.add(match[1]);
  return names;
}

const created = (text) => new Set([...text.matchAll(/wrangler queues create ([a-z0-9-]+)/g)].map((m) => m[1]));

function sources() {
  return [
    { where: 'wrangler.toml', text: read('wrangler.toml'), line: 1 },
    ...DOCS.flatMap((doc) => tomlBlocks(read(doc)).map((block) => ({ where: doc, ...block }))),
  ];
}

test('every queue consumer in wrangler.toml and the docs names a dead_letter_queue of another queue', () => {
  const all = sources().flatMap(({ where, text, line }) => consumers(text, line).map((c) => ({ where, ...c })));
  assert.ok(all.some((c) => c.where === 'wrangler.toml'), 'wrangler.toml has no [[queues.consumers]]');
  assert.ok(all.some((c) => c.where === 'docs/delivery.md'), 'docs/delivery.md shows no [[queues.consumers]] (the parked redrive)');
  const missing = all.filter((c) => !c.keys.dead_letter_queue || c.keys.dead_letter_queue === c.keys.queue);
  assert.deepEqual(missing.map((c) => `${c.where}:${c.line} consumes ${c.keys.queue} without a dead_letter_queue`), []);
});

test('every queue that configuration names is created by the commands in wrangler.toml and the docs', () => {
  const wrangler = read('wrangler.toml');
  const docs = DOCS.map(read).join('\n');
  const named = new Set(sources().flatMap(({ text }) => [...queueNames(text)]));
  assert.ok(named.has('leadnest-edge-parked'), 'no consumer leaves its failures in leadnest-edge-parked');
  for (const [where, commands] of [['wrangler.toml', created(wrangler)], ['README.md and docs/*.md', created(docs)]]) {
    assert.deepEqual([...named].filter((name) => !commands.has(name)), [], `${where} lacks a \`wrangler queues create\``);
  }
});

test('wrangler.toml consumes the delivery queue\'s dead-letter queue, names it in DEAD_LETTER_QUEUE, and parks what fails there', () => {
  const text = read('wrangler.toml');
  const all = consumers(text);
  const delivery = all.find((c) => c.keys.queue === 'leadnest-edge-deliveries');
  assert.ok(delivery, 'wrangler.toml does not consume leadnest-edge-deliveries');
  const deadLetters = delivery.keys.dead_letter_queue;
  // The worker tells a dead-letter batch from a delivery batch by this var alone.
  assert.match(text, new RegExp(`^DEAD_LETTER_QUEUE\\s*=\\s*"${deadLetters}"\\s*$`, 'm'),
    `[vars] DEAD_LETTER_QUEUE must name ${deadLetters}`);
  const drain = all.find((c) => c.keys.queue === deadLetters);
  assert.ok(drain, `wrangler.toml does not consume ${deadLetters}: dead letters would never reach the event log`);
  assert.equal(drain.keys.dead_letter_queue, 'leadnest-edge-parked');
  // A record that cannot be written is retried as long as the platform allows (100).
  assert.ok(Number(drain.keys.max_retries) >= 50, `max_retries ${drain.keys.max_retries} on ${deadLetters}`);
});
