// A JSON answer built in one call from wasm, not one call per header.
export function respond(status, body, allow) {
  const headers = { 'content-type': 'application/json' };
  if (allow !== undefined) headers.allow = allow;
  return new Response(body, { status, headers });
}
