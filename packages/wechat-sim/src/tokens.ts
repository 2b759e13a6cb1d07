import type { RandomSource } from './random.ts';

interface TokenRecord {
  appId: string;
  expiresAt: number;
  /** When a newer token (or a force refresh) ended this one early; Infinity while it lives its full term. */
  invalidAt: number;
}

interface StableState {
  /** Stable tokens that may still be valid, newest last. */
  live: { value: string; record: TokenRecord }[];
  lastForceAt: number | undefined;
  forceDay: number;
  forceCount: number;
}

export type TokenCheck = { appId: string } | { errcode: 40001 | 42001 };
export type TokenGrant = { access_token: string; expires_in: number } | { errcode: 45009 };

/**
 * §3: "公众平台后台会保证在5分钟内，新老 access_token 都可用" — a new plain token leaves the previous one
 * usable for 5 more minutes. §4 uses the same 5 minutes for the stable token's early renewal window.
 */
export const TOKEN_OVERLAP_MS = 5 * 60_000;
/** §4: force_refresh "该模式限制每天20次". */
export const FORCE_REFRESH_PER_DAY = 20;
/** §4: "连续使用该模式时，请保证调用时间隔至少为30s，否则不会刷新". */
export const FORCE_REFRESH_MIN_INTERVAL_MS = 30_000;
/** WeChat's days are Beijing days (UTC+8): the force_refresh quota resets at 00:00 CST. */
const CST_OFFSET_MS = 8 * 3_600_000;

export type TokenStore = ReturnType<typeof createTokenStore>;

export function createTokenStore(now: () => number, ids: RandomSource, ttlSec: number) {
  const tokens = new Map<string, TokenRecord>();
  const lastPlain = new Map<string, TokenRecord>();
  const stable = new Map<string, StableState>();
  const ttlMs = ttlSec * 1000;

  function mint(appId: string, t: number): { value: string; record: TokenRecord } {
    // Production tokens look like "<n>_<opaque>" and are well over 100 chars (§3: reserve 512).
    const value = `90_${ids.urlSafe(133)}`;
    const record = { appId, expiresAt: t + ttlMs, invalidAt: Number.POSITIVE_INFINITY };
    tokens.set(value, record);
    return { value, record };
  }

  const grant = (value: string, record: TokenRecord, t: number) => ({
    access_token: value,
    expires_in: Math.floor((record.expiresAt - t) / 1000),
  });

  function stableState(appId: string): StableState {
    let state = stable.get(appId);
    if (!state) {
      state = { live: [], lastForceAt: undefined, forceDay: -1, forceCount: 0 };
      stable.set(appId, state);
    }
    return state;
  }

  /** §4 normal mode: the same token until its last 5 minutes, then a new one while the old one lives on. */
  function stableNormal(state: StableState, appId: string, t: number): TokenGrant {
    state.live = state.live.filter(({ record }) => t < Math.min(record.expiresAt, record.invalidAt));
    const current = state.live.at(-1);
    if (current && current.record.expiresAt - t > TOKEN_OVERLAP_MS)
      return grant(current.value, current.record, t);
    const fresh = mint(appId, t);
    state.live.push(fresh);
    return grant(fresh.value, fresh.record, t);
  }

  return {
    /** GET /cgi-bin/token: always a new token; the previous one survives the 5-minute overlap (§3). */
    plain(appId: string): TokenGrant {
      const t = now();
      const previous = lastPlain.get(appId);
      if (previous) previous.invalidAt = Math.min(previous.invalidAt, t + TOKEN_OVERLAP_MS);
      const { value, record } = mint(appId, t);
      lastPlain.set(appId, record);
      return grant(value, record, t);
    },

    /** POST /cgi-bin/stable_token, isolated from the plain token (§4 "完全隔离，互不影响"). */
    stable(appId: string, forceRefresh: boolean): TokenGrant {
      const t = now();
      const state = stableState(appId);
      if (!forceRefresh) return stableNormal(state, appId, t);
      if (state.lastForceAt !== undefined && t - state.lastForceAt < FORCE_REFRESH_MIN_INTERVAL_MS) {
        // §4 "否则不会刷新": too soon after the last force refresh, nothing is refreshed.
        return stableNormal(state, appId, t);
      }
      const day = Math.floor((t + CST_OFFSET_MS) / 86_400_000);
      if (day !== state.forceDay) {
        state.forceDay = day;
        state.forceCount = 0;
      }
      if (state.forceCount >= FORCE_REFRESH_PER_DAY) return { errcode: 45009 };
      state.forceCount++;
      state.lastForceAt = t;
      // §4: force refresh "会导致上次获取的 access_token 失效": no overlap, the old token dies now.
      for (const { record } of state.live) record.invalidAt = Math.min(record.invalidAt, t);
      const fresh = mint(appId, t);
      state.live = [fresh];
      return grant(fresh.value, fresh.record, t);
    },

    /** Business endpoints accept plain and stable tokens alike. */
    check(value: string): TokenCheck {
      const record = tokens.get(value);
      const t = now();
      if (!record) return { errcode: 40001 };
      // Superseded before its natural end → 40001 "invalid or not latest"; naturally expired → 42001 (§0).
      if (t >= record.invalidAt && record.invalidAt < record.expiresAt) return { errcode: 40001 };
      if (t >= record.expiresAt) return { errcode: 42001 };
      return { appId: record.appId };
    },

    /** The app a token belongs to, valid or not (for call records and app-wide rate limits). */
    appOf: (value: string) => tokens.get(value)?.appId,

    clear(): void {
      tokens.clear();
      lastPlain.clear();
      stable.clear();
    },
  };
}
