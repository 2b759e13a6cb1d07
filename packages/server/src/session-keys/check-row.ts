import { WeChatError } from '../adapters/wechat/errcodes.ts';
import type { Clock } from '../clock.ts';
import { isAppError } from '../errors.ts';
import { identitySessionKeyContext } from '../vault/sealed-contexts.ts';
import type { Vault } from '../vault/vault.types.ts';
import type { CheckOutcome, ClaimedKey } from './session-keys.repository.ts';

/** What the job (and decrypt) need from the WeChat client of one app (adapters/wechat). */
export interface SessionKeyApi {
  checkSessionKey(openid: string, sessionKey: string): Promise<'valid' | 'invalid'>;
  resetUserSessionKey(openid: string, sessionKey: string): Promise<{ sessionKey: string }>;
}

/**
 * A row's result, or: put it back and try again later ('retry'), the worker is stopping ('stop'), or
 * the row's lease was lost while it waited for its turn and another worker owns it now ('lost').
 */
export type RowResult = CheckOutcome | 'retry' | 'stop' | 'lost';

/** How one row's work talks back to the worker that runs it. */
export interface RowControl {
  /** Waits for the pacing token bucket; false when the worker is stopping. */
  take(): Promise<boolean>;
  /** WeChat (or the client's quota gate, R4) said 45011. */
  minuteQuota(): void;
  /** The circuit breaker is open (R5): no calls for this long. */
  pause(ms: number): void;
  /** Calling on is pointless until an operator acts or WeChat's day ends. */
  fatal(reason: string): void;
}

/** R7: resetusersessionkey at most once per user per 24 h ("不允许频繁重置同一个用户的登录态", §6). */
const RESET_INTERVAL_MS = 24 * 3_600_000;
const FATAL = new Set(['daily_quota', 'misconfigured', 'sig_method_invalid']);

/**
 * The work on one claimed row: open the sealed key, reset it (compromised, or older than the reset
 * age, and not reset in the last 24 h) or check it, and classify what WeChat said.
 */
export function createRowChecker(deps: { vault: Vault; clock: Clock; resetAgeMs: number | null }) {
  const { vault, clock, resetAgeMs } = deps;

  /**
   * `holdLease` runs after the pacing wait and before the call: that wait lasts until the next minute
   * after a 45011 (R4), longer than a lease, and in the meantime another worker may have claimed and
   * checked the row. False means the row is no longer ours, and WeChat is not called for it.
   */
  return async function checkRow(
    key: ClaimedKey,
    api: SessionKeyApi,
    control: RowControl,
    holdLease: () => Promise<boolean>,
  ): Promise<RowResult> {
    const context = identitySessionKeyContext(key.appId, key.openid);
    const sessionKey = vault.open(key.sessionKeyEnc, context);
    // R27: a key the vault cannot open is absent: stale, so decrypt asks for a fresh wx.login.
    if (sessionKey === null) return { kind: 'stale', checked: false };
    const now = clock.now();
    const old = resetAgeMs !== null && key.updatedAt !== null && now - key.updatedAt >= resetAgeMs;
    const mayReset = key.resetAt === null || now - key.resetAt >= RESET_INTERVAL_MS;
    if (!(await control.take())) return 'stop';
    if (!(await holdLease())) return 'lost';
    try {
      if ((key.status === 'compromised' || old) && mayReset) {
        const fresh = await api.resetUserSessionKey(key.openid, sessionKey);
        return {
          kind: 'reset',
          sessionKeyEnc: vault.seal(fresh.sessionKey, context),
          kid: vault.primaryKid(),
        };
      }
      const verdict = await api.checkSessionKey(key.openid, sessionKey);
      return verdict === 'valid' ? { kind: 'valid' } : { kind: 'stale', checked: true };
    } catch (err) {
      if (!isAppError(err)) throw err;
      // resetusersessionkey answers 87009 for a key WeChat no longer accepts (§6 shares §5's checks).
      if (err.code === 'session_key_stale') return { kind: 'stale', checked: true };
      const kind = err.cause instanceof WeChatError ? err.cause.kind : null;
      if (kind === 'minute_quota') {
        control.minuteQuota();
        return 'retry';
      }
      if (kind === 'breaker_open') {
        control.pause((err.retryAfter ?? 1) * 1000);
        return 'retry';
      }
      if (kind !== null && FATAL.has(kind)) {
        control.fatal(`WeChat ${kind}`);
        return 'stop';
      }
      // Timeouts, 5xx, garbage: this row is left for the next run (R3 already retried what it may).
      return { kind: 'error' };
    }
  };
}
