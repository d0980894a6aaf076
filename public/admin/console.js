// The operator console (SPEC §9): sign in with ADMIN_TOKEN, then the event list with
// its filters and live refresh, an event's detail, replays, counts per hour, a
// send-test form, and the routes with their state, pause and resume (SPEC §10). Views are Preact components written with htm: values are set as
// text, never parsed as HTML, and nothing here evaluates strings as code.
import { html, render, useCallback, useEffect, useRef, useState } from './vendor/htm-preact.js';
import { api, ApiError, tokenStore } from './lib/api.js';
import { copyText } from './lib/bits.js';
import { fillHours, HourlyChart } from './lib/chart.js';
import { EventDetail } from './lib/event-detail.js';
import { EventList } from './lib/event-list.js';
import { RoutesPanel, TrippedBanner } from './lib/routes-panel.js';
import { bytes, EVENT_PATTERNS, EVENT_TYPES, fromLocalInput, fullTime, plural, shortTime, toLocalInput } from './lib/format.js';

const PAGE = 50;
/** Rows the list keeps before it falls back to the newest page alone. */
const MAX_ROWS = 1000;
const LIST_EVERY_MS = 3000;
const STATS_EVERY_MS = 30_000;
/** After an action (a replay, a test event), refresh every second for this long. */
const WATCH_MS = 20_000;
const HOUR = 3600_000;

const WINDOWS = [
  ['15m', 'last 15 minutes', 15 * 60_000], ['1h', 'last hour', HOUR], ['6h', 'last 6 hours', 6 * HOUR],
  ['24h', 'last 24 hours', 24 * HOUR], ['7d', 'last 7 days', 7 * 24 * HOUR], ['all', 'any time', null],
  ['custom', 'between…', null],
];
const EMPTY_FILTERS = { status: '', event: '', route: '', message_id: '', window: '24h', since: '', until: '' };

/**
 * A refreshed first page merged with the list shown: rows below the page's last one
 * stay (older pages loaded, and rows that new arrivals pushed down), so nothing the
 * reader has in view vanishes; past MAX_ROWS, the newest page alone, with its cursor.
 * A page with no cursor is the whole list: nothing below it is kept.
 */
function merged(prev, fresh, nextCursor, reset) {
  const at = reset || fresh.length === 0 || nextCursor === null ? -1 : prev.events.findIndex((e) => e.id === fresh[fresh.length - 1].id);
  const ids = new Set(fresh.map((e) => e.id));
  const tail = at < 0 ? [] : prev.events.slice(at + 1).filter((e) => !ids.has(e.id));
  if (tail.length === 0 || fresh.length + tail.length > MAX_ROWS) return { events: fresh, nextCursor };
  return { events: fresh.concat(tail), nextCursor: prev.nextCursor };
}

/** The window as RFC 3339 bounds ('' for open), fixed at `now`. */
function windowBounds(filters, now) {
  if (filters.window === 'custom') return { since: fromLocalInput(filters.since), until: fromLocalInput(filters.until) };
  const found = WINDOWS.find(([key]) => key === filters.window);
  return found && found[2] ? { since: new Date(now - found[2]).toISOString(), until: '' } : { since: '', until: '' };
}

/** The window as words that follow "received": `in the last hour`, `between … and …`. */
function windowLabel(filters) {
  if (filters.window === 'all') return 'at any time';
  if (filters.window !== 'custom') return `in the ${WINDOWS.find(([key]) => key === filters.window)?.[1] ?? ''}`;
  const from = filters.since ? filters.since.replace('T', ' ') : 'the start';
  const to = filters.until ? filters.until.replace('T', ' ') : 'now';
  return `between ${from} and ${to}`;
}

function listParams(filters, now) {
  const { since, until } = windowBounds(filters, now);
  return { status: filters.status, event: filters.event.trim(), route: filters.route.trim(),
    message_id: filters.message_id.trim(), since, until };
}

