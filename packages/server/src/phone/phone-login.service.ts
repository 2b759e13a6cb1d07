import type { Kysely } from 'kysely';
import type { Clock } from '../clock.ts';
import { AppError, isAppError } from '../errors.ts';
import { type LoginCodesRepository, loginCodeHash } from '../login/login-codes.repository.ts';
import type { AuthEvents } from '../observability/auth-events.ts';
import { createSessionsRepository } from '../sessions/sessions.repository.ts';
import type { RequestMeta, SessionsService, TokenResponse } from '../sessions/sessions.service.ts';
import type { AccessTokenClaims } from '../sessions/token-signer.types.ts';
import type { Database } from '../storage/database.ts';
import { createLinkingRepository, type LinkingRepository } from '../users/linking.repository.ts';
import type { UsersRepository } from '../users/users.repository.ts';
import { identitySessionKeyContext } from '../vault/sealed-contexts.ts';
import type { Vault } from '../vault/vault.types.ts';
import type { SmsCodeService } from './phone.service.ts';
import { createSmsFastLoginRepository } from './sms-fast-login.repository.ts';
import { MAX_ATTEMPTS } from './verify-otp.ts';

export interface PhoneWechat {
  code2Session(code: string): Promise<{ openid: string; unionid: string | null; sessionKey: string }>;
  getPhoneNumber(
    code: string,
    openid?: string,
  ): Promise<{ phoneNumber: string; purePhoneNumber: string; countryCode: string }>;
}

export interface PhoneApps {
  resolve(appId: string | undefined): { appId: string; wechat: PhoneWechat };
}

/** What happens when a phone being linked already belongs to another account (WXAUTH_PHONE_CONFLICT). */
export type ConflictPolicy = 'refuse' | 'merge';

/** R22: binding or changing a phone needs a login this recent. */
const RECENT_LOGIN_MS = 5 * 60_000;

type WechatIdentityInput = { appId: string; openid: string; unionid: string | null; sessionKey: string };

/** Rolls a transaction back while carrying the public error out of it. */
class Rollback extends Error {
  readonly error: AppError;
  constructor(error: AppError) {
    super(error.code);
    this.error = error;
  }
}

