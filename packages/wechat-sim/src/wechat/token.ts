import type { SimRequest } from '../http-io.ts';
import type { WechatContext, WechatHandler, WechatReply } from './context.ts';
import { fail, field, jsonBody } from './context.ts';

/** The credential checks shared by both token endpoints (§3, §4); null when they pass. */
function checkCredentials(
  ctx: WechatContext,
  appid: string,
  secret: string,
  grantType: string,
): WechatReply | null {
  if (!appid) return fail(ctx, 41002);
  if (!secret) return fail(ctx, 41004);
  const app = ctx.world.app(appid);
  if (!app) return fail(ctx, 40013);
  // Older docs list 40001 for a wrong secret; current responses are observed as 40125 "invalid appsecret" (§3).
  if (secret !== app.secret) return fail(ctx, 40125);
  if (grantType !== 'client_credential') return fail(ctx, 40002);
  return null;
}

/** GET /cgi-bin/token?grant_type=client_credential&appid&secret (§3). */
export const plainToken: WechatHandler = (ctx, req) => {
  const q = req.query;
  const appid = q.get('appid') ?? '';
  const denied = checkCredentials(ctx, appid, q.get('secret') ?? '', q.get('grant_type') ?? '');
  return denied ?? { ...ctx.tokens.plain(appid) };
};

/** POST /cgi-bin/stable_token with a JSON body only: "该接口仅支持 POST JSON 形式的调用" (§4). */
export const stableToken: WechatHandler = (ctx, req: SimRequest) => {
  const body = jsonBody(req);
  if (typeof body === 'number') return fail(ctx, body);
  const appid = field(body, 'appid');
  const denied = checkCredentials(ctx, appid, field(body, 'secret'), field(body, 'grant_type'));
  if (denied) return denied;
  const grant = ctx.tokens.stable(appid, body.force_refresh === true);
  return 'errcode' in grant ? fail(ctx, grant.errcode) : { ...grant };
};
