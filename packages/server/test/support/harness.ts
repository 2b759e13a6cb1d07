import { type SimAppConfig, type Simulator, startSimulator } from '@wxauth/wechat-sim';
import type { FastifyInstance } from 'fastify';
import type { SmsProvider } from '../../src/adapters/sms/sms-provider.types.ts';
import { buildApp } from '../../src/app.ts';
import { type Clock, systemClock } from '../../src/clock.ts';
import { generateKeySetJson, type KeySet, parseKeySet } from '../../src/config/keys.ts';
import { type Config, loadConfig } from '../../src/config/load-config.ts';
import { createDeps, type Deps } from '../../src/deps.ts';
import { createLogger } from '../../src/observability/logger.ts';
import type { Db } from '../../src/storage/create-db.ts';
import { createLogCapture, type LogCapture } from './log-capture.ts';

export const APP_ID = 'wxtest00000000000001';
export const APP_SECRET = 'test-secret-0001';
export const OTHER_APP_ID = 'wxtest00000000000002';

let keySet: Promise<KeySet> | undefined;
/** Key generation is slowish (EC keys); one set serves a whole test file. */
export function testKeys(): Promise<KeySet> {
  keySet ??= generateKeySetJson().then((json) => parseKeySet(JSON.parse(json)));
  return keySet;
}

export interface Harness {
  app: FastifyInstance;
  deps: Deps;
  sim: Simulator;
  logs: LogCapture;
  config: Config;
  close(): Promise<void>;
}

/**
 * A whole wxauth (real composition root) on a given database, talking to a real simulator over HTTP.
 * `db` is shared by the caller and not closed here.
 */
export async function startHarness(options: {
  db: Db;
  sim?: Simulator;
  apps?: SimAppConfig[];
  env?: Record<string, string>;
  clock?: Clock;
  instanceId?: string;
  smsProvider?: SmsProvider;
}): Promise<Harness> {
  const apps = options.apps ?? [
    { appId: APP_ID, secret: APP_SECRET, unionBound: true },
    { appId: OTHER_APP_ID, secret: 'test-secret-0002', unionBound: true },
  ];
  const ownSim = !options.sim;
  const sim = options.sim ?? (await startSimulator({ apps }));
  const keys = await testKeys();
  const config = loadConfig({
    WXAUTH_APPS: JSON.stringify(apps.map((a) => ({ appId: a.appId, secret: a.secret, apiBaseUrl: sim.url }))),
    WXAUTH_KEYS: '{}',
    WXAUTH_LOG_LEVEL: 'debug',
    // Tests log in hundreds of times from one address; rate-limits.test.ts checks the real defaults.
    WXAUTH_LOGIN_RATE_PER_MINUTE: '1000000',
    WXAUTH_REFRESH_RATE_PER_HOUR: '1000000',
    ...options.env,
  });
  const logs = createLogCapture();
  const deps = await createDeps({
    config,
    keys,
    db: options.db,
    clock: options.clock ?? systemClock,
    logger: createLogger({ level: 'debug', destination: logs.stream }),
    ...(options.instanceId ? { instanceId: options.instanceId } : {}),
    ...(options.smsProvider ? { smsProvider: options.smsProvider } : {}),
  });
  const app = await buildApp(deps);
  await app.ready();
  return {
    app,
    deps,
    sim,
    logs,
    config,
    async close() {
      await app.close();
      await deps.close();
      if (ownSim) await sim.close();
    },
  };
}

/** A wx.login for a (possibly new) simulated user, then our login endpoint. */
export async function wechatLogin(
  h: Harness,
  input: { appId?: string; openid?: string; unionid?: string } = {},
) {
  const appId = input.appId ?? APP_ID;
  const user = h.sim.login({
    appId,
    ...(input.openid ? { openid: input.openid } : {}),
    ...(input.unionid ? { unionid: input.unionid } : {}),
  });
  const res = await h.app.inject({
    method: 'POST',
    url: '/v1/auth/wechat/login',
    payload: { code: user.code, appId },
  });
  return { user, res, body: res.json() };
}

/** The newest SMS code the dev inbox holds for a phone. */
export function inboxCode(h: Harness, phone: string): string {
  const inbox = h.deps.smsProvider as unknown as { messages(phone?: string): { code: string }[] };
  const message = inbox.messages(phone)[0];
  if (!message) throw new Error(`no SMS for ${phone}`);
  return message.code;
}

let phoneCounter = 0;
/** A fresh, valid mainland mobile number per call (tests share one database). */
export function newPhone(): string {
  phoneCounter += 1;
  const n = (Date.now() % 1e6) * 100 + (process.pid % 10) * 10_000_000 + phoneCounter;
  return `+86139${String(n % 1e8).padStart(8, '0')}`;
}
