import type { SimPath, SimRateLimit, SimulatorOptions } from './types.ts';
import { SimInputError } from './validate.ts';

export interface ResolvedOptions {
  codeTtlMs: number;
  sessionKeyMinRefreshMs: number;
  sessionKeyIdleTtlMs: number;
  accessTokenTtlSec: number;
  code2SessionPerUserPerMinute: number;
  maxCallRecords: number;
  rateLimits: Partial<Record<SimPath, SimRateLimit>>;
}

const DAY_MS = 86_400_000;

export const DEFAULTS: Omit<ResolvedOptions, 'rateLimits'> = {
  /** §2: "用户登录凭证（有效期五分钟）". */
  codeTtlMs: 300_000,
  /** §10 only says a minimum period exists ("刷新机制存在最短周期"); 5 minutes is a guess (§16). */
  sessionKeyMinRefreshMs: 300_000,
  /** The unofficial "三天" figure (§14), applied as an idle timeout because use extends a key (§10). */
  sessionKeyIdleTtlMs: 3 * DAY_MS,
  /** §3: "access_token 的有效期目前为 2 个小时". */
  accessTokenTtlSec: 7200,
  /** §2, older doc: "每个用户每分钟100次". */
  code2SessionPerUserPerMinute: 100,
  maxCallRecords: 10_000,
};

export function resolveOptions(options: SimulatorOptions): ResolvedOptions {
  const resolved: ResolvedOptions = { ...DEFAULTS, rateLimits: options.rateLimits ?? {} };
  for (const key of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
    const value = options[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new SimInputError(`${key} must be a finite number >= 0`);
    }
    resolved[key] = value;
  }
  for (const [path, limit] of Object.entries(resolved.rateLimits)) {
    for (const value of [limit?.perMinute, limit?.perSecond]) {
      if (value !== undefined && !(Number.isInteger(value) && value >= 0)) {
        throw new SimInputError(`rateLimits['${path}'] must hold integers >= 0`);
      }
    }
  }
  return resolved;
}
