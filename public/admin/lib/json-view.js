// An event body as a collapsible JSON tree, or as the text received. Every key and
// value becomes a text node: Preact sets text, never HTML.
import { html, useMemo, useState } from '../vendor/htm-preact.js';

/** Strings longer than this show their start and a button for the rest. */
const LONG = 300;

function LongString({ value }) {
  const [whole, setWhole] = useState(false);
  if (value.length <= LONG || whole) return html`<span class="j-str">${JSON.stringify(value)}</span>`;
  return html`<span class="j-str">${JSON.stringify(value.slice(0, LONG)).slice(0, -1)}…</span>
    <button type="button" class="link small" onClick=${() => setWhole(true)}>
      show all ${value.length.toLocaleString()} characters</button>`;
}

function Scalar({ value }) {
  if (value === null) return html`<span class="j-null">null</span>`;
  switch (typeof value) {
    case 'string': return html`<${LongString} value=${value} />`;
    case 'number': return html`<span class="j-num">${String(value)}</span>`;
    case 'boolean': return html`<span class="j-bool">${String(value)}</span>`;
    default: return html`<span>${String(value)}</span>`;
  }
}

function Entry({ name, value, depth, openDepth, last }) {
  const key = name === undefined ? null : html`<span class="j-key">${JSON.stringify(name)}</span>: `;
  const comma = last ? '' : ',';
  if (value !== null && typeof value === 'object') {
    const isArray = Array.isArray(value);
    const entries = isArray ? value.map((v, i) => [undefined, v, i]) : Object.entries(value).map(([k, v]) => [k, v, k]);
    const [open, close] = isArray ? ['[', ']'] : ['{', '}'];
    if (entries.length === 0) return html`<li>${key}<span class="j-brace">${open}${close}</span>${comma}</li>`;
    const count = isArray ? `${entries.length} item${entries.length === 1 ? '' : 's'}` : `${entries.length} key${entries.length === 1 ? '' : 's'}`;
    return html`<li><details class="j-node" open=${depth < openDepth}>
      <summary>${key}<span class="j-brace">${open}</span><span class="j-count"> ${count} </span><span class="j-closed">${close}${comma}</span></summary>
      <ul class="j-children">
        ${entries.map(([k, v, id], i) => html`<${Entry} key=${id} name=${k} value=${v} depth=${depth + 1}
          openDepth=${openDepth} last=${i === entries.length - 1} />`)}
      </ul>
      <span class="j-brace">${close}</span>${comma}
    </details></li>`;
  }
  return html`<li>${key}<${Scalar} value=${value} />${comma}</li>`;
}

/** The body of an event: `text` is the JSON text as received. */
export function JsonView({ text }) {
  const parsed = useMemo(() => {
    try { return { ok: true, value: JSON.parse(text) }; } catch { return { ok: false }; }
  }, [text]);
  const [mode, setMode] = useState(parsed.ok ? 'tree' : 'raw');
  // Remounting the tree with another depth opens or closes every node at once.
  const [openDepth, setOpenDepth] = useState(3);
  const [generation, setGeneration] = useState(0);
  const expand = (depth) => { setOpenDepth(depth); setGeneration((g) => g + 1); setMode('tree'); };
  return html`<div class="json-view">
    <div class="toolbar" role="group" aria-label="Body view">
      <button type="button" class="small" aria-pressed=${mode === 'tree'} disabled=${!parsed.ok}
        onClick=${() => setMode('tree')}>Pretty</button>
      <button type="button" class="small" aria-pressed=${mode === 'raw'} onClick=${() => setMode('raw')}>As received</button>
      ${parsed.ok && html`<button type="button" class="small" onClick=${() => expand(Infinity)}>Expand all</button>
        <button type="button" class="small" onClick=${() => expand(1)}>Collapse</button>`}
      <span class="muted small">${text.length.toLocaleString()} characters</span>
    </div>
    ${mode === 'raw'
      ? html`<pre class="raw" tabindex="0" aria-label="Body as received">${text}</pre>`
      : html`<ul class="json" key=${generation} aria-label="Body"><${Entry} value=${parsed.value} depth=${0} openDepth=${openDepth} last=${true} /></ul>`}
  </div>`;
}