/** Whether a filter other than the time window narrows the list. */
const narrowed = (f) => Boolean(f.status || f.event.trim() || f.route.trim() || f.message_id.trim());

// ---------------------------------------------------------------------------------
// Sign in

function Login({ notice, onToken }) {
  const [error, setError] = useState(notice || '');
  const [checking, setChecking] = useState(false);
  const input = useRef(null);
  useEffect(() => { input.current?.focus(); }, []);
  const submit = async (e) => {
    e.preventDefault();
    const token = input.current.value.trim();
    if (!token) { setError('Paste the token first.'); return; }
    setChecking(true);
    setError('');
    try {
      await api.events(token, { limit: 1 }).catch((err) => {
        // The token is checked before the event log: a 503 means it passed.
        if (err.status !== 503) throw err;
      });
      tokenStore.set(token);
      onToken(token);
    } catch (err) {
      setChecking(false);
      setError(err.code === 'unauthorized' ? 'That token was refused: it does not match the worker’s ADMIN_TOKEN. Check it and paste it again.'
        : err.status === 404 ? 'The admin API is disabled on this worker: set the secret ADMIN_TOKEN (at least 32 characters) and reload.'
          : err.message);
      input.current?.select();
    }
  };
  // The input has no name and the form no action: a token can never end up in a URL.
  return html`<main class="login">
    <h1>leadnest-edge console</h1>
    <form onSubmit=${submit} class="card" novalidate>
      <label for="token">Admin token</label>
      <p class="muted small" id="token-help">The value of the worker’s <code>ADMIN_TOKEN</code> secret. It is kept in this tab only (sessionStorage) and sent only in the Authorization header.</p>
      <input id="token" ref=${input} type="password" autocomplete="off" spellcheck="false"
        aria-describedby="token-help token-error" aria-invalid=${error ? 'true' : 'false'} />
      <p id="token-error" class="error-text" role="alert">${error}</p>
      <button type="submit" class="primary" disabled=${checking}>${checking ? 'Checking…' : 'Sign in'}</button>
    </form>
  </main>`;
}

// ---------------------------------------------------------------------------------
// What the log holds and costs, as /stats meters it; a loss is never left unsaid.
function Storage({ storage: s }) {
  const parts = [`log: ${s.bytes_stored == null ? 'size unknown' : bytes(s.bytes_stored)}, ${plural(s.events_kept ?? 0, 'event')}`
    + ` in ${plural(s.shards ?? 0, 'shard')}`];
  if (s.oldest_event) parts.push(`oldest ${shortTime(s.oldest_event)}`);
  if (s.rows_written_per_event != null && s.rows_written > 0) parts.push(`${s.rows_written_per_event} rows written an event`);
  return html`<p class="muted small" data-testid="storage">${parts.join('; ')}
    ${s.log_writes_lost > 0 && html`<br /><strong class="error-text" data-testid="lost" title=${s.lost_since ? fullTime(s.lost_since) : ''}>
      ${plural(s.log_writes_lost, 'log write')} lost since ${s.lost_since ? shortTime(s.lost_since) : 'the oldest count kept'}</strong>`}</p>`;
}

// Filters, the send-test form, the bulk replay dialog

