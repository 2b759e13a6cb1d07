import { createSecretKey } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { KvUnavailableError, LimitRule, RateLimiter } from '../adapters/kv/kv.types.ts';
import { type SmsProvider, SmsProviderError } from '../adapters/sms/sms-provider.types.ts';
import type { Clock } from '../clock.ts';
import { AppError, isAppError } from '../errors.ts';
import type { AuthEvents } from '../observability/auth-events.ts';
import type { RequestMeta } from '../sessions/sessions.service.ts';
import type { Database } from '../storage/database.ts';
import { generateOtp, newCodeId, OTP_PATTERN, otpHmac, otpMatches } from './otp.ts';
import { maskPhone, normalizePhone, type PhonePolicy } from './phone-number.ts';
import { budgetDay, decideSend, type SmsSendPolicy } from './send-policy.ts';
import { findActiveCode, type SmsRepository } from './sms.repository.ts';
import { MAX_ATTEMPTS, verifyOtp } from './verify-otp.ts';

export type SmsPurpose = 'login' | 'bind';

/** R12's short windows, checked in Redis (or memory) before the ledger: a cheap first filter. */
const SHORT_RULES: { phone: LimitRule; ip: LimitRule } = {
  phone: { name: 'sms_send_phone_60s', windowMs: 60_000, max: 1 },
  ip: { name: 'sms_send_ip_10m', windowMs: 600_000, max: 10 },
};

