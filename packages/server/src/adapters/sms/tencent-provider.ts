import { Agent } from 'node:http';
import tencentcloud from 'tencentcloud-sdk-nodejs-sms';
import {
  assertE164,
  errorDetail,
  httpStatusError,
  resolveEndpoint,
  transportError,
  withDeadline,
} from './provider-support.ts';
import { type SmsProvider, SmsProviderError } from './sms-provider.types.ts';

// The SDK is CommonJS: Node's ESM loader hands its module.exports over as the default export, and
// TypeScript (module nodenext) types the default import the same way. It has no `default` property of its
// own, so vitest's interop agrees too (unlike the Aliyun SDK, see aliyun-provider.ts).
const SmsClient = tencentcloud.sms.v20210111.Client;
type SmsClient = InstanceType<typeof SmsClient>;
type SendSmsRequest = Parameters<SmsClient['SendSms']>[0];
type SendSmsResponse = Awaited<ReturnType<SmsClient['SendSms']>>;

export interface TencentSmsOptions {
  secretId: string;
  secretKey: string;
  /** Default 'ap-guangzhou'; SendSms 2021-01-11 requires a region. */
  region?: string;
  sdkAppId: string;
  signName: string;
  /** An approved template with two parameters: {1} the code, {2} its validity in minutes. */
  templateId: string;
  /** Host override, e.g. '127.0.0.1:PORT' for the simulator (http only for loopback). */
  endpoint?: string;
  /** Whole-request deadline. Default 5000. */
  timeoutMs?: number;
}

const DEFAULT_ENDPOINT = 'sms.tencentcloudapi.com';

/**
 * Tencent Cloud SMS through its own SDK (SendSms, API 2021-01-11, TC3-HMAC-SHA256). One request per
 * send and no retries: after a timeout the message may already be on its way (R12/B.4), and what to do
 * next is the phone service's decision.
 */
export function createTencentSmsProvider(options: TencentSmsOptions): SmsProvider {
  const timeoutMs = options.timeoutMs ?? 5000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError('timeoutMs must be > 0');
  const { host, protocol } = resolveEndpoint(options.endpoint ?? DEFAULT_ENDPOINT);
  const client = new SmsClient({
    credential: { secretId: options.secretId, secretKey: options.secretKey },
    region: options.region ?? 'ap-guangzhou',
    profile: {
      httpProfile: {
        endpoint: host,
        protocol: `${protocol}://`,
        reqMethod: 'POST',
        // Seconds. Our own deadline (an AbortSignal) fires first; this only backs it up.
        reqTimeout: timeoutMs / 1000 + 1,
        // Without an agent the SDK routes through $http_proxy, which cannot reach a loopback simulator;
        // plain http is only ever loopback (resolveEndpoint), so this never bypasses a proxy in production.
        ...(protocol === 'http' ? { agent: new Agent({ keepAlive: true }) } : {}),
      },
    },
  });

  return {
    name: 'tencent',
    async send(message) {
      assertE164(message.phone);
      const request: SendSmsRequest = {
        PhoneNumberSet: [message.phone],
        SmsSdkAppId: options.sdkAppId,
        SignName: options.signName,
        TemplateId: options.templateId,
        TemplateParamSet: [message.code, String(message.ttlMinutes)],
      };
      // `request` (not SendSms) is the SDK's public entry that accepts an AbortSignal.
      const outcome = await withDeadline(timeoutMs, async (signal): Promise<SendSmsResponse> => {
        const response: unknown = await client.request('SendSms', request, { signal });
        return response as SendSmsResponse;
      });
      if ('error' in outcome) throw fromSdkError(outcome.error, outcome.timedOut);
      const status = outcome.value.SendStatusSet?.[0];
      if (!status || typeof status.Code !== 'string') throw new SmsProviderError('unknown', 'bad_response');
      if (status.Code !== 'Ok') throw failedFor(status.Code);
      return { providerMessageId: status.SerialNo || null };
    },
  };
}

/**
 * TencentCloudSDKHttpException carries `code` (Response.Error.Code) when Tencent answered, `httpCode`
 * for a non-200 status, and neither for transport errors, whose message is node-fetch's.
 */
function fromSdkError(error: unknown, timedOut: boolean): SmsProviderError {
  if (!timedOut && typeof error === 'object' && error !== null) {
    if ('code' in error && typeof error.code === 'string' && error.code !== '') return failedFor(error.code);
    if ('httpCode' in error && typeof error.httpCode === 'number') return httpStatusError(error.httpCode);
  }
  return transportError(errorDetail(error), timedOut);
}

/** Tencent error codes (API 3.0 common codes and the SMS product's), by prefix where they form families. */
export function failedFor(code: string): SmsProviderError {
  return new SmsProviderError('failed', tencentReason(code), code);
}

function tencentReason(code: string): string {
  if (code.startsWith('LimitExceeded.') || code === 'RequestLimitExceeded') return 'vendor_rate_limited';
  if (
    code === 'InvalidParameterValue.IncorrectPhoneNumber' ||
    code === 'UnsupportedOperation.UnsupportedRegion'
  ) {
    return 'invalid_phone';
  }
  if (code.startsWith('FailedOperation.PhoneNumber')) return 'phone_blocked';
  if (code.startsWith('AuthFailure.') || code.startsWith('UnauthorizedOperation.')) return 'auth';
  if (code === 'FailedOperation.InsufficientBalanceInSmsPackage' || code === 'ResourceInsufficient') {
    return 'vendor_balance';
  }
  if (
    code.startsWith('FailedOperation.Template') ||
    code.startsWith('FailedOperation.Signature') ||
    code.startsWith('InvalidParameterValue.') ||
    code.startsWith('InvalidParameter') ||
    code === 'MissingParameter'
  ) {
    return 'vendor_config';
  }
  return 'vendor_error';
}
