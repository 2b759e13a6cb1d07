import type { Clock } from '../clock.ts';
import { AppError, type ErrorCode, isAppError } from '../errors.ts';
import type { AuthEvents } from '../observability/auth-events.ts';
import type { RequestMeta, SessionsService, TokenResponse } from '../sessions/sessions.service.ts';
import type { UsersRepository } from '../users/users.repository.ts';
import { identitySessionKeyContext } from '../vault/sealed-contexts.ts';
import type { Vault } from '../vault/vault.types.ts';
import { type LoginCodesRepository, loginCodeHash } from './login-codes.repository.ts';

/** What the login service needs from the WeChat client of one app. */
export interface Code2Session {
  code2Session(code: string): Promise<{ openid: string; unionid: string | null; sessionKey: string }>;
}

export interface LoginApps {
  /** Resolves the app a request names (or the only one); throws AppError('app_unknown'). */
  resolve(appId: string | undefined): { appId: string; wechat: Code2Session };
}

/** Outcomes that are final for a code: every later request with it gets the same answer. */
const FINAL_FAILURES = new Set<ErrorCode>([
  'wechat_code_invalid',
  'wechat_user_blocked',
  'upstream_misconfigured',
]);
const POLL_MS = 25;

export function createLoginService(deps: {
  apps: LoginApps;
  users: UsersRepository;
  loginCodes: LoginCodesRepository;
  sessions: SessionsService;
  vault: Vault;
  clock: Clock;
  events: AuthEvents;
  /** Seconds after success during which the same code logs the same user in again (double taps). */
  codeWindowSec: number;
  maxSessions: number;
  /** How long a duplicate waits for the exchange in flight before giving up with 503. */
  waitTimeoutMs?: number;
  newUserId: () => string;
  sleep?: (ms: number) => Promise<void>;
}) {
  const { clock, events } = deps;
  const waitTimeoutMs = deps.waitTimeoutMs ?? 10_000;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));

  /** The exchange already happened (or is happening) elsewhere: wait for it and follow its outcome. */
  async function followExisting(codeHash: Buffer, appId: string, meta: RequestMeta): Promise<TokenResponse> {
    const deadline = clock.now() + waitTimeoutMs;
    for (;;) {
      const state = await deps.loginCodes.findLoginCode(codeHash);
      if (!state) throw new AppError('upstream_unavailable', { retryAfter: 1 });
      if (state.state === 'failed')
        throw new AppError((state.errorCode as ErrorCode | null) ?? 'wechat_code_invalid');
      if (state.state === 'done') {
        const age = clock.now() - (state.completedAt ?? state.createdAt).getTime();
        if (age > deps.codeWindowSec * 1000 || !state.userId) throw new AppError('wechat_code_invalid');
        const profile = await deps.users.findUserProfile(state.userId);
        if (!profile) throw new AppError('wechat_code_invalid');
        void events.emit({
          type: 'wechat.login',
          outcome: 'ok',
          userId: profile.id,
          appId,
          requestId: meta.requestId,
          reason: 'repeated_code',
        });
        return deps.sessions.startSession(profile, { appId, method: 'wechat', meta });
      }
      if (clock.now() >= deadline) throw new AppError('upstream_unavailable', { retryAfter: 1 });
      await sleep(POLL_MS);
    }
  }

  return {
    async loginWithWechat(
      input: { code: string; appId?: string | undefined },
      meta: RequestMeta,
    ): Promise<TokenResponse> {
      const app = deps.apps.resolve(input.appId);
      const codeHash = loginCodeHash(app.appId, input.code);
      const claimed = await deps.loginCodes.claimLoginCode(codeHash, app.appId, new Date(clock.now()));
      if (!claimed) return followExisting(codeHash, app.appId, meta);

      // No transaction is open here: the upstream call may take seconds (R3) and must hold no lock.
      let upstream: { openid: string; unionid: string | null; sessionKey: string };
      try {
        upstream = await app.wechat.code2Session(input.code);
      } catch (err) {
        const appError = isAppError(err) ? err : new AppError('upstream_unavailable', { cause: err });
        if (FINAL_FAILURES.has(appError.code)) {
          await deps.loginCodes.markLoginCodeFailed(codeHash, appError.code, new Date(clock.now()));
        } else {
          await deps.loginCodes.releaseLoginCode(codeHash);
        }
        void events.emit({
          type: 'wechat.login',
          outcome: 'fail',
          appId: app.appId,
          requestId: meta.requestId,
          ip: meta.ip,
          reason: appError.code,
        });
        throw appError;
      }

      const { session, refreshToken } = deps.sessions.prepareSession({
        appId: app.appId,
        method: 'wechat',
        meta,
      });
      const sessionKeyEnc = deps.vault.seal(
        upstream.sessionKey,
        identitySessionKeyContext(app.appId, upstream.openid),
      );
      let written: Awaited<ReturnType<UsersRepository['upsertWechatLogin']>>;
      try {
        written = await deps.users.upsertWechatLogin({
          appId: app.appId,
          openid: upstream.openid,
          unionid: upstream.unionid,
          sessionKeyEnc,
          sessionKeyKid: deps.vault.primaryKid(),
          newUserId: deps.newUserId(),
          codeHash,
          session,
          maxSessions: deps.maxSessions,
        });
      } catch (err) {
        // WeChat has consumed the code, so a retry with it cannot succeed: record that for duplicates.
        await deps.loginCodes
          .markLoginCodeFailed(codeHash, 'wechat_code_invalid', new Date(clock.now()))
          .catch(() => undefined);
        throw err;
      }
      const { profile, isNewUser } = written;
      // Not awaited: only duplicates of this code read it, and they poll until it lands (in the database
      // the login statement has already written it; Redis takes one more round trip, off this path).
      void deps.loginCodes
        .markLoginCodeDone(codeHash, profile.id, new Date(clock.now()))
        .catch(() => undefined);
      void events.emit({
        type: 'wechat.login',
        outcome: 'ok',
        userId: profile.id,
        sessionId: session.id,
        appId: app.appId,
        requestId: meta.requestId,
        ip: meta.ip,
        reason: isNewUser ? 'new_user' : null,
      });
      return deps.sessions.tokenResponse(
        profile,
        session.id,
        app.appId,
        refreshToken,
        session.expiresAt,
        isNewUser,
      );
    },

    /** Housekeeping: forget login codes long past any window (WeChat codes live 5 minutes). */
    async purgeOldCodes(): Promise<number> {
      return deps.loginCodes.purgeLoginCodes(new Date(clock.now() - 10 * 60_000));
    },
  };
}

export type LoginService = ReturnType<typeof createLoginService>;
