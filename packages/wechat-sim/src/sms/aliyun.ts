import { isObject, SimInputError } from '../validate.ts';
import { MAX_SKEW_MS, parseRawQuery, verifyAcs3 } from './aliyun-auth.ts';
import { createSlidingLimiter, digits, header, normalizeVendorPhone, uuid } from './common.ts';
import type { AliyunSmsSimOptions, SmsSimFault, SmsVendorSim } from './types.ts';
import { createVendorSim, type VendorReply, type VendorRequest } from './vendor-base.ts';

const JSON_TYPE = 'application/json;charset=utf-8';
const HOST_ID = 'dysmsapi.aliyuncs.com';

/** Aliyun's texts for the codes the simulator produces (clients must match on Code only). */
const MESSAGES: Record<string, string> = {
  'isv.MOBILE_NUMBER_ILLEGAL': '非法手机号',
  'isv.MOBILE_COUNT_OVER_LIMIT': '手机号码数量超过限制',
  'isv.SMS_SIGNATURE_ILLEGAL': '该账号下找不到对应签名',
  'isv.SMS_TEMPLATE_ILLEGAL': '该账号下找不到对应模板',
  'isv.INVALID_JSON_PARAM': 'JSON参数不合法，只接受字符串值',
  'isv.AMOUNT_NOT_ENOUGH': '账户余额不足',
  'isv.OUT_OF_SERVICE': '业务停机',
  'isv.BUSINESS_LIMIT_CONTROL': '触发号码天级流控Permits:10',
  'isp.SYSTEM_ERROR': '系统出现错误，请重新调用',
  InternalError: 'The request processing has failed due to some unknown error, exception or failure.',
  ServiceUnavailable: 'The request has failed due to a temporary failure of the server.',
  'InvalidAction.NotFound': 'Specified api is not found, please check your url and method.',
  InvalidVersion: 'Specified parameter Version is not valid.',
  SignatureNonceUsed: 'Specified signature nonce was used already.',
  MissingSignatureNonce: 'SignatureNonce is mandatory for this action.',
};

/** "触发分钟级流控Permits:1" is the text Aliyun sends when a number's minute limit is reached. */
const LIMIT_TEXT: Record<string, string> = { minute: '分钟级', hour: '小时级', day: '天级' };

/**
 * Aliyun Dysmsapi `SendSms` (version 2017-05-25, RPC style) as served at dysmsapi.aliyuncs.com:
 * parameters in the query (or a form body), V3 signature. Business results are HTTP 200 with
 * `{ Code, Message, RequestId[, BizId] }`; gateway errors (signature, key, action) are 4xx with the POP
 * error body `{ RequestId, Message, Recommend, HostId, Code }`.
 */
