import { nginxErrorPage } from '../faults.ts';
import { isObject, SimInputError } from '../validate.ts';
import { createSlidingLimiter, digits, header, normalizeVendorPhone, uuid } from './common.ts';
import { verifyTc3 } from './tencent-auth.ts';
import type { SmsSimFault, SmsVendorSim, TencentSmsSimOptions } from './types.ts';
import { createVendorSim, type VendorReply, type VendorRequest } from './vendor-base.ts';

const JSON_TYPE = 'application/json';

/** Tencent's texts for the codes the simulator produces (clients must match on Code only). */
const MESSAGES: Record<string, string> = {
  'LimitExceeded.PhoneNumberThirtySecondLimit':
    'The number of SMS messages sent to a single mobile number within 30 seconds exceeds the upper limit.',
  'LimitExceeded.PhoneNumberOneHourLimit':
    'The number of SMS messages sent to a single mobile number within 1 hour exceeds the upper limit.',
  'LimitExceeded.PhoneNumberDailyLimit':
    'The number of SMS messages sent to a single mobile number in one calendar day exceeds the upper limit.',
  'LimitExceeded.PhoneNumberCountLimit': 'The number of mobile numbers in one request exceeds 200.',
  'InvalidParameterValue.IncorrectPhoneNumber': 'The mobile number format is incorrect.',
  'InvalidParameterValue.TemplateParameterFormatError': 'The template parameter format is incorrect.',
  'UnauthorizedOperation.SmsSdkAppIdVerifyFail': 'SmsSdkAppId verification failed.',
  'FailedOperation.SignatureIncorrectOrUnapproved': 'The signature is incorrect or has not been approved.',
  'FailedOperation.TemplateIncorrectOrUnapproved': 'The template ID is incorrect or has not been approved.',
  'FailedOperation.JsonParseFail': 'Failed to parse the request body.',
  'FailedOperation.InsufficientBalanceInSmsPackage': 'The SMS package balance is insufficient.',
  'UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber':
    'A request cannot contain both Chinese mainland and international numbers.',
  'InternalError.Timeout': 'Request timed out.',
  InvalidAction: 'The action requested is invalid.',
};

/** Codes Tencent reports per number, inside SendStatusSet, rather than as a request error. */
const isPerNumberCode = (code: string) =>
  code.startsWith('LimitExceeded.PhoneNumber') ||
  code === 'InvalidParameterValue.IncorrectPhoneNumber' ||
  code.startsWith('FailedOperation.PhoneNumber');

const ISO_CODES: Record<string, string> = {
  '86': 'CN',
  '852': 'HK',
  '853': 'MO',
  '886': 'TW',
  '1': 'US',
  '44': 'GB',
  '65': 'SG',
  '81': 'JP',
  '82': 'KR',
  '60': 'MY',
  '61': 'AU',
};
const isoCode = (e164: string) =>
  ['886', '853', '852', '86', '82', '81', '65', '61', '60', '44', '1']
    .map((cc) => (e164.startsWith(`+${cc}`) ? ISO_CODES[cc] : undefined))
    .find(Boolean) ?? 'DEF';

interface SendSmsParams {
  phones: string[];
  sdkAppId: string;
  templateId: string;
  signName: string;
  params: string[];
  sessionContext: string;
}

type ParseResult = { ok: true; value: SendSmsParams } | { ok: false; code: string; message?: string };

/**
 * Tencent Cloud SMS `SendSms` (API 3.0, version 2021-01-11) as served at sms.tencentcloudapi.com: POST,
 * JSON body, TC3-HMAC-SHA256. Every answer is HTTP 200 with `{ Response: … }` except injected statuses.
 */
