// One event: its facts, its body, and per route the attempts as a timeline with each
// response. Everything that came from LeadNest or a backend is rendered as text.
import { html, useEffect, useRef } from '../vendor/htm-preact.js';
import { Badge } from './bits.js';
import { fullTime, plural } from './format.js';
import { JsonView } from './json-view.js';

function Response({ attempt }) {
  const headers = attempt.headers && typeof attempt.headers === 'object' ? Object.entries(attempt.headers) : [];
  if (attempt.status == null && !headers.length && attempt.body == null) return null;
  return html`<details class="response">
    <summary>Response${attempt.status != null ? ` ${attempt.status}` : ''}${headers.length ? `, ${plural(headers.length, 'header')}` : ''}${attempt.body ? `, ${plural(attempt.body.length, 'character')} of body` : ''}</summary>
    ${headers.length > 0 && html`<table class="headers"><tbody>${headers.map(([name, value]) => html`<tr key=${name}>
      <th scope="row" class="mono">${name}</th><td class="mono">${String(value)}</td></tr>`)}</tbody></table>`}
    ${attempt.body != null && html`<pre class="raw" tabindex="0" aria-label="Response body">${attempt.body === '' ? '(empty body)' : attempt.body}</pre>`}
  </details>`;
}

function Attempt({ attempt }) {
  return html`<li class=${`attempt o-${['delivered', 'failed', 'retry', 'sent'].includes(attempt.outcome) ? attempt.outcome : 'other'}`}>
    <div class="attempt-head">
      <strong>#${String(attempt.attempt)}</strong>
      <time datetime=${attempt.at}>${fullTime(attempt.at)}</time>
      <${Badge} status=${attempt.outcome} />
      ${attempt.status != null && html`<span class="mono">HTTP ${String(attempt.status)}</span>`}
      ${attempt.error && html`<span class="error-text">${attempt.error}</span>`}
      <span class="muted">${String(attempt.duration_ms ?? '?')} ms</span>
    </div>
    <${Response} attempt=${attempt} />
  </li>`;
}

function Delivery({ delivery, busy, onReplay }) {
  const attempts = delivery.attempts || [];
  return html`<section class="delivery" aria-label=${`Route ${delivery.route}`}>
    <div class="delivery-head">
      <h4>${delivery.route}</h4>
      <${Badge} status=${delivery.status} />
      <span class="muted">${plural(attempts.length, 'attempt')}</span>
      <button type="button" class="small" disabled=${busy} onClick=${() => onReplay([delivery.route])}>
        Replay to ${delivery.route}</button>
    </div>
    ${attempts.length === 0
      ? html`<p class="muted">No attempt yet.</p>`
      : html`<ol class="timeline">${attempts.map((a) => html`<${Attempt} key=${a.attempt} attempt=${a} />`)}</ol>`}
  </section>`;
}

function Fact({ label, children }) {
  return html`<div class="fact"><dt>${label}</dt><dd>${children}</dd></div>`;
}

export function EventDetail({ id, summary, detail, error, busy, onClose, onReplay, onCopy }) {
  const heading = useRef(null);
  // Focus moves into the panel when another event opens, for keyboard users.
  useEffect(() => { heading.current?.focus(); }, [id]);
  const event = detail || summary || {};
  const deliveries = detail?.deliveries || [];
  return html`<section class="detail" aria-labelledby="detail-title" data-testid="event-detail">
    <div class="detail-head">
      <h2 id="detail-title" tabindex="-1" ref=${heading}>${event.event ?? 'Event'}</h2>
      ${event.status && html`<${Badge} status=${event.status} />`}
      <button type="button" class="close" onClick=${onClose} aria-label="Close the event (Escape)">Close</button>
    </div>
    ${error && html`<p class="error-text" role="alert">${error}</p>`}
    <dl class="facts">
      <${Fact} label="webhook-id"><span class="mono">${id}</span></${Fact}>
      <${Fact} label="message id"><span class="mono">${event.message_id ?? '—'}</span></${Fact}>
      <${Fact} label="timestamp (as sent)"><span class="mono">${event.timestamp ?? ''}</span></${Fact}>
      <${Fact} label="received"><time datetime=${event.received_at}>${event.received_at ? fullTime(event.received_at) : ''}</time></${Fact}>
      <${Fact} label="redeliveries">${String(event.redeliveries ?? 0)}</${Fact}>
    </dl>
    <div class="actions">
      <button type="button" class="primary" disabled=${busy || !detail || deliveries.length === 0}
        onClick=${() => onReplay(null)}>Replay to every route</button>
      <button type="button" disabled=${!detail} onClick=${() => onCopy(detail.body, 'the body')}>Copy body</button>
      <button type="button" onClick=${() => onCopy(id, 'the webhook-id')}>Copy webhook-id</button>
    </div>
    <h3>Deliveries</h3>
    ${!detail ? html`<p class="muted">Loading…</p>`
      : deliveries.length === 0 ? html`<p class="muted">No route took this event: it was accepted and logged as unrouted. Add a route whose <code>events</code> match it to deliver such events.</p>`
        : deliveries.map((d) => html`<${Delivery} key=${d.route} delivery=${d} busy=${busy} onReplay=${onReplay} />`)}
    <h3>Body</h3>
    ${detail ? html`<${JsonView} key=${id} text=${detail.body ?? ''} />` : html`<p class="muted">Loading…</p>`}
  </section>`;
}
