import { isWxAuthError, WxAuthError } from './errors.ts';
import type { Platform } from './platform.ts';
import { isRecord, isUser, type SessionStore, type StoredSession, sessionFromTokens } from './storage.ts';
import { checked, type Transport } from './transport.ts';
import type { AuthState, ChangeReason, TokenResponse, User } from './types.ts';

/** A session and whether the login that made it created the user. */
export interface Outcome {
  session: StoredSession;
  isNewUser: boolean;
}

/** Takes a token response into the session, unless `logout()` ran since the operation started. */
export type Accept = (tokens: TokenResponse, reason: ChangeReason) => Outcome;

/**
 * `login`/`refresh` are the SDK's own operations: concurrent callers join them. `explicit` ones
 * (phone, SMS) belong to one caller: others wait for them to settle, then look again.
 */
type OpKind = 'login' | 'refresh' | 'explicit';

export interface SessionManager {
  current(): StoredSession | null;
  state(): AuthState;
  /** A session with a usable access token: the stored one, a refreshed one, or a new login. */
  ensure(allowLogin: boolean): Promise<Outcome>;
  /** After a 401 with `usedToken`: one shared refresh, else one re-login. */
  recover(usedToken: string): Promise<Outcome>;
  /** A fresh `wx.login`, shared with a login already under way. */
  forceLogin(): Promise<Outcome>;
  /** Runs a login of the caller's own (phone, SMS) once no other operation is under way. */
  explicit(task: (accept: Accept) => Promise<Outcome>): Promise<Outcome>;
  updateUser(user: User): void;
  logout(all: boolean): Promise<void>;
}

export interface SessionDeps {
  platform: Platform;
  transport: Transport;
  store: SessionStore;
  appId: string | undefined;
  now: () => number;
  /** Renew this long before the access token expires, so a request never leaves with a dying token. */
  leewayMs: number;
  autoLogin: boolean;
  emit: (reason: ChangeReason) => void;
}

/**
 * The session state machine. The invariant that matters: at most one login or refresh runs at a
 * time. Two concurrent refreshes would present one refresh token twice, and a late second use looks
 * exactly like theft to the server's reuse detection, which then ends the session (docs/flows/sessions.md).
 */
