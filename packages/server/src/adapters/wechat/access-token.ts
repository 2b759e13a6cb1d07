import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../../clock.ts';
import { AppError } from '../../errors.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Metrics } from '../../observability/metrics.ts';
import type { AccessTokenRecord, AccessTokenRepository } from './access-token.repository.ts';
import { beijingDay, WeChatError } from './errcodes.ts';

export interface AccessTokenEvent {
  type:
    | 'wechat.access_token_overwritten'
    | 'wechat.access_token_refreshed'
    | 'wechat.access_token_force_refresh';
  appId: string;
  detail?: Record<string, unknown>;
}

export interface AccessTokenManagerOptions {
  appId: string;
  repository: Pick<
    AccessTokenRepository,
    'findByAppId' | 'ensureRow' | 'tryAcquireLease' | 'releaseLease' | 'saveToken' | 'reserveForceRefresh'
  >;
  /** The client's fetchStableToken (POST /cgi-bin/stable_token). */
  fetchStable: (force: boolean) => Promise<{ accessToken: string; expiresIn: number }>;
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
  /** Names this process in the lease and in `fetched_by`. */
  instanceId: string;
  /** R6 / §3 "其他服务器缓存约1分钟": memory cache. Default 60 s (never past the token's expiry). */
  memoryCacheMs?: number;
  /** Refresh this long before expiry. Default 10 min. */
  refreshAheadMs?: number;
  /** Cluster-wide single-flight lease; also how long a non-holder polls. Default 10 s. */
  leaseMs?: number;
  /** How often a non-holder re-reads the row. Default 50 ms. */
  pollMs?: number;
  /** A token this close to expiry is not handed out. Default 30 s (WeChat gives ≥ 300 s, §4). */
  expiryMarginMs?: number;
  /**
   * After a fetch (by any instance), a due token is not fetched again for this long: normal mode
   * returns the same token until its last 5 minutes (§4), so an eager refresh-ahead would loop.
   * Default 60 s.
   */
  refetchCooldownMs?: number;
  /** R6: force refresh at least 30 s apart, ≤ 10 a day, alert from the 5th. */
  forceRefresh?: { minIntervalMs?: number; maxPerDay?: number; alertAt?: number };
  onEvent?: (event: AccessTokenEvent) => void;
}

interface Mode {
  /** A token WeChat rejected: the result must differ from it. */
  reject: string | null;
  errcode: number | null;
  /** Refresh-ahead: a due token is not acceptable unless just fetched. */
  ahead: boolean;
  force: boolean;
}

const GET: Mode = { reject: null, errcode: null, ahead: false, force: false };
const AHEAD: Mode = { reject: null, errcode: null, ahead: true, force: false };

/**
 * R6: one owner of the WeChat access_token. The token lives in the shared DB row (sealed); instances
 * keep it in memory ≤ 60 s; fetches are single-flight per process AND cluster-wide (a lease row
 * compare-and-set); instances without the lease poll the row instead of calling WeChat (C9).
 */
