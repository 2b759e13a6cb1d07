import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { openRawStore } from './refresh/raw-store.ts';
import { bindRotate, captureRotateStatement } from './refresh/rotate-statement.ts';

/**
 * S3's DB floor: no HTTP on the measured path, just wxauth's own refresh-rotation statement in a loop
 * on a raw driver, by `concurrency` workers each rotating its own session (as each load-generator
 * connection does against wxauth). Controlled over loopback:
 *   POST /run {seconds, concurrency}  → {ops, errors, seconds, cpuMicros}  (CPU of this process)
 *   GET  /__bench/cpu
 * Env: REFRESH_DB=pglite|pg, REFRESH_DATABASE_URL, REFRESH_SCHEMA.
 */
const kind = process.env.REFRESH_DB === 'pg' ? 'pg' : 'pglite';
const store = await openRawStore(kind, process.env.REFRESH_DATABASE_URL, process.env.REFRESH_SCHEMA);
const statement = await captureRotateStatement();
const IDLE_TTL_MS = 30 * 86_400_000;
const MAX_WORKERS = 1_024;

interface Chain {
  sessionId: string;
  generation: number;
  tokenHash: Buffer;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();
let seeded = 0;

/** One user and one fresh session per worker, as a login would leave them. */
async function newChain(): Promise<Chain> {
  const n = seeded++;
  const now = new Date();
  const userId = `floor-user-${n}`;
  const chain = { sessionId: `floor-session-${n}`, generation: 0, tokenHash: sha256(randomBytes(32)) };
  await store.query('INSERT INTO users (id, phone, created_at, updated_at) VALUES ($1, NULL, $2, $2)', [
    userId,
    now,
  ]);
  await store.query(
    `INSERT INTO sessions (id, user_id, app_id, method, created_at, last_used_at, idle_expires_at, expires_at,
       generation, token_hash, rotated_at) VALUES ($1, $2, 'wxbench', 'wechat', $3, $3, $4, $4, 0, $5, $3)`,
    [chain.sessionId, userId, now, new Date(now.getTime() + IDLE_TTL_MS), chain.tokenHash],
  );
  return chain;
}

async function run(seconds: number, concurrency: number) {
  const workers = Math.min(MAX_WORKERS, Math.max(1, concurrency));
  const chains = await Promise.all(Array.from({ length: workers }, newChain));
  let ops = 0;
  let errors = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    chains.map(async (chain) => {
      while (performance.now() < end) {
        const childHash = sha256(randomBytes(32));
        const now = new Date();
        const params = bindRotate(statement, {
          ...chain,
          childHash,
          now,
          idleUntil: new Date(now.getTime() + IDLE_TTL_MS),
        });
        try {
          const result = await store.query(statement.sql, params);
          if (result.rows.length === 1) {
            chain.generation++;
            chain.tokenHash = childHash;
            ops++;
          } else errors++;
        } catch {
          errors++;
        }
      }
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  return { ops, errors, seconds: (performance.now() - started) / 1000, cpuMicros: cpu.user + cpu.system };
}

const server = createServer((req, res) => {
  const reply = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.method === 'GET' && req.url === '/__bench/cpu') return reply(200, process.cpuUsage());
  if (req.method === 'POST' && req.url === '/run') {
    let text = '';
    req.on('data', (chunk) => {
      text += chunk;
    });
    req.on('end', () => {
      const body = JSON.parse(text || '{}') as { seconds?: number; concurrency?: number };
      const seconds = Math.min(600, Math.max(0.1, body.seconds ?? 1));
      run(seconds, body.concurrency ?? 1).then(
        (result) => reply(200, result),
        (err: unknown) => reply(500, { error: String(err) }),
      );
    });
    return;
  }
  reply(404, { error: 'not found' });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(`READY http://127.0.0.1:${port}\n`);
});
process.on('SIGTERM', async () => {
  setTimeout(() => process.exit(0), 3_000).unref();
  server.close();
  await store.close();
  process.exit(0);
});
