// The HTTP backend of the routed path, in its own process so that neither the
// load generator nor the measured workerd pays for it. Counts deliveries (the
// parent reads the count over IPC). An event whose data holds "sink_delay_ms": N
// is answered after N ms, so slow and instant deliveries can be interleaved.
import { createServer } from 'node:http';

let received = 0;
const server = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8').on('data', (chunk) => { body += chunk; });
  req.on('end', () => {
    received++;
    const delayMs = Number(/"sink_delay_ms":(\d+)/.exec(body)?.[1] ?? 0);
    const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  });
});
server.keepAliveTimeout = 60_000;
process.on('message', (msg) => process.send({ id: msg.id, received }));
process.on('disconnect', () => process.exit(0));
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
