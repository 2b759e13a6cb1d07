import { header, hmac, sameHex, sha256Hex } from './common.ts';
import type { VendorRequest } from './vendor-base.ts';

export type Tc3Result = { ok: true } | { ok: false; code: string; message: string };

/** Tencent Cloud API 3.0 allows this much clock skew ("不能超过五分钟"). */
const MAX_SKEW_SEC = 300;

const AUTH =
  /^TC3-HMAC-SHA256 Credential=([^/\s]+)\/(\d{4}-\d{2}-\d{2})\/([^/\s]+)\/tc3_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;

/**
 * Verifies a TC3-HMAC-SHA256 signature the way the API 3.0 gateway does: recompute the canonical request
 * from what arrived (method, path, raw query, the signed headers lower-cased and trimmed, SHA-256 of the
 * exact body), derive the key from the secret through date → service → "tc3_request", compare.
 *
 * Emulated quirks:
 * - The Node SDK signs `host` as URL.hostname (no port) but sends Host with the port, so the port-less
 *   host is tried first; production always sees port 443, where both forms agree.
 * - The SDK takes the credential-scope service from the endpoint's first label ("sms" for
 *   sms.tencentcloudapi.com, "127" for 127.0.0.1:PORT), so the scope may name either.
 */
export function verifyTc3(
  request: VendorRequest,
  secrets: { secretId: string; secretKey: string },
  nowMs: number,
): Tc3Result {
  const authorization = header(request.headers, 'authorization');
  const match = AUTH.exec(authorization);
  if (!match) {
    return {
      ok: false,
      code: 'AuthFailure.InvalidAuthorization',
      message: 'Authorization header format is invalid.',
    };
  }
  const [, secretId, date = '', service = '', signedHeaders = '', signature = ''] = match;
  if (secretId !== secrets.secretId) {
    return {
      ok: false,
      code: 'AuthFailure.SecretIdNotFound',
      message: 'The SecretId is not found, please ensure that your SecretId is correct.',
    };
  }
  const timestamp = header(request.headers, 'x-tc-timestamp');
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(Number(timestamp) - nowMs / 1000) > MAX_SKEW_SEC) {
    return {
      ok: false,
      code: 'AuthFailure.SignatureExpire',
      message: 'Signature expired. Timestamp and server time cannot differ by more than 5 minutes.',
    };
  }
  const failure = {
    ok: false,
    code: 'AuthFailure.SignatureFailure',
    message: 'The provided credentials could not be validated. Please check your signature is correct.',
  } as const;
  const names = signedHeaders.split(';');
  const host = header(request.headers, 'host').toLowerCase();
  if (!names.includes('content-type') || !names.includes('host') || !host) return failure;
  // The server derives the date from X-TC-Timestamp; a scope naming another day cannot match.
  if (date !== new Date(Number(timestamp) * 1000).toISOString().slice(0, 10)) return failure;
  if (service !== 'sms' && service !== host.split('.')[0]) return failure;
  const payloadHash = sha256Hex(request.body);
  const hostForms = [...new Set([withoutPort(host), host])];
  for (const hostValue of hostForms) {
    const canonicalHeaders = names
      .map(
        (name) =>
          `${name}:${(name === 'host' ? hostValue : header(request.headers, name)).trim().toLowerCase()}\n`,
      )
      .join('');
    const canonicalRequest = [
      request.method,
      request.path,
      request.rawQuery,
      canonicalHeaders,
      signedHeaders,
      payloadHash,
    ].join('\n');
    const stringToSign = [
      'TC3-HMAC-SHA256',
      timestamp,
      `${date}/${service}/tc3_request`,
      sha256Hex(canonicalRequest),
    ].join('\n');
    const key = hmac(hmac(hmac(`TC3${secrets.secretKey}`, date), service), 'tc3_request');
    if (sameHex(hmac(key, stringToSign).toString('hex'), signature)) return { ok: true };
  }
  return failure;
}

function withoutPort(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}
