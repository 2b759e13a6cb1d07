import { randomBytes, randomUUID } from 'node:crypto';
import { getCountryCallingCode } from 'libphonenumber-js/max';
import type { Dispatcher } from 'undici';
import {
  createFallbackRateLimiter,
  createMemoryRateLimiter,
  createRateLimiter,
} from './adapters/kv/index.ts';
import { createInboxProvider } from './adapters/sms/inbox-provider.ts';
import type { SmsProvider } from './adapters/sms/sms-provider.types.ts';
import {
  type AccessTokenManager,
  createAccessTokenManager,
  createAccessTokenRepository,
  createRetryBudget,
  createWeChatClient,
  type WeChatClient,
} from './adapters/wechat/index.ts';
import { type Clock, systemClock } from './clock.ts';
import type { KeySet } from './config/keys.ts';
import type { Config, WechatAppConfig } from './config/load-config.ts';
import { AppError } from './errors.ts';
import { createJobRunsRepository } from './jobs/job-runs.repository.ts';
import { createScheduler, type SchedulerOptions } from './jobs/scheduler.ts';
import { createLoginService, type LoginApps } from './login/login.service.ts';
import { createMemoryLoginCodes } from './login/login-codes.memory.ts';
import { createLoginCodesRepository, type LoginCodesStore } from './login/login-codes.repository.ts';
import { createAuthEvents } from './observability/auth-events.ts';
import { createLogger, type Logger } from './observability/logger.ts';
import { createMetrics, type Metrics } from './observability/metrics.ts';
import { createConversionRepository } from './phone/conversion.repository.ts';
import { createConversionMonitor } from './phone/conversion-monitor.ts';
import { createSmsCodeService } from './phone/phone.service.ts';
import { createPhoneLoginService, type PhoneApps } from './phone/phone-login.service.ts';
import { isCountryCode } from './phone/phone-number.ts';
import { DEFAULT_SEND_POLICY } from './phone/send-policy.ts';
import { createSmsRepository } from './phone/sms.repository.ts';
import { createDecryptService } from './session-keys/decrypt.service.ts';
import { createSessionKeyCheckJob, type SessionKeyApi } from './session-keys/session-key-check.job.ts';
import { createSessionKeysRepository } from './session-keys/session-keys.repository.ts';
import { createRefreshTokenCodec } from './sessions/refresh-token.ts';
import { createSessionsRepository } from './sessions/sessions.repository.ts';
import { createSessionsService } from './sessions/sessions.service.ts';
import { createTokenSigner } from './sessions/token-signer.ts';
import { createDb, type Db, dbOptionsFromConfig, migrateToLatest } from './storage/create-db.ts';
import { createUsersRepository } from './users/users.repository.ts';
import { createVaultRewrapJob } from './vault/rotation/vault-rewrap.job.ts';
import { createVault } from './vault/vault.ts';

export interface WechatApp {
  appId: string;
  client: WeChatClient;
  accessTokens: AccessTokenManager;
}

export interface CreateDepsOptions {
  config: Config;
  keys: KeySet;
  /** Apps to serve; defaults to config.apps (dev mode passes the simulator's app). */
  apps?: WechatAppConfig[];
  clock?: Clock;
  logger?: Logger;
  /** An already-open database (tests share one); otherwise opened from config and migrated. */
  db?: Db;
  /** `db` was opened early by the caller (main.ts) but is migrated and closed here like our own. */
  ownsDb?: boolean;
  dispatcher?: Dispatcher;
  /** Start background timers (token refresh, housekeeping). Tests usually leave them off. */
  background?: boolean;
  instanceId?: string;
  /** The SMS provider; defaults to the in-memory inbox (dev mode, tests). */
  smsProvider?: SmsProvider;
  /** Tests: pg-boss in a schema of their own, polling faster. */
  scheduler?: Pick<SchedulerOptions, 'bossSchema' | 'pollingIntervalSeconds'>;
}

/** One ledger per embedded database: instances that share a PGlite share its claims (see login-codes.memory.ts). */
const memoryLedgers = new WeakMap<Db, LoginCodesStore>();

/**
 * R1's ledger: in memory on PGlite; on PostgreSQL in Redis when configured (the database ledger takes
 * what Redis cannot), else in the database. Returns the ledger and what closing it takes.
 */
async function loginCodesFor(
  db: Db,
  redisUrl: string | undefined,
  onError: (error: Error) => void,
): Promise<{ ledger: LoginCodesStore; close: () => Promise<void> }> {
  const none = async () => {};
  if (db.kind === 'postgres') {
    const inDatabase = createLoginCodesRepository(db.kysely, db.run);
    if (!redisUrl) return { ledger: inDatabase, close: none };
    // Loaded only with Redis configured, as the rate limiter is (ioredis is a noticeable part of a start).
    const { createRedisLoginCodes } = await import('./login/login-codes.redis.ts');
    const ledger = createRedisLoginCodes({ redisUrl, fallback: inDatabase, onError });
    return { ledger, close: ledger.close };
  }
  let ledger = memoryLedgers.get(db);
  if (!ledger) {
    ledger = createMemoryLoginCodes();
    memoryLedgers.set(db, ledger);
  }
  return { ledger, close: none };
}