export function createSessionManager(deps: SessionDeps): SessionManager {
  // Restore on launch: a returning user needs no wx.login and no request at all.
  let current: StoredSession | null = deps.store.load();
  let inflight: { kind: OpKind; promise: Promise<Outcome> } | null = null;
  // Bumped by logout(): an operation that started before it must not bring the session back.
  let epoch = 0;

  const stateOf = (): AuthState => ({
    loggedIn: current !== null,
    user: current ? current.user : null,
    accessTokenExpiresAt: current ? current.accessExpiresAt : null,
  });

  const post = async (url: string, data: Record<string, unknown>): Promise<TokenResponse> =>
    readTokens(checked<unknown>(await deps.transport.send({ url, method: 'POST', data })).data);

  const acceptFor =
    (started: number): Accept =>
    (tokens, reason) => {
      if (started !== epoch) {
        // The user logged out meanwhile: end the session this operation just created, too.
        void endRemotely(sessionFromTokens(tokens, deps.now()), false);
        throw new WxAuthError('logged_out', 'logout() was called while this login was under way.');
      }
      current = sessionFromTokens(tokens, deps.now());
      deps.store.save(current);
      deps.emit(reason);
      return { session: current, isNewUser: tokens.isNewUser };
    };

  const drop = (started: number) => {
    if (started !== epoch) return;
    current = null;
    deps.store.clear();
  };

  const wechatLogin = async (accept: Accept, reason: ChangeReason): Promise<Outcome> => {
    const code = await deps.platform.login();
    const tokens = await post('/v1/auth/wechat/login', { code, ...appIdField(deps.appId) });
    return accept(tokens, reason);
  };

  const refresh = async (session: StoredSession, started: number, allowLogin: boolean): Promise<Outcome> => {
    const accept = acceptFor(started);
    let tokens: TokenResponse;
    try {
      tokens = await post('/v1/auth/token/refresh', { refreshToken: session.refreshToken });
    } catch (error) {
      // Network errors and 503s keep the session: the refresh token is still good for a retry.
      if (!isWxAuthError(error) || error.status !== 401) throw error;
      // 401: the session is over on the server (idle or absolute expiry, revoked, or its refresh
      // token was reused elsewhere). Forget it and log in afresh, once.
      drop(started);
      return freshLogin(started, accept, allowLogin, error);
    }
    return accept(tokens, 'refresh');
  };

  const freshLogin = async (
    started: number,
    accept: Accept,
    allowLogin: boolean,
    cause: WxAuthError,
  ): Promise<Outcome> => {
    if (!allowLogin) {
      if (started === epoch) deps.emit('expired');
      throw new WxAuthError('not_logged_in', 'The session has ended; call login() to start a new one.', {
        ...(cause ? { cause } : {}),
      });
    }
    try {
      return await wechatLogin(accept, 'relogin');
    } catch (error) {
      if (started === epoch && !isWxAuthError(error, 'logged_out')) deps.emit('expired');
      throw error;
    }
  };

  const run = (kind: OpKind, task: (started: number) => Promise<Outcome>): Promise<Outcome> => {
    const started = epoch;
    let op: { kind: OpKind; promise: Promise<Outcome> } | null = null;
    // No Promise#finally: it is ES2018 and older base libraries lack it.
    const promise = task(started).then(
      (outcome) => {
        if (inflight === op) inflight = null;
        return outcome;
      },
      (error: unknown) => {
        if (inflight === op) inflight = null;
        throw error;
      },
    );
    op = { kind, promise };
    inflight = op;
    return promise;
  };

  /** Like run, but first lets the operation under way finish. */
  const afterInflight = (kind: OpKind, task: (started: number) => Promise<Outcome>): Promise<Outcome> => {
    const previous = inflight ? inflight.promise : null;
    return run(kind, async (started) => {
      if (previous) await previous.then(noop, noop);
      if (started !== epoch) throw new WxAuthError('logged_out', 'logout() was called meanwhile.');
      return task(started);
    });
  };

  /**
   * Runs `next` once no explicit operation is under way, joining a login or refresh instead.
   * Decides synchronously when nothing runs: an `await` before starting an operation would let a
   * second caller slip in and start another one.
   */
  const afterExplicit = (next: () => Promise<Outcome>): Promise<Outcome> => {
    const op = inflight;
    if (!op) return next();
    if (op.kind !== 'explicit') return op.promise;
    return op.promise.then(noop, noop).then(() => afterExplicit(next));
  };

  const renew = (allowLogin: boolean): Promise<Outcome> => {
    const session = current;
    if (session && deps.now() < session.refreshExpiresAt) {
      return run('refresh', (started) => refresh(session, started, allowLogin));
    }
    if (session) {
      // The refresh token has expired by our clock: the server would refuse it anyway.
      drop(epoch);
    }
    if (!allowLogin) {
      if (session) deps.emit('expired');
      return Promise.reject(new WxAuthError('not_logged_in', 'Not logged in; call login() first.'));
    }
    return run('login', (started) => wechatLogin(acceptFor(started), session ? 'relogin' : 'login'));
  };

  return {
    current: () => current,
    state: stateOf,

    ensure(allowLogin) {
      return afterExplicit(() => {
        const session = current;
        if (session && deps.now() < session.accessExpiresAt - deps.leewayMs) {
          return Promise.resolve({ session, isNewUser: false });
        }
        return renew(allowLogin || deps.autoLogin);
      });
    },

    recover(usedToken) {
      return afterExplicit(() => {
        // Another caller renewed the session since this request left: just use the new token.
        if (current && current.accessToken !== usedToken) {
          return Promise.resolve({ session: current, isNewUser: false });
        }
        return renew(deps.autoLogin);
      });
    },

    forceLogin() {
      if (inflight && inflight.kind === 'login') return inflight.promise;
      return afterInflight('login', (started) => wechatLogin(acceptFor(started), 'login'));
    },

    explicit(task) {
      return afterInflight('explicit', (started) => task(acceptFor(started)));
    },

    updateUser(user) {
      if (!current) return;
      current = { ...current, user };
      deps.store.save(current);
      deps.emit('user');
    },

    async logout(all) {
      const session = current;
      // Local state goes first and at once: the app can show the logged-out UI without waiting.
      epoch++;
      current = null;
      inflight = null;
      deps.store.clear();
      if (session) deps.emit('logout');
      if (session) await endRemotely(session, all);
    },
  };

  /** Ends a session on the server; best effort (offline, the session then ends by idle expiry). */
  async function endRemotely(session: StoredSession, all: boolean): Promise<void> {
    try {
      let token = session.accessToken;
      if (deps.now() >= session.accessExpiresAt - deps.leewayMs) {
        if (deps.now() >= session.refreshExpiresAt) return;
        token = (await post('/v1/auth/token/refresh', { refreshToken: session.refreshToken })).accessToken;
      }
      await deps.transport.send({
        url: '/v1/auth/logout',
        method: 'POST',
        data: all ? { all: true } : {},
        token,
      });
    } catch {
      // Offline or refused: nothing more to do; the local state is already gone.
    }
  }
}

function noop(): void {}

export function appIdField(appId: string | undefined): { appId?: string } {
  return appId ? { appId } : {};
}

/** Validates a token response before anything is stored. */
export function readTokens(body: unknown): TokenResponse {
  if (
    isRecord(body) &&
    typeof body.accessToken === 'string' &&
    typeof body.refreshToken === 'string' &&
    typeof body.expiresIn === 'number' &&
    typeof body.refreshExpiresIn === 'number' &&
    isUser(body.user)
  ) {
    return {
      tokenType: 'Bearer',
      accessToken: body.accessToken,
      expiresIn: body.expiresIn,
      refreshToken: body.refreshToken,
      refreshExpiresIn: body.refreshExpiresIn,
      user: body.user,
      isNewUser: body.isNewUser === true,
    };
  }
  throw new WxAuthError('invalid_response', 'The server sent a token response the SDK cannot read.');
}
