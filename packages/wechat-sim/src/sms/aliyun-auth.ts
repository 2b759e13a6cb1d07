import { header, hmac, sameHex, sha256Hex } from './common.ts';
import type { VendorRequest } from './vendor-base.ts';

export type Acs3Result = { ok: true } | { ok: false; status: number; code: string; message: string };

/** Aliyun POP accepts x-acs-date within 15 minutes of its clock, and remembers nonces that long. */
export const MAX_SKEW_MS = 15 * 60_000;

const AUTH =
  /^ACS3-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/;
const ACS_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** RFC 3986 percent-encoding, as the V3 signature requires (encodeURIComponent leaves !'()* alone). */
export function percentEncode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** Query pairs decoded with RFC 3986 rules ('+' is a literal plus, as the V3 signature treats it). */
export function parseRawQuery(raw: string): [string, string][] {
  if (raw === '') return [];
  return raw.split('&').map((part) => {
    const eq = part.indexOf('=');
    const key = eq === -1 ? part : part.slice(0, eq);
    const value = eq === -1 ? '' : part.slice(eq + 1);
    return [safeDecode(key), safeDecode(value)];
  });
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * Verifies Aliyun's V3 signature (ACS3-HMAC-SHA256), which @alicloud/openapi-core 1.x sends by default:
 * canonical request = method, path, sorted RFC 3986-encoded query, the signed headers (host, x-acs-*,
 * content-type; names lower-case, values trimmed), their names, and the hex SHA-256 of the body; the
 * signature is hex HMAC-SHA256(AccessKeySecret, "ACS3-HMAC-SHA256\n" + hex SHA-256(canonical request)).
 * Every x-acs-* header sent must be signed. Nonces are checked by the caller after this succeeds.
 */
export function verifyAcs3(
  request: VendorRequest,
  secrets: { accessKeyId: string; accessKeySecret: string },
  nowMs: number,
): Acs3Result {
  const match = AUTH.exec(header(request.headers, 'authorization'));
  if (!match) {
    return {
      ok: false,
      status: 400,
      code: 'IncompleteSignature',
      message: 'The request signature does not conform to Aliyun standards.',
    };
  }
  const [, accessKeyId, signedHeaders = '', signature = ''] = match;
  if (accessKeyId !== secrets.accessKeyId) {
    return {
      ok: false,
      status: 404,
      code: 'InvalidAccessKeyId.NotFound',
      message: 'Specified access key is not found.',
    };
  }
  const date = header(request.headers, 'x-acs-date');
  const at = ACS_DATE.test(date) ? Date.parse(date) : Number.NaN;
  if (Number.isNaN(at)) {
    return {
      ok: false,
      status: 400,
      code: 'InvalidTimeStamp.Format',
      message: 'Specified time stamp or date value is not well formatted.',
    };
  }
  if (Math.abs(at - nowMs) > MAX_SKEW_MS) {
    return {
      ok: false,
      status: 400,
      code: 'InvalidTimeStamp.Expired',
      message: 'Specified time stamp or date value is expired.',
    };
  }
  const mismatch = {
    ok: false,
    status: 400,
    code: 'SignatureDoesNotMatch',
    message: 'Specified signature does not match our calculation.',
  } as const;
  const names = signedHeaders.split(';');
  const mustSign = Object.keys(request.headers).filter(
    (name) => name.startsWith('x-acs-') || name === 'host',
  );
  if (mustSign.some((name) => !names.includes(name))) return mismatch;
  const payloadHash = sha256Hex(request.body);
  const claimedHash = header(request.headers, 'x-acs-content-sha256');
  if (claimedHash !== '' && claimedHash !== payloadHash) return mismatch;
  const query = parseRawQuery(request.rawQuery)
    .map(([key, value]) => [percentEncode(key), percentEncode(value)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
  const canonicalHeaders = names.map((name) => `${name}:${header(request.headers, name).trim()}\n`).join('');
  const canonicalRequest = [
    request.method,
    request.path,
    query,
    canonicalHeaders,
    signedHeaders,
    payloadHash,
  ].join('\n');
  const stringToSign = `ACS3-HMAC-SHA256\n${sha256Hex(canonicalRequest)}`;
  const expected = hmac(secrets.accessKeySecret, stringToSign).toString('hex');
  return sameHex(expected, signature) ? { ok: true } : mismatch;
}