/**
 * The composition root: the one place that knows every implementation. Reads top to bottom:
 * observability → storage → crypto → WeChat → users/sessions → login.
 */
export async function createDeps(options: CreateDepsOptions) {
  const { config, keys } = options;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const metrics: Metrics = createMetrics({ defaultMetrics: true });
  const instanceId = options.instanceId ?? `${process.pid}-${randomBytes(4).toString('hex')}`;

  const db = options.db ?? createDb(dbOptionsFromConfig(config));
  const ownsDb = !options.db || options.ownsDb === true;
  // PGlite takes most of a start to open (R-S7): the migration check is queued now and awaited last,
  // so everything below is built while the database opens.
  const migrated = ownsDb ? migrateToLatest(db) : Promise.resolve();
  migrated.catch(() => undefined); // awaited below; a failure must not count as unhandled meanwhile

  const events = createAuthEvents({ logger, metrics, clock, db: db.kysely });
  const vault = createVault({
    keys: keys.vault,
    onEvent: (e) =>
      void events.emit({ type: e.type, outcome: 'critical', reason: e.reason, detail: { kid: e.kid } }),
  });
  const signer = createTokenSigner({
    keys: keys.jwt,
    issuer: config.issuer,
    audience: config.audience,
    ttlSec: config.accessTokenTtlSec,
    clock,
  });
  const codec = createRefreshTokenCodec(keys.refreshPepper);

  const retryBudget = createRetryBudget({ clock });
  const tokenRepository = createAccessTokenRepository({ db: db.kysely, vault });
  const wechatApps = new Map<string, WechatApp>();
  for (const app of options.apps ?? config.apps) {
    let client: WeChatClient | undefined;
    const accessTokens = createAccessTokenManager({
      appId: app.appId,
      repository: tokenRepository,
      fetchStable: (force) => client!.fetchStableToken(force),
      clock,
      metrics,
      logger,
      instanceId,
      onEvent: (e) =>
        void events.emit({
          type: e.type,
          outcome: e.type.endsWith('overwritten') ? 'critical' : 'ok',
          appId: e.appId,
          detail: e.detail,
        }),
    });
    client = createWeChatClient({
      appId: app.appId,
      secret: app.secret,
      baseUrl: app.apiBaseUrl,
      clock,
      metrics,
      logger,
      accessTokens,
      retryBudget,
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    });
    wechatApps.set(app.appId, { appId: app.appId, client, accessTokens });
  }

  const loginApps: LoginApps = {
    resolve(appId) {
      if (appId === undefined) {
        if (wechatApps.size !== 1) {
          throw new AppError('invalid_request', {
            message: 'appId is required: several apps are configured.',
          });
        }
        const only = wechatApps.values().next().value!;
        return { appId: only.appId, wechat: only.client };
      }
      const app = wechatApps.get(appId);
      if (!app) throw new AppError('app_unknown');
      return { appId: app.appId, wechat: app.client };
    },
  };

  const phoneApps: PhoneApps = {
    resolve(appId) {
      const { appId: id } = loginApps.resolve(appId);
      return { appId: id, wechat: wechatApps.get(id)!.client };
    },
  };

  const { ledger: loginCodes, close: closeLoginCodes } = await loginCodesFor(db, config.redisUrl, (err) =>
    logger.warn({ err: err.message }, 'login-code ledger: redis error'),
  );
  const users = createUsersRepository(db.kysely, db.run);
  const sessions = createSessionsService({
    repository: createSessionsRepository(db.kysely),
    users,
    signer,
    codec,
    clock,
    events,
    policy: {
      accessTokenTtlSec: config.accessTokenTtlSec,
      refreshIdleTtlSec: config.refreshIdleTtlSec,
      refreshAbsoluteTtlSec: config.refreshAbsoluteTtlSec,
      refreshGraceSec: config.refreshGraceSec,
      maxSessions: config.maxSessions,
    },
  });
  const login = createLoginService({
    apps: loginApps,
    users,
    loginCodes,
    sessions,
    vault,
    clock,
    events,
    codeWindowSec: config.loginCodeWindowSec,
    maxSessions: config.maxSessions,
    newUserId: () => randomUUID(),
  });

  const limiter = await createRateLimiter({
    clock,
    metrics,
    ...(config.redisUrl ? { redisUrl: config.redisUrl } : {}),
    onError: (err) => logger.warn({ err: err.message }, 'rate-limit store error'),
  });
  // Redis connects lazily; without this the first requests after a start would spend their 50 ms
  // deadline on the connection and fail (SMS send closed, the others on the fallback).
  if (!(await limiter.warmUp(2000)))
    logger.warn('rate-limit store not ready at start; retrying in the background');
  const verifyLimiter = createFallbackRateLimiter({
    primary: limiter,
    fallback: createMemoryRateLimiter({ clock }),
  });
  const smsProvider = options.smsProvider ?? createInboxProvider({ clock });
  const region = (r: string) => {
    if (!isCountryCode(r)) throw new Error(`not a region: ${r}`);
    return r;
  };
  const smsCodes = createSmsCodeService({
    db: db.kysely,
    sms: createSmsRepository(db.kysely),
    provider: smsProvider,
    limiter,
    clock,
    events,
    pepper: keys.otpPepper,
    phonePolicy: {
      defaultRegion: region(config.phoneDefaultRegion),
      allowedRegions: config.phoneAllowedRegions.map(region),
    },
    sendPolicy: { ...DEFAULT_SEND_POLICY, dailyBudget: config.smsDailyBudget },
    onBudget: (used, budget) => logger.warn({ used, budget }, 'SMS daily budget above 80 %'),
  });
  const phoneLogin = createPhoneLoginService({
    db: db.kysely,
    smsCodes,
    apps: phoneApps,
    loginCodes,
    users,
    sessions,
    vault,
    clock,
    events,
    conflictPolicy: config.phoneConflict,
    maxSessions: config.maxSessions,
    newUserId: () => randomUUID(),
  });

  const conversionMonitor = createConversionMonitor({
    repository: createConversionRepository(db.kysely),
    clock,
    logger,
    events,
    dialCodes: config.phoneAllowedRegions.map((r) => `+${getCountryCallingCode(region(r))}`),
  });

  // Issue 4: the session_key lifecycle — decrypting open data, and the scheduled check/reset job (R7).
  const sessionKeyApis = new Map<string, SessionKeyApi>([...wechatApps].map(([id, app]) => [id, app.client]));
  const sessionKeysRepository = createSessionKeysRepository(db.kysely);
  const jobRuns = createJobRunsRepository(db.kysely);
  const decrypt = createDecryptService({
    repository: sessionKeysRepository,
    apps: sessionKeyApis,
    vault,
    clock,
    metrics,
    events,
  });
  const sessionKeyCheck = createSessionKeyCheckJob({
    repository: sessionKeysRepository,
    runs: jobRuns,
    apps: sessionKeyApis,
    vault,
    clock,
    metrics,
    logger,
    instanceId,
    newId: () => randomUUID(),
    policy: {
      rate: config.sessionKeyCheckRate,
      resetAgeMs: config.sessionKeyResetAgeSec === null ? null : config.sessionKeyResetAgeSec * 1000,
    },
  });
  // R26: after `keys promote` the re-sealing finishes by itself (a no-op when no row needs it).
  const vaultRewrap = createVaultRewrapJob({
    db: db.kysely,
    runs: jobRuns,
    vault,
    clock,
    metrics,
    logger,
    instanceId,
    newId: () => randomUUID(),
  });
  // Built here, started by main.ts (tests and the CLI never start it unless they mean to).
  const scheduler = createScheduler({
    store: db.kind,
    databaseUrl: config.databaseUrl,
    jobs: [
      { name: sessionKeyCheck.name, cron: config.sessionKeyCheckCron, run: sessionKeyCheck.run },
      { name: vaultRewrap.name, cron: config.vaultRewrapCron, run: vaultRewrap.run },
    ],
    clock,
    logger,
    ...options.scheduler,
  });

  try {
    await migrated;
  } catch (err) {
    await verifyLimiter.close();
    await closeLoginCodes();
    if (ownsDb) await db.close();
    throw err;
  }

  const timers: NodeJS.Timeout[] = [];
  if (options.background) {
    const every = (ms: number, task: () => Promise<unknown>, what: string) => {
      const timer = setInterval(() => {
        task().catch((err: unknown) =>
          logger.warn({ err: String(err), task: what }, 'background task failed'),
        );
      }, ms);
      timer.unref();
      timers.push(timer);
    };
    // R6: refresh the shared token ahead of expiry; the lease inside makes one instance do it.
    every(
      60_000,
      async () => {
        for (const app of wechatApps.values()) await app.accessTokens.refreshIfDue();
      },
      'access-token-refresh',
    );
    every(5 * 60_000, () => login.purgeOldCodes(), 'purge-login-codes');
    every(10 * 60_000, () => conversionMonitor.check(), 'sms-conversion-monitor');
  }

  return {
    config,
    clock,
    logger,
    metrics,
    db,
    vault,
    signer,
    events,
    users,
    sessions,
    login,
    smsCodes,
    phoneLogin,
    conversionMonitor,
    smsProvider,
    limiter,
    verifyLimiter,
    wechatApps,
    instanceId,
    decrypt,
    sessionKeys: sessionKeysRepository,
    sessionKeyCheck,
    vaultRewrap,
    jobRuns,
    scheduler,
    async close(): Promise<void> {
      for (const t of timers) clearInterval(t);
      await scheduler.stop();
      // Closes the shared limiter too (it is the fallback limiter's primary).
      await verifyLimiter.close();
      await closeLoginCodes();
      if (ownsDb) await db.close();
    },
  };
}

export type Deps = Awaited<ReturnType<typeof createDeps>>;
