// A stand-in Prometheus for scripts/build-image.sh: answers /api/v1/query with a healthy group (skew 1.25 on one
// topic, 3 consumers), so that the image's /ready can be shown answering 200 on a real verdict. Loopback only.
// Usage: node scripts/image/fake-prometheus.mjs PORTFILE   (listens on a free port, writes it to PORTFILE)

import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';

const portFile = process.argv[2];
if (!portFile) {
  process.stderr.write('usage: fake-prometheus.mjs PORTFILE\n');
  process.exit(2);
}

const server = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/api/v1/query') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const query = new URLSearchParams(body).get('query') ?? url.searchParams.get('query') ?? '';
    const now = Date.now() / 1000;
    const group = /consumergroup="([^"]*)"/.exec(query)?.[1] ?? 'crm-events-sse';
    const result = query.includes('group_skew_ratio')
      ? [{ metric: { consumergroup: group, topic: 'aetherlink.events' }, value: [now, '1.25'] }]
      : query.includes('group_consumer_count')
        ? [{ metric: { consumergroup: group }, value: [now, '3'] }]
        : [];
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));
  });
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  writeFileSync(portFile, `${typeof address === 'object' && address ? address.port : ''}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, () => server.close(() => process.exit(0)));
