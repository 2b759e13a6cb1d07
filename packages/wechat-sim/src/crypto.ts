import { createCipheriv, createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The user-state signature of wechat-api.md §5.1: lowercase hex HMAC-SHA256 of `body` (empty for the GET
 * calls checksession/resetusersessionkey), keyed by the session_key string as-is — NOT base64-decoded.
 */
export function signSessionKey(sessionKey: string, body = ''): string {
  return createHmac('sha256', sessionKey).update(body).digest('hex');
}

/**
 * Compares a caller's signature with the expected one. Only the lowercase hex form is accepted: the
 * official samples are lowercase and whether WeChat accepts upper case is unconfirmed (§5.1, §16).
 */
export function signatureMatches(sessionKey: string, signature: string): boolean {
  const expected = Buffer.from(signSessionKey(sessionKey), 'latin1');
  const given = Buffer.from(signature, 'latin1');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** rawData signature of §9: sha1(rawData + session_key), lowercase hex. */
export function rawDataSignature(rawData: string, sessionKey: string): string {
  return createHash('sha1')
    .update(rawData + sessionKey)
    .digest('hex');
}

/** Open-data sealing of §8: AES-128-CBC, PKCS#7, key = base64-decode(session_key), 16-byte iv. */
export function encryptOpenData(plaintext: string, sessionKey: string, iv: Buffer): string {
  const cipher = createCipheriv('aes-128-cbc', Buffer.from(sessionKey, 'base64'), iv);
  return Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]).toString('base64');
}
