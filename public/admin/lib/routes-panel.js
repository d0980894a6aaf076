// The routes (SPEC §10): each route's state, held deliveries and last hour's success
// rate, with pause and resume; and the banner shown while a route is tripped. Rows are
// keyed by route name, so a refresh keeps the focus on a route's button.
import { html } from '../vendor/htm-preact.js';
import { fullTime, plural, shortTime } from './format.js';

const STATE_CLASS = { active: 'st-delivered', paused: 'st-pending', tripped: 'st-failed' };
/** How much of a last error a row shows; the rest is in its tooltip. */
const ERROR_CHARS = 160;

/** delivered / (delivered + failed) in the last hour, floored (100% only with no failure); '—' with neither. */
export function successRate(route) {
  const delivered = route.delivered_1h ?? 0;
  const total = delivered + (route.failed_1h ?? 0);
  return total === 0 ? '—' : `${Math.floor((delivered / total) * 1000) / 10}%`;
}

/** What can be done to a route now: pause an active HTTP route, resume a paused or tripped one. */
export function actionOf(route) {
  if (route.kind !== 'http') return null;
  if (route.state === 'active') return 'pause';
  return route.state === 'paused' || route.state === 'tripped' ? 'resume' : null;
}

/** Across the top while any route is tripped. */
export function TrippedBanner({ routes }) {
  const tripped = (routes || []).filter((r) => r.state === 'tripped');
  if (tripped.length === 0) return null;
  const held = tripped.reduce((sum, r) => sum + (r.held ?? 0), 0);
  const which = tripped.length === 1 ? `Route ${tripped[0].name} is tripped` : `${tripped.length} routes are tripped: ${tripped.map((r) => r.name).join(', ')}`;
  return html`<div class="banner" role="alert" data-testid="tripped-banner">
    <strong>${which}.</strong> Its backend kept failing, so its deliveries are held (${plural(held, 'delivery', 'deliveries')} now)
    and one is tried now and then; the first delivered ends it. <a href="#routes-title">See the routes</a>.
  </div>`;
}

function State({ route }) {
  const error = route.last_error ?? '';
  return html`<span class=${`badge ${STATE_CLASS[route.state] || 'st-other'}`}>${String(route.state ?? 'unknown')}</span>
    ${route.since && html` <span class="muted small" title=${fullTime(route.since)}>since ${shortTime(route.since)}</span>`}
    ${error && html`<div class="muted small route-error" title=${error.length > ERROR_CHARS ? error : undefined}>
      last error: ${error.length > ERROR_CHARS ? `${error.slice(0, ERROR_CHARS)}…` : error}</div>`}`;
}

function Row({ route, busy, onAction }) {
  const action = actionOf(route);
  const counts = route.delivered_1h == null ? 'no counts kept'
    : `${route.delivered_1h} delivered, ${route.failed_1h ?? 0} failed in the last hour`;
  const click = () => { if (!busy) onAction(route.name, action); };
  return html`<tr class="route-row" data-testid="route-row" data-route=${route.name}>
    <td data-label="route"><span class="route-name">${route.name}</span> <span class="muted small">${route.kind}</span></td>
    <td data-label="state"><${State} route=${route} /></td>
    <td data-label="held" class="num">${route.held == null ? '—' : String(route.held)}</td>
    <td data-label="delivered, last hour" class="num" title=${counts}>${successRate(route)}</td>
    <td data-label="action" class="route-action">${action
      ? html`<button type="button" class="small" aria-busy=${busy ? 'true' : 'false'} onClick=${click}
          aria-label=${`${action === 'pause' ? 'Pause' : 'Resume'} route ${route.name}`}>${busy ? '…' : action === 'pause' ? 'Pause' : 'Resume'}</button>`
      : null}</td>
  </tr>`;
}

/** The panel: `routes` null while the first answer is awaited. */
export function RoutesPanel({ routes, error, busyName, onAction }) {
  return html`<section class="routes-panel" aria-labelledby="routes-title" data-testid="routes-panel">
    <h2 id="routes-title" tabindex="-1">Routes</h2>
    ${error && html`<p class="error-text" role="alert">${error}</p>`}
    ${routes === null ? (error ? null : html`<p class="muted">Loading…</p>`)
      : routes.length === 0 ? html`<p class="muted">No route is configured: events are logged as unrouted. Routes are set in <code>ROUTES</code>.</p>`
        : html`<div class="table-scroll"><table class="route-table">
          <caption class="offscreen">Routes, in configuration order, with their state</caption>
          <thead><tr><th scope="col">route</th><th scope="col">state</th><th scope="col" class="num">held</th>
            <th scope="col" class="num">delivered, last hour</th><th scope="col"><span class="offscreen">action</span></th></tr></thead>
          <tbody>${routes.map((r) => html`<${Row} key=${r.name} route=${r} busy=${busyName === r.name} onAction=${onAction} />`)}</tbody>
        </table></div>`}
  </section>`;
}
