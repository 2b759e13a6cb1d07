import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { parseKeySet } from '../../src/config/keys.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { createDeps } from '../../src/deps.ts';
import { createLogger } from '../../src/observability/logger.ts';

/**
 * One wxauth server process for the multi-process tests (server-process.ts starts it): the real
 * composition root and app, built from the WXAUTH_* variables as main.ts builds them, on the database
 * of WXAUTH_DATABASE_URL. Test-only settings:
 *
 * - WXAUTH_TEST_INSTANCE: the instance id (job runs and the shared access-token row record it).
 * - WXAUTH_TEST_BOSS_SCHEMA: start the job scheduler, with pg-boss in this schema (one per test, so test
 *   files running side by side never take each other's jobs) polling every 0.5 s.
 * - POST /__test/jobs/:name queues a run now (scheduler.trigger) instead of waiting for its cron.
 *
 * Prints `READY <url>` on stdout once listening; logs go to stderr. SIGTERM shuts down as main.ts does.
 */
const config = loadConfig(process.env);
const bossSchema = process.env.WXAUTH_TEST_BOSS_SCHEMA;
const deps = await createDeps({
  config,
  keys: parseKeySet(config.keys),
  logger: createLogger({ level: config.logLevel, destination: process.stderr }),
  ...(process.env.WXAUTH_TEST_INSTANCE ? { instanceId: process.env.WXAUTH_TEST_INSTANCE } : {}),
  ...(bossSchema ? { scheduler: { bossSchema, pollingIntervalSeconds: 0.5 } } : {}),
});
const testRoutes = async (app: FastifyInstance) => {
  app.post<{ Params: { name: string } }>('/__test/jobs/:name', async (request) => {
    await deps.scheduler.trigger(request.params.name);
    return { queued: request.params.name };
  });
};
const app = await buildApp({ ...deps, extraRoutes: [testRoutes] });
const address = await app.listen({ port: 0, host: '127.0.0.1' });
if (bossSchema) await deps.scheduler.start();
process.stdout.write(`READY ${address}\n`);

let closing = false;
process.on('SIGTERM', () => {
  if (closing) return;
  closing = true;
  const force = setTimeout(() => process.exit(1), 10_000);
  force.unref();
  void (async () => {
    await app.close();
    await deps.close();
    process.exit(0);
  })();
});
