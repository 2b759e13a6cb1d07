import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { VARIABLES, type VariableName } from './config.schema.ts';

export interface WechatAppConfig {
  appId: string;
  secret: string;
  apiBaseUrl: string;
}

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  dbPoolSize: number;
  dbPrepareStatements: boolean;
  /** Empty in dev mode until the dev simulator registers its app. */
  apps: WechatAppConfig[];
  devMode: boolean;
  /** The raw key set JSON; undefined in dev mode, where keys are generated into the data dir. */
  keys: unknown;
  issuer: string;
  audience: string;
  accessTokenTtlSec: number;
  refreshIdleTtlSec: number;
  refreshAbsoluteTtlSec: number;
  refreshGraceSec: number;
  maxSessions: number;
  loginCodeWindowSec: number;
  trustProxy: boolean | number | string[];
  logLevel: string;
  simPort: number;
  redisUrl: string | undefined;
  phoneDefaultRegion: string;
  phoneAllowedRegions: string[];
  phoneConflict: 'refuse' | 'merge';
  smsDailyBudget: number;
  /** A cron expression, or null when scheduling is off (the scheduler checks it with pg-boss's parser). */
  sessionKeyCheckCron: string | null;
  /** The vault rewrap job's schedule, read like sessionKeyCheckCron. */
  vaultRewrapCron: string | null;
  sessionKeyCheckRate: number;
  /** null: only compromised keys are reset. */
  sessionKeyResetAgeSec: number | null;
  loginRatePerMinute: number;
  refreshRatePerHour: number;
}

