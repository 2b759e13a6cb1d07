import { isIP } from 'node:net';
import { SmsProviderError } from './sms-provider.types.ts';

/** E.164 as the phone service hands it over (normalised already); anything else is a caller bug. */
const E164 = /^\+[1-9]\d{6,14}$/;

/** Refuses a malformed number before any vendor call, so a bug never costs an SMS. */
export function assertE164(phone: string): void {
  if (!E164.test(phone)) throw new SmsProviderError('failed', 'invalid_phone');
}

export function isLoopbackHost(hostname: string): boolean {
  const bare = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare === '::1') return true;
  return isIP(bare) === 4 && bare.startsWith('127.');
}

/**
 * An endpoint override: 'host', 'host:port' or 'http(s)://host[:port]'. Without a scheme, loopback hosts
 * (the simulators) get http and everything else https. Plain http is refused for any other host: the
 * request carries the code and a signature, and certificate checks must stay on (R3).
 */
export function resolveEndpoint(
  endpoint: string,
  protocol?: 'http' | 'https',
): { host: string; protocol: 'http' | 'https' } {
  const hasScheme = endpoint.includes('://');
  let url: URL;
  try {
    url = new URL(hasScheme ? endpoint : `https://${endpoint}`);
  } catch {
    throw new Error('endpoint must be a host[:port] or an http(s) URL');
  }
  if (
    url.username ||
    url.password ||
    url.search ||
    url.hash ||
    (url.pathname !== '/' && url.pathname !== '')
  ) {
    throw new Error('endpoint must be a host[:port] without path, query or credentials');
  }
  const scheme = url.protocol.slice(0, -1);
  if (scheme !== 'http' && scheme !== 'https') throw new Error('endpoint scheme must be http or https');
  const loopback = isLoopbackHost(url.hostname);
  const chosen = protocol ?? (hasScheme ? scheme : loopback ? 'http' : 'https');
  if (hasScheme && protocol !== undefined && protocol !== scheme) {
    throw new Error('endpoint scheme and protocol disagree');
  }
  if (chosen === 'http' && !loopback) throw new Error('plain http is allowed only for a loopback endpoint');
  // URL drops a scheme's default port ('https://h:443' → 'h'), which is also what the vendors sign.
  return { host: url.host, protocol: chosen };
}

/** Errors that happen before a request can reach the vendor: nothing was sent, nothing was charged. */
const NOT_SENT = /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ENETUNREACH|EHOSTUNREACH)\b/;
const TLS = /\b(CERT_|ERR_TLS_|UNABLE_TO_VERIFY|SELF_SIGNED_CERT|DEPTH_ZERO_SELF_SIGNED)/;

/**
 * A failure below HTTP. A timeout or a connection lost after the request left may mean the vendor
 * accepted it: 'unknown' (counted, never resent, R12/B.4). Only failures that provably happen before
 * sending (refused, no route, DNS, TLS handshake) are 'failed'. `detail` is the error's code and message,
 * read only for classification and never copied into the thrown error.
 */
export function transportError(detail: string, timedOut: boolean): SmsProviderError {
  if (timedOut) return new SmsProviderError('unknown', 'timeout');
  const notSent = NOT_SENT.exec(detail);
  if (notSent) return new SmsProviderError('failed', 'unreachable', notSent[1] ?? null);
  if (TLS.test(detail)) return new SmsProviderError('failed', 'tls');
  return new SmsProviderError('unknown', 'network');
}

/**
 * A non-2xx HTTP answer without a vendor error code. 503 and 429 say the request was not processed, so
 * it is 'failed' and the caller may retry (B.4: at most once). Other 5xx (500, 502, 504: an upstream that
 * failed or timed out behind the gateway) may come after the vendor accepted the message: 'unknown'.
 */
export function httpStatusError(status: number): SmsProviderError {
  const vendorCode = `HTTP ${status}`;
  if (status === 503) return new SmsProviderError('failed', 'vendor_unavailable', vendorCode);
  if (status === 429) return new SmsProviderError('failed', 'vendor_rate_limited', vendorCode);
  if (status >= 500) return new SmsProviderError('unknown', 'network', vendorCode);
  return new SmsProviderError('failed', 'vendor_error', vendorCode);
}

/** `{ code, message }` of an unknown thrown value, for classification only. */
export function errorDetail(error: unknown): string {
  if (typeof error !== 'object' || error === null) return String(error);
  const code = 'code' in error && typeof error.code === 'string' ? error.code : '';
  const message = 'message' in error && typeof error.message === 'string' ? error.message : '';
  const name = 'name' in error && typeof error.name === 'string' ? error.name : '';
  return `${name} ${code} ${message}`;
}

/** Runs `work` with a deadline; `timedOut()` tells the classifier whether the deadline fired. */
export async function withDeadline<T>(
  timeoutMs: number,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<{ value: T } | { error: unknown; timedOut: boolean }> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error('deadline'));
    }, timeoutMs);
  });
  try {
    return { value: await Promise.race([work(controller.signal), deadline]) };
  } catch (error) {
    return { error, timedOut: controller.signal.aborted };
  } finally {
    clearTimeout(timer);
  }
}
