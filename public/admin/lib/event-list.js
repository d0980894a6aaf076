// The event list: one row per event, newest first. Rows are keyed by webhook-id, so a
// live refresh updates them in place: focus, scroll and the open event stay.
import { html } from '../vendor/htm-preact.js';
import { Badge } from './bits.js';
import { fullTime, plural, shortTime } from './format.js';

function Routes({ routes }) {
  if (!routes || routes.length === 0) return html`<span class="muted">no route</span>`;
  return html`<ul class="routes">${routes.map((r) => html`<li key=${r.name} class=${`chip st-${['delivered', 'failed', 'pending', 'held'].includes(r.status) ? r.status : 'other'}`}
    title=${`${r.name}: ${r.status}, ${plural(r.attempts ?? 0, 'attempt')}`}>
    <span class="chip-name">${r.name}</span> <span class="chip-status">${r.status}</span>
    <span class="chip-attempts">×${String(r.attempts ?? 0)}</span></li>`)}</ul>`;
}

/** Whether text inside `row` is selected: a drag to copy a value, not a click to open. */
function selecting(row) {
  const selection = window.getSelection();
  return Boolean(selection && !selection.isCollapsed && row.contains(selection.anchorNode));
}

function Row({ event, selected, isNew, watched, onOpen }) {
  const classes = ['event-row', selected && 'is-selected', isNew && 'is-new', watched && 'is-watched'].filter(Boolean).join(' ');
  // A click anywhere on the row opens the event. The button is the way in for keyboards
  // and screen readers; its click (Enter included) bubbles up to here, so it opens once.
  const click = (e) => {
    if (!e.target.closest('button') && selecting(e.currentTarget)) return;
    onOpen(event.id, e.currentTarget.querySelector('button.event-name'));
  };
  return html`<tr class=${classes} data-testid="event-row" aria-current=${selected ? 'true' : undefined} onClick=${click}>
    <td data-label="received"><time datetime=${event.received_at} title=${fullTime(event.received_at)}>${shortTime(event.received_at)}</time></td>
    <td data-label="event"><button type="button" class="link event-name"
      aria-label=${`Open ${event.event} event ${event.message_id ?? event.id}`}>${event.event}</button></td>
    <td data-label="message id" class="mono clip" title=${event.message_id ?? ''}>${event.message_id ?? html`<span class="muted">—</span>`}</td>
    <td data-label="status"><${Badge} status=${event.status} /></td>
    <td data-label="routes"><${Routes} routes=${event.routes} /></td>
    <td data-label="redeliveries" class="num">${String(event.redeliveries ?? 0)}</td>
  </tr>`;
}

export function EventList({ events, selectedId, newIds, watchMessageId, onOpen }) {
  return html`<div class="table-scroll list-scroll"><table class="events">
    <caption class="offscreen">Events, newest first</caption>
    <thead><tr><th scope="col">received</th><th scope="col">event</th><th scope="col">message id</th>
      <th scope="col">status</th><th scope="col">routes</th><th scope="col" class="num">redeliveries</th></tr></thead>
    <tbody>${events.map((e) => html`<${Row} key=${e.id} event=${e} selected=${e.id === selectedId}
      isNew=${newIds.has(e.id)} watched=${watchMessageId && e.message_id === watchMessageId} onOpen=${onOpen} />`)}</tbody>
  </table></div>`;
}
