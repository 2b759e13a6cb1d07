import { enableCompileCache } from 'node:module';
import { tuneV8 } from '../src/v8-tuning.ts';

// As src/main.ts: the same V8 settings as a deployed server.
tuneV8();

// As src/main.ts: cache compiled modules, and open the database before loading the rest, so PGlite
// opens while the server loads (S7 measures this start).
enableCompileCache();
const { createDb, migrateToLatest } = await import('../src/storage/create-db.ts');

/**
 * wxauth as the system under test: the real composition root (createDeps) and app (buildApp), in a
 * process of its own so its CPU is measured apart from the load generator and the simulator, plus the
 * bench-only routes of wxauth/bench-routes.ts. Configured by the usual WXAUTH_* variables and:
 *   BENCH_DATABASE_URL, BENCH_SCHEMA   PostgreSQL and an empty schema; otherwise PGlite
 *   BENCH_DATA_DIR                      PGlite on disk (S7); otherwise PGlite in memory
 *   BENCH_SMS_DELAY_MS                  how long each SMS send takes (default 100)
 * Prints `READY <url>` once it listens.
 */
const db = createDb({
  databaseUrl: process.env.BENCH_DATABASE_URL,
  schema: process.env.BENCH_SCHEMA,
  dataDir: process.env.BENCH_DATA_DIR,
  poolSize: 16,
});
const migrated = migrateToLatest(db);
migrated.catch(() => undefined); // awaited before listening
const [
  { buildApp },
  { parseKeySet },
  { loadConfig },
  { createDeps },
  { createLogger },
  { benchRoutes },
  { createBenchSmsProvider },
] = await Promise.all([
  import('../src/app.ts'),
  import('../src/config/keys.ts'),
  import('../src/config/load-config.ts'),
  import('../src/deps.ts'),
  import('../src/observability/logger.ts'),
  import('./wxauth/bench-routes.ts'),
  import('./wxauth/delayed-inbox.ts'),
]);
const config = loadConfig(process.env);
const logger = createLogger({ level: config.logLevel, destination: process.stderr });
const sms = createBenchSmsProvider({
  clock: { now: () => Date.now() },
  delayMs: Number(process.env.BENCH_SMS_DELAY_MS ?? 100),
});
const deps = await createDeps({ config, keys: parseKeySet(config.keys), db, logger, smsProvider: sms });
const app = await buildApp({ ...deps, extraRoutes: [benchRoutes(deps, sms)] });
await Promise.all([app.ready(), migrated]);
const address = await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`READY ${address}\n`);

let closing = false;
process.on('SIGTERM', async () => {
  if (closing) return;
  closing = true;
  // A hung close must not keep the runner waiting; it SIGKILLs after 5 s anyway.
  setTimeout(() => process.exit(0), 3_000).unref();
  await app.close();
  await deps.close();
  await db.close();
  process.exit(0);
});