export function createAliyunSmsSim(options: AliyunSmsSimOptions): SmsVendorSim {
  for (const key of ['accessKeyId', 'accessKeySecret'] as const) {
    if (typeof options[key] !== 'string' || options[key] === '')
      throw new SimInputError(`aliyun.${key} is required`);
  }
  return createVendorSim('aliyun', options, (base) => {
    const limiter = createSlidingLimiter(base.clock.now, [
      { name: 'minute', ms: 60_000, limit: options.limits?.perMinute ?? 1 },
      { name: 'hour', ms: 3_600_000, limit: options.limits?.perHour ?? 5 },
      { name: 'day', ms: 86_400_000, limit: options.limits?.perDay ?? 10 },
    ]);
    /** nonce → time seen; a nonce may be used once within the skew window. */
    const nonces = new Map<string, number>();
    const requestId = () => uuid(base.random).toUpperCase();
    const business = (code: string, message?: string, extra: Record<string, string> = {}): VendorReply => ({
      status: 200,
      contentType: JSON_TYPE,
      body: JSON.stringify({
        Message: message ?? MESSAGES[code] ?? code,
        RequestId: requestId(),
        Code: code,
        ...extra,
      }),
      code,
    });
    const pop = (status: number, code: string, message?: string): VendorReply => {
      const id = requestId();
      return {
        status,
        contentType: JSON_TYPE,
        body: JSON.stringify({
          RequestId: id,
          Message: message ?? MESSAGES[code] ?? code,
          Recommend: `https://api.aliyun.com/troubleshoot?q=${encodeURIComponent(code)}&product=Dysmsapi&requestId=${id}`,
          HostId: HOST_ID,
          Code: code,
        }),
        code,
      };
    };

    function useNonce(nonce: string): boolean {
      const now = base.clock.now();
      for (const [seen, at] of nonces) if (now - at > MAX_SKEW_MS) nonces.delete(seen);
      if (nonces.has(nonce)) return false;
      nonces.set(nonce, now);
      return true;
    }

    function faulted(fault: SmsSimFault): VendorReply | null {
      const code = fault.errorCode;
      if (code !== undefined) {
        const isBusiness = code.startsWith('isv.') || code.startsWith('isp.');
        if (isBusiness && fault.status === undefined) return business(code, fault.errorMessage);
        return pop(fault.status ?? 400, code, fault.errorMessage);
      }
      if (fault.status !== undefined) {
        const reply = pop(fault.status, fault.status === 503 ? 'ServiceUnavailable' : 'InternalError');
        return { ...reply, code: `HTTP ${fault.status}` };
      }
      return null;
    }

    function send(
      phones: string[],
      params: Map<string, string>,
      values: string[],
      code: string,
    ): VendorReply {
      for (const phone of phones) {
        const limited = limiter.check(phone);
        if (limited) {
          return business(
            'isv.BUSINESS_LIMIT_CONTROL',
            `触发${LIMIT_TEXT[limited.name]}流控Permits:${limited.limit}`,
          );
        }
      }
      const bizId = `${digits(base.random, 18)}^0`;
      for (const phone of phones) {
        limiter.hit(phone);
        base.messages.add({
          vendor: 'aliyun',
          phone,
          code,
          params: values,
          signName: params.get('SignName') ?? '',
          template: params.get('TemplateCode') ?? '',
          messageId: bizId,
          at: base.clock.now(),
        });
      }
      return business('OK', 'OK', { BizId: bizId });
    }

    async function handle(request: VendorRequest): Promise<VendorReply | null> {
      const { record } = request;
      record.action = header(request.headers, 'x-acs-action') || null;
      const params = new Map(parseRawQuery(request.rawQuery));
      if (header(request.headers, 'content-type').startsWith('application/x-www-form-urlencoded')) {
        for (const [key, value] of parseRawQuery(request.body.toString('utf8').replaceAll('+', '%20'))) {
          params.set(key, value);
        }
      }
      record.phones = (params.get('PhoneNumbers') ?? '').split(',').filter(Boolean);
      const auth = verifyAcs3(request, options, base.clock.now());
      if (!auth.ok) return pop(auth.status, auth.code, auth.message);
      const nonce = header(request.headers, 'x-acs-signature-nonce');
      if (nonce === '') return pop(400, 'MissingSignatureNonce');
      if (!useNonce(nonce)) return pop(400, 'SignatureNonceUsed');
      record.authenticated = true;
      if (record.action !== 'SendSms') return pop(404, 'InvalidAction.NotFound');
      if (header(request.headers, 'x-acs-version') !== '2017-05-25') return pop(400, 'InvalidVersion');
      for (const name of ['PhoneNumbers', 'SignName', 'TemplateCode']) {
        if (!params.get(name)) return pop(400, `Missing${name}`, `${name} is mandatory for this action.`);
      }
      if (options.signName !== undefined && params.get('SignName') !== options.signName) {
        return business('isv.SMS_SIGNATURE_ILLEGAL');
      }
      if (options.templateCode !== undefined && params.get('TemplateCode') !== options.templateCode) {
        return business('isv.SMS_TEMPLATE_ILLEGAL');
      }
      const templateParam = parseTemplateParam(params.get('TemplateParam'));
      if (!templateParam) return business('isv.INVALID_JSON_PARAM');
      if (record.phones.length > 1000) return business('isv.MOBILE_COUNT_OVER_LIMIT');
      const normalized = record.phones.map((raw) => normalizeVendorPhone(raw, true));
      const phones = normalized.filter((phone): phone is string => phone !== null);
      if (phones.length !== normalized.length) return business('isv.MOBILE_NUMBER_ILLEGAL');
      const values = Object.values(templateParam);
      const code = templateParam.code ?? values[0] ?? '';
      const fault = base.takeFault();
      if (fault?.delayMs) {
        record.fault = 'delay';
        await base.delay(fault.delayMs);
      }
      if (fault?.acceptThenStall) {
        record.fault = 'stall';
        send(phones, params, values, code);
        return null;
      }
      const injected = fault ? faulted(fault) : null;
      if (injected) {
        record.fault = fault?.errorCode !== undefined ? 'errorCode' : 'status';
        return injected;
      }
      return send(phones, params, values, code);
    }

    return {
      handle,
      resetState() {
        limiter.clear();
        nonces.clear();
      },
    };
  });
}

/** TemplateParam is a JSON object of string values ("只接受字符串值"); absent means no variables. */
function parseTemplateParam(raw: string | undefined): Record<string, string> | null {
  if (raw === undefined || raw === '') return {};
  try {
    const value: unknown = JSON.parse(raw);
    if (!isObject(value) || !Object.values(value).every((v) => typeof v === 'string')) return null;
    return value as Record<string, string>;
  } catch {
    return null;
  }
}
