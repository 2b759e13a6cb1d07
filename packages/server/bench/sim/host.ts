import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createSimulator, type SimulatorOptions } from '@wxauth/wechat-sim';
import { collectGarbage } from '../lib/harness-gc.ts';
import { seededOpenid, seededSessionKey } from '../lib/seed-keys.ts';

/**
 * The WeChat simulator in a process of its own (so its event loop does not share one with the load
 * generator, which would skew the latency it adds), plus bench-only routes:
 *   GET  /__bench/cpu                 process.cpuUsage()
 *   GET  /__bench/codes?appId=&n=     n fresh wx.login codes (n new users) in one answer
 *   POST /__bench/seed                {appId, prefix, n, seed}: users with derivable session keys (S6)
 *   GET  /__bench/counters            checksession calls: total, refused with 45011, busiest second
 *   POST /__bench/counters/reset
 *   POST /__bench/upstream-times      {codes}: how long each code's code2Session took inside the simulator
 *   POST /__bench/gc                  a full garbage collection now, between phases (HARNESS_NODE_FLAGS)
 * Everything else goes to the simulator unchanged. Options come from SIM_OPTIONS (JSON).
 */
const options = JSON.parse(process.env.SIM_OPTIONS ?? '{}') as SimulatorOptions;
const sim = createSimulator(options);

const MAX_CODES_PER_CALL = 10_000;
let checks = { total: 0, overLimit: 0, perSecond: new Map<number, number>() };
/** code → ms from arrival to answer, for S1's per-request overhead; bounded, oldest dropped first. */
const upstreamMs = new Map<string, number>();
const MAX_TIMED = 500_000;

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text === '' ? {} : JSON.parse(text);
}

/**
 * Counts what WeChat would see: the answer's errcode, read on its way out, and admitted calls per
 * second of their arrival (as the simulator's limit counts them; the answer may leave seconds later).
 */
function countCheck(res: ServerResponse): void {
  const second = Math.floor(Date.now() / 1000);
  const end = res.end.bind(res) as (chunk?: unknown, ...rest: unknown[]) => ServerResponse;
  res.end = ((chunk?: unknown, ...rest: unknown[]) => {
    checks.total++;
    const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : '';
    if (text.includes('"errcode":45011')) checks.overLimit++;
    else {
      checks.perSecond.set(second, (checks.perSecond.get(second) ?? 0) + 1);
    }
    return end(chunk, ...rest);
  }) as ServerResponse['end'];
}

/** Times a code2Session answer from arrival to the end of the response, keyed by its code. */
function timeCode2Session(res: ServerResponse, url: URL): void {
  const code = url.searchParams.get('js_code');
  if (!code) return;
  const arrived = performance.now();
  res.once('finish', () => {
    upstreamMs.set(code, performance.now() - arrived);
    if (upstreamMs.size > MAX_TIMED) upstreamMs.delete(upstreamMs.keys().next().value!);
  });
}

async function bench(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const route = `${req.method} ${url.pathname}`;
  if (route === 'GET /__bench/cpu') return json(res, 200, process.cpuUsage());
  if (route === 'GET /__bench/codes') {
    const appId = url.searchParams.get('appId') ?? '';
    const n = Math.min(MAX_CODES_PER_CALL, Math.max(1, Number(url.searchParams.get('n') ?? '1')));
    const codes: string[] = [];
    for (let i = 0; i < n; i++) codes.push(sim.login({ appId }).code);
    return json(res, 200, { codes });
  }
  if (route === 'POST /__bench/seed') {
    const body = (await readBody(req)) as { appId: string; prefix: string; n: number; seed: string };
    const started = performance.now();
    for (let i = 0; i < body.n; i++) {
      sim.login({
        appId: body.appId,
        openid: seededOpenid(body.prefix, i),
        sessionKey: seededSessionKey(body.seed, i),
      });
    }
    return json(res, 200, { users: body.n, ms: performance.now() - started });
  }
  if (route === 'GET /__bench/counters') {
    return json(res, 200, {
      checksession: {
        total: checks.total,
        overLimit: checks.overLimit,
        maxPerSecond: Math.max(0, ...checks.perSecond.values()),
      },
    });
  }
  if (route === 'POST /__bench/upstream-times') {
    const body = (await readBody(req)) as { codes: string[] };
    return json(res, 200, { ms: body.codes.map((code) => upstreamMs.get(code) ?? null) });
  }
  if (route === 'POST /__bench/gc') {
    collectGarbage();
    return json(res, 200, { ok: true });
  }
  if (route === 'POST /__bench/counters/reset') {
    checks = { total: 0, overLimit: 0, perSecond: new Map() };
    return json(res, 200, { ok: true });
  }
  json(res, 404, { error: 'no such bench route' });
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://sim');
  if (url.pathname.startsWith('/__bench/')) {
    bench(req, res, url).catch((err: unknown) => json(res, 500, { error: String(err) }));
    return;
  }
  if (url.pathname === '/wxa/checksession') countCheck(res);
  if (url.pathname === '/sns/jscode2session') timeCode2Session(res, url);
  sim.handler(req, res);
});
// Load generators open hundreds of keep-alive connections; the defaults would close idle ones early.
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(`READY http://127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
  void sim.close();
});
