import { createDecipheriv, createHash, timingSafeEqual } from 'node:crypto';

/**
 * WeChat open data (wechat-api.md §8, §9): AES-128-CBC with PKCS#7, key = base64-decode(session_key),
 * iv from the client, and the sha1 rawData signature. Pure functions, no I/O, no secrets in errors.
 */

const BLOCK = 16;
/** Canonical, padded standard base64: the only form WeChat produces (§8 demos check 24-char strings). */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Strict base64: the right alphabet and padding, and canonical (unused low bits zero), so one byte
 * string has exactly one accepted spelling. Node's Buffer.from silently skips junk; this does not.
 */
export function decodeStrictBase64(value: string): Buffer | null {
  if (value.length === 0 || value.length % 4 !== 0 || !BASE64.test(value)) return null;
  const bytes = Buffer.from(value, 'base64');
  return bytes.toString('base64') === value ? bytes : null;
}

export type OpenDataInputProblem = 'encrypted_data_malformed' | 'iv_malformed';

/** Shape checks on what the client sent, done before any key is touched. */
export function parseOpenDataInput(
  encryptedData: string,
  iv: string,
): { ciphertext: Buffer; iv: Buffer } | { problem: OpenDataInputProblem } {
  const ct = decodeStrictBase64(encryptedData);
  if (!ct || ct.length === 0 || ct.length % BLOCK !== 0) return { problem: 'encrypted_data_malformed' };
  const ivBytes = decodeStrictBase64(iv);
  if (!ivBytes || ivBytes.length !== BLOCK) return { problem: 'iv_malformed' };
  return { ciphertext: ct, iv: ivBytes };
}

/** The AES key a stored session_key stands for, or null when the stored text cannot be one (§8 step 3). */
export function sessionKeyBytes(sessionKey: string): Buffer | null {
  const key = decodeStrictBase64(sessionKey);
  return key && key.length === BLOCK ? key : null;
}

/**
 * Decrypts and parses open data. Null on ANY defect — bad PKCS#7 padding, invalid UTF-8, not JSON,
 * not a JSON object — because with CBC and no MAC each of these means "wrong key or corrupted data",
 * and the caller decides which by asking WeChat, not by the kind of garbage.
 */
export function decryptOpenData(key: Buffer, iv: Buffer, ciphertext: Buffer): Record<string, unknown> | null {
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-128-cbc', key, iv);
    decipher.setAutoPadding(false);
    plain = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    return null;
  }
  const unpadded = stripPkcs7(plain);
  if (!unpadded) return null;
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(unpadded));
  } catch {
    return null;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

/** PKCS#7 checked in full (every pad byte), not just the last byte as OpenSSL's auto-padding does. */
function stripPkcs7(plain: Buffer): Buffer | null {
  const pad = plain.at(-1);
  if (pad === undefined || pad < 1 || pad > BLOCK || pad > plain.length) return null;
  for (let i = plain.length - pad; i < plain.length; i++) if (plain[i] !== pad) return null;
  return plain.subarray(0, plain.length - pad);
}

/** §8 step 5: the appid in the decrypted watermark, or null when there is no well-formed watermark. */
export function watermarkAppId(data: Record<string, unknown>): string | null {
  const mark = data.watermark;
  if (typeof mark !== 'object' || mark === null || Array.isArray(mark)) return null;
  const appid = (mark as Record<string, unknown>).appid;
  return typeof appid === 'string' ? appid : null;
}

/** §9: signature = sha1(rawData + session_key), hex; compared in constant time. */
export function rawDataSignatureMatches(rawData: string, sessionKey: string, signature: string): boolean {
  const expected = createHash('sha1')
    .update(rawData + sessionKey, 'utf8')
    .digest();
  if (!/^[0-9a-fA-F]{40}$/.test(signature)) return false;
  return timingSafeEqual(expected, Buffer.from(signature, 'hex'));
}