function Filters({ filters, routes, onChange, onReplayFailed }) {
  const set = (key) => (e) => onChange({ ...filters, [key]: e.currentTarget.value });
  const field = (key, label, control) => html`<div class="field"><label for=${`filter-${key}`}>${label}</label>${control}</div>`;
  return html`<form class="filters" onSubmit=${(e) => e.preventDefault()} aria-label="Filters">
    ${field('status', 'Status', html`<select id="filter-status" value=${filters.status} onChange=${set('status')}>
        <option value="">any</option><option value="failed">failed</option><option value="pending">pending</option>
        <option value="held">held</option><option value="delivered">delivered</option><option value="unrouted">unrouted</option>
      </select>`)}
    ${field('event', 'Event', html`<input id="filter-event" type="search" list="event-patterns" placeholder="email.* or sms.failed"
      value=${filters.event} onInput=${set('event')} spellcheck="false" />`)}
    ${field('route', 'Route', html`<input id="filter-route" type="search" list="route-names" placeholder="any"
      value=${filters.route} onInput=${set('route')} spellcheck="false" />`)}
    ${field('message_id', 'Message id', html`<input id="filter-message_id" type="search" placeholder="msg_…"
      value=${filters.message_id} onInput=${set('message_id')} spellcheck="false" />`)}
    ${field('window', 'Received', html`<select id="filter-window" value=${filters.window} onChange=${set('window')}>
        ${WINDOWS.map(([key, label]) => html`<option key=${key} value=${key}>${label}</option>`)}
      </select>`)}
    ${filters.window === 'custom' && html`
      ${field('since', 'From', html`<input id="filter-since" type="datetime-local" value=${filters.since} onChange=${set('since')} />`)}
      ${field('until', 'To', html`<input id="filter-until" type="datetime-local" value=${filters.until} onChange=${set('until')} />`)}`}
    <div class="filter-actions">
      <button type="button" onClick=${() => onChange({ ...EMPTY_FILTERS })}>Clear filters</button>
      <button type="button" class="danger" onClick=${onReplayFailed}>Replay failed…</button>
    </div>
    <datalist id="event-patterns">${EVENT_PATTERNS.map((p) => html`<option key=${p} value=${p} />`)}</datalist>
    <datalist id="route-names">${routes.map((r) => html`<option key=${r} value=${r} />`)}</datalist>
  </form>`;
}

function SendTest({ token, onSent, onUnauthorized }) {
  const [event, setEvent] = useState('email.opened');
  const [result, setResult] = useState(null);
  const [sending, setSending] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setSending(true);
    try {
      const answer = await api.test(token, event);
      setResult(answer);
      onSent(answer);
    } catch (err) {
      if (err.code === 'unauthorized') { onUnauthorized(); return; }
      setResult({ status: err.status, data: { error: err.code, message: err.message } });
    } finally {
      setSending(false);
    }
  };
  const data = result?.data || {};
  return html`<form class="send-test" onSubmit=${submit} aria-labelledby="send-title">
    <h2 id="send-title">Send a test event</h2>
    <p class="muted small">A realistic sample, signed with the first <code>WEBHOOK_SECRET</code> and run through the ingress, as LeadNest’s “Send Test” would.</p>
    <div class="row">
      <label class="offscreen" for="test-event">Event type</label>
      <select id="test-event" value=${event} onChange=${(e) => setEvent(e.currentTarget.value)}>
        ${Object.entries(EVENT_TYPES).map(([family, actions]) => html`<optgroup key=${family} label=${family}>
          ${actions.map((a) => html`<option key=${a} value=${`${family}.${a}`}>${family}.${a}</option>`)}</optgroup>`)}
      </select>
      <button type="submit" class="primary" disabled=${sending}>${sending ? 'Sending…' : 'Send'}</button>
    </div>
    <p class="send-result" role="status" data-testid="send-result">${result && (data.status === 'accepted'
      ? `${result.status} accepted: ${data.event}, message id ${data.message_id ?? '—'}, routes ${(data.routes || []).join(', ') || 'none'}. It shows in the list in a moment.`
      : `${result.status} ${data.status || data.error || ''}${data.message ? `: ${data.message}` : ''}`)}</p>
  </form>`;
}

