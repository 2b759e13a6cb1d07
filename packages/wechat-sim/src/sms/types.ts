import type { IncomingMessage, ServerResponse } from 'node:http';

export type SmsVendor = 'tencent' | 'aliyun';

/**
 * A scripted misbehaviour of a vendor. Faults apply to requests whose signature checked out (a vendor's
 * own business logic runs after authentication), in the order they were injected, one per request.
 */
export interface SmsSimFault {
  /**
   * Answer this vendor error code instead of sending, e.g. 'LimitExceeded.PhoneNumberDailyLimit' or
   * 'isv.AMOUNT_NOT_ENOUGH'. Tencent puts per-number codes (LimitExceeded.PhoneNumber*,
   * InvalidParameterValue.IncorrectPhoneNumber, FailedOperation.PhoneNumber*) in SendStatusSet and the
   * rest in Response.Error, HTTP 200; Aliyun answers isv.* / isp.* with HTTP 200 and others with 400.
   */
  errorCode?: string;
  /** The error text; defaults to the vendor's text for known codes. */
  errorMessage?: string;
  /**
   * An HTTP status (400–599). Alone: the gateway's error answer (Tencent: nginx HTML page; Aliyun: its
   * JSON InternalError / ServiceUnavailable body). With errorCode: that code's body under this status.
   */
  status?: number;
  /** Waits this long, then answers (the fault's error, or a normal send). The message goes out. */
  delayMs?: number;
  /** Reads the request, delivers the message (the vendor accepted it), then never answers. */
  acceptThenStall?: boolean;
  /** How many requests the fault applies to. Default 1; 0 or -1 = until cleared. */
  times?: number;
}

/** A message the vendor delivered (or accepted, under acceptThenStall). */
export interface SmsSimMessage {
  vendor: SmsVendor;
  /** E.164, normalised from the vendor's accepted formats. */
  phone: string;
  /** Tencent: TemplateParamSet[0]; Aliyun: TemplateParam.code (else its first value). */
  code: string;
  /** Tencent: TemplateParamSet; Aliyun: the parsed TemplateParam object's values in order. */
  params: string[];
  signName: string;
  /** TemplateId (Tencent) or TemplateCode (Aliyun). */
  template: string;
  /** SerialNo (Tencent) or BizId (Aliyun). */
  messageId: string;
  /** Sim clock, ms. */
  at: number;
}

/** Every request that reached a vendor endpoint, whatever happened to it. */
export interface SmsSimRequestRecord {
  vendor: SmsVendor;
  /** X-TC-Action / x-acs-action as received, or null. */
  action: string | null;
  /** Sim clock, ms, when the request arrived. */
  at: number;
  /** False when authentication refused it (bad signature, unknown key, expired timestamp…). */
  authenticated: boolean;
  /** Phone numbers as received (before normalisation). */
  phones: string[];
  /** 'Ok' / 'OK', the vendor error code answered, `HTTP <status>` for a bare status fault, null if never answered. */
  code: string | null;
  /** HTTP status sent, or null while/if never answered (acceptThenStall). */
  status: number | null;
  fault?: 'errorCode' | 'status' | 'delay' | 'stall';
}

/** Per-phone limits, counted over sliding windows of delivered messages. */
export interface TencentSmsLimits {
  /** Default 1 (Tencent console default: one per 30 s per number). */
  perThirtySeconds?: number;
  /** Default 5. */
  perHour?: number;
  /** Default 10 (raise the real console's value to at least wxauth's own cap, R12). */
  perDay?: number;
}

export interface AliyunSmsLimits {
  /** Default 1 (Aliyun verification-code default: 1 a minute, 5 an hour, 10 a day per number). */
  perMinute?: number;
  perHour?: number;
  perDay?: number;
}

interface VendorCommonOptions {
  /** Deterministic serial numbers, BizIds and RequestIds. */
  seed?: number | string;
  /** Clock in ms (default Date.now). Signature timestamps are checked against it. */
  now?: () => number;
  /** How many messages and request records are kept (the newest). Default 10_000. */
  maxRecords?: number;
}

export interface TencentSmsSimOptions extends VendorCommonOptions {
  secretId: string;
  secretKey: string;
  /** The SmsSdkAppId that exists on this account. */
  sdkAppId: string;
  /** When set, any other SignName answers FailedOperation.SignatureIncorrectOrUnapproved. */
  signName?: string;
  /** When set, any other TemplateId answers FailedOperation.TemplateIncorrectOrUnapproved. */
  templateId?: string;
  limits?: TencentSmsLimits;
}

export interface AliyunSmsSimOptions extends VendorCommonOptions {
  accessKeyId: string;
  accessKeySecret: string;
  /** When set, any other SignName answers isv.SMS_SIGNATURE_ILLEGAL. */
  signName?: string;
  /** When set, any other TemplateCode answers isv.SMS_TEMPLATE_ILLEGAL. */
  templateCode?: string;
  limits?: AliyunSmsLimits;
}

/** One vendor's simulated SendSms endpoint. */
export interface SmsVendorSim {
  readonly vendor: SmsVendor;
  /** A plain node:http handler; it answers every path, as the vendors' hosts serve SendSms at '/'. */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** Delivered messages, oldest first; only those to `phone` (E.164) when given. */
  messages(phone?: string): SmsSimMessage[];
  /** The code of the newest message to `phone`, or null. */
  lastCode(phone: string): string | null;
  requests(): SmsSimRequestRecord[];
  injectFault(fault: SmsSimFault): void;
  clearFaults(): void;
  advanceClock(ms: number): void;
  /** Clears messages, requests, faults, rate-limit windows and used nonces. */
  reset(): void;
  /** Cancels pending delays and drops stalled requests (their sockets close with the server). */
  close(): void;
}

export interface SmsSimulatorOptions {
  tencent?: Omit<TencentSmsSimOptions, 'seed' | 'now'>;
  aliyun?: Omit<AliyunSmsSimOptions, 'seed' | 'now'>;
  seed?: number | string;
  now?: () => number;
}

/** Both vendors on one server; requests are routed by their signature headers (see README). */
export interface SmsSimulator {
  /** http://127.0.0.1:PORT once listening. */
  readonly url: string;
  /** 127.0.0.1:PORT, the form the vendors' SDKs take as `endpoint`. */
  readonly host: string;
  readonly tencent: SmsVendorSim | undefined;
  readonly aliyun: SmsVendorSim | undefined;
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
  /** Moves both vendors' clocks. */
  advanceClock(ms: number): void;
  reset(): void;
}
