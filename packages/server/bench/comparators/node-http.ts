import { createServer } from 'node:http';

/** fastify/benchmarks' node:http baseline (benchmarks/node-http.js), plus GET /__bench/cpu. */
const server = createServer((req, res) => {
  const body = JSON.stringify(req.url === '/__bench/cpu' ? process.cpuUsage() : { hello: 'world' });
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(body);
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(`READY http://127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
