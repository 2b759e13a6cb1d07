import { OK } from '../errcodes.ts';
import type { WechatHandler } from './context.ts';
import { authorize, fail, jsonBody } from './context.ts';

/**
 * POST /wxa/business/getuserphonenumber?access_token (§7.1). Codes live 5 minutes and work once. A wx.login
 * code, an unknown, expired or used code → 40029; a token of another app than the code's → 40013 (observed).
 * An `openid` that does not match the code's binding is also reported as 40029 (the docs only say the
 * binding "会校验"; the error for a mismatch is not documented, and an invalid code is the closest).
 */
export const getUserPhoneNumber: WechatHandler = (ctx, req) => {
  if (req.method !== 'POST') return fail(ctx, 43002);
  const auth = authorize(ctx, req);
  if (auth.reply) return auth.reply;
  const body = jsonBody(req);
  if (typeof body === 'number') return fail(ctx, body);
  const code =
    typeof body.code === 'string' ? ctx.world.phoneCodes.find(body.code, ctx.clock.now()) : undefined;
  if (!code) return fail(ctx, 40029);
  if (code.appId !== auth.appId) return fail(ctx, 40013);
  if (code.used) return fail(ctx, 40029);
  if (
    body.openid !== undefined &&
    (typeof body.openid !== 'string' || (code.openid && code.openid !== body.openid))
  ) {
    return fail(ctx, 40029);
  }
  code.used = true;
  const pure = code.phoneNumber;
  return {
    ...OK,
    phone_info: {
      // "国外手机号会有区号" (§7.1): only non-mainland numbers carry the +code prefix.
      phoneNumber: code.countryCode === '86' ? pure : `+${code.countryCode}${pure}`,
      purePhoneNumber: pure,
      // The table says string, the official example shows the number 86; the example is followed (§7.1).
      countryCode: Number(code.countryCode),
      watermark: { timestamp: code.timestamp, appid: code.appId },
    },
  };
};
