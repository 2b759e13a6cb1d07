import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { createDeps } from '../../src/deps.ts';
import { startDevEnvironment } from '../../src/dev/dev-mode.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { testKeys } from '../support/harness.ts';
import { createLogCapture, type LogCapture } from '../support/log-capture.ts';
import { pgliteStore } from '../support/test-db.ts';

export interface DevServer {
  url: string;
  simulatorUrl: string;
  logs: LogCapture;
  stop(): Promise<void>;
}

/**
 * The server wired as main.ts wires it in dev mode (no WeChat credentials: its own simulator, the dev
 * app, the /__dev and /playground routes, the SMS inbox), in-process on the test database template.
 * Spawning `npm start` would spend most of the browser test's time in PGlite's initdb; the spawned
 * process itself is covered by e2e-dev-mode.test.ts.
 */
export async function startDevServer(): Promise<DevServer> {
  const db = await pgliteStore.open();
  const dev = await startDevEnvironment({ simPort: 0, host: '127.0.0.1' });
  const config = loadConfig({ WXAUTH_LOG_LEVEL: 'info' });
  if (!config.devMode) throw new Error('expected dev mode: no apps configured');
  const logs = createLogCapture();
  const deps = await createDeps({
    config,
    keys: await testKeys(),
    db,
    apps: [dev.app],
    logger: createLogger({ level: 'info', destination: logs.stream }),
  });
  const app = await buildApp({ ...deps, extraRoutes: [dev.routes(deps.smsProvider)] });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url,
    simulatorUrl: dev.simulator.url,
    logs,
    async stop() {
      await app.close();
      await deps.close();
      await dev.close();
      await db.close();
    },
  };
}
