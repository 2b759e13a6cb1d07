import type { ServerResponse } from 'node:http';
import { errorBody, type RidSource } from '../errcodes.ts';
import type { FaultStore } from '../faults.ts';
import { HTML_PAGE, nginxErrorPage, replacesResponse, TRUNCATED_JSON } from '../faults.ts';
import { type SimRequest, send, sendJson, sleep, WECHAT_JSON } from '../http-io.ts';
import type { FixedWindow } from '../rate-limit.ts';
import type { SimCallRecord, SimFault, SimPath, SimRateLimit } from '../types.ts';
import { isObject } from '../validate.ts';
import { code2Session } from './code2session.ts';
import { fail, type WechatContext, type WechatHandler } from './context.ts';
import { getUserPhoneNumber } from './phone.ts';
import { checkSession, resetUserSessionKey } from './session-key.ts';
import { plainToken, stableToken } from './token.ts';

const HANDLERS: Record<SimPath, WechatHandler> = {
  '/sns/jscode2session': code2Session,
  '/cgi-bin/token': plainToken,
  '/cgi-bin/stable_token': stableToken,
  '/wxa/checksession': checkSession,
  '/wxa/resetusersessionkey': resetUserSessionKey,
  '/wxa/business/getuserphonenumber': getUserPhoneNumber,
};

export const isWechatPath = (path: string): path is SimPath => Object.hasOwn(HANDLERS, path);

export interface WechatRouterDeps {
  ctx: WechatContext;
  faults: FaultStore;
  latency: () => number;
  /** Timers of delayed responses, cancelled on close. */
  pending: Set<NodeJS.Timeout>;
  rateLimits: Partial<Record<SimPath, SimRateLimit>>;
  appMinute: FixedWindow;
  appSecond: FixedWindow;
  record(call: SimCallRecord): void;
}

/**
 * App-wide rate limits as the call arrives (WeChat counts a call when it reaches it, not when it
 * answers: a slow answer must not move the call into a later second's count), then latency, then an
 * injected fault if any, then the endpoint itself (or 45011 for a call over the limit).
 */
export async function handleWechat(
  deps: WechatRouterDeps,
  path: SimPath,
  req: SimRequest,
  res: ServerResponse,
): Promise<void> {
  const { ctx } = deps;
  const at = ctx.clock.now();
  const appId = appIdOf(deps, path, req);
  const record = (errcode: number | null, status: number, fault?: SimCallRecord['fault']) =>
    deps.record({ path, ...(appId ? { appId } : {}), errcode, status, at, ...(fault ? { fault } : {}) });

  const admitted = admitApp(deps, path, appId);
  await sleep(deps.latency(), deps.pending);
  const fault = deps.faults.take(path);
  if (fault?.delayMs) await sleep(fault.delayMs, deps.pending);
  if (fault && replacesResponse(fault)) {
    answerFault(deps, fault, res, record);
    return;
  }
  let body: Record<string, unknown>;
  if (!admitted) body = fail(ctx, 45011);
  else body = HANDLERS[path](ctx, req);
  sendJson(res, 200, body);
  record(typeof body.errcode === 'number' ? body.errcode : 0, 200);
}

function answerFault(
  deps: WechatRouterDeps,
  fault: SimFault,
  res: ServerResponse,
  record: (errcode: number | null, status: number, fault?: SimCallRecord['fault']) => void,
): void {
  if (fault.reset) {
    res.socket?.destroy();
    record(null, 0, 'reset');
    return;
  }
  const status = fault.status ?? 200;
  const { contentType, text, errcode } = faultPayload(fault, status, deps.ctx.rid);
  send(res, status, contentType, text);
  record(errcode, status, fault.status !== undefined ? 'status' : fault.body ? 'body' : 'errcode');
}

/** What a replacing fault sends: the `body` kind if given, else an errcode JSON, else nginx's error page. */
function faultPayload(
  fault: SimFault,
  status: number,
  rid: RidSource,
): { contentType: string; text: string; errcode: number | null } {
  if (fault.body === 'html')
    return { contentType: 'text/html; charset=utf-8', text: HTML_PAGE, errcode: null };
  if (fault.body === 'empty') return { contentType: WECHAT_JSON, text: '', errcode: null };
  if (fault.body === 'truncated') return { contentType: WECHAT_JSON, text: TRUNCATED_JSON, errcode: null };
  if (fault.errcode !== undefined) {
    // A caller-given errmsg is sent verbatim (e.g. to mimic the older "hints: [...]" suffix, §0).
    const body = fault.errmsg
      ? { errcode: fault.errcode, errmsg: fault.errmsg }
      : errorBody(fault.errcode, rid);
    return { contentType: WECHAT_JSON, text: JSON.stringify(body), errcode: fault.errcode };
  }
  return { contentType: 'text/html', text: nginxErrorPage(status), errcode: null };
}

function admitApp(deps: WechatRouterDeps, path: SimPath, appId: string | undefined): boolean {
  const limit = deps.rateLimits[path];
  if (!limit) return true;
  const key = `${path}\n${appId ?? ''}`;
  const { perSecond, perMinute } = limit;
  if (perSecond !== undefined && deps.appSecond.isFull(key, perSecond)) return false;
  if (perMinute !== undefined && deps.appMinute.isFull(key, perMinute)) return false;
  if (perSecond !== undefined) deps.appSecond.hit(key);
  if (perMinute !== undefined) deps.appMinute.hit(key);
  return true;
}

/** The app a call is about, for call records and app-wide limits: its appid, or its token's owner. */
function appIdOf(deps: WechatRouterDeps, path: SimPath, req: SimRequest): string | undefined {
  if (path === '/sns/jscode2session' || path === '/cgi-bin/token') return req.query.get('appid') || undefined;
  if (path === '/cgi-bin/stable_token') {
    try {
      const body: unknown = JSON.parse(req.body);
      return isObject(body) && typeof body.appid === 'string' && body.appid ? body.appid : undefined;
    } catch {
      return undefined;
    }
  }
  return deps.ctx.tokens.appOf(req.query.get('access_token') ?? '');
}
