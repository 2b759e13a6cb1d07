import { existsSync } from 'node:fs';
import { generateKeySetJson } from '../../src/config/keys.ts';
import { NODE_FLAGS } from '../../src/v8-tuning.ts';
import { APP_ID, SECRET, type Sim } from '../sim/client.ts';
import { benchScript, type Child, spawnChild } from './children.ts';
import { generateEs256Jwk } from './es256.ts';
import { createSchema, dropSchema, type Store } from './stores.ts';

/** A started system: its child process, plus the schema it owns on PostgreSQL (dropped on stop). */
export interface System {
  name: string;
  url: string;
  child: Child;
  stop(): Promise<void>;
}

async function withSchema(
  store: Store,
  prefix: string,
  start: (schema: string | null) => Promise<Child>,
): Promise<System> {
  const schema = store.kind === 'pg' ? await createSchema(prefix) : null;
  let child: Child;
  try {
    child = await start(schema);
  } catch (err) {
    if (schema) await dropSchema(schema).catch(() => undefined);
    throw err;
  }
  return {
    name: child.name,
    url: child.url,
    child,
    stop: async () => {
      await child.stop();
      if (schema) await dropSchema(schema);
    },
  };
}

let keySet: Promise<string> | undefined;
/** One key set per run for every wxauth process (generating ES256 keys is not free). */
const wxauthKeys = () => {
  keySet ??= generateKeySetJson();
  return keySet;
};

export interface WxauthOptions {
  /** PGlite on disk (S7); default: in memory. */
  dataDir?: string;
  env?: Record<string, string>;
  /** Extra node flags, before BENCH_PROFILE_DIR's. */
  nodeArgs?: string[];
}

