import { APP_ID, type CodePool } from '../sim/client.ts';
import { mapConcurrent, postJson } from './http.ts';

export interface WxauthTokens {
  accessToken: string;
  refreshToken: string;
}

/** n real WeChat logins on wxauth (S2/S3 need live sessions and their tokens). */
export async function wxauthLogins(url: string, codes: CodePool, n: number): Promise<WxauthTokens[]> {
  await codes.ensure(n);
  const got = await mapConcurrent(Array.from({ length: n }), 32, async () => {
    const res = await postJson<WxauthTokens>(`${url}/v1/auth/wechat/login`, {
      code: codes.take(),
      appId: APP_ID,
    });
    return res.status === 200 ? res.body : null;
  });
  const tokens = got.filter((t): t is WxauthTokens => t !== null);
  if (tokens.length < n / 2) throw new Error(`wxauth: only ${tokens.length} of ${n} setup logins succeeded`);
  return tokens;
}

export interface BetterAuthSession {
  token: string;
  userId: string;
  /** A Cookie header value (the session cookie and, with cookie cache on, the cache cookie). */
  cookie: string;
}

/** n logins on the better-auth comparator's minimal WeChat endpoint. */
export async function betterAuthLogins(
  url: string,
  codes: CodePool,
  n: number,
): Promise<BetterAuthSession[]> {
  await codes.ensure(n);
  const got = await mapConcurrent(Array.from({ length: n }), 32, async () => {
    const res = await postJson<BetterAuthSession>(`${url}/wechat/login`, { code: codes.take() });
    return res.status === 200 && typeof res.body?.token === 'string' ? res.body : null;
  });
  const sessions = got.filter((s): s is BetterAuthSession => s !== null);
  if (sessions.length < n / 2)
    throw new Error(`better-auth: only ${sessions.length} of ${n} setup logins succeeded`);
  return sessions;
}