function ReplayDialog({ state, onConfirm, onStop, onClose }) {
  const dialog = useRef(null);
  const action = useRef(null);
  useEffect(() => {
    const el = dialog.current;
    if (state && !el.open) el.showModal();
    if (!state && el.open) el.close();
  }, [state]);
  // The action of each step takes focus as it appears: Enter then means "go on".
  const phase = state?.phase;
  useEffect(() => { action.current?.focus(); }, [phase]);
  const s = state || {};
  const scope = s.scope || {};
  const where = [scope.event && `event ${scope.event}`, scope.route && `route ${scope.route}`].filter(Boolean).join(', ');
  const of = `${(s.replayed ?? 0).toLocaleString()} of ${plural(Math.max(s.count ?? 0, s.replayed ?? 0), 'event')}`;
  // Escape while replaying stops the run instead of hiding it.
  const cancel = (e) => { if (phase === 'running') { e.preventDefault(); onStop(); } };
  return html`<dialog ref=${dialog} class="card" aria-labelledby="replay-title" onCancel=${cancel} onClose=${onClose} data-testid="replay-dialog">
    <h2 id="replay-title">Replay failed events</h2>
    ${phase === 'counting' && html`<p>Counting the failed events ${s.label}…</p>`}
    ${phase === 'confirm' && (s.count === 0
      ? html`<p>No failed event ${s.label}${where ? ` (${where})` : ''}: nothing to replay.</p>`
      : html`<p data-testid="replay-count">Replay <strong>${plural(s.count, 'failed event')}</strong>
          received ${s.label}${where ? ` (${where})` : ''}? Each goes again to the routes where it failed, under the same webhook-id.</p>`)}
    ${phase === 'confirm' && s.ignoredMessageId && html`<p class="muted small">The message id filter does not narrow a bulk replay.</p>`}
    ${phase === 'running' && html`<p role="status" data-testid="replay-progress">Replayed ${of}…${s.stopping ? ' Stopping after the current call.' : ''}</p>
      <progress max=${Math.max(1, s.count)} value=${s.replayed} aria-label="Replay progress"></progress>`}
    ${phase === 'stopped' && html`<p role="status" data-testid="replay-stopped">${s.error ? 'The replay stopped on an error' : 'Stopped'} with ${of} replayed:
      <strong>${plural(s.remaining, 'failed event')} not replayed yet</strong>. Continue from where it stopped, or close and replay them later.</p>`}
    ${phase === 'done' && html`<p role="status">${plural(s.replayed, 'event')} sent to be delivered again.</p>`}
    ${s.error && html`<p class="error-text" role="alert">${s.error}</p>`}
    <form method="dialog" class="row end">
      ${phase === 'confirm' && s.count > 0 && html`<button type="button" class="danger" ref=${action} onClick=${onConfirm}>
        Replay ${plural(s.count, 'event')}</button>`}
      ${phase === 'stopped' && html`<button type="button" class="danger" ref=${action} onClick=${onConfirm}>
        Continue: ${plural(s.remaining, 'event')} left</button>`}
      ${phase === 'running'
        ? html`<button type="button" ref=${action} onClick=${onStop}>${s.stopping ? 'Stopping…' : 'Stop'}</button>`
        : html`<button type="submit" ref=${phase === 'done' ? action : undefined}>${phase === 'done' || phase === 'stopped' ? 'Close' : 'Cancel'}</button>`}
    </form>
  </dialog>`;
}

// ---------------------------------------------------------------------------------
// The console

function EmptyState({ filters, onClear, onAnyTime }) {
  if (narrowed(filters)) {
    return html`<div class="empty" data-testid="empty"><h3>No event matches these filters</h3>
      <p>Widen the time window or <button type="button" class="link" onClick=${onClear}>clear the filters</button>.</p></div>`;
  }
  const anyTime = filters.window === 'all';
  return html`<div class="empty" data-testid="empty"><h3>${anyTime ? 'No events yet' : `No events received ${windowLabel(filters)}`}</h3>
    ${!anyTime && html`<p><button type="button" class="link" onClick=${onAnyTime}>Show events of any time</button>.</p>`}
    <p>Send one with <strong>Send a test event</strong> above, or from a terminal in the project’s folder:</p>
    <pre>npm run send -- email.opened</pre>
    <p>For real traffic, point LeadNest’s webhook at <code>${'https://<this worker>/webhooks/leadnest'}</code>.
    Events appear here within seconds and are kept for <code>EVENT_RETENTION_DAYS</code> (7 by default).</p></div>`;
}

