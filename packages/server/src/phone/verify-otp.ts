import type { KeyObject } from 'node:crypto';
import type { Kysely } from 'kysely';
import { AppError } from '../errors.ts';
import type { Database } from '../storage/database.ts';
import { otpHmac, otpMatches } from './otp.ts';
import { createSmsVerifyRepository, type PhoneFailures } from './sms.repository.ts';

export const MAX_ATTEMPTS = 5;
/** R9: failures per phone in 24 h before a 1 h lockout; delays grow from 30 s on the way. */
const PHONE_FAILURE_LIMIT = 10;
const FIRST_DELAY_AFTER = 3;

export type VerifyResult = { ok: true } | { ok: false; error: AppError };

function lockFor(failures: number): number {
  if (failures >= PHONE_FAILURE_LIMIT) return 3_600_000;
  if (failures < FIRST_DELAY_AFTER) return 0;
  return Math.min(3_600_000, 30_000 * 2 ** (failures - FIRST_DELAY_AFTER));
}

/**
 * R10: verification inside one transaction with row locks. The phone's failure row and then the newest
 * live code are locked; the comparison is constant-time (R11); a wrong guess increments `attempts` and
 * the per-phone failures, a right one consumes the code. The result is returned, not thrown, so the
 * caller commits the counters even when the answer is "wrong code".
 */
export async function verifyOtp(
  trx: Kysely<Database>,
  input: { phone: string; code: string; purpose: string; pepper: Buffer | KeyObject; now: number },
): Promise<VerifyResult> {
  const repo = createSmsVerifyRepository(trx);
  const now = new Date(input.now);
  await repo.lockPhone(input.phone);
  const failures = await repo.lockFailures(input.phone);
  if (failures?.lockedUntil && failures.lockedUntil > now) {
    const retryAfter = Math.ceil((failures.lockedUntil.getTime() - input.now) / 1000);
    return {
      ok: false,
      error: new AppError('rate_limited', {
        message: 'Too many wrong codes for this phone; wait and request a new code.',
        retryAfter,
      }),
    };
  }
  const code = await repo.lockActiveCode(input.phone, input.purpose);
  if (!code || code.expiresAt <= now || code.attempts >= MAX_ATTEMPTS)
    return { ok: false, error: new AppError('sms_code_expired') };

  const expected = otpHmac(input.pepper, {
    purpose: input.purpose,
    phone: input.phone,
    codeId: code.id,
    code: input.code,
  });
  if (otpMatches(code.codeHmac, expected)) {
    await repo.consumeCode(code.id, now);
    await repo.clearFailures(input.phone);
    return { ok: true };
  }
  await repo.countWrongAttempt(code.id);
  const inWindow = failures && input.now - failures.windowStartedAt.getTime() < 86_400_000;
  const next: PhoneFailures = inWindow
    ? { failures: failures.failures + 1, windowStartedAt: failures.windowStartedAt, lockedUntil: null }
    : { failures: 1, windowStartedAt: now, lockedUntil: null };
  const lockMs = lockFor(next.failures);
  next.lockedUntil = lockMs > 0 ? new Date(input.now + lockMs) : null;
  await repo.saveFailures(input.phone, next);
  return { ok: false, error: new AppError('sms_code_invalid') };
}
