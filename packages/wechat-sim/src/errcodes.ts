import type { RandomSource } from './random.ts';

/**
 * errmsg texts as WeChat sends them (wechat-api.md §0 common table, §2/§3/§5/§6 observed texts).
 * Clients must match on errcode only; the text is here so logs look like production.
 */
export const ERRMSG: Readonly<Record<number, string>> = {
  [-1]: 'system error',
  40001:
    'invalid credential, access_token is invalid or not latest, could get access_token by getStableAccessToken, more details at https://mmbizurl.cn/s/JtxxFh33r',
  40002: 'invalid grant_type',
  40003: 'invalid openid',
  40013: 'invalid appid',
  40029: 'invalid code',
  40125: 'invalid appsecret',
  40163: 'code been used',
  40164: 'invalid ip, not in whitelist',
  40226: 'code blocked',
  41001: 'access_token missing',
  41002: 'appid missing',
  41004: 'appsecret missing',
  41008: 'missing code',
  42001: 'access_token expired',
  43002: 'require POST method',
  44002: 'empty post data',
  45009: 'reach max api daily quota limit',
  // "mustslower" (sic) is the official table's spelling (§2, §6).
  45011: 'api minute-quota reach limit mustslower retry next minute',
  47001: 'data format error',
  48001: 'api unauthorized',
  87007: 'session_key is not existd or expired',
  87008: 'invalid sig_method',
  87009: 'invalid signature',
};

export interface WechatErrorBody {
  errcode: number;
  errmsg: string;
}

/** A function producing the `rid` trace id WeChat appends to every error errmsg (§0). */
export type RidSource = () => string;

/**
 * Real rids look like `65a33cd8-023106e1-2dc7e2f6`; the first group decodes to the unix time in seconds
 * (0x65a33cd8 is January 2024), so the simulator puts the sim clock there and random hex after it.
 */
export function createRidSource(random: RandomSource, now: () => number): RidSource {
  return () => {
    const seconds = Math.floor(now() / 1000) >>> 0;
    return `${seconds.toString(16).padStart(8, '0')}-${random.hex(8)}-${random.hex(8)}`;
  };
}

/** `{errcode, errmsg: "<text>, rid: <rid>"}`, the current production shape (§0). */
export function errorBody(errcode: number, rid: RidSource, errmsg?: string): WechatErrorBody {
  const text = errmsg ?? ERRMSG[errcode] ?? 'system error';
  return { errcode, errmsg: `${text}, rid: ${rid()}` };
}

/** Business endpoints answer success with errcode 0 and a bare "ok" (§5.2, §6, §7.1 examples). */
export const OK = { errcode: 0, errmsg: 'ok' } as const;
