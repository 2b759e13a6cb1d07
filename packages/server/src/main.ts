import { enableCompileCache } from 'node:module';
import { tuneV8 } from './v8-tuning.ts';

tuneV8();

// Node caches the compiled code of every module loaded after this (in the OS temp dir), which saves
// about a tenth of a second of each later start.
enableCompileCache();

const { createSmsProvider, parseSmsProviderConfig, SmsConfigError } = await import(
  './adapters/sms/create-sms-provider.ts'
);
const { ConfigError, loadConfig } = await import('./config/load-config.ts');
const { createDb, dbOptionsFromConfig } = await import('./storage/create-db.ts');

/** load config → create deps → build app → listen; close everything in order on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  let smsConfig: ReturnType<typeof parseSmsProviderConfig>;
  try {
    config = loadConfig();
    smsConfig = parseSmsProviderConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof SmsConfigError) {
      process.stderr.write(`wxauth: configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  // The embedded database takes most of a start to open: it opens while the rest of the server loads.
  const db = createDb(dbOptionsFromConfig(config));
  const [
    { buildApp },
    { systemClock },
    { loadOrCreateDevKeys, parseKeySet },
    { createDeps },
    { startDevEnvironment, tryItText },
    { createLogger },
  ] = await Promise.all([
    import('./app.ts'),
    import('./clock.ts'),
    import('./config/keys.ts'),
    import('./deps.ts'),
    import('./dev/dev-mode.ts'),
    import('./observability/logger.ts'),
  ]);
  const logger = createLogger({ level: config.logLevel });

  let dev: Awaited<ReturnType<typeof startDevEnvironment>> | null = null;
  let keys: ReturnType<typeof parseKeySet>;
  if (config.devMode) {
    const devKeys = await loadOrCreateDevKeys(config.dataDir);
    keys = devKeys.keys;
    if (devKeys.created) {
      logger.warn(
        { path: devKeys.path },
        'DEV MODE: generated new signing and encryption keys into the data directory. Never use these in production: set WXAUTH_KEYS from a secrets manager.',
      );
    }
    dev = await startDevEnvironment({ simPort: config.simPort, host: config.host });
  } else {
    keys = parseKeySet(config.keys);
  }

  const deps = await createDeps({
    config,
    keys,
    logger,
    db,
    ownsDb: true,
    background: true,
    smsProvider: createSmsProvider(smsConfig, { clock: systemClock }),
    ...(dev ? { apps: [dev.app] } : {}),
  });
  const app = await buildApp({ ...deps, ...(dev ? { extraRoutes: [dev.routes(deps.smsProvider)] } : {}) });
  const address = await app.listen({ port: config.port, host: config.host });
  logger.info(
    { address, store: deps.db.kind, devMode: config.devMode, sms: smsConfig.provider },
    'wxauth listening',
  );
  // R7, R26: the session-key check and the vault rewrap on their schedules (pg-boss on PostgreSQL, a timer
  // on PGlite); deps.close stops them.
  await deps.scheduler.start();
  if (!config.devMode && smsConfig.provider === 'inbox') {
    logger.warn(
      'WXAUTH_SMS_PROVIDER is the dev inbox: SMS codes are kept in memory and never sent. Configure tencent or aliyun.',
    );
  }
  if (dev) {
    logger.warn(
      { simulator: dev.simulator.url, appId: dev.app.appId },
      'DEV MODE: no WeChat credentials configured; talking to the built-in WeChat simulator',
    );
    process.stdout.write(`\n${tryItText(address, dev.simulator.url)}\n\nAPI reference: ${address}/docs\n\n`);
  }

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    // Stop accepting, let in-flight requests finish, then release the database and the simulator.
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await app.close();
    await deps.close();
    await dev?.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`wxauth: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
