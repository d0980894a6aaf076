// The documentation points at things that exist: every relative link and anchor in
// README.md, SECURITY.md, docs/*.md and bench/README.md resolves (anchors as GitHub slugs
// headings), every repository path they name in code spans exists, and every test that
// SECURITY.md cites as showing a defence is still there under that name.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, test } from 'node:test';
import { ROOT } from '../../tools/lib/leadnest.mjs';

const DOCS = [
  'README.md',
  'SECURITY.md',
  ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`),
  'bench/README.md',
];

const read = (file) => readFileSync(join(ROOT, file), 'utf8');

/** The lines of a Markdown text outside fenced code blocks, each with its number. */
function prose(markdown) {
  const lines = [];
  let fence = null;
  markdown.split('\n').forEach((line, index) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line);
    if (marker) {
      if (fence === null) fence = marker[1][0];
      else if (marker[1][0] === fence) fence = null;
      return;
    }
    if (fence === null) lines.push({ line, number: index + 1 });
  });
  return lines;
}

/** A line with its code spans blanked out, so a link shown as code is not followed. */
const withoutCode = (line) => line.replace(/(`+)[^`]*?\1/g, (span) => ' '.repeat(span.length));

/** The anchor GitHub gives a heading's text (github-slugger), without the -N of repeats. */
export function slug(heading) {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .replace(/<[^>]+>/g, '') // inline HTML
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '').replace(/ /g, '-');
}

/** Every anchor of a Markdown file, with -1, -2 … for repeated headings, as GitHub does. */
function anchors(file) {
  const seen = new Map();
  const found = new Set();
  for (const { line } of prose(read(file))) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = slug(heading[1]);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    found.add(count === 0 ? base : `${base}-${count}`);
  }
  return found;
}

/** Inline links [text](target) of a Markdown file, outside code. */
function links(file) {
  const found = [];
  for (const { line, number } of prose(read(file))) {
    for (const match of withoutCode(line).matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      found.push({ target: match[1], where: `${file}:${number}` });
    }
  }
  return found;
}

describe('links', () => {
  test('slugs follow GitHub', () => {
    assert.equal(slug('Queue or direct delivery'), 'queue-or-direct-delivery');
    assert.equal(slug('How `npm run bench` measures'), 'how-npm-run-bench-measures');
    assert.equal(slug('Strict dedup (`DEDUP_MODE=durable`)'), 'strict-dedup-dedup_modedurable');
    assert.equal(slug('Verifying forwarded requests in your backend'), 'verifying-forwarded-requests-in-your-backend');
    assert.equal(slug('The "Worker\'s code had hung" 500s'), 'the-workers-code-had-hung-500s');
    assert.equal(slug('Deploying & connecting — [LeadNest](https://x)'), 'deploying--connecting--leadnest');
  });

  for (const doc of DOCS) {
    test(`every relative link and anchor in ${doc} resolves`, () => {
      const broken = [];
      for (const { target, where } of links(doc)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: …
        const [path, anchor] = target.split('#', 2);
        const file = path === '' ? doc : normalize(join(dirname(doc), decodeURIComponent(path)));
        if (file.startsWith('..') || !existsSync(join(ROOT, file))) {
          broken.push(`${where}: ${target} (no ${file})`);
          continue;
        }
        if (anchor === undefined) continue;
        if (!file.endsWith('.md') || statSync(join(ROOT, file)).isDirectory()) {
          broken.push(`${where}: ${target} (an anchor into ${file}, not a Markdown file)`);
        } else if (!anchors(file).has(anchor)) {
          broken.push(`${where}: ${target} (no heading in ${file} slugs to #${anchor})`);
        }
      }
      assert.deepEqual(broken, []);
    });
  }
});

describe('paths and test names', () => {
  const TOP = /^(?:src|tests|tools|scripts|bench|docs|fixtures|fuzz)\/[\w./-]*$/;

  for (const doc of DOCS) {
    test(`every repository path ${doc} names in code exists`, () => {
      const missing = [];
      for (const { line, number } of prose(read(doc))) {
        for (const [, span] of line.matchAll(/`([^`]+)`/g)) {
          if (TOP.test(span) && !existsSync(join(ROOT, span))) missing.push(`${doc}:${number}: ${span}`);
        }
      }
      assert.deepEqual(missing, []);
    });
  }

  test('every test SECURITY.md cites exists in the file it names', () => {
    const missing = [];
    const rows = prose(read('SECURITY.md')).filter(({ line }) => /^\|.*\|\s*$/.test(line) && !/^\|[-| ]+\|$/.test(line));
    for (const { line, number } of rows.slice(1)) {
      const cells = line.split(' | ');
      const shownBy = cells[cells.length - 1];
      let file = null;
      let text = '';
      for (const [, code, quoted] of shownBy.matchAll(/`([^`]+)`|"([^"]+)"/g)) {
        if (code !== undefined && /^(?:src|tests|fuzz)\/\S+$/.test(code)) {
          file = code.replace(/\/$/, '');
          text = existsSync(join(ROOT, file)) && statSync(join(ROOT, file)).isFile() ? read(file) : '';
        } else if (code !== undefined && /^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$/.test(code)) {
          // A Rust test or test module, in the file named before it.
          if (!file?.endsWith('.rs') || !new RegExp(`\\b(?:fn|mod)\\s+${code}\\b`).test(text)) {
            missing.push(`SECURITY.md:${number}: ${code} in ${file}`);
          }
        } else if (quoted !== undefined && file?.endsWith('.mjs')) {
          // A test or describe title of an end-to-end file: the quote is its start.
          if (![`'${quoted}`, `"${quoted}`, `\`${quoted}`].some((start) => text.includes(start))) {
            missing.push(`SECURITY.md:${number}: "${quoted}" in ${file}`);
          }
        }
      }
    }
    assert.deepEqual(missing, []);
  });
});

test('the documents are reachable from the README', () => {
  const linked = new Set(
    links('README.md')
      .map(({ target }) => target.split('#')[0])
      .filter((path) => path && !/^[a-z]+:/i.test(path))
      .map((path) => relative('.', normalize(path))),
  );
  assert.deepEqual(DOCS.filter((doc) => doc !== 'README.md' && !linked.has(doc)), []);
});
