import { fileURLToPath } from 'node:url';
import { type NodeProcess, spawnNode, waitForStdout } from './node-process.ts';
import { urlInSchema } from './test-db.ts';

const ENTRY = fileURLToPath(new URL('./server-entry.ts', import.meta.url));

/** A wxauth server in a child process of its own (server-entry.ts), listening on loopback. */
export interface ServerProcess extends NodeProcess {
  name: string;
  url: string;
}

/**
 * Starts a server process and waits until it listens. `name` becomes its instance id. On failure the
 * child is killed before the error is thrown, so a test never leaves one behind.
 */
export async function startServerProcess(
  name: string,
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<ServerProcess> {
  const proc = spawnNode(ENTRY, [], { ...env, WXAUTH_TEST_INSTANCE: name });
  try {
    const [, url] = await waitForStdout(proc, /^READY (\S+)$/m, timeoutMs);
    return { ...proc, name, url: url! };
  } catch (err) {
    await proc.stop(1_000);
    throw err;
  }
}

/** Stops every process given (SIGTERM, then SIGKILL); never throws, so it is safe in afterAll. */
export async function stopServerProcesses(procs: readonly (ServerProcess | undefined)[]): Promise<void> {
  await Promise.allSettled(procs.map((p) => p?.stop()));
}

/**
 * The environment of a server process: the apps (pointed at a simulator), the key set, a PostgreSQL
 * schema of the test database, Redis, and any other WXAUTH_* variable. Rate limits per IP are off:
 * every request of a test comes from one address.
 */
export function serverEnv(input: {
  simUrl: string;
  apps: { appId: string; secret: string }[];
  keysJson: string;
  database: { url: string; schema: string };
  redisUrl?: string | undefined;
  bossSchema?: string;
  env?: Record<string, string>;
}): Record<string, string> {
  return {
    WXAUTH_APPS: JSON.stringify(input.apps.map((a) => ({ ...a, apiBaseUrl: input.simUrl }))),
    WXAUTH_KEYS: input.keysJson,
    WXAUTH_DATABASE_URL: urlInSchema(input.database.url, input.database.schema),
    WXAUTH_LOG_LEVEL: 'warn',
    WXAUTH_LOGIN_RATE_PER_MINUTE: '0',
    WXAUTH_REFRESH_RATE_PER_HOUR: '0',
    // Jobs run when a test triggers them, not on the default schedules (which could fire mid-test).
    WXAUTH_SESSION_KEY_CHECK_CRON: '0 0 1 1 *',
    WXAUTH_VAULT_REWRAP_CRON: '0 0 1 1 *',
    ...(input.redisUrl ? { WXAUTH_REDIS_URL: input.redisUrl } : {}),
    ...(input.bossSchema ? { WXAUTH_TEST_BOSS_SCHEMA: input.bossSchema } : {}),
    ...input.env,
  };
}