/** Thrown for bad configuration; the message names the variable, never a secret's value. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const APP_ID = /^wx[0-9a-zA-Z]{14,30}$|^[A-Za-z0-9_-]{4,64}$/;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<Config> {
  const get = (name: VariableName): string | undefined => {
    const raw = env[name];
    if (raw !== undefined && raw.trim() !== '') return raw.trim();
    const spec = VARIABLES.find((v) => v.name === name);
    return spec && 'default' in spec ? spec.default : undefined;
  };
  const int = (name: VariableName, min: number, max: number): number => {
    const raw = get(name);
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new ConfigError(`${name} must be an integer from ${min} to ${max}`);
    }
    return n;
  };
  const json = (name: VariableName): unknown => {
    const raw = get(name);
    if (raw === undefined) return undefined;
    try {
      return JSON.parse(raw);
    } catch {
      throw new ConfigError(`${name} is not valid JSON`);
    }
  };

  const defaultBase = get('WXAUTH_WECHAT_API_BASE_URL')!;
  const apps = parseApps(json('WXAUTH_APPS'), get('WXAUTH_APP_ID'), get('WXAUTH_APP_SECRET'), defaultBase);

  let keys: unknown = json('WXAUTH_KEYS');
  const keysFile = get('WXAUTH_KEYS_FILE');
  if (keys === undefined && keysFile) {
    try {
      keys = JSON.parse(readFileSync(keysFile, 'utf8'));
    } catch {
      throw new ConfigError('WXAUTH_KEYS_FILE cannot be read as JSON');
    }
  }
  const devMode = apps.length === 0;
  if (!devMode && keys === undefined) {
    throw new ConfigError(
      'WXAUTH_KEYS or WXAUTH_KEYS_FILE is required when apps are configured (outside dev mode)',
    );
  }

  const logLevel = get('WXAUTH_LOG_LEVEL')!;
  if (!LOG_LEVELS.includes(logLevel))
    throw new ConfigError(`WXAUTH_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);

  const refreshIdleTtlSec = int('WXAUTH_REFRESH_IDLE_TTL', 60, 365 * 86400);
  const refreshAbsoluteTtlSec = int('WXAUTH_REFRESH_ABSOLUTE_TTL', 60, 365 * 86400);
  if (refreshIdleTtlSec > refreshAbsoluteTtlSec) {
    throw new ConfigError('WXAUTH_REFRESH_IDLE_TTL must not exceed WXAUTH_REFRESH_ABSOLUTE_TTL');
  }

  return Object.freeze({
    port: int('PORT', 0, 65535),
    host: get('HOST')!,
    dataDir: resolve(get('WXAUTH_DATA_DIR')!),
    databaseUrl: get('WXAUTH_DATABASE_URL'),
    dbPoolSize: int('WXAUTH_DB_POOL_SIZE', 1, 200),
    dbPrepareStatements:
      oneOf(get('WXAUTH_DATABASE_PREPARE')!, ['true', 'false'] as const, 'WXAUTH_DATABASE_PREPARE') ===
      'true',
    apps,
    devMode,
    keys,
    issuer: get('WXAUTH_ISSUER')!,
    audience: get('WXAUTH_AUDIENCE')!,
    accessTokenTtlSec: int('WXAUTH_ACCESS_TOKEN_TTL', 60, 3600),
    refreshIdleTtlSec,
    refreshAbsoluteTtlSec,
    refreshGraceSec: int('WXAUTH_REFRESH_GRACE', 0, 60),
    maxSessions: int('WXAUTH_MAX_SESSIONS', 1, 1000),
    loginCodeWindowSec: int('WXAUTH_LOGIN_CODE_WINDOW', 0, 300),
    trustProxy: parseTrustProxy(get('WXAUTH_TRUST_PROXY')!),
    logLevel,
    simPort: int('WXAUTH_SIM_PORT', 0, 65535),
    redisUrl: get('WXAUTH_REDIS_URL'),
    phoneDefaultRegion: region(get('WXAUTH_PHONE_DEFAULT_REGION')!, 'WXAUTH_PHONE_DEFAULT_REGION'),
    phoneAllowedRegions: get('WXAUTH_PHONE_ALLOWED_REGIONS')!
      .split(',')
      .map((r) => region(r.trim(), 'WXAUTH_PHONE_ALLOWED_REGIONS')),
    phoneConflict: oneOf(
      get('WXAUTH_PHONE_CONFLICT')!,
      ['refuse', 'merge'] as const,
      'WXAUTH_PHONE_CONFLICT',
    ),
    smsDailyBudget: int('WXAUTH_SMS_DAILY_BUDGET', 1, 10_000_000),
    sessionKeyCheckCron: cron(get('WXAUTH_SESSION_KEY_CHECK_CRON')!, 'WXAUTH_SESSION_KEY_CHECK_CRON'),
    vaultRewrapCron: cron(get('WXAUTH_VAULT_REWRAP_CRON')!, 'WXAUTH_VAULT_REWRAP_CRON'),
    // WeChat's only published cap near this API is resetusersessionkey's 60,000/min (§6): 1000/s.
    // Higher values are for simulators and benchmarks.
    sessionKeyCheckRate: int('WXAUTH_SESSION_KEY_CHECK_RATE', 1, 10_000),
    sessionKeyResetAgeSec: int('WXAUTH_SESSION_KEY_RESET_AGE', 0, 10 * 365 * 86400) || null,
    loginRatePerMinute: int('WXAUTH_LOGIN_RATE_PER_MINUTE', 0, 1_000_000),
    refreshRatePerHour: int('WXAUTH_REFRESH_RATE_PER_HOUR', 0, 10_000_000),
  });
}

function parseApps(
  list: unknown,
  appId: string | undefined,
  secret: string | undefined,
  defaultBase: string,
): WechatAppConfig[] {
  const apps: WechatAppConfig[] = [];
  if (list !== undefined) {
    if (!Array.isArray(list)) throw new ConfigError('WXAUTH_APPS must be a JSON array');
    list.forEach((entry, i) => {
      if (typeof entry !== 'object' || entry === null)
        throw new ConfigError(`WXAUTH_APPS[${i}] must be an object`);
      const e = entry as Record<string, unknown>;
      apps.push(checkApp(e.appId, e.secret, e.apiBaseUrl ?? defaultBase, `WXAUTH_APPS[${i}]`));
    });
  }
  if (appId !== undefined || secret !== undefined) {
    apps.push(checkApp(appId, secret, defaultBase, 'WXAUTH_APP_ID/WXAUTH_APP_SECRET'));
  }
  const ids = new Set(apps.map((a) => a.appId));
  if (ids.size !== apps.length) throw new ConfigError('an appId is configured twice');
  return apps;
}

function checkApp(appId: unknown, secret: unknown, base: unknown, where: string): WechatAppConfig {
  if (typeof appId !== 'string' || !APP_ID.test(appId))
    throw new ConfigError(`${where}: appId is missing or malformed`);
  if (typeof secret !== 'string' || secret.length < 1 || secret.length > 256) {
    throw new ConfigError(`${where}: secret is missing`);
  }
  if (typeof base !== 'string' || !/^https?:\/\/[^\s]+$/.test(base)) {
    throw new ConfigError(`${where}: apiBaseUrl must be an http(s) URL`);
  }
  return { appId, secret, apiBaseUrl: base.replace(/\/+$/, '') };
}

/** Five or six cron fields, or `off`; the scheduler validates the fields themselves at start-up. */
function cron(value: string, name: VariableName): string | null {
  if (value === 'off') return null;
  const fields = value.split(/\s+/);
  if (fields.length < 5 || fields.length > 6 || !/^[0-9A-Za-z*,/?#LW -]+$/.test(value)) {
    throw new ConfigError(`${name} must be a cron expression (5 or 6 fields) or off`);
  }
  return value;
}

function region(value: string, name: string): string {
  if (!/^[A-Z]{2}$/.test(value)) throw new ConfigError(`${name} must list ISO 3166 region codes such as CN`);
  return value;
}

function oneOf<T extends string>(value: string, allowed: readonly T[], name: string): T {
  if (!(allowed as readonly string[]).includes(value))
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}`);
  return value as T;
}

function parseTrustProxy(raw: string): boolean | number | string[] {
  if (raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) return Number(raw);
  const list = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) throw new ConfigError('WXAUTH_TRUST_PROXY is malformed');
  return list;
}
