// Small pieces the views share.
import { html } from '../vendor/htm-preact.js';

const STATUSES = ['pending', 'held', 'delivered', 'failed', 'unrouted', 'retry', 'sent'];

/** A status as a badge: the word is always shown, the colour only repeats it. */
export function Badge({ status }) {
  const known = STATUSES.includes(status) ? status : 'other';
  return html`<span class=${`badge st-${known}`}>${String(status ?? 'unknown')}</span>`;
}

/** Copies text; resolves to whether it worked. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No clipboard API (an insecure origin, a denied permission): the old way.
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.className = 'offscreen';
    document.body.append(area);
    area.select();
    let ok = false;
    try { ok = document.execCommand('copy'); } catch { ok = false; }
    area.remove();
    return ok;
  }
}
