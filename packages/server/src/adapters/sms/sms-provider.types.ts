/**
 * One interface for every SMS vendor. The phone service decides whether to send (limits, ledger);
 * a provider only delivers, and reports what happened in terms the ledger can record.
 */
export interface SmsMessage {
  /** E.164, e.g. +8613800138000 (already normalised and allowed). */
  phone: string;
  /** The one-time code, 6 digits. Providers must never log it. */
  code: string;
  purpose: 'login' | 'bind';
  /** Minutes the code is valid, for templates that show it. */
  ttlMinutes: number;
}

export interface SmsSendResult {
  /** The vendor's message/serial id, for support tickets; never contains the code. */
  providerMessageId: string | null;
}

/**
 * Thrown by providers. `outcome` is what the ledger records:
 * - 'failed': the vendor said no (bad template, bad number, vendor limit…); the message was not sent.
 * - 'unknown': timeout or lost connection after the request may have been accepted. It counts against
 *   quotas and is never resent automatically (no double charge, no SMS pumping).
 */
export class SmsProviderError extends Error {
  readonly outcome: 'failed' | 'unknown';
  /** Stable reason, e.g. 'timeout', 'vendor_rate_limited', 'invalid_phone', 'auth', 'vendor_error'. */
  readonly reason: string;
  /** The vendor's own error code, for logs (never the message body). */
  readonly vendorCode: string | null;

  constructor(
    outcome: 'failed' | 'unknown',
    reason: string,
    vendorCode: string | null = null,
    options?: { cause?: unknown },
  ) {
    super(`sms provider ${outcome}: ${reason}${vendorCode ? ` (${vendorCode})` : ''}`, options);
    this.name = 'SmsProviderError';
    this.outcome = outcome;
    this.reason = reason;
    this.vendorCode = vendorCode;
  }
}

export interface SmsProvider {
  readonly name: 'inbox' | 'tencent' | 'aliyun';
  send(message: SmsMessage): Promise<SmsSendResult>;
}