export function createTencentSmsSim(options: TencentSmsSimOptions): SmsVendorSim {
  for (const key of ['secretId', 'secretKey', 'sdkAppId'] as const) {
    if (typeof options[key] !== 'string' || options[key] === '')
      throw new SimInputError(`tencent.${key} is required`);
  }
  return createVendorSim('tencent', options, (base) => {
    const limits = {
      perThirtySeconds: options.limits?.perThirtySeconds ?? 1,
      perHour: options.limits?.perHour ?? 5,
      perDay: options.limits?.perDay ?? 10,
    };
    const limiter = createSlidingLimiter(base.clock.now, [
      { name: 'LimitExceeded.PhoneNumberThirtySecondLimit', ms: 30_000, limit: limits.perThirtySeconds },
      { name: 'LimitExceeded.PhoneNumberOneHourLimit', ms: 3_600_000, limit: limits.perHour },
      { name: 'LimitExceeded.PhoneNumberDailyLimit', ms: 86_400_000, limit: limits.perDay },
    ]);
    const requestId = () => uuid(base.random);
    const reply = (response: Record<string, unknown>, code: string, status = 200): VendorReply => ({
      status,
      contentType: JSON_TYPE,
      body: JSON.stringify({ Response: { ...response, RequestId: requestId() } }),
      code,
    });
    const error = (code: string, message?: string, status?: number) =>
      reply({ Error: { Code: code, Message: message ?? MESSAGES[code] ?? code } }, code, status);

    function send(p: SendSmsParams): VendorReply {
      const statuses = p.phones.map((raw) => {
        const phone = normalizeVendorPhone(raw, false);
        const status = (code: string, serialNo = '', fee = 0) => ({
          SerialNo: serialNo,
          PhoneNumber: phone ?? raw,
          Fee: fee,
          SessionContext: p.sessionContext,
          Code: code,
          Message: code === 'Ok' ? 'send success' : (MESSAGES[code] ?? code),
          IsoCode: phone ? isoCode(phone) : 'DEF',
        });
        if (!phone) return status('InvalidParameterValue.IncorrectPhoneNumber');
        const limited = limiter.check(phone);
        if (limited) return status(limited.name);
        limiter.hit(phone);
        const serialNo = `${digits(base.random, 4)}:${digits(base.random, 28)}`;
        base.messages.add({
          vendor: 'tencent',
          phone,
          code: p.params[0] ?? '',
          params: [...p.params],
          signName: p.signName,
          template: p.templateId,
          messageId: serialNo,
          at: base.clock.now(),
        });
        return status('Ok', serialNo, 1);
      });
      const first = statuses.find((s) => s.Code !== 'Ok') ?? statuses[0];
      return reply({ SendStatusSet: statuses }, first?.Code ?? 'Ok');
    }

    function faulted(fault: SmsSimFault, p: SendSmsParams): VendorReply | null {
      if (fault.errorCode !== undefined) {
        const code = fault.errorCode;
        if (!isPerNumberCode(code) || fault.status !== undefined)
          return error(code, fault.errorMessage, fault.status);
        const statuses = p.phones.map((phone) => ({
          SerialNo: '',
          PhoneNumber: phone,
          Fee: 0,
          SessionContext: p.sessionContext,
          Code: code,
          Message: fault.errorMessage ?? MESSAGES[code] ?? code,
          IsoCode: 'CN',
        }));
        return reply({ SendStatusSet: statuses }, code);
      }
      if (fault.status !== undefined) {
        return {
          status: fault.status,
          contentType: 'text/html',
          body: nginxErrorPage(fault.status),
          code: `HTTP ${fault.status}`,
        };
      }
      return null;
    }

    async function handle(request: VendorRequest): Promise<VendorReply | null> {
      const { record } = request;
      record.action = header(request.headers, 'x-tc-action') || null;
      record.phones = phonesOf(request.body);
      const auth = verifyTc3(request, options, base.clock.now());
      if (!auth.ok) return error(auth.code, auth.message);
      record.authenticated = true;
      if (request.method !== 'POST')
        return error('InvalidParameter', 'Only POST with a JSON body is emulated.');
      if (record.action !== 'SendSms' || header(request.headers, 'x-tc-version') !== '2021-01-11') {
        return error('InvalidAction');
      }
      if (!header(request.headers, 'x-tc-region')) {
        return error('MissingParameter', 'The request is missing a required parameter `Region`.');
      }
      const parsed = parseParams(request.body);
      if (!parsed.ok) return error(parsed.code, parsed.message);
      const p = parsed.value;
      if (p.sdkAppId !== options.sdkAppId) return error('UnauthorizedOperation.SmsSdkAppIdVerifyFail');
      if (options.templateId !== undefined && p.templateId !== options.templateId) {
        return error('FailedOperation.TemplateIncorrectOrUnapproved');
      }
      if (options.signName !== undefined && p.signName !== options.signName) {
        return error('FailedOperation.SignatureIncorrectOrUnapproved');
      }
      const mainland = p.phones.map((raw) => normalizeVendorPhone(raw, false)?.startsWith('+86') ?? true);
      if (mainland.includes(true) && mainland.includes(false)) {
        return error('UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber');
      }
      if (mainland.includes(true) && p.signName === '') {
        return error('MissingParameter', 'The request is missing a required parameter `SignName`.');
      }
      const fault = base.takeFault();
      if (fault?.delayMs) {
        record.fault = 'delay';
        await base.delay(fault.delayMs);
      }
      if (fault?.acceptThenStall) {
        record.fault = 'stall';
        send(p);
        return null;
      }
      const injected = fault ? faulted(fault, p) : null;
      if (injected) {
        record.fault = fault?.errorCode !== undefined ? 'errorCode' : 'status';
        return injected;
      }
      return send(p);
    }

    return { handle, resetState: limiter.clear };
  });
}

