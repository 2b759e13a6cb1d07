import { signatureMatches } from '../crypto.ts';
import { OK } from '../errcodes.ts';
import type { SimRequest } from '../http-io.ts';
import type { SimUser } from '../world.ts';
import type { WechatContext, WechatHandler, WechatReply } from './context.ts';
import { authorize, fail } from './context.ts';

/**
 * The checks shared by checksession and resetusersessionkey (§5.2, §6): token, then sig_method (87008,
 * only hmac_sha256 exists), then the signature of "" with the user's current, unexpired key. Every other
 * outcome is 87009: "有效的sessionkey是0，无效的sessionkey是87009" (§5.2), including an unknown openid or
 * a missing signature.
 */
function verify(ctx: WechatContext, req: SimRequest): { user: SimUser } | { reply: WechatReply } {
  const auth = authorize(ctx, req);
  if (auth.reply) return { reply: auth.reply };
  const q = req.query;
  if (q.get('sig_method') !== 'hmac_sha256') return { reply: fail(ctx, 87008) };
  const user = ctx.world.user(auth.appId, q.get('openid') ?? '');
  const key = ctx.world.liveKey(user, ctx.clock.now());
  const signature = q.get('signature') ?? '';
  if (!user || key === null || !signatureMatches(key, signature)) return { reply: fail(ctx, 87009) };
  return { user };
}

/** GET /wxa/checksession (§5.2). */
export const checkSession: WechatHandler = (ctx, req) => {
  const result = verify(ctx, req);
  return 'reply' in result ? result.reply : { ...OK };
};

/** GET /wxa/resetusersessionkey (§6): a new key that inherits the old one's expiry; the old key dies. */
export const resetUserSessionKey: WechatHandler = (ctx, req) => {
  const result = verify(ctx, req);
  if ('reply' in result) return result.reply;
  const sessionKey = ctx.world.resetKey(result.user);
  return { ...OK, openid: result.user.openid, session_key: sessionKey };
};
