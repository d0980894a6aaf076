// Counts per hour as an SVG bar chart, drawn at the container's real width so its
// text stays readable on a phone. Per hour two stacked bars: the requests LeadNest
// sent (accepted, duplicate, rejected) and the deliveries to routes (delivered,
// failed). A table below gives the same numbers to keyboards and screen readers.
import { html, useEffect, useRef, useState } from '../vendor/htm-preact.js';

const HOUR = 3600_000;
const HEIGHT = 150;
const MARGIN = { top: 8, right: 8, bottom: 20, left: 34 };
export const SERIES = [
  ['accepted', 'accepted'], ['duplicate', 'duplicate'], ['rejected', 'rejected'],
  ['delivered', 'delivered'], ['failed', 'failed'],
];

const num = (v) => (Number.isFinite(v) ? v : 0);

/** One row per hour from `since` to `until`, zero where the API gave none. */
export function fillHours(hours, since, until) {
  const byHour = new Map();
  for (const h of hours || []) {
    const t = Date.parse(h.hour);
    if (Number.isNaN(t)) continue;
    const rejectedByCode = (h.rejected && typeof h.rejected === 'object') ? h.rejected : {};
    byHour.set(t, {
      t, accepted: num(h.accepted), duplicate: num(h.duplicate), delivered: num(h.delivered), failed: num(h.failed),
      rejectedByCode, rejected: Object.values(rejectedByCode).reduce((a, b) => a + num(b), 0),
    });
  }
  const rows = [];
  const first = Math.floor(since / HOUR) * HOUR;
  for (let t = first; t < until; t += HOUR) {
    rows.push(byHour.get(t) || { t, accepted: 0, duplicate: 0, rejected: 0, rejectedByCode: {}, delivered: 0, failed: 0 });
  }
  return rows;
}

function niceMax(value) {
  if (value <= 4) return 4;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

const pad = (n) => String(n).padStart(2, '0');
const hourLabel = (t) => `${pad(new Date(t).getHours())}:00`;
const dayLabel = (t) => new Date(t).toLocaleDateString(undefined, { month: 'short', day: 'numeric' });

function codes(byCode) {
  return Object.entries(byCode).map(([code, n]) => `${code} ${n}`).join(', ');
}

export function describeHour(row) {
  const rejected = row.rejected ? ` (${codes(row.rejectedByCode)})` : '';
  return `${dayLabel(row.t)} ${hourLabel(row.t)}–${hourLabel(row.t + HOUR)}: ${row.accepted} accepted, `
    + `${row.duplicate} duplicate, ${row.rejected} rejected${rejected}, ${row.delivered} delivered, ${row.failed} failed`;
}

function Bars({ rows, width }) {
  const plotW = Math.max(10, width - MARGIN.left - MARGIN.right);
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const max = niceMax(Math.max(1, ...rows.map((r) => Math.max(r.accepted + r.duplicate + r.rejected, r.delivered + r.failed))));
  const slot = plotW / Math.max(1, rows.length);
  const barW = Math.max(1, slot * 0.38);
  const y = (v) => MARGIN.top + plotH - (v / max) * plotH;
  const stack = (x, parts) => {
    let base = 0;
    return parts.filter(([, v]) => v > 0).map(([name, v]) => {
      const top = y(base + v);
      const rect = html`<rect class=${`s-${name}`} x=${x} y=${top} width=${barW} height=${Math.max(0.5, y(base) - top)} />`;
      base += v;
      return rect;
    });
  };
  // Hour labels at least ~56 px apart; days instead when hours would be too dense.
  const every = [1, 2, 3, 6, 12].find((k) => k * slot >= 56);
  const daily = !every;
  const everyDays = [1, 2, 7].find((d) => d * 24 * slot >= 56) || 14;
  const ticks = rows.filter((r) => {
    const date = new Date(r.t);
    return daily ? date.getHours() === 0 && date.getDate() % everyDays === 0 : date.getHours() % every === 0;
  });
  return html`<svg class="chart-svg" width=${width} height=${HEIGHT} viewBox=${`0 0 ${width} ${HEIGHT}`}
      role="img" aria-label="Requests and deliveries per hour">
    ${[0, max / 2, max].map((v) => html`<g class="grid">
      <line x1=${MARGIN.left} x2=${width - MARGIN.right} y1=${y(v)} y2=${y(v)} />
      <text x=${MARGIN.left - 4} y=${y(v) + 4} text-anchor="end">${String(Math.round(v))}</text></g>`)}
    ${rows.map((r, i) => {
      const x = MARGIN.left + i * slot;
      return html`<g class="hour" key=${r.t}>
        <title>${describeHour(r)}</title>
        <rect class="hit" x=${x} y=${MARGIN.top} width=${slot} height=${plotH} />
        ${stack(x + slot * 0.1, [['accepted', r.accepted], ['duplicate', r.duplicate], ['rejected', r.rejected]])}
        ${stack(x + slot * 0.52, [['delivered', r.delivered], ['failed', r.failed]])}
      </g>`;
    })}
    ${ticks.map((r) => {
      const x = MARGIN.left + rows.indexOf(r) * slot;
      return html`<text class="tick" key=${r.t} x=${x} y=${HEIGHT - 5}>${daily ? dayLabel(r.t) : hourLabel(r.t)}</text>`;
    })}
  </svg>`;
}

/** The chart, its legend with totals, and the numbers as a table. */
export function HourlyChart({ rows }) {
  const box = useRef(null);
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const observer = new ResizeObserver(([entry]) => setWidth(Math.floor(entry.contentRect.width)));
    observer.observe(box.current);
    return () => observer.disconnect();
  }, []);
  const totals = { accepted: 0, duplicate: 0, rejected: 0, delivered: 0, failed: 0 };
  const byCode = {};
  for (const r of rows) {
    for (const key of Object.keys(totals)) totals[key] += r[key];
    for (const [code, n] of Object.entries(r.rejectedByCode)) byCode[code] = (byCode[code] || 0) + num(n);
  }
  const busy = rows.filter((r) => r.accepted || r.duplicate || r.rejected || r.delivered || r.failed).reverse();
  return html`<div class="chart">
    <div class="chart-box" ref=${box}>${width > 0 && html`<${Bars} rows=${rows} width=${width} />`}</div>
    <ul class="legend">
      ${SERIES.map(([key, label]) => html`<li key=${key}><span class=${`swatch s-${key}`} aria-hidden="true"></span>
        ${label} <strong>${totals[key].toLocaleString()}</strong>
        ${key === 'rejected' && totals.rejected > 0 ? html` <span class="muted">(${codes(byCode)})</span>` : ''}</li>`)}
    </ul>
    <details class="numbers">
      <summary>Numbers per hour</summary>
      ${busy.length === 0 ? html`<p class="muted">Nothing in this window.</p>` : html`<div class="table-scroll"><table>
        <thead><tr><th scope="col">hour</th><th scope="col">accepted</th><th scope="col">duplicate</th>
          <th scope="col">rejected</th><th scope="col">delivered</th><th scope="col">failed</th></tr></thead>
        <tbody>${busy.map((r) => html`<tr key=${r.t}>
          <th scope="row">${dayLabel(r.t)} ${hourLabel(r.t)}</th><td>${r.accepted}</td><td>${r.duplicate}</td>
          <td>${r.rejected}${r.rejected ? ` (${codes(r.rejectedByCode)})` : ''}</td><td>${r.delivered}</td><td>${r.failed}</td>
        </tr>`)}</tbody></table></div>`}
    </details>
  </div>`;
}
