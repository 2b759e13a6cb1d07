import { Agent } from 'undici';
import { UPSTREAM_POOL_OPTIONS } from '../upstream-options.ts';

export type Code2SessionResult =
  | { ok: true; openid: string; sessionKey: string; unionid: string | undefined }
  | { ok: false; status: UpstreamErrorStatus; errcode: number; errmsg: string };

/** better-call's APIError takes status names. */
export type UpstreamErrorStatus =
  | 'BAD_REQUEST'
  | 'TOO_MANY_REQUESTS'
  | 'BAD_GATEWAY'
  | 'SERVICE_UNAVAILABLE'
  | 'GATEWAY_TIMEOUT';

export interface Code2SessionClient {
  code2Session(code: string): Promise<Code2SessionResult>;
  close(): Promise<void>;
}

/**
 * What a better-auth user would write for wx.login: one GET, no retry or breaker. The dispatcher and the
 * 3 s deadline match wxauth's WeChat client (../upstream-options.ts), so the upstream leg costs both sides the same.
 */
export function createCode2SessionClient(options: {
  baseUrl: string;
  appId: string;
  secret: string;
}): Code2SessionClient {
  const agent = new Agent(UPSTREAM_POOL_OPTIONS);
  const origin = new URL(options.baseUrl).origin;
  const fixedQuery = `appid=${encodeURIComponent(options.appId)}&secret=${encodeURIComponent(options.secret)}`;
  return {
    async code2Session(code) {
      let statusCode: number;
      let body: unknown;
      try {
        const response = await agent.request({
          origin,
          path: `/sns/jscode2session?${fixedQuery}&js_code=${encodeURIComponent(code)}&grant_type=authorization_code`,
          method: 'GET',
          signal: AbortSignal.timeout(3_000),
        });
        statusCode = response.statusCode;
        body = await response.body.json();
      } catch {
        return {
          ok: false,
          status: 'GATEWAY_TIMEOUT',
          errcode: -1,
          errmsg: 'upstream unreachable or timed out',
        };
      }
      if (statusCode !== 200 || typeof body !== 'object' || body === null) {
        return { ok: false, status: 'BAD_GATEWAY', errcode: -1, errmsg: 'bad upstream response' };
      }
      const fields = body as Record<string, unknown>;
      const { errcode, openid, session_key: sessionKey, unionid } = fields;
      if (typeof errcode === 'number' && errcode !== 0) {
        return { ok: false, status: statusOf(errcode), errcode, errmsg: String(fields.errmsg ?? '') };
      }
      if (typeof openid !== 'string' || typeof sessionKey !== 'string') {
        return { ok: false, status: 'BAD_GATEWAY', errcode: -1, errmsg: 'bad upstream response' };
      }
      return { ok: true, openid, sessionKey, unionid: typeof unionid === 'string' ? unionid : undefined };
    },
    close: () => agent.close(),
  };
}

/** 45011 is a quota (retry later), -1 WeChat busy; every other errcode is the caller's bad code. */
function statusOf(errcode: number): UpstreamErrorStatus {
  if (errcode === 45011) return 'TOO_MANY_REQUESTS';
  if (errcode === -1) return 'SERVICE_UNAVAILABLE';
  return 'BAD_REQUEST';
}
