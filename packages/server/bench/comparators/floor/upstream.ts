import { Pool } from 'undici';
import { UPSTREAM_POOL_OPTIONS } from '../upstream-options.ts';

export interface Code2SessionResult {
  openid: string;
  unionid: string | null;
  sessionKey: string;
}

/**
 * code2Session over a keep-alive undici pool set like wxauth's transport (../upstream-options.ts), 3 s
 * for the answer like its R3 deadline.
 * Nothing else: no retries, no breaker, no quota gate.
 */
export function createCode2Session(options: { baseUrl: string; appId: string; secret: string }) {
  const pool = new Pool(options.baseUrl, UPSTREAM_POOL_OPTIONS);
  const prefix = `/sns/jscode2session?appid=${encodeURIComponent(options.appId)}&secret=${encodeURIComponent(options.secret)}&grant_type=authorization_code&js_code=`;
  return {
    async code2Session(code: string): Promise<Code2SessionResult> {
      const res = await pool.request({
        method: 'GET',
        path: prefix + encodeURIComponent(code),
        headersTimeout: 3_000,
        bodyTimeout: 3_000,
      });
      const body = (await res.body.json()) as {
        errcode?: number;
        openid?: string;
        unionid?: string;
        session_key?: string;
      };
      if (res.statusCode !== 200 || (body.errcode ?? 0) !== 0 || !body.openid || !body.session_key)
        throw new UpstreamError(body.errcode ?? res.statusCode);
      return { openid: body.openid, unionid: body.unionid ?? null, sessionKey: body.session_key };
    },
    close: () => pool.close(),
  };
}

export class UpstreamError extends Error {
  readonly errcode: number;
  constructor(errcode: number) {
    super(`code2Session failed: ${errcode}`);
    this.errcode = errcode;
  }
}