export async function startWxauth(
  store: Store,
  sim: Sim | null,
  options: WxauthOptions = {},
): Promise<System> {
  const keys = await wxauthKeys();
  return withSchema(store, 'wxauth', (schema) =>
    spawnChild(`wxauth (${store.kind})`, benchScript('server.ts'), {
      // BENCH_PROFILE_DIR: a CPU profile of every wxauth process, written when it stops.
      // Started as `npm start` starts it (v8-tuning.ts), then any flags of the caller's.
      nodeArgs: [
        ...NODE_FLAGS,
        ...(options.nodeArgs ?? []),
        ...(process.env.BENCH_PROFILE_DIR
          ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`]
          : []),
      ],
      env: {
        WXAUTH_APPS: JSON.stringify([
          { appId: APP_ID, secret: SECRET, apiBaseUrl: sim?.url ?? 'http://127.0.0.1:9' },
        ]),
        WXAUTH_KEYS: keys,
        WXAUTH_LOG_LEVEL: 'warn',
        // One load generator on one address: per-IP login/refresh limits (R23) would measure
        // themselves. The SMS routes' per-IP limits stay on; S4 sends a distinct X-Forwarded-For.
        WXAUTH_LOGIN_RATE_PER_MINUTE: '0',
        WXAUTH_REFRESH_RATE_PER_HOUR: '0',
        WXAUTH_TRUST_PROXY: '127.0.0.1',
        WXAUTH_SMS_DAILY_BUDGET: '10000000',
        WXAUTH_SESSION_KEY_CHECK_CRON: 'off',
        BENCH_SMS_DELAY_MS: '100',
        ...(store.kind === 'pg' ? { BENCH_DATABASE_URL: store.url!, BENCH_SCHEMA: schema! } : {}),
        ...(options.dataDir ? { BENCH_DATA_DIR: options.dataDir } : {}),
        ...options.env,
      },
    }),
  );
}

export async function startPlainFastify(): Promise<System> {
  return plain(await spawnChild('plain Fastify', benchScript('comparators/plain-fastify.ts')));
}

export async function startNodeHttp(): Promise<System> {
  return plain(await spawnChild('node:http', benchScript('comparators/node-http.ts')));
}

function plain(child: Child): System {
  return { name: child.name, url: child.url, child, stop: () => child.stop() };
}

/** The key the floor signs and verifies access tokens with; the runner signs S2's tokens with it. */
export const FLOOR_KID = 'floor-1';
export const floorJwk = generateEs256Jwk();

export async function startFloor(store: Store | 'stub', sim: Sim): Promise<System> {
  const common = {
    SIM_URL: sim.url,
    WX_APP_ID: APP_ID,
    WX_SECRET: SECRET,
    FLOOR_JWK: JSON.stringify(floorJwk),
    FLOOR_KID,
  };
  if (store === 'stub') {
    return plain(
      await spawnChild('floor (DB stubbed)', benchScript('comparators/floor.ts'), {
        env: { ...common, FLOOR_DB: 'stub' },
      }),
    );
  }
  return withSchema(store, 'floor', (schema) =>
    spawnChild(`floor (${store.kind})`, benchScript('comparators/floor.ts'), {
      env: {
        ...common,
        FLOOR_DB: store.kind,
        ...(store.kind === 'pg' ? { FLOOR_DATABASE_URL: store.url!, FLOOR_SCHEMA: schema! } : {}),
      },
    }),
  );
}

export async function startRefreshFloor(store: Store): Promise<System> {
  return withSchema(store, 'refresh', (schema) =>
    spawnChild(`refresh floor (${store.kind})`, benchScript('comparators/refresh-floor.ts'), {
      env: {
        REFRESH_DB: store.kind,
        ...(store.kind === 'pg' ? { REFRESH_DATABASE_URL: store.url!, REFRESH_SCHEMA: schema! } : {}),
      },
    }),
  );
}

export type LimiterKind = 'none' | 'memory' | 'redis' | 'fastify-rate-limit' | 'rlflex';

export async function startLimiterServer(
  kind: LimiterKind,
  redisUrl: string,
  prefix: string,
): Promise<System> {
  return plain(
    await spawnChild(`limiter ${kind}`, benchScript('comparators/limiters.ts'), {
      env: { LIMITER: kind, REDIS_URL: redisUrl, LIMIT_PREFIX: `${prefix}${kind}:` },
    }),
  );
}

export interface BetterAuthSettings {
  cookieCache: boolean;
  awaitSend: boolean;
  /** Seconds; 0 makes every get-session UPDATE the session (S3's comparator). */
  updateAge: number;
}

const BA_SCRIPT = benchScript('comparators/better-auth/server.ts');

/** Written by another engineer in parallel: until it exists, better-auth rows say so instead of failing. */
export function betterAuthAvailable(): boolean {
  return existsSync(BA_SCRIPT);
}

export function describeBetterAuth(s: BetterAuthSettings): string {
  return `cookie cache ${s.cookieCache ? 'on' : 'off'}, sendOTP ${s.awaitSend ? 'awaited' : 'not awaited'}, updateAge ${s.updateAge} s`;
}

export async function startBetterAuth(store: Store, sim: Sim, settings: BetterAuthSettings): Promise<System> {
  return withSchema(store, 'ba', (schema) =>
    spawnChild(`better-auth (${describeBetterAuth(settings)})`, BA_SCRIPT, {
      env: {
        BA_DATABASE: store.kind === 'pg' ? store.url! : 'pglite',
        ...(schema ? { BA_SCHEMA: schema } : {}),
        SIM_URL: sim.url,
        WX_APP_ID: APP_ID,
        WX_SECRET: SECRET,
        BA_COOKIE_CACHE: settings.cookieCache ? 'on' : 'off',
        BA_AWAIT_SEND: settings.awaitSend ? 'on' : 'off',
        BA_UPDATE_AGE: String(settings.updateAge),
        BA_SMS_DELAY_MS: '100',
      },
    }),
  );
}

/** Starts what it can; a failure becomes a reason string for the report instead of an exception. */
export async function tryStart(start: () => Promise<System>): Promise<System | { unavailable: string }> {
  try {
    return await start();
  } catch (err) {
    return { unavailable: err instanceof Error ? err.message.split('\n')[0]! : String(err) };
  }
}

export async function stopAll(systems: Iterable<System | { unavailable: string } | null | undefined>) {
  await Promise.all(
    [...systems].map((s) => (s && 'stop' in s ? s.stop().catch(() => undefined) : undefined)),
  );
}