export function createSmsCodeService(deps: {
  db: Kysely<Database>;
  sms: SmsRepository;
  provider: SmsProvider;
  limiter: RateLimiter;
  clock: Clock;
  events: AuthEvents;
  pepper: Buffer;
  phonePolicy: PhonePolicy;
  sendPolicy: SmsSendPolicy;
  onBudget?: (used: number, budget: number) => void;
}) {
  const { clock, events } = deps;
  // A KeyObject: node:crypto re-validates a Buffer key on every HMAC, which costs more than the HMAC.
  const pepper = createSecretKey(deps.pepper);

  function normalize(phone: unknown): string {
    const result = normalizePhone(phone, deps.phonePolicy);
    if (!result.ok)
      throw new AppError(result.reason === 'invalid' ? 'phone_invalid' : 'phone_region_not_allowed');
    return result.e164;
  }

  return {
    normalize,

    /**
     * Sends a code. Everything that can refuse runs before the provider is called (R12); the answer is
     * the same whether or not the phone has an account (R14): users are never looked up here.
     */
    async send(
      input: { phone: unknown; purpose: SmsPurpose },
      meta: RequestMeta,
    ): Promise<{ expiresIn: number; retryAfter: number }> {
      const phone = normalize(input.phone);
      const masked = maskPhone(phone);
      try {
        const decision = await deps.limiter.hitAll(
          meta.ip ? [SHORT_RULES.phone, SHORT_RULES.ip] : [SHORT_RULES.phone],
          (rule) => (rule === SHORT_RULES.ip ? String(meta.ip) : phone),
        );
        if (!decision.allowed) {
          void events.emit({
            type: 'sms.send',
            outcome: 'refused',
            ip: meta.ip,
            requestId: meta.requestId,
            reason: 'short_window',
            detail: { phone: masked },
          });
          throw new AppError('rate_limited', { retryAfter: decision.retryAfterSec });
        }
      } catch (err) {
        if (isAppError(err)) throw err;
        // R24: Redis is configured but cannot answer. Sending fails closed rather than unlimited.
        void events.emit({
          type: 'sms.send',
          outcome: 'refused',
          requestId: meta.requestId,
          reason: 'limiter_unavailable',
        });
        throw new AppError('sms_unavailable', { retryAfter: 5, cause: err as KvUnavailableError });
      }

      const now = clock.now();
      const day = budgetDay(now);
      const code = generateOtp();
      const codeId = newCodeId();
      const reservation = await deps.sms.reserveSend({
        phone,
        ip: meta.ip,
        now: new Date(now),
        dayStart: new Date(day.start),
        decide: (history) => {
          const refusal = decideSend(deps.sendPolicy, history, now, day.next);
          if (!refusal && history.today + 1 >= deps.sendPolicy.dailyBudget * 0.8)
            deps.onBudget?.(history.today + 1, deps.sendPolicy.dailyBudget);
          return refusal;
        },
        ledger: { purpose: input.purpose, provider: deps.provider.name },
        code: {
          id: codeId,
          phone,
          purpose: input.purpose,
          codeHmac: otpHmac(pepper, { purpose: input.purpose, phone, codeId, code }),
          createdAt: new Date(now),
          expiresAt: new Date(now + deps.sendPolicy.codeTtlSec * 1000),
        },
      });
      if ('refused' in reservation) {
        void events.emit({
          type: 'sms.send',
          outcome: 'refused',
          ip: meta.ip,
          requestId: meta.requestId,
          reason: reservation.refused.reason,
          detail: { phone: masked },
        });
        throw new AppError('rate_limited', { retryAfter: reservation.refused.retryAfterSec });
      }

      try {
        const sent = await deps.provider.send({
          phone,
          code,
          purpose: input.purpose,
          ttlMinutes: Math.round(deps.sendPolicy.codeTtlSec / 60),
        });
        await deps.sms.finishSend(reservation.ledgerId, {
          status: 'sent',
          providerMessageId: sent.providerMessageId,
        });
        void events.emit({
          type: 'sms.send',
          outcome: 'ok',
          ip: meta.ip,
          requestId: meta.requestId,
          detail: { phone: masked, provider: deps.provider.name },
        });
      } catch (err) {
        const providerError =
          err instanceof SmsProviderError
            ? err
            : new SmsProviderError('unknown', 'unexpected', null, { cause: err });
        await deps.sms.finishSend(reservation.ledgerId, {
          status: providerError.outcome,
          reason: providerError.reason,
        });
        void events.emit({
          type: 'sms.send',
          outcome: 'fail',
          ip: meta.ip,
          requestId: meta.requestId,
          reason: providerError.reason,
          detail: {
            phone: masked,
            provider: deps.provider.name,
            vendorCode: providerError.vendorCode,
            outcome: providerError.outcome,
          },
        });
        if (providerError.outcome === 'failed') {
          await deps.sms.invalidateCode(codeId, new Date(clock.now()));
          if (providerError.reason === 'invalid_phone') throw new AppError('phone_invalid');
          throw new AppError('sms_provider_failed');
        }
        // 'unknown': the message may well arrive. It counted against every quota and is not resent;
        // the code stays valid, and the client is told what it would be told on success.
      }
      return { expiresIn: deps.sendPolicy.codeTtlSec, retryAfter: 60 };
    },

    /**
     * The id of the newest live code when `code` matches it, read without locks or counting: the
     * caller may then consume it in one statement (sms-fast-login.repository.ts). Null means "take the
     * locked path" (verifyIn), which decides and counts every other outcome.
     */
    async peekMatchingCode(input: {
      phone: string;
      code: string;
      purpose: SmsPurpose;
    }): Promise<string | null> {
      if (!OTP_PATTERN.test(input.code)) return null;
      const active = await findActiveCode(deps.db, input.phone, input.purpose, { lock: false });
      if (!active || active.expiresAt.getTime() <= clock.now() || active.attempts >= MAX_ATTEMPTS)
        return null;
      const expected = otpHmac(pepper, { ...input, codeId: active.id });
      return otpMatches(active.codeHmac, expected) ? active.id : null;
    },

    /** Verifies inside the caller's transaction; see verify-otp.ts. */
    verifyIn(trx: Kysely<Database>, input: { phone: string; code: string; purpose: SmsPurpose }) {
      if (!OTP_PATTERN.test(input.code))
        return Promise.resolve({ ok: false as const, error: new AppError('sms_code_invalid') });
      return verifyOtp(trx, { ...input, pepper, now: clock.now() });
    },
  };
}

export type SmsCodeService = ReturnType<typeof createSmsCodeService>;
