import type { WechatContext, WechatHandler } from './context.ts';
import { fail } from './context.ts';

/**
 * GET /sns/jscode2session (wechat-api.md §2). Missing parameters first (41002/41004/41008, observed
 * texts), then appid (40013), secret (40125) and grant_type (40002); then the code: unknown, expired or
 * another app's → 40029; replayed within its lifetime → 40163; blocked user → 40226; per-user minute
 * quota → 45011.
 */
export const code2Session: WechatHandler = (ctx, req) => {
  const q = req.query;
  const appid = q.get('appid');
  const secret = q.get('secret');
  const jsCode = q.get('js_code');
  if (!appid) return fail(ctx, 41002);
  if (!secret) return fail(ctx, 41004);
  if (!jsCode) return fail(ctx, 41008);
  const app = ctx.world.app(appid);
  if (!app) return fail(ctx, 40013);
  if (secret !== app.secret) return fail(ctx, 40125);
  if (q.get('grant_type') !== 'authorization_code') return fail(ctx, 40002);

  const now = ctx.clock.now();
  const code = ctx.world.loginCodes.find(jsCode, now);
  // WeChat staff list the causes of 40029 as expired, reused, wrong, or issued for another appid (§2).
  if (!code || code.appId !== appid) return fail(ctx, 40029);
  if (code.used) return fail(ctx, 40163);
  const user = ctx.world.user(appid, code.openid);
  if (!user) return fail(ctx, 40029);
  if (user.blocked) return fail(ctx, 40226);
  if (!admitUser(ctx, `${appid}\n${user.openid}`)) return fail(ctx, 45011);
  code.used = true;

  // A real success body carries no errcode at all (§2, captured body).
  return app.unionBound
    ? { session_key: user.sessionKey, openid: user.openid, unionid: user.unionid }
    : { session_key: user.sessionKey, openid: user.openid };
};

/** §2, older doc: "频率限制，每个用户每分钟100次". A rejected call leaves the code usable next minute. */
function admitUser(ctx: WechatContext, key: string): boolean {
  if (ctx.perUserMinute.isFull(key, ctx.code2SessionPerUserPerMinute)) return false;
  ctx.perUserMinute.hit(key);
  return true;
}