export function createAccessTokenManager(options: AccessTokenManagerOptions) {
  const { appId, repository: repo, clock, metrics, instanceId } = options;
  const memoryCacheMs = options.memoryCacheMs ?? 60_000;
  const refreshAheadMs = options.refreshAheadMs ?? 10 * 60_000;
  const leaseMs = options.leaseMs ?? 10_000;
  const pollMs = options.pollMs ?? 50;
  const marginMs = options.expiryMarginMs ?? 30_000;
  const cooldownMs = options.refetchCooldownMs ?? 60_000;
  const force = { minIntervalMs: 30_000, maxPerDay: 10, alertAt: 5, ...options.forceRefresh };
  for (const [name, value] of Object.entries({
    memoryCacheMs,
    refreshAheadMs,
    leaseMs,
    pollMs,
    cooldownMs,
  })) {
    if (!(value > 0)) throw new TypeError(`access token manager: ${name} must be positive`);
  }
  if (!(marginMs >= 0 && marginMs < refreshAheadMs)) {
    throw new TypeError('access token manager: expiryMarginMs must be in [0, refreshAheadMs)');
  }
  const log = options.logger.child({ component: 'wechat-access-token', appId });
  const emit = (type: AccessTokenEvent['type'], detail?: Record<string, unknown>) =>
    options.onEvent?.({ type, appId, ...(detail ? { detail } : {}) });

  let cache: { token: string; expiresAt: number; cachedAt: number } | null = null;
  let flight: { promise: Promise<string>; reject: string | null } | null = null;
  let rowReady: Promise<void> | null = null;
  let fetches = 0;
  let lastAheadAt = Number.NEGATIVE_INFINITY;
  /** The last normal-mode fetch that handed back the very token WeChat had just rejected. */
  let sameTokenAgain: { token: string; at: number } | null = null;
  /** First occurrence of that, waiting for a second one ≥ 30 s later before a force refresh (R6). */
  let strike: { token: string; at: number } | null = null;
  let lastOverwriteReported: string | null = null;

  function acceptable(
    row: AccessTokenRecord | null,
    mode: Mode,
    now: number,
  ): row is AccessTokenRecord & {
    token: string;
    expiresAt: number;
  } {
    if (!row || row.token === null || row.expiresAt === null || row.token === mode.reject) return false;
    const left = row.expiresAt - now;
    if (left <= marginMs) return false;
    const fetchedRecently = row.fetchedAt !== null && now - row.fetchedAt < cooldownMs;
    return !(mode.ahead && left <= refreshAheadMs && !fetchedRecently);
  }

  function remember(token: string, expiresAt: number): string {
    cache = { token, expiresAt, cachedAt: clock.now() };
    return token;
  }

  /** Stale-while-revalidate: a due but valid token is served while one background refresh runs. */
  function maybeRefreshAhead(expiresAt: number, now: number): void {
    if (expiresAt - now > refreshAheadMs || flight || now - lastAheadAt < cooldownMs) return;
    lastAheadAt = now;
    refresh(AHEAD).catch((err: unknown) =>
      log.warn({ err: String(err) }, 'access token refresh-ahead failed'),
    );
  }

  function refresh(mode: Mode): Promise<string> {
    if (flight && (mode.reject === null || flight.reject === mode.reject)) return flight.promise;
    // A flight for another purpose is running: let it finish, then re-check with our own mode.
    if (flight) return flight.promise.then(settle, settle).then(() => refresh(mode));
    const promise = runFlight(mode).finally(() => {
      if (flight?.promise === promise) flight = null;
    });
    flight = { promise, reject: mode.reject };
    return promise;
  }

  async function runFlight(mode: Mode): Promise<string> {
    rowReady ??= repo.ensureRow(appId).catch((err: unknown) => {
      rowReady = null;
      throw err;
    });
    await rowReady;
    const maxPolls = Math.max(1, Math.ceil(leaseMs / pollMs));
    for (let poll = 0; ; poll++) {
      const now = clock.now();
      const row = await repo.findByAppId(appId);
      if (acceptable(row, mode, now)) return remember(row.token, row.expiresAt);
      if (await repo.tryAcquireLease(appId, instanceId, now, leaseMs)) return await underLease(mode);
      if (poll >= maxPolls) throw refused('no token from the instance holding the refresh lease');
      await sleep(pollMs);
    }
  }

  async function underLease(mode: Mode): Promise<string> {
    let saved = false;
    try {
      const now = clock.now();
      // Double check under the lease: the previous holder may have stored a token just now.
      const row = await repo.findByAppId(appId);
      if (acceptable(row, mode, now)) return remember(row.token, row.expiresAt);
      if (row?.unreadable) log.warn({}, 'stored access token could not be opened; fetching a new one');
      detectOverwrite(row, mode, now);
      if (mode.force) await reserveForceRefresh(now);
      const kind = mode.force ? 'force' : 'normal';
      let fetched: { accessToken: string; expiresIn: number };
      try {
        fetched = await options.fetchStable(mode.force);
      } catch (err) {
        metrics.accessTokenRefreshes.inc({ mode: kind, outcome: 'error' });
        throw err;
      }
      const fetchedAt = clock.now();
      const expiresAt = fetchedAt + fetched.expiresIn * 1000;
      saved = await repo.saveToken(appId, instanceId, { token: fetched.accessToken, expiresAt, fetchedAt });
      fetches++;
      metrics.accessTokenRefreshes.inc({ mode: kind, outcome: 'ok' });
      log.info({ mode: kind, expiresIn: fetched.expiresIn, stored: saved }, 'access token fetched');
      emit('wechat.access_token_refreshed', { mode: kind, expiresIn: fetched.expiresIn });
      return remember(fetched.accessToken, expiresAt);
    } finally {
      if (!saved) await repo.releaseLease(appId, instanceId).catch(() => undefined);
    }
  }

  /**
   * A 40001 for the shared token while it is still within its lifetime: a stable token only dies early
   * when someone force-refreshes it (§4), so another service is refreshing this app's token. Reported
   * by the lease holder only, so once per event cluster-wide.
   */
  function detectOverwrite(row: AccessTokenRecord | null, mode: Mode, now: number): void {
    if (mode.reject === null || mode.errcode !== 40001 || row?.token !== mode.reject) return;
    if (row.expiresAt === null || row.expiresAt <= now || lastOverwriteReported === mode.reject) return;
    lastOverwriteReported = mode.reject;
    metrics.accessTokenOverwrites.inc({ app_id: appId });
    const ageSec = row.fetchedAt === null ? null : Math.round((now - row.fetchedAt) / 1000);
    log.error(
      { alert: 'wechat_access_token_overwritten', ageSec },
      'access token invalidated by another party',
    );
    emit('wechat.access_token_overwritten', { ageSec, fetchedBy: row.fetchedBy });
  }

  async function reserveForceRefresh(now: number): Promise<void> {
    const count = await repo.reserveForceRefresh(appId, {
      now,
      day: beijingDay(now),
      maxPerDay: force.maxPerDay,
      minIntervalMs: force.minIntervalMs,
    });
    if (count === null) {
      metrics.accessTokenRefreshes.inc({ mode: 'force', outcome: 'refused' });
      log.error({ alert: 'wechat_force_refresh_refused' }, 'force refresh refused: too soon or daily limit');
      throw refused('force refresh limit reached');
    }
    const line = { forceRefreshesToday: count, limit: force.maxPerDay };
    if (count >= force.alertAt)
      log.error({ ...line, alert: 'wechat_force_refresh' }, 'access token force refresh');
    else log.warn(line, 'access token force refresh');
    emit('wechat.access_token_force_refresh', { count });
  }

  /** R6: normal mode keeps yielding the rejected token; force only on a second occurrence ≥ 30 s later. */
  function escalate(bad: string): Promise<string> {
    if (flight) return flight.promise;
    const now = clock.now();
    if (strike?.token !== bad) {
      strike = { token: bad, at: now };
      throw refused('normal mode returned the rejected token');
    }
    if (now - strike.at < force.minIntervalMs) throw refused('normal mode returned the rejected token again');
    strike = null;
    return refresh({ reject: bad, errcode: 40001, ahead: false, force: true });
  }

  return {
    /** A usable token: memory (≤ 60 s) → shared row → single-flight fetch. */
    async get(): Promise<string> {
      const now = clock.now();
      if (cache && now - cache.cachedAt < memoryCacheMs && cache.expiresAt - now > marginMs) {
        maybeRefreshAhead(cache.expiresAt, now);
        return cache.token;
      }
      const row = await repo.findByAppId(appId);
      const later = clock.now();
      if (acceptable(row, GET, later)) {
        maybeRefreshAhead(row.expiresAt, later);
        return remember(row.token, row.expiresAt);
      }
      return await refresh(GET);
    },

    /**
     * WeChat answered 40001/42001 for `badToken`: re-read the shared row (someone may have refreshed
     * already), else single-flight fetch in normal mode (R6, C9). Resolves to the token to retry with.
     */
    async invalidate(badToken: string, errcode: number | null = 40001): Promise<string> {
      if (cache?.token === badToken) cache = null;
      const row = await repo.findByAppId(appId);
      const now = clock.now();
      const mode: Mode = { reject: badToken, errcode, ahead: false, force: false };
      if (acceptable(row, mode, now)) return remember(row.token, row.expiresAt);
      if (cache && cache.token !== badToken && cache.expiresAt - now > marginMs) return cache.token;
      if (sameTokenAgain?.token === badToken && now - sameTokenAgain.at < cooldownMs)
        return escalate(badToken);
      const token = await refresh(mode);
      if (token !== badToken) return token;
      sameTokenAgain = { token: badToken, at: clock.now() };
      return escalate(badToken);
    },

    /** For the leader timer: fetches when the shared token is missing or due. True when it fetched. */
    async refreshIfDue(): Promise<boolean> {
      const before = fetches;
      const row = await repo.findByAppId(appId);
      if (acceptable(row, AHEAD, clock.now())) {
        remember(row.token, row.expiresAt);
        return false;
      }
      await refresh(AHEAD);
      return fetches > before;
    },
  };
}

export type AccessTokenManager = ReturnType<typeof createAccessTokenManager>;

const settle = (): void => undefined;

function refused(reason: string): AppError {
  return new AppError('upstream_unavailable', {
    cause: new WeChatError({
      api: 'stable_token',
      kind: 'token_unavailable',
      message: `access token: ${reason}`,
    }),
  });
}
