import { createRequire } from 'node:module';
import {
  assertE164,
  errorDetail,
  httpStatusError,
  resolveEndpoint,
  transportError,
  withDeadline,
} from './provider-support.ts';
import { type SmsProvider, SmsProviderError } from './sms-provider.types.ts';

// The SDK is CommonJS with `exports.default = Client`. An ESM default import of it means module.exports
// under Node but the Client itself under vitest's interop, so it is loaded with require, which gives
// module.exports everywhere; the types are the SDK's own, read in their CommonJS view.
type DysmsapiModule = typeof import('@alicloud/dysmsapi20170525', { with: { 'resolution-mode': 'require' }});
type OpenApiModule = typeof import('@alicloud/openapi-core', { with: { 'resolution-mode': 'require' }});
const require = createRequire(import.meta.url);
const dysmsapi: DysmsapiModule = require('@alicloud/dysmsapi20170525');
const openApi: OpenApiModule = require('@alicloud/openapi-core');

export interface AliyunSmsOptions {
  accessKeyId: string;
  accessKeySecret: string;
  signName: string;
  /** An approved template with one variable, ${code}. */
  templateCode: string;
  /** Default 'dysmsapi.aliyuncs.com'; '127.0.0.1:PORT' for the simulator. */
  endpoint?: string;
  /** Default HTTPS; HTTP only for a loopback endpoint. */
  protocol?: 'HTTP' | 'HTTPS';
  /** Whole-request deadline. Default 5000. */
  timeoutMs?: number;
}

/**
 * Aliyun's PhoneNumbers format (SendSmsRequest docs): mainland numbers as the bare national number
 * (prefixes are optional there), everything else as country code + number without '+' or '00'.
 */
export function aliyunPhoneNumber(e164: string): string {
  return e164.startsWith('+86') ? e164.slice(3) : e164.slice(1);
}

/**
 * Aliyun SMS through its own SDK (SendSms 2017-05-25). @alicloud/openapi-core 1.x signs with the V3
 * scheme, ACS3-HMAC-SHA256, and does not retry unless retryOptions are configured, which they are not:
 * one request per send (R12/B.4).
 */
export function createAliyunSmsProvider(options: AliyunSmsOptions): SmsProvider {
  const timeoutMs = options.timeoutMs ?? 5000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError('timeoutMs must be > 0');
  const wanted = options.protocol?.toLowerCase();
  const { host, protocol } = resolveEndpoint(
    options.endpoint ?? 'dysmsapi.aliyuncs.com',
    wanted === 'http' || wanted === 'https' ? wanted : undefined,
  );
  const client = new dysmsapi.default(
    new openApi.$OpenApiUtil.Config({
      accessKeyId: options.accessKeyId,
      accessKeySecret: options.accessKeySecret,
      endpoint: host,
      protocol: protocol.toUpperCase(),
      // Milliseconds. httpx applies them to connecting and to each read; our deadline bounds the total.
      connectTimeout: timeoutMs,
      readTimeout: timeoutMs,
    }),
  );

  return {
    name: 'aliyun',
    async send(message) {
      assertE164(message.phone);
      const request = new dysmsapi.SendSmsRequest({
        phoneNumbers: aliyunPhoneNumber(message.phone),
        signName: options.signName,
        templateCode: options.templateCode,
        templateParam: JSON.stringify({ code: message.code }),
      });
      const outcome = await withDeadline(timeoutMs, () => client.sendSms(request));
      if ('error' in outcome) throw fromSdkError(outcome.error, outcome.timedOut);
      const body = outcome.value.body;
      if (!body || typeof body.code !== 'string') throw new SmsProviderError('unknown', 'bad_response');
      if (body.code !== 'OK') throw failedFor(body.code);
      return { providerMessageId: body.bizId ?? null };
    },
  };
}

/**
 * openapi-core throws ClientError / ServerError / ThrottlingError (`statusCode`, `code`) for 4xx/5xx;
 * httpx throws `RequestTimeoutError` on its timeouts and Node's socket errors otherwise; a non-JSON body
 * surfaces as a SyntaxError after the request was processed.
 */
function fromSdkError(error: unknown, timedOut: boolean): SmsProviderError {
  if (timedOut) return transportError('', true);
  if (typeof error === 'object' && error !== null) {
    const status =
      'statusCode' in error && typeof error.statusCode === 'number' ? error.statusCode : undefined;
    const code = 'code' in error && typeof error.code === 'string' ? error.code : undefined;
    if (status !== undefined) {
      // 5xx is about delivery, not the request: classify by status. The SDK writes a missing Code as the
      // string 'undefined'.
      if (status >= 500 || !code || code === 'undefined') return httpStatusError(status);
      return failedFor(code);
    }
    if ('name' in error && error.name === 'RequestTimeoutError') return transportError('', true);
    if (error instanceof SyntaxError) return new SmsProviderError('unknown', 'bad_response');
  }
  return transportError(errorDetail(error), false);
}

export function failedFor(code: string): SmsProviderError {
  return new SmsProviderError('failed', aliyunReason(code), code);
}

const REASONS: Record<string, string> = {
  'isv.BUSINESS_LIMIT_CONTROL': 'vendor_rate_limited',
  'isv.DAY_LIMIT_CONTROL': 'vendor_rate_limited',
  'isv.MOBILE_NUMBER_ILLEGAL': 'invalid_phone',
  'isv.MOBILE_COUNT_OVER_LIMIT': 'invalid_phone',
  'isv.AMOUNT_NOT_ENOUGH': 'vendor_balance',
  'isv.OUT_OF_SERVICE': 'vendor_balance',
  'isv.ACCOUNT_NOT_EXISTS': 'auth',
  'isv.ACCOUNT_ABNORMAL': 'auth',
  'isp.RAM_PERMISSION_DENY': 'auth',
  SignatureDoesNotMatch: 'auth',
  IncompleteSignature: 'auth',
  SignatureNonceUsed: 'auth',
  MissingSignatureNonce: 'auth',
};

function aliyunReason(code: string): string {
  const exact = REASONS[code];
  if (exact) return exact;
  if (code.startsWith('Throttling')) return 'vendor_rate_limited';
  if (
    code.startsWith('InvalidAccessKeyId') ||
    code.startsWith('InvalidTimeStamp') ||
    code.startsWith('Forbidden')
  ) {
    return 'auth';
  }
  if (code.startsWith('isv.') || code.startsWith('Missing') || code.startsWith('Invalid'))
    return 'vendor_config';
  return 'vendor_error';
}
