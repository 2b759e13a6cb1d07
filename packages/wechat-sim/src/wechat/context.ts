import type { SimClock } from '../clock.ts';
import { errorBody, type RidSource } from '../errcodes.ts';
import type { SimRequest } from '../http-io.ts';
import type { FixedWindow } from '../rate-limit.ts';
import type { TokenStore } from '../tokens.ts';
import { isObject } from '../validate.ts';
import type { World } from '../world.ts';

/** What the WeChat endpoint handlers share. */
export interface WechatContext {
  world: World;
  tokens: TokenStore;
  clock: SimClock;
  rid: RidSource;
  /** Per-user code2Session minute quota (§2). */
  perUserMinute: FixedWindow;
  code2SessionPerUserPerMinute: number;
}

/** A handler's answer: always HTTP 200 with a JSON body, like WeChat (§0). */
export type WechatReply = Record<string, unknown>;

export type WechatHandler = (ctx: WechatContext, req: SimRequest) => WechatReply;

export const fail = (ctx: WechatContext, errcode: number): WechatReply => ({
  ...errorBody(errcode, ctx.rid),
});

/** Body of the POST-JSON endpoints: 43002 for another method, 44002 empty, 47001 not a JSON object (§0). */
export function jsonBody(req: SimRequest): Record<string, unknown> | number {
  if (req.method !== 'POST') return 43002;
  if (req.body.trim() === '') return 44002;
  try {
    const value: unknown = JSON.parse(req.body);
    return isObject(value) ? value : 47001;
  } catch {
    return 47001;
  }
}

/** A string field of a JSON body ('' when absent or not a string). */
export const field = (body: Record<string, unknown>, key: string): string => {
  const value = body[key];
  return typeof value === 'string' ? value : '';
};

/**
 * access_token checks shared by the business endpoints: 41001 missing, 40001 unknown or superseded,
 * 42001 expired (§0); returns the token's appId.
 */
export function authorize(
  ctx: WechatContext,
  req: SimRequest,
): { appId: string; reply?: undefined } | { appId?: undefined; reply: WechatReply } {
  const token = req.query.get('access_token');
  if (!token) return { reply: fail(ctx, 41001) };
  const check = ctx.tokens.check(token);
  return 'errcode' in check ? { reply: fail(ctx, check.errcode) } : check;
}
