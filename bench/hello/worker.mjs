// The runtime's floor: reads the body (every real ingress must) and answers a
// fixed JSON 200. Whatever a worker costs above this is its own.
export default {
  async fetch(request) {
    await request.arrayBuffer();
    return new Response('{"status":"ok"}', { headers: { 'content-type': 'application/json' } });
  },
};