export function createPhoneLoginService(deps: {
  db: Kysely<Database>;
  smsCodes: SmsCodeService;
  apps: PhoneApps;
  loginCodes: LoginCodesRepository;
  users: UsersRepository;
  sessions: SessionsService;
  vault: Vault;
  clock: Clock;
  events: AuthEvents;
  conflictPolicy: ConflictPolicy;
  maxSessions: number;
  newUserId: () => string;
}) {
  const { clock, events } = deps;

  /** A wx.login code, exchanged at most once (the same ledger as WeChat login, R1). */
  async function exchangeLoginCode(
    appId: string,
    wechat: PhoneWechat,
    code: string,
  ): Promise<WechatIdentityInput> {
    const codeHash = loginCodeHash(appId, code);
    if (!(await deps.loginCodes.claimLoginCode(codeHash, appId, new Date(clock.now())))) {
      throw new AppError('wechat_code_invalid');
    }
    try {
      const upstream = await wechat.code2Session(code);
      await deps.loginCodes.markLoginCodeFailed(codeHash, 'wechat_code_invalid', new Date(clock.now()));
      return { appId, ...upstream };
    } catch (err) {
      await deps.loginCodes.releaseLoginCode(codeHash);
      throw err;
    }
  }

  async function phoneFromWechat(wechat: PhoneWechat, phoneCode: string, openid?: string): Promise<string> {
    try {
      const info = await wechat.getPhoneNumber(phoneCode, openid);
      return deps.smsCodes.normalize(`+${info.countryCode}${info.purePhoneNumber}`);
    } catch (err) {
      // 40029 on this API is about the phone code, not the login code.
      if (isAppError(err) && err.code === 'wechat_code_invalid')
        throw new AppError('wechat_phone_code_invalid');
      throw err;
    }
  }

  function seal(identity: WechatIdentityInput) {
    return {
      sessionKeyEnc: deps.vault.seal(
        identity.sessionKey,
        identitySessionKeyContext(identity.appId, identity.openid),
      ),
      sessionKeyKid: deps.vault.primaryKid(),
    };
  }

  /** Links an identity to `userId`, applying the conflict policy when it belongs to someone else. */
  async function link(
    linking: LinkingRepository,
    userId: string,
    identity: WechatIdentityInput,
    now: Date,
  ): Promise<string[]> {
    const owner = await linking.attachWechatIdentity({
      userId,
      ...identity,
      unionid: identity.unionid,
      ...seal(identity),
      now,
    });
    if (owner === userId) return [];
    if (deps.conflictPolicy === 'refuse') throw new Rollback(new AppError('phone_conflict'));
    const { endedSessions } = await linking.mergeUsers({
      absorbed: owner,
      into: userId,
      reason: 'link_wechat',
      now,
    });
    return endedSessions;
  }

  /** Places the phone on `userId`, merging or refusing when another account holds it. */
  async function placePhone(
    linking: LinkingRepository,
    userId: string,
    phone: string,
    now: Date,
    reason: string,
  ): Promise<string[]> {
    const holder = await linking.findUserIdByPhone(phone);
    if (holder === userId) return [];
    if (holder) {
      if (deps.conflictPolicy === 'refuse') throw new Rollback(new AppError('phone_conflict'));
      const { endedSessions } = await linking.mergeUsers({ absorbed: holder, into: userId, reason, now });
      if (!(await linking.setPhone(userId, phone, now))) throw new Rollback(new AppError('phone_conflict'));
      return endedSessions;
    }
    if (!(await linking.setPhone(userId, phone, now))) throw new Rollback(new AppError('phone_conflict'));
    return [];
  }

  async function startSession(
    trx: Kysely<Database>,
    userId: string,
    appId: string | null,
    meta: RequestMeta,
  ) {
    const prepared = deps.sessions.prepareSession({ appId, method: 'phone', meta });
    await createSessionsRepository(trx).insertSession(userId, prepared.session, deps.maxSessions);
    return prepared;
  }

  async function respond(
    userId: string,
    prepared: Awaited<ReturnType<typeof startSession>>,
    isNewUser: boolean,
  ) {
    const profile = await deps.users.findUserProfile(userId);
    if (!profile) throw new AppError('internal_error');
    return deps.sessions.tokenResponse(
      profile,
      prepared.session.id,
      prepared.session.appId,
      prepared.refreshToken,
      prepared.session.expiresAt,
      isNewUser,
    );
  }

  const fastLogins = createSmsFastLoginRepository(deps.db);

  /** A plain SMS login with the right code, in two round trips; null sends the caller the locked way. */
  async function fastSmsLogin(phone: string, code: string, meta: RequestMeta): Promise<TokenResponse | null> {
    const codeId = await deps.smsCodes.peekMatchingCode({ phone, code, purpose: 'login' });
    if (codeId === null) return null;
    const prepared = deps.sessions.prepareSession({ appId: null, method: 'phone', meta });
    const done = await fastLogins.consumeAndStartSession({
      codeId,
      phone,
      maxAttempts: MAX_ATTEMPTS,
      newUserId: deps.newUserId(),
      session: prepared.session,
      maxSessions: deps.maxSessions,
    });
    if (!done) return null;
    void events.emit({
      type: 'sms.login',
      outcome: 'ok',
      userId: done.profile.id,
      sessionId: prepared.session.id,
      requestId: meta.requestId,
      ip: meta.ip,
      reason: null,
    });
    return deps.sessions.tokenResponse(
      done.profile,
      prepared.session.id,
      null,
      prepared.refreshToken,
      prepared.session.expiresAt,
      done.isNewUser,
    );
  }

  /** Runs `work` in a transaction; a Rollback carries its error out after rolling back. */
  async function inTransaction<T>(work: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
    try {
      return await deps.db.transaction().execute(work);
    } catch (err) {
      if (err instanceof Rollback) throw err.error;
      throw err;
    }
  }

  return {
    /** POST /v1/auth/sms/login: phone + code, optionally linking a WeChat identity (wechatCode). */
    async loginWithSms(
      input: { phone: unknown; code: string; wechatCode?: string | undefined; appId?: string | undefined },
      meta: RequestMeta,
    ): Promise<TokenResponse> {
      const phone = deps.smsCodes.normalize(input.phone);
      // The upstream exchange happens before, never inside, the transaction (R3).
      let identity: WechatIdentityInput | null = null;
      if (input.wechatCode !== undefined) {
        const app = deps.apps.resolve(input.appId);
        identity = await exchangeLoginCode(app.appId, app.wechat, input.wechatCode);
      } else {
        const fast = await fastSmsLogin(phone, input.code, meta);
        if (fast) return fast;
      }
      const now = new Date(clock.now());
      const outcome = await inTransaction(async (trx) => {
        const verified = await deps.smsCodes.verifyIn(trx, { phone, code: input.code, purpose: 'login' });
        if (!verified.ok) return { ok: false as const, error: verified.error };
        const linking = createLinkingRepository(trx);
        const { userId, isNewUser } = await linking.findOrCreateUserByPhone(phone, deps.newUserId(), now);
        const ended = identity ? await link(linking, userId, identity, now) : [];
        const prepared = await startSession(trx, userId, identity?.appId ?? null, meta);
        return { ok: true as const, userId, isNewUser, prepared, ended };
      });
      if (!outcome.ok) {
        void events.emit({
          type: 'sms.verify',
          outcome: 'fail',
          ip: meta.ip,
          requestId: meta.requestId,
          reason: outcome.error.code,
        });
        throw outcome.error;
      }
      void events.emit({
        type: 'sms.login',
        outcome: 'ok',
        userId: outcome.userId,
        sessionId: outcome.prepared.session.id,
        requestId: meta.requestId,
        ip: meta.ip,
        reason: identity ? 'linked_wechat' : null,
      });
      return respond(outcome.userId, outcome.prepared, outcome.isNewUser);
    },

    /** POST /v1/auth/wechat/phone-login: wx.login code + getPhoneNumber code → one user with both identities. */
    async loginWithWechatPhone(
      input: { loginCode: string; phoneCode: string; appId?: string | undefined },
      meta: RequestMeta,
    ): Promise<TokenResponse> {
      const app = deps.apps.resolve(input.appId);
      const identity = await exchangeLoginCode(app.appId, app.wechat, input.loginCode);
      const phone = await phoneFromWechat(app.wechat, input.phoneCode, identity.openid);
      const now = new Date(clock.now());
      const outcome = await inTransaction(async (trx) => {
        const linking = createLinkingRepository(trx);
        const byIdentity = await linking.findUserIdByIdentity(app.appId, identity.openid);
        const byPhone = await linking.findUserIdByPhone(phone);
        let userId = byPhone ?? byIdentity;
        let isNewUser = false;
        if (!userId) {
          userId = deps.newUserId();
          isNewUser = true;
          await linking.createUser(userId, phone, now);
        }
        const ended = await link(linking, userId, identity, now);
        if (!byPhone) ended.push(...(await placePhone(linking, userId, phone, now, 'wechat_phone')));
        const prepared = await startSession(trx, userId, app.appId, meta);
        return { userId, isNewUser, prepared, ended };
      });
      void events.emit({
        type: 'wechat.phone_login',
        outcome: 'ok',
        userId: outcome.userId,
        appId: app.appId,
        requestId: meta.requestId,
        ip: meta.ip,
      });
      return respond(outcome.userId, outcome.prepared, outcome.isNewUser);
    },

    /** POST /v1/me/phone: binds a phone (getPhoneNumber code, or phone + bind SMS code) to the current user. */
    async bindPhone(
      claims: AccessTokenClaims,
      input: { phoneCode?: string | undefined; phone?: unknown; code?: string | undefined },
      meta: RequestMeta,
    ): Promise<{ phone: string }> {
      const session = await deps.db
        .selectFrom('sessions')
        .select('created_at')
        .where('id', '=', claims.sid)
        .executeTakeFirst();
      if (!session || clock.now() - session.created_at.getTime() > RECENT_LOGIN_MS)
        throw new AppError('reauthentication_required');
      let phone: string;
      if (input.phoneCode !== undefined) {
        if (!claims.appId)
          throw new AppError('invalid_request', {
            message: 'phoneCode needs a session that began with WeChat login.',
          });
        const app = deps.apps.resolve(claims.appId);
        const identity = await deps.db
          .selectFrom('wechat_identities')
          .select('openid')
          .where('user_id', '=', claims.sub)
          .where('app_id', '=', app.appId)
          .executeTakeFirst();
        phone = await phoneFromWechat(app.wechat, input.phoneCode, identity?.openid);
      } else {
        phone = deps.smsCodes.normalize(input.phone);
      }
      const now = new Date(clock.now());
      const outcome = await inTransaction(async (trx) => {
        if (input.phoneCode === undefined) {
          const verified = await deps.smsCodes.verifyIn(trx, {
            phone,
            code: input.code ?? '',
            purpose: 'bind',
          });
          if (!verified.ok) return { ok: false as const, error: verified.error };
        }
        const linking = createLinkingRepository(trx);
        await placePhone(linking, claims.sub, phone, now, 'bind_phone');
        // R22: a new authenticator bound: every other session of the user ends.
        await trx
          .updateTable('sessions')
          .set({ revoked_at: now, revoked_reason: 'phone_bound' })
          .where('user_id', '=', claims.sub)
          .where('id', '<>', claims.sid)
          .where('revoked_at', 'is', null)
          .execute();
        return { ok: true as const, phone };
      });
      if (!outcome.ok) throw outcome.error;
      void events.emit({
        type: 'phone.bind',
        outcome: 'ok',
        userId: claims.sub,
        sessionId: claims.sid,
        requestId: meta.requestId,
      });
      return { phone: outcome.phone };
    },
  };
}

export type PhoneLoginService = ReturnType<typeof createPhoneLoginService>;