/** The numbers a request names, read before authentication so refused requests show them too. */
function phonesOf(body: Buffer): string[] {
  try {
    const json: unknown = JSON.parse(body.toString('utf8'));
    const set = isObject(json) ? json.PhoneNumberSet : undefined;
    return Array.isArray(set) ? set.filter((item): item is string => typeof item === 'string') : [];
  } catch {
    return [];
  }
}

function parseParams(body: Buffer): ParseResult {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, code: 'FailedOperation.JsonParseFail' };
  }
  if (!isObject(json)) return { ok: false, code: 'FailedOperation.JsonParseFail' };
  const missing = (name: string): ParseResult => ({
    ok: false,
    code: 'MissingParameter',
    message: `The request is missing a required parameter \`${name}\`.`,
  });
  const invalid = (name: string): ParseResult => ({
    ok: false,
    code: 'InvalidParameter',
    message: `The value type of parameter \`${name}\` is incorrect.`,
  });
  const { PhoneNumberSet, SmsSdkAppId, TemplateId, SignName, TemplateParamSet, SessionContext } = json;
  const isStrings = (value: unknown): value is string[] =>
    Array.isArray(value) && value.every((item) => typeof item === 'string');
  if (PhoneNumberSet === undefined) return missing('PhoneNumberSet');
  if (!isStrings(PhoneNumberSet) || PhoneNumberSet.length === 0) return invalid('PhoneNumberSet');
  if (PhoneNumberSet.length > 200) return { ok: false, code: 'LimitExceeded.PhoneNumberCountLimit' };
  if (SmsSdkAppId === undefined) return missing('SmsSdkAppId');
  if (typeof SmsSdkAppId !== 'string') return invalid('SmsSdkAppId');
  if (TemplateId === undefined) return missing('TemplateId');
  if (typeof TemplateId !== 'string') return invalid('TemplateId');
  if (SignName !== undefined && typeof SignName !== 'string') return invalid('SignName');
  if (SessionContext !== undefined && typeof SessionContext !== 'string') return invalid('SessionContext');
  if (TemplateParamSet !== undefined && !isStrings(TemplateParamSet)) {
    return { ok: false, code: 'InvalidParameterValue.TemplateParameterFormatError' };
  }
  return {
    ok: true,
    value: {
      phones: PhoneNumberSet,
      sdkAppId: SmsSdkAppId,
      templateId: TemplateId,
      signName: SignName ?? '',
      params: TemplateParamSet ?? [],
      sessionContext: SessionContext ?? '',
    },
  };
}
