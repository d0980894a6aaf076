// Formatting shared by the views. Every function returns plain text.

/** The 18 events LeadNest sends (SPEC §1), by family: the samples of fixtures/events, checked by tests/node/console-files.test.mjs. */
export const EVENT_TYPES = {
  email: ['sent', 'delivered', 'opened', 'clicked', 'bounced', 'unsubscribed', 'spam'],
  sms: ['sent', 'delivered', 'failed', 'replied'],
  whatsapp: ['sent', 'delivered', 'read', 'replied'],
  subscriber: ['created', 'updated', 'deleted'],
};

export const ALL_EVENTS = Object.entries(EVENT_TYPES)
  .flatMap(([family, actions]) => actions.map((action) => `${family}.${action}`));

/** Suggestions for the event filter: every family pattern, then every event. */
export const EVENT_PATTERNS = ['*', ...Object.keys(EVENT_TYPES).map((f) => `${f}.*`), ...ALL_EVENTS];

const pad = (n, width = 2) => String(n).padStart(width, '0');

function parse(value) {
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** `14:03:07` today, `Dec 1 14:03:07` another day, in local time. */
export function shortTime(value, now = new Date()) {
  const date = parse(value);
  if (!date) return String(value ?? '');
  const clock = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  if (date.toDateString() === now.toDateString()) return clock;
  const day = date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  return `${day} ${clock}`;
}

/** `2026-12-02 14:03:07.123` in local time, with the offset, for titles and details. */
export function fullTime(value) {
  const date = parse(value);
  if (!date) return String(value ?? '');
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const zone = `${sign}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} `
    + `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)} ${zone}`;
}

/** `3 s ago`, `5 min ago`, `2 h ago`, `4 d ago`. */
export function ago(value, now = Date.now()) {
  const date = parse(value);
  if (!date) return '';
  const seconds = Math.max(0, Math.round((now - date.getTime()) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

/** A size in bytes as people read it: 3.1 GB, 840 KB. */
export function bytes(n) {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function plural(n, one, many = `${one}s`) {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
}

/** An <input type="datetime-local"> value (local time) from a Date, and back to ISO. */
export function toLocalInput(date) {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export function fromLocalInput(value) {
  const date = value ? new Date(value) : null;
  return date && !Number.isNaN(date.getTime()) ? date.toISOString() : '';
}
