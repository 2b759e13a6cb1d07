import { createHmac, type KeyObject, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

/** R8: 6 digits, uniform from a CSPRNG (randomInt has no modulo bias), zero-padded. */
export function generateOtp(): string {
  return randomInt(0, 1_000_000).toString().padStart(6, '0');
}

export const OTP_PATTERN = /^\d{6}$/;

export function newCodeId(): string {
  return randomBytes(12).toString('base64url');
}

/**
 * R11: only HMAC-SHA256(pepper, purpose ‖ phone ‖ codeId ‖ code) is stored. Binding the code id means a
 * code from one issuance can never complete another, and a stolen table cannot be brute-forced
 * offline without the pepper (10^6 codes would take no time against a plain hash).
 */
export function otpHmac(
  pepper: Buffer | KeyObject,
  input: { purpose: string; phone: string; codeId: string; code: string },
): Buffer {
  return createHmac('sha256', pepper)
    .update(`wxauth-otp\0${input.purpose}\0${input.phone}\0${input.codeId}\0${input.code}`)
    .digest();
}

export function otpMatches(expected: Buffer, actual: Buffer): boolean {
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
