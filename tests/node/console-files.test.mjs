// The console's static files (public/admin/) keep the promises of SPEC §9 that can be
// read off the files themselves: nothing from elsewhere, nothing the CSP would block,
// no way for a value to become HTML, the vendored library as npm ships it, and a
// page weight inside its budget. The browser tests (tests/e2e/console.test.mjs) show
// the same things at run time.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ROOT } from '../../tools/lib/leadnest.mjs';

const ADMIN = join(ROOT, 'public', 'admin');
/** What the page loads, gzip'd, at most (docs/console.md states the measured size). */
const BUDGET_GZIP_BYTES = 40 * 1024;

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

const all = files(ADMIN);
const read = (path) => readFileSync(path, 'utf8');
const ours = all.filter((f) => /\.(js|css|html)$/.test(f) && !f.includes(`${join('admin', 'vendor')}`));

test('the HTML pages hold no inline script, style or event handler', () => {
  for (const file of all.filter((f) => f.endsWith('.html'))) {
    const text = read(file);
    const name = relative(ROOT, file);
    for (const tag of text.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/gi)) {
      assert.match(tag[0], /\bsrc="\/admin\/[^"]+"/, `${name}: a script without src`);
      assert.equal(tag[1].trim(), '', `${name}: an inline script`);
    }
    assert.doesNotMatch(text, /<style\b/i, `${name}: a <style> element`);
    assert.doesNotMatch(text, /\sstyle\s*=/i, `${name}: a style attribute`);
    assert.doesNotMatch(text, /\son[a-z]+\s*=/i, `${name}: an inline event handler`);
    assert.doesNotMatch(text, /javascript:/i, `${name}: a javascript: URL`);
  }
});

test('index.html preloads every module, so they load at once instead of import by import', () => {
  const html = read(join(ADMIN, 'index.html'));
  const preloaded = [...html.matchAll(/<link rel="modulepreload" href="\/admin\/([^"]+)">/g)].map((m) => m[1]).sort();
  const modules = all.filter((f) => f.endsWith('.js') && !f.endsWith('console.js')).map((f) => relative(ADMIN, f)).sort();
  assert.deepEqual(preloaded, modules);
});

test('nothing is loaded from another origin', () => {
  for (const file of ours) {
    const text = read(file);
    const name = relative(ROOT, file);
    // Links a person may follow are fine; what the page fetches, imports or links as a resource is not.
    assert.doesNotMatch(text, /<(script|link|img|iframe)\b[^>]*\b(src|href)="(https?:)?\/\//i, `${name}: a resource from elsewhere`);
    assert.doesNotMatch(text, /\bimport\b[^;]*from\s*['"](https?:)?\/\//, `${name}: an import from elsewhere`);
    assert.doesNotMatch(text, /@import|url\(\s*['"]?(https?:)?\/\//i, `${name}: a stylesheet resource from elsewhere`);
  }
});

test('the console code never builds HTML from a string or evaluates one', () => {
  for (const file of ours.filter((f) => f.endsWith('.js'))) {
    const text = read(file);
    const name = relative(ROOT, file);
    for (const pattern of [/innerHTML/, /outerHTML/, /insertAdjacentHTML/, /dangerouslySetInnerHTML/, /document\.write/,
      /\beval\s*\(/, /new\s+Function\b/, /setTimeout\(\s*['"`]/, /setInterval\(\s*['"`]/, /\.setAttribute\(\s*['"]style/]) {
      assert.doesNotMatch(text, pattern, `${name}: ${pattern}`);
    }
    // The token goes in a header only: never a console line, never a URL.
    assert.doesNotMatch(text, /console\.(log|info|warn|error|debug)/, `${name}: a console line`);
    assert.doesNotMatch(text, /[?&]token=/, `${name}: a token in a URL`);
  }
});

test('the vendored view library is htm/preact exactly as the pinned npm package ships it', () => {
  const pkg = JSON.parse(read(join(ROOT, 'package.json')));
  const shipped = JSON.parse(read(join(ROOT, 'node_modules', 'htm', 'package.json'))).version;
  assert.equal(pkg.devDependencies.htm, shipped, 'package.json pins the htm that node_modules holds');
  assert.equal(read(join(ADMIN, 'vendor', 'htm-preact.js')),
    read(join(ROOT, 'node_modules', 'htm', 'preact', 'standalone.module.js')));
  assert.match(read(join(ADMIN, 'vendor', 'NOTICE.txt')), new RegExp(`htm ${shipped.replace(/\./g, '\\.')}`));
});

test(`the page weighs at most ${BUDGET_GZIP_BYTES / 1024} KiB gzip'd`, () => {
  const loaded = all.filter((f) => /\.(js|css)$/.test(f) || f.endsWith('index.html'));
  const total = loaded.reduce((sum, f) => sum + gzipSync(readFileSync(f), { level: 9 }).length, 0);
  assert.ok(total <= BUDGET_GZIP_BYTES, `${total} bytes gzip'd`);
});

test('the send-test form offers exactly the events there are samples of (fixtures/events)', async () => {
  const { ALL_EVENTS } = await import('../../public/admin/lib/format.js');
  const { EVENTS } = await import('../../tools/lib/leadnest.mjs');
  assert.deepEqual([...ALL_EVENTS].sort(), [...EVENTS]);
});