function Console({ token, onSignOut }) {
  const [filters, setFilters] = useState(EMPTY_FILTERS);
  const [list, setList] = useState({ events: [], nextCursor: null, loaded: false, error: null });
  const [newIds, setNewIds] = useState(new Set());
  const [openId, setOpenId] = useState(null);
  const [detail, setDetail] = useState({ data: null, error: null });
  const [stats, setStats] = useState(null);
  const [live, setLive] = useState(true);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState('');
  const [updated, setUpdated] = useState(null);
  const [replay, setReplay] = useState(null);
  const [watchMessageId, setWatchMessageId] = useState(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [routes, setRoutes] = useState({ list: null, error: null });
  const [routeBusy, setRouteBusy] = useState(null);

  // Refs for the timer, which must see the latest values without restarting.
  const current = useRef({});
  current.current = { filters, list, openId, live };
  const generation = useRef(0);
  const listInFlight = useRef(false);
  const routesInFlight = useRef(false);
  const watchUntil = useRef(0);
  const last = useRef({ list: 0, detail: 0, stats: 0 });
  const opener = useRef(null);

  const failed = useCallback((err) => {
    if (err instanceof ApiError && err.code === 'unauthorized') {
      tokenStore.clear();
      onSignOut('The token was refused (was ADMIN_TOKEN changed?). Paste the current one.');
      return true;
    }
    return false;
  }, [onSignOut]);

  const refreshList = useCallback(async (reset = false) => {
    if (listInFlight.current && !reset) return;
    const mine = reset ? ++generation.current : generation.current;
    listInFlight.current = true;
    last.current.list = Date.now();
    const f = current.current.filters;
    const shown = reset ? 0 : current.current.list.events.length;
    try {
      const data = await api.events(token, { ...listParams(f, Date.now()), limit: Math.min(200, Math.max(PAGE, shown)) });
      if (mine !== generation.current) return;
      const fresh = data.events || [];
      const known = new Set(current.current.list.events.map((e) => e.id));
      setNewIds(new Set(!reset && current.current.list.loaded ? fresh.filter((e) => !known.has(e.id)).map((e) => e.id) : []));
      // Merged with the list as it is now (an older page may have come in meanwhile).
      setList((prev) => ({ ...merged(prev, fresh, data.next_cursor ?? null, reset), loaded: true, error: null }));
      setUpdated(new Date());
      if (!performance.getEntriesByName('first-list').length) performance.mark('first-list');
    } catch (err) {
      if (mine !== generation.current || failed(err)) return;
      setList((prev) => ({ ...prev, loaded: true, error: err.message }));
    } finally {
      if (mine === generation.current) listInFlight.current = false;
    }
  }, [token, failed]);

  const loadMore = async () => {
    const { filters: f, list: before } = current.current;
    if (!before.nextCursor) return;
    setLoadingMore(true);
    try {
      const data = await api.events(token, { ...listParams(f, Date.now()), limit: PAGE, cursor: before.nextCursor });
      setList((prev) => {
        const ids = new Set(prev.events.map((e) => e.id));
        return { ...prev, events: prev.events.concat((data.events || []).filter((e) => !ids.has(e.id))), nextCursor: data.next_cursor ?? null };
      });
    } catch (err) {
      if (!failed(err)) setNotice(err.message);
    } finally {
      setLoadingMore(false);
    }
  };

  const refreshDetail = useCallback(async (id) => {
    last.current.detail = Date.now();
    try {
      const data = await api.event(token, id);
      if (current.current.openId === id) setDetail({ data, error: null });
    } catch (err) {
      if (failed(err) || current.current.openId !== id) return;
      setDetail((prev) => ({ data: prev.data, error: err.status === 404 ? 'This event is no longer in the log (purged after EVENT_RETENTION_DAYS).' : err.message }));
    }
  }, [token, failed]);

  // The routes come with the list: the same live refresh, one call at a time.
  const refreshRoutes = useCallback(async () => {
    if (routesInFlight.current) return;
    routesInFlight.current = true;
    try {
      const data = await api.routes(token);
      setRoutes({ list: data.routes || [], error: null });
    } catch (err) {
      if (!failed(err)) setRoutes((prev) => ({ ...prev, error: `The routes could not be read: ${err.message}` }));
    } finally {
      routesInFlight.current = false;
    }
  }, [token, failed]);

  useEffect(() => { refreshRoutes(); }, [refreshRoutes]);

  const routeAction = async (name, action) => {
    setRouteBusy(name);
    try {
      const entry = await api.routeAction(token, name, action);
      setRoutes((prev) => ({ ...prev, list: (prev.list || []).map((r) => (r.name === entry.name ? entry : r)) }));
      setNotice(action === 'pause' ? `Paused ${name}: its deliveries are held until it is resumed.`
        : `Resumed ${name}: its held deliveries are sent, oldest first.`);
      watch();
    } catch (err) {
      if (!failed(err)) setNotice(`Could not ${action} ${name}: ${err.message}`);
    } finally {
      setRouteBusy(null);
    }
  };

  const refreshStats = useCallback(async () => {
    last.current.stats = Date.now();
    const f = current.current.filters;
    const now = Date.now();
    let { since, until } = windowBounds(f, now);
    // At least a day, so the chart has context; "any time" shows the retention week.
    if (!since || Date.parse(until || now) - Date.parse(since) < 24 * HOUR) {
      since = new Date(Date.parse(until || new Date(now).toISOString()) - (f.window === 'all' ? 7 * 24 : 24) * HOUR + 1).toISOString();
    }
    try {
      const data = await api.stats(token, { since, until });
      setStats({ rows: fillHours(data.hours, Date.parse(since), until ? Date.parse(until) : now), storage: data.storage });
    } catch (err) {
      if (!failed(err)) setStats((prev) => ({ rows: prev?.rows || [], error: err.message }));
    }
  }, [token, failed]);

  // Filters changed: a fresh list at once for a select, after typing stops for text.
  const firstRun = useRef(true);
  useEffect(() => {
    const delay = firstRun.current ? 0 : 250;
    firstRun.current = false;
    const timer = setTimeout(() => { refreshList(true); refreshStats(); }, delay);
    return () => clearTimeout(timer);
  }, [filters, refreshList, refreshStats]);

  useEffect(() => {
    if (openId) { setDetail({ data: null, error: null }); refreshDetail(openId); }
  }, [openId, refreshDetail]);

  // One timer drives every refresh; a hidden tab polls nothing.
  useEffect(() => {
    const timer = setInterval(() => {
      if (document.hidden) return;
      const now = Date.now();
      const watching = now < watchUntil.current;
      const { live: isLive, openId: id } = current.current;
      if (!isLive && !watching) return;
      const every = watching ? 1000 : LIST_EVERY_MS;
      if (now - last.current.list >= every - 50) { refreshList(); refreshRoutes(); }
      if (id && now - last.current.detail >= every - 50) refreshDetail(id);
      if (now - last.current.stats >= (watching ? 5000 : STATS_EVERY_MS)) refreshStats();
    }, 1000);
    return () => clearInterval(timer);
  }, [refreshList, refreshDetail, refreshStats, refreshRoutes]);

  const open = (id, button) => { opener.current = button; setOpenId(id); };
  const close = () => {
    setOpenId(null);
    // Back to the row it was opened from, or to the list when a filter dropped that row.
    const button = opener.current;
    if (button && button.isConnected) button.focus();
    else document.getElementById('events-title')?.focus();
  };

  useEffect(() => {
    if (!openId) return undefined;
    const onKey = (e) => { if (e.key === 'Escape' && !document.querySelector('dialog[open]')) close(); };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [openId]);

  const watch = () => { watchUntil.current = Date.now() + WATCH_MS; };

  const replayOne = async (routes) => {
    const id = openId;
    setBusy(true);
    try {
      const data = await api.replayEvent(token, id, routes);
      const names = data.replayed || [];
      setNotice(names.length ? `Replaying to ${names.join(', ')}: new attempts appear below.` : 'Nothing to replay.');
      watch();
      refreshDetail(id);
      refreshList();
    } catch (err) {
      if (!failed(err)) setNotice(`Replay refused: ${err.message}`);
    } finally {
      setBusy(false);
    }
  };

  // One bulk replay at a time; Stop and closing the dialog tell the running loop.
  const replayRun = useRef(null);
  const replayBody = (scope, cursor, dryRun) => Object.fromEntries(Object.entries({ ...scope, cursor, dry_run: dryRun }).filter(([, v]) => v));
  // The dry run counts exactly what the replay takes (only deliveries that failed).
  const wouldReplay = async (scope, cursor) => (await api.replayFailed(token, replayBody(scope, cursor, true))).would_replay ?? 0;

  const startBulkReplay = async () => {
    const f = current.current.filters;
    const now = Date.now();
    const { since, until } = windowBounds(f, now);
    // The window is fixed now, its end included, so the count and the replay cover the same events.
    const scope = { status: 'failed', event: f.event.trim(), route: f.route.trim(), since, until: until || new Date(now).toISOString() };
    const state = { phase: 'counting', scope, label: windowLabel(f), ignoredMessageId: Boolean(f.message_id.trim()), replayed: 0, cursor: null };
    setReplay(state);
    try {
      const count = await wouldReplay(scope, null);
      setReplay((shown) => shown && { ...state, phase: 'confirm', count });
    } catch (err) {
      if (!failed(err)) setReplay((shown) => shown && { ...state, phase: 'confirm', count: 0, error: err.message });
    }
  };

  // Replays call after call until no cursor is left; a stop or an error keeps the
  // cursor, so "Continue" picks up where it ended.
  const runBulkReplay = async () => {
    const run = { stop: false, closed: false };
    replayRun.current = run;
    let s = { ...replay, phase: 'running', stopping: false, error: null };
    const show = (next) => { if (!run.closed) setReplay(next); };
    show(s);
    let finished = false;
    try {
      while (!run.stop) {
        const data = await api.replayFailed(token, replayBody(s.scope, s.cursor, false));
        s = { ...s, replayed: s.replayed + (data.replayed || 0), cursor: data.next_cursor ?? null };
        finished = !s.cursor;
        if (finished) break;
        show({ ...s, stopping: run.stop });
      }
    } catch (err) {
      if (failed(err)) return;
      s = { ...s, error: err.message };
    }
    watch();
    refreshList();
    if (!finished) {
      const remaining = await wouldReplay(s.scope, s.cursor).catch(() => Math.max(0, s.count - s.replayed));
      finished = remaining === 0;
      s = { ...s, remaining };
    }
    if (finished) {
      show({ ...s, phase: 'done' });
      setNotice(`${plural(s.replayed, 'failed event')} sent to be delivered again.`);
    } else {
      show({ ...s, phase: 'stopped' });
      setNotice(`Bulk replay stopped: ${s.replayed.toLocaleString()} replayed, ${plural(s.remaining, 'failed event')} not replayed yet.`);
    }
    if (replayRun.current === run) replayRun.current = null;
  };

  const stopBulkReplay = () => {
    if (!replayRun.current) return;
    replayRun.current.stop = true;
    setReplay((shown) => shown && { ...shown, stopping: true });
  };

  const closeBulkReplay = () => {
    // Closed while running (the browser may force it): stop, and say the outcome in the notice.
    if (replayRun.current) Object.assign(replayRun.current, { stop: true, closed: true });
    setReplay(null);
  };

  const copy = async (text, what) => {
    setNotice(await copyText(text) ? `Copied ${what}.` : `Could not copy ${what}: select it and copy by hand.`);
  };

  const onSent = (answer) => {
    if (answer.data?.status === 'accepted') {
      setWatchMessageId(answer.data.message_id ?? null);
      watch();
      refreshList();
      refreshStats();
    }
  };

  const routeNames = [...new Set([...(routes.list || []).map((r) => r.name),
    ...list.events.flatMap((e) => (e.routes || []).map((r) => r.name))])].sort();
  const summary = list.events.find((e) => e.id === openId);

  return html`<div class=${`console${openId ? ' has-detail' : ''}`}>
    <a class="skip" href="#events-title">Skip to the events</a>
    <${TrippedBanner} routes=${routes.list} />
    <header class="top">
      <h1>leadnest-edge <span class="muted">console</span></h1>
      <div class="row">
        <label class="toggle"><input type="checkbox" checked=${live} onChange=${(e) => setLive(e.currentTarget.checked)} />
          Live${live ? '' : ' (paused)'}</label>
        <span class="muted small" aria-live="off">${updated ? `updated ${shortTime(updated)}` : ''}</span>
        <button type="button" onClick=${() => { tokenStore.clear(); onSignOut(''); }}>Sign out</button>
      </div>
    </header>
    <p class="notice" role="status" data-testid="notice">${notice}</p>
    <div class="panels">
      <section class="traffic" aria-labelledby="traffic-title">
        <h2 id="traffic-title">Traffic per hour</h2>
        ${stats?.error && html`<p class="error-text">${stats.error}</p>`}
        ${stats ? html`<${HourlyChart} rows=${stats.rows} />` : html`<p class="muted">Loading…</p>`}
        ${stats?.storage && html`<${Storage} storage=${stats.storage} />`}
      </section>
      <${SendTest} token=${token} onSent=${onSent} onUnauthorized=${() => failed(new ApiError(401, 'unauthorized', ''))} />
    </div>
    <${RoutesPanel} routes=${routes.list} error=${routes.error} busyName=${routeBusy} onAction=${routeAction} />
    <${Filters} filters=${filters} routes=${routeNames} onChange=${setFilters} onReplayFailed=${startBulkReplay} />
    <div class="layout">
      <section class="list" aria-labelledby="events-title">
        <h2 id="events-title" tabindex="-1">Events <span class="muted small">${list.loaded ? `${list.events.length.toLocaleString()} shown, received ${windowLabel(filters)}` : ''}</span></h2>
        ${list.error && html`<p class="error-text" role="alert">${list.error}</p>`}
        ${!list.loaded ? html`<p class="muted">Loading…</p>`
          : list.events.length === 0 ? (list.error ? null : html`<${EmptyState} filters=${filters} onClear=${() => setFilters({ ...EMPTY_FILTERS })}
              onAnyTime=${() => setFilters({ ...filters, window: 'all' })} />`)
            : html`<${EventList} events=${list.events} selectedId=${openId} newIds=${newIds} watchMessageId=${watchMessageId} onOpen=${open} />`}
        ${list.nextCursor && html`<p><button type="button" onClick=${loadMore} disabled=${loadingMore}>${loadingMore ? 'Loading…' : 'Load older events'}</button></p>`}
      </section>
      ${openId && html`<${EventDetail} id=${openId} summary=${summary} detail=${detail.data} error=${detail.error}
        busy=${busy} onClose=${close} onReplay=${replayOne} onCopy=${copy} />`}
    </div>
    <${ReplayDialog} state=${replay} onConfirm=${runBulkReplay} onStop=${stopBulkReplay} onClose=${closeBulkReplay} />
  </div>`;
}

function App() {
  const [token, setToken] = useState(() => tokenStore.get());
  const [notice, setNotice] = useState('');
  if (!token) return html`<${Login} notice=${notice} onToken=${(t) => { setNotice(''); setToken(t); }} />`;
  return html`<${Console} token=${token} onSignOut=${(message) => { setNotice(message); setToken(null); }} />`;
}

const root = document.getElementById('app');
root.textContent = '';
render(html`<${App} />`, root);
