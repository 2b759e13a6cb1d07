import type { BetterAuthPlugin, InternalAdapter, User } from 'better-auth';
import { APIError, createAuthEndpoint } from 'better-auth/api';
import { setSessionCookie } from 'better-auth/cookies';
import * as z from 'zod';
import type { Code2SessionClient } from './jscode2session.ts';

const PROVIDER_ID = 'wechat';

/**
 * WeChat mini-program login written the way a better-auth user would: a plugin endpoint
 * (POST /api/auth/wechat/login) that trades the wx.login code for an openid, finds the user through
 * an `account` row (providerId "wechat", accountId = openid) or creates user + account, then opens a
 * session through the internal adapter and sets the session cookie, so the bearer plugin's after-hook
 * and the cookie cache behave as for any built-in sign-in. session_key and unionid are not stored:
 * the minimal endpoint, and the cheaper one, so any lead wxauth shows is not from doing less.
 */
export function wechatLogin(client: Code2SessionClient) {
  return {
    id: 'wechat-login',
    endpoints: {
      wechatLogin: createAuthEndpoint(
        '/wechat/login',
        { method: 'POST', body: z.object({ code: z.string().min(1).max(256) }) },
        async (ctx) => {
          const result = await client.code2Session(ctx.body.code);
          if (!result.ok) {
            throw new APIError(result.status, {
              code: 'WECHAT_ERROR',
              message: result.errmsg,
              errcode: result.errcode,
            });
          }
          const user = await findOrCreateUser(ctx.context.internalAdapter, result.openid);
          const session = await ctx.context.internalAdapter.createSession(user.id);
          if (!session) throw new APIError('INTERNAL_SERVER_ERROR', { message: 'failed to create session' });
          await setSessionCookie(ctx, { session, user });
          const cookies = pendingCookies(ctx.responseHeaders);
          const sessionCookieName = ctx.context.authCookies.sessionToken.name;
          const signed = cookies.get(sessionCookieName);
          return ctx.json({
            // The signed token, decoded: exactly what the bearer plugin sends as set-auth-token.
            token: signed === undefined ? session.token : decodeURIComponent(signed),
            userId: user.id,
            // Mini programs have no cookie jar: with the cookie cache on, the client replays this.
            cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; '),
          });
        },
      ),
    },
  } satisfies BetterAuthPlugin;
}

async function findOrCreateUser(adapter: InternalAdapter, openid: string): Promise<User> {
  const key = { providerId: PROVIDER_ID, accountId: openid };
  const found = await adapter.findAccountOwnerByKey(key);
  if (found?.kind === 'owned') return found.user;
  if (found?.kind === 'orphaned') throw new APIError('CONFLICT', { message: 'account without user' });
  try {
    const created = await adapter.createOAuthUser(
      // better-auth requires a unique email; hex keeps openids that differ only in case apart.
      {
        email: `${Buffer.from(openid).toString('hex')}@wechat.invalid`,
        name: 'WeChat user',
        emailVerified: false,
      },
      key,
    );
    return created.user;
  } catch (error) {
    // Two first logins of one openid race: the loser hits the unique email and reads the winner's row.
    const again = await adapter.findAccountOwnerByKey(key);
    if (again?.kind === 'owned') return again.user;
    throw error;
  }
}

/** name → value of the Set-Cookie headers this response will carry, skipping deletions. */
function pendingCookies(headers: Headers): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const line of headers.getSetCookie()) {
    const pair = line.slice(0, line.indexOf(';') === -1 ? line.length : line.indexOf(';'));
    const eq = pair.indexOf('=');
    if (eq <= 0 || /max-age=0(;|$)/i.test(line)) continue;
    cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
  }
  return cookies;
}
