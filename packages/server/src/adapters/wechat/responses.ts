/**
 * Success-body validators, one per API (architecture item 4: validate every boundary). Each returns
 * null unless the body is a complete success; the caller turns null into `bad_response`, so a 200
 * with missing or mistyped fields is never mistaken for success. errcode ≠ 0 is handled before these.
 */

export interface Code2SessionResult {
  openid: string;
  unionid: string | null;
  sessionKey: string;
}

export interface StableTokenResult {
  accessToken: string;
  /** Seconds, as WeChat sent it (§4: ≤ 7200, ≥ 300 in practice). */
  expiresIn: number;
}

export interface PhoneNumberResult {
  phoneNumber: string;
  purePhoneNumber: string;
  countryCode: string;
}

// Shapes are observed, not documented (§2: 28-char ids, 24-char base64 keys), so the checks are loose
// on length and strict only on charset: enough to keep junk (HTML, objects, control chars) out.
const ID = /^[A-Za-z0-9_-]{1,128}$/;
const BASE64 = /^[A-Za-z0-9+/=_-]{1,128}$/;
// §3/§4: "reserve at least 512 characters"; allow more but no whitespace or control characters.
const TOKEN = /^[\x21-\x7e]{1,2048}$/;
const PHONE = /^\+?[0-9][0-9 -]{0,31}$/;
const DIGITS = /^[0-9]{1,32}$/;

const matches = (value: unknown, pattern: RegExp): value is string =>
  typeof value === 'string' && pattern.test(value);

/** §2: success bodies come with and without `errcode: 0`; `unionid` only for Open-Platform-bound apps. */
export function parseCode2Session(body: Record<string, unknown>): Code2SessionResult | null {
  const { openid, session_key: sessionKey, unionid } = body;
  if (!matches(openid, ID) || !matches(sessionKey, BASE64)) return null;
  if (unionid === undefined || unionid === null || unionid === '')
    return { openid, sessionKey, unionid: null };
  if (!matches(unionid, ID)) return null;
  return { openid, sessionKey, unionid };
}

export function parseStableToken(body: Record<string, unknown>): StableTokenResult | null {
  const { access_token: accessToken, expires_in: expiresIn } = body;
  if (!matches(accessToken, TOKEN)) return null;
  if (typeof expiresIn !== 'number' || !Number.isInteger(expiresIn) || expiresIn <= 0 || expiresIn > 86_400) {
    return null;
  }
  return { accessToken, expiresIn };
}

/** §5.2: the success body is exactly `{errcode: 0, errmsg: "ok"}`; no errcode is not a success. */
export function parseCheckSession(body: Record<string, unknown>): true | null {
  return body.errcode === 0 ? true : null;
}

/** §6: the new key; an `openid` other than the one we asked about would be a wrong answer. */
export function parseResetSessionKey(
  body: Record<string, unknown>,
  openid: string,
): { sessionKey: string } | null {
  if (body.errcode !== 0 || !matches(body.session_key, BASE64)) return null;
  if (body.openid !== undefined && body.openid !== openid) return null;
  return { sessionKey: body.session_key };
}

/** §7.1: `countryCode` is typed string but the official example sends the number 86: accept both. */
export function parsePhoneNumber(body: Record<string, unknown>): PhoneNumberResult | null {
  const info = body.phone_info;
  if (typeof info !== 'object' || info === null || Array.isArray(info)) return null;
  const { phoneNumber, purePhoneNumber, countryCode } = info as Record<string, unknown>;
  if (!matches(phoneNumber, PHONE) || !matches(purePhoneNumber, DIGITS)) return null;
  let code: string;
  if (typeof countryCode === 'number' && Number.isSafeInteger(countryCode) && countryCode >= 0) {
    code = String(countryCode);
  } else if (matches(countryCode, DIGITS)) code = countryCode;
  else return null;
  return { phoneNumber, purePhoneNumber, countryCode: code };
}
