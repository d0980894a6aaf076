// The admin API (SPEC §8) as the console uses it. The token travels only in the
// Authorization header: never in a URL, never in a log.

const TOKEN_KEY = 'leadnest-edge.admin-token';

export const tokenStore = {
  get() {
    try { return sessionStorage.getItem(TOKEN_KEY); } catch { return null; }
  },
  set(token) { sessionStorage.setItem(TOKEN_KEY, token); },
  clear() {
    try { sessionStorage.removeItem(TOKEN_KEY); } catch { /* storage off: nothing kept */ }
  },
};

/** An answer other than 2xx, with the API's error code and sentence when it gave them. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const MESSAGES = {
  0: 'The worker could not be reached. Is it running?',
  401: 'The token was refused: it does not match ADMIN_TOKEN.',
  404: 'Not found.',
  503: 'The event log is not available right now (is the Durable Object EVENTS bound?). Try again shortly.',
};

/** A query string of the filled-in fields only. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** Calls `/admin/api${path}`; resolves to the JSON answer, rejects with an ApiError. */
export async function call(token, method, path, body) {
  const headers = { authorization: `Bearer ${token}`, accept: 'application/json' };
  const init = { method, headers, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`/admin/api${path}`, init);
  } catch {
    throw new ApiError(0, 'network', MESSAGES[0]);
  }
  let data = null;
  try { data = await response.json(); } catch { /* not JSON: described by the status below */ }
  if (!response.ok) {
    const code = (data && typeof data.error === 'string') ? data.error : `http_${response.status}`;
    const message = code === 'unauthorized' ? MESSAGES[401]
      : (data && typeof data.message === 'string') ? data.message
        : (MESSAGES[response.status] || `The worker answered ${response.status}.`);
    throw new ApiError(response.status, code, message);
  }
  return { status: response.status, data };
}

export const api = {
  events: (token, params) => call(token, 'GET', `/events${query(params)}`).then((r) => r.data),
  event: (token, id) => call(token, 'GET', `/events/${encodeURIComponent(id)}`).then((r) => r.data),
  replayEvent: (token, id, routes) => call(token, 'POST', `/events/${encodeURIComponent(id)}/replay`,
    routes ? { routes } : {}).then((r) => r.data),
  replayFailed: (token, scope) => call(token, 'POST', '/replay', scope).then((r) => r.data),
  stats: (token, params) => call(token, 'GET', `/stats${query(params)}`).then((r) => r.data),
  routes: (token) => call(token, 'GET', '/routes').then((r) => r.data),
  // `action`: pause or resume; no body. Answers the route's entry after the change.
  routeAction: (token, name, action) => call(token, 'POST', `/routes/${encodeURIComponent(name)}/${action}`).then((r) => r.data),
  // The ingress's answer is what matters here, whatever its status.
  test: async (token, event) => {
    try {
      return await call(token, 'POST', '/test', { event });
    } catch (error) {
      if (error.code === 'unauthorized' || error.status === 0) throw error;
      return { status: error.status, data: { error: error.code, message: error.message } };
    }
  },
};
