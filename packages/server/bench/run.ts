import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { startSimulator } from '@wxauth/wechat-sim';
import autocannon from 'autocannon';
import pg from 'pg';
import { generateKeySetJson } from '../src/config/keys.ts';

/**
 * A first benchmark (issue 2): WeChat logins/s and CPU per login on PGlite and on PostgreSQL, next to a
 * bare route of the same app. The simulator answers code2Session with a 50 ms median latency.
 * Everything runs on loopback; every load phase is bounded in time.
 *   npm run bench            — 10 s phases
 *   npm run bench -- --quick — 4 s phases
 */
const quick = process.argv.includes('--quick');
const SECONDS = quick ? 4 : 10;
const APP_ID = 'wxbench0000000000001';
const SECRET = 'bench-secret';
const PG_URL =
  process.env.BENCH_PG_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const sim = await startSimulator({
  apps: [{ appId: APP_ID, secret: SECRET, unionBound: true }],
  latencyMs: { median: 50, p99: 120 },
  code2SessionPerUserPerMinute: 1_000_000,
});
const keys = await generateKeySetJson();

interface Server {
  child: ChildProcess;
  url: string;
}

async function startServer(env: Record<string, string>): Promise<Server> {
  const child = spawn(process.execPath, [new URL('./server.ts', import.meta.url).pathname], {
    env: {
      ...process.env,
      WXAUTH_APPS: JSON.stringify([{ appId: APP_ID, secret: SECRET, apiBaseUrl: sim.url }]),
      WXAUTH_KEYS: keys,
      WXAUTH_LOG_LEVEL: 'warn',
      // One load generator on one address: the per-IP limits (R23) would measure themselves.
      WXAUTH_LOGIN_RATE_PER_MINUTE: '0',
      WXAUTH_REFRESH_RATE_PER_HOUR: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('bench server did not start')), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /READY (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]! });
      }
    });
    child.on('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
}

async function cpuMicros(url: string): Promise<number> {
  const usage = (await (await fetch(`${url}/__bench/cpu`)).json()) as { user: number; system: number };
  return usage.user + usage.system;
}

interface Result {
  rps: number;
  p50: number;
  p99: number;
  cpuPerOp: number;
  errors: number;
  non2xx: number;
}

async function load(url: string, path: string, connections: number, body?: () => string): Promise<Result> {
  const before = await cpuMicros(url);
  const result = await autocannon({
    url: `${url}${path}`,
    connections,
    duration: SECONDS,
    ...(body
      ? {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          requests: [{ setupRequest: (req) => ({ ...req, body: body() }) }],
        }
      : {}),
  });
  const after = await cpuMicros(url);
  const ops = result.requests.total;
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuPerOp: ops > 0 ? (after - before) / ops : 0,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

const loginBody = () => JSON.stringify({ code: sim.login({ appId: APP_ID }).code, appId: APP_ID });

async function pgReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

const rows: { store: string; scenario: string; r: Result }[] = [];
const stores: { name: string; env: Record<string, string>; cleanup?: () => Promise<void> }[] = [
  { name: 'PGlite (memory)', env: {} },
];
if (await pgReachable()) {
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  stores.push({
    name: 'PostgreSQL 15',
    env: { BENCH_DATABASE_URL: PG_URL, BENCH_SCHEMA: schema },
    cleanup: async () => {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    },
  });
}

for (const store of stores) {
  const server = await startServer(store.env);
  // Warm-up: JIT, connection pools, first token signatures.
  await load(server.url, '/__bench/bare', 20);
  await load(server.url, '/v1/auth/wechat/login', 20, loginBody);
  rows.push({ store: store.name, scenario: 'bare route', r: await load(server.url, '/__bench/bare', 50) });
  rows.push({
    store: store.name,
    scenario: 'WeChat login',
    r: await load(server.url, '/v1/auth/wechat/login', 100, loginBody),
  });
  server.child.kill('SIGTERM');
  await new Promise((r) => server.child.once('exit', r));
  await store.cleanup?.();
}
await sim.close();

const fmt = (n: number, d = 0) => n.toFixed(d);
const lines = [
  '| store | scenario | req/s | p50 ms | p99 ms | server CPU µs/op | errors | non-2xx |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    ({ store, scenario, r }) =>
      `| ${store} | ${scenario} | ${fmt(r.rps)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.cpuPerOp)} | ${r.errors} | ${r.non2xx} |`,
  ),
];
const table = lines.join('\n');
process.stdout.write(`\n${table}\n`);
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`;
writeFileSync(
  new URL('../../../docs/benchmarks.md', import.meta.url),
  `# Benchmarks

Measured by \`npm run bench${quick ? ' -- --quick' : ''}\` on ${machine}, ${new Date().toISOString().slice(0, 10)}.
Load generator (autocannon, closed loop), simulator and server share the machine; the server runs in its
own process, and CPU per operation is that process's user+system time divided by completed requests.
The simulator answers code2Session with a 50 ms median (p99 120 ms), so login latency is that plus ours.
Phases last ${SECONDS} s after a warm-up. Bare route: 50 connections; login: 100 connections, a fresh
\`wx.login\` code per request. PGlite runs with fsync off (in memory); PostgreSQL with its defaults.

${table}

This is the first benchmark of issue 2; the full suite with comparators (S0–S7 of
\`shared/performance.md\`) is issue 6.
`,
);
process.exit(0);
