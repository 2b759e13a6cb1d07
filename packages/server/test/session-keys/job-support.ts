import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { createSimulator, type Simulator, type SimulatorOptions } from '@wxauth/wechat-sim';
import { sql } from 'kysely';
import type { Db } from '../../src/storage/create-db.ts';
import type { Vault } from '../../src/vault/vault.types.ts';
import { type NodeProcess, spawnNode } from '../support/node-process.ts';
import { urlInSchema } from '../support/test-db.ts';

/**
 * The simulator behind a thin counting proxy: its call records carry no openid, and these tests must
 * prove "each row checked exactly once", so the proxy counts checksession/reset calls per openid on
 * the way in (what WeChat would see), then hands the request to the simulator unchanged.
 */
export interface CountingSim {
  sim: Simulator;
  url: string;
  /** openid → calls to /wxa/checksession or /wxa/resetusersessionkey. */
  perOpenid: Map<string, number>;
  /** openid → those calls the simulator refused with 45011 (R4: the job asks again after the minute). */
  refusedPerOpenid: Map<string, number>;
  total(): number;
  close(): Promise<void>;
}

export async function startCountingSim(options: SimulatorOptions): Promise<CountingSim> {
  const sim = createSimulator({ maxCallRecords: 100_000, ...options });
  const perOpenid = new Map<string, number>();
  const refusedPerOpenid = new Map<string, number>();
  let total = 0;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sim');
    if (url.pathname === '/wxa/checksession' || url.pathname === '/wxa/resetusersessionkey') {
      const openid = url.searchParams.get('openid') ?? '';
      perOpenid.set(openid, (perOpenid.get(openid) ?? 0) + 1);
      total++;
      // The simulator answers with one res.end(body): read the errcode on the way out.
      const end = res.end.bind(res) as (...args: unknown[]) => typeof res;
      res.end = ((...args: unknown[]) => {
        const [body] = args;
        if (
          (typeof body === 'string' || Buffer.isBuffer(body)) &&
          /"errcode":\s*45011\b/.test(String(body))
        ) {
          refusedPerOpenid.set(openid, (refusedPerOpenid.get(openid) ?? 0) + 1);
        }
        return end(...args);
      }) as typeof res.end;
    }
    sim.handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;
  return {
    sim: { ...sim, url },
    url,
    perOpenid,
    refusedPerOpenid,
    total: () => total,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await sim.close();
    },
  };
}

export interface SeededRows {
  openids: string[];
  /** Rows whose stored key is not the user's current key at WeChat: the job must mark them stale. */
  stale: Set<string>;
}

/**
 * Creates `n` simulator users with known keys and inserts their identities directly in bulk (a login
 * per user would take minutes), each key sealed by `vault` exactly as the login path seals it. Every
 * `staleEvery`-th row stores a key WeChat does not know.
 */
export async function seedIdentities(
  db: Db,
  vault: Vault,
  sim: Simulator,
  input: { appId: string; n: number; staleEvery: number; prefix: string; at?: Date },
): Promise<SeededRows> {
  const openids: string[] = [];
  const stale = new Set<string>();
  const now = input.at ?? new Date(Date.now() - 60_000);
  const CHUNK = 1000;
  for (let start = 0; start < input.n; start += CHUNK) {
    const users: { id: string }[] = [];
    const identities: { openid: string; userId: string; enc: string }[] = [];
    for (let i = start; i < Math.min(input.n, start + CHUNK); i++) {
      const openid = `${input.prefix}${String(i).padStart(7, '0')}`;
      const sessionKey = randomBytes(16).toString('base64');
      sim.login({ appId: input.appId, openid, sessionKey });
      const stored =
        i % input.staleEvery === input.staleEvery - 1 ? randomBytes(16).toString('base64') : sessionKey;
      if (stored !== sessionKey) stale.add(openid);
      const userId = `u-${openid}`;
      users.push({ id: userId });
      identities.push({
        openid,
        userId,
        enc: vault.seal(stored, {
          table: 'wechat_identities',
          column: 'session_key_enc',
          rowId: `${input.appId}:${openid}`,
        }),
      });
      openids.push(openid);
    }
    await sql`INSERT INTO users (id, phone, created_at, updated_at) VALUES ${sql.join(
      users.map((u) => sql`(${u.id}, NULL, ${now}, ${now})`),
    )}`.execute(db.kysely);
    await sql`INSERT INTO wechat_identities (app_id, openid, user_id, unionid, session_key_enc, session_key_kid,
        session_key_status, session_key_updated_at, created_at, last_login_at) VALUES ${sql.join(
          identities.map(
            (
              r,
            ) => sql`(${input.appId}, ${r.openid}, ${r.userId}, NULL, ${r.enc}, ${vault.primaryKid()}, 'valid',
              ${now}, ${now}, ${now})`,
          ),
        )}`.execute(db.kysely);
  }
  return { openids, stale };
}

/** The sim's busiest second for one path: the rate limit must never have been exceeded. */
export function maxPerSecond(sim: Simulator, path: string): number {
  const perSecond = new Map<number, number>();
  for (const call of sim.calls()) {
    if (call.path !== path || call.errcode === 45011) continue;
    const second = Math.floor(call.at / 1000);
    perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
  }
  return Math.max(0, ...perSecond.values());
}

export async function identityStatuses(
  db: Db,
  appId: string,
): Promise<Map<string, { status: string; run: string | null }>> {
  const result = await sql<{ openid: string; status: string; run: string | null }>`
    SELECT openid, session_key_status AS status, session_key_check_run AS run
    FROM wechat_identities WHERE app_id = ${appId}`.execute(db.kysely);
  return new Map(result.rows.map((r) => [r.openid, { status: r.status, run: r.run }]));
}

export type CliRun = Pick<NodeProcess, 'child' | 'done'>;

const CLI = fileURLToPath(new URL('../../src/cli/jobs.ts', import.meta.url));

/** `node src/cli/jobs.ts …` in a child process: the job then runs in a process of its own, as in production. */
export function runJobsCli(args: string[], env: Record<string, string>): CliRun {
  return spawnNode(CLI, args, env);
}

/** The environment a CLI child needs to reach the simulator and the test's database. */
export function cliEnv(input: {
  simUrl: string;
  appId: string;
  secret: string;
  keysJson: string;
  database: { url: string; schema: string } | { dataDir: string };
  rate: number;
}): Record<string, string> {
  const db: Record<string, string> =
    'url' in input.database
      ? {
          WXAUTH_DATABASE_URL: urlInSchema(input.database.url, input.database.schema),
        }
      : { WXAUTH_DATA_DIR: input.database.dataDir };
  return {
    WXAUTH_APPS: JSON.stringify([{ appId: input.appId, secret: input.secret, apiBaseUrl: input.simUrl }]),
    WXAUTH_KEYS: input.keysJson,
    WXAUTH_SESSION_KEY_CHECK_RATE: String(input.rate),
    WXAUTH_LOG_LEVEL: 'warn',
    ...db,
  };
}

export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
