import type { Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import type { AuthEvents } from '../observability/auth-events.ts';
import type { UsersRepository } from '../users/users.repository.ts';
import type { UserProfile } from '../users/users.types.ts';
import type { RefreshTokenCodec } from './refresh-token.ts';
import type { NewSession, SessionsRepository } from './sessions.repository.ts';
import type { AccessTokenClaims, TokenSigner } from './token-signer.types.ts';

export interface SessionPolicy {
  accessTokenTtlSec: number;
  refreshIdleTtlSec: number;
  refreshAbsoluteTtlSec: number;
  refreshGraceSec: number;
  maxSessions: number;
}

export interface RequestMeta {
  requestId: string;
  ip: string | null;
  userAgent: string | null;
}

/** The body of every login and refresh response (shared/api.md "Tokens"). */
export interface TokenResponse {
  tokenType: 'Bearer';
  accessToken: string;
  expiresIn: number;
  refreshToken: string;
  refreshExpiresIn: number;
  user: { id: string; phone: string | null; wechat: UserProfile['wechat'] };
  isNewUser: boolean;
}

/** R21: a revoked session's access tokens stop working within this long on every instance. */
const ACTIVE_CACHE_MS = 4_000;
const ACTIVE_CACHE_MAX = 50_000;

export function createSessionsService(deps: {
  repository: SessionsRepository;
  users: UsersRepository;
  signer: TokenSigner;
  codec: RefreshTokenCodec;
  clock: Clock;
  events: AuthEvents;
  policy: SessionPolicy;
}) {
  const { repository, signer, codec, clock, events, policy } = deps;
  const activeUntil = new Map<string, number>();

  const forget = (sessionId: string) => activeUntil.delete(sessionId);

  async function tokenResponse(
    profile: UserProfile,
    sessionId: string,
    appId: string | null,
    refreshToken: string,
    expiresAt: Date,
    isNewUser: boolean,
  ): Promise<TokenResponse> {
    const access = await signer.sign({ sub: profile.id, sid: sessionId, appId });
    return {
      tokenType: 'Bearer',
      accessToken: access.token,
      expiresIn: access.expiresIn,
      refreshToken,
      refreshExpiresIn: Math.max(0, Math.floor((expiresAt.getTime() - clock.now()) / 1000)),
      user: { id: profile.id, phone: profile.phone, wechat: profile.wechat },
      isNewUser,
    };
  }

  return {
    /** A fresh session family (R22: never reused across logins) ready to be inserted by the caller. */
    prepareSession(input: { appId: string | null; method: 'wechat' | 'phone'; meta: RequestMeta }): {
      session: NewSession;
      refreshToken: string;
    } {
      const now = clock.now();
      const id = codec.newSessionId();
      const issued = codec.issue(id);
      const expiresAt = now + policy.refreshAbsoluteTtlSec * 1000;
      return {
        refreshToken: issued.token,
        session: {
          id,
          appId: input.appId,
          method: input.method,
          tokenHash: issued.hash,
          now: new Date(now),
          idleExpiresAt: new Date(Math.min(now + policy.refreshIdleTtlSec * 1000, expiresAt)),
          expiresAt: new Date(expiresAt),
          userAgent: input.meta.userAgent?.slice(0, 512) ?? null,
          ip: input.meta.ip,
        },
      };
    },

    tokenResponse,

    /** A new session for a user who is already known (a repeated login code, SMS login). */
    async startSession(
      profile: UserProfile,
      input: { appId: string | null; method: 'wechat' | 'phone'; meta: RequestMeta },
    ): Promise<TokenResponse> {
      const { session, refreshToken } = this.prepareSession(input);
      await repository.insertSession(profile.id, session, policy.maxSessions);
      return tokenResponse(profile, session.id, session.appId, refreshToken, session.expiresAt, false);
    },

    /** R17–R19: rotate, hand the same child to concurrent or retried callers, end the family on reuse. */
    async refresh(refreshToken: unknown, meta: RequestMeta): Promise<TokenResponse> {
      const parsed = codec.parse(refreshToken);
      if (!parsed) throw new AppError('refresh_token_invalid');
      const now = new Date(clock.now());
      const child = codec.child(parsed);
      const rotated = await repository.rotate({
        sessionId: parsed.sessionId,
        generation: parsed.generation,
        tokenHash: codec.hash(parsed.secret),
        childHash: child.hash,
        now,
        idleTtlMs: policy.refreshIdleTtlSec * 1000,
      });
      let userId: string;
      let appId: string | null;
      let expiresAt: Date;
      let profile: UserProfile | null | undefined;
      if (rotated) {
        ({ userId, appId, expiresAt, profile } = rotated);
      } else {
        const state = await repository.findSessionById(parsed.sessionId);
        const usable =
          state !== null && state.revokedAt === null && state.expiresAt > now && state.idleExpiresAt > now;
        if (!state || !usable) throw new AppError('refresh_token_invalid');
        const isParent =
          parsed.generation === state.generation - 1 && codec.matches(parsed.secret, state.parentHash);
        const withinGrace = now.getTime() - state.rotatedAt.getTime() <= policy.refreshGraceSec * 1000;
        if (isParent && withinGrace) {
          // The already-issued child, re-derived: the same token every concurrent caller got.
          ({ userId, appId, expiresAt } = state);
        } else if (codec.isAncestor(parsed, state.generation, state.tokenHash)) {
          await repository.revokeSession(state.id, 'refresh_token_reused', now);
          forget(state.id);
          await events.emit({
            type: 'refresh_token.reuse_detected',
            outcome: 'critical',
            userId: state.userId,
            sessionId: state.id,
            requestId: meta.requestId,
            ip: meta.ip,
            reason: isParent ? 'parent_after_grace' : 'ancestor',
          });
          throw new AppError('refresh_token_reused');
        } else {
          throw new AppError('refresh_token_invalid');
        }
      }
      // The grace path read only the session; the rotation already brought the profile.
      profile ??= await deps.users.findUserProfile(userId);
      if (!profile) throw new AppError('refresh_token_invalid');
      void events.emit({
        type: 'refresh',
        outcome: 'ok',
        userId,
        sessionId: parsed.sessionId,
        requestId: meta.requestId,
      });
      return tokenResponse(profile, parsed.sessionId, appId, child.token, expiresAt, false);
    },

    /** Verifies a bearer token and that its session is still active (R21: within ~4 s everywhere). */
    async authenticate(bearer: string): Promise<AccessTokenClaims> {
      const claims = await signer.verify(bearer);
      const now = clock.now();
      const cached = activeUntil.get(claims.sid);
      if (cached !== undefined && cached > now) return claims;
      if (!(await repository.isSessionActive(claims.sid, new Date(now)))) {
        forget(claims.sid);
        throw new AppError('unauthorized', { message: 'This session has ended.' });
      }
      if (activeUntil.size >= ACTIVE_CACHE_MAX) activeUntil.clear();
      activeUntil.set(claims.sid, now + ACTIVE_CACHE_MS);
      return claims;
    },

    async logout(claims: AccessTokenClaims, all: boolean, meta: RequestMeta): Promise<void> {
      const now = new Date(clock.now());
      if (all) {
        const ended = await repository.revokeAllForUser(claims.sub, 'logout_all', now);
        for (const id of ended) forget(id);
        forget(claims.sid);
        void events.emit({
          type: 'session.logout_all',
          outcome: 'ok',
          userId: claims.sub,
          requestId: meta.requestId,
          detail: { sessions: ended.length },
        });
      } else {
        await repository.revokeSession(claims.sid, 'logout', now, claims.sub);
        forget(claims.sid);
        void events.emit({
          type: 'session.logout',
          outcome: 'ok',
          userId: claims.sub,
          sessionId: claims.sid,
          requestId: meta.requestId,
        });
      }
    },

    async list(claims: AccessTokenClaims) {
      const sessions = await repository.listActiveSessions(claims.sub, new Date(clock.now()));
      return sessions.map((s) => ({
        id: s.id,
        createdAt: Math.floor(s.createdAt.getTime() / 1000),
        lastUsedAt: Math.floor(s.lastUsedAt.getTime() / 1000),
        userAgent: s.userAgent,
        ip: s.ip,
        current: s.id === claims.sid,
      }));
    },

    async revoke(claims: AccessTokenClaims, sessionId: string, meta: RequestMeta): Promise<void> {
      const ended = await repository.revokeSession(
        sessionId,
        'revoked_by_user',
        new Date(clock.now()),
        claims.sub,
      );
      if (!ended) throw new AppError('session_not_found');
      forget(sessionId);
      void events.emit({
        type: 'session.revoke',
        outcome: 'ok',
        userId: claims.sub,
        sessionId,
        requestId: meta.requestId,
      });
    },
  };
}

export type SessionsService = ReturnType<typeof createSessionsService>;
