import { buildApp } from '../src/app.ts';
import { parseKeySet } from '../src/config/keys.ts';
import { loadConfig } from '../src/config/load-config.ts';
import { createDeps } from '../src/deps.ts';
import { createLogger } from '../src/observability/logger.ts';
import { createDb, migrateToLatest } from '../src/storage/create-db.ts';

/**
 * The system under test for bench/run.ts: the real composition root and app, in its own process so its
 * CPU can be measured apart from the load generator and the simulator. Adds two routes:
 * /__bench/bare (S0 calibration: all plugins registered, no auth) and /__bench/cpu (process.cpuUsage()).
 */
const config = loadConfig(process.env);
const db = createDb({
  databaseUrl: process.env.BENCH_DATABASE_URL,
  schema: process.env.BENCH_SCHEMA,
  poolSize: 16,
});
await migrateToLatest(db);
const deps = await createDeps({
  config,
  keys: parseKeySet(config.keys),
  db,
  logger: createLogger({ level: 'warn' }),
});
const app = await buildApp({
  ...deps,
  extraRoutes: [
    async (fastify) => {
      fastify.get('/__bench/bare', async () => ({ ok: true }));
      fastify.get('/__bench/cpu', async () => process.cpuUsage());
    },
  ],
});
const address = await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`READY ${address}\n`);
process.on('SIGTERM', async () => {
  await app.close();
  await deps.close();
  await db.close();
  process.exit(0);
});
