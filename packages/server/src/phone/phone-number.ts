import type { CountryCode } from 'libphonenumber-js/max';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

export interface PhonePolicy {
  /** Region assumed for numbers written without a country code (CN: 13800138000). */
  defaultRegion: CountryCode;
  /** Regions whose numbers may receive codes and log in (R12: only +86 by default). */
  allowedRegions: readonly CountryCode[];
}

export type PhoneResult =
  | { ok: true; e164: string; region: CountryCode }
  | { ok: false; reason: 'invalid' | 'region_not_allowed' };

const MAX_INPUT = 64;
/** Digits other scripts use, which people paste from some keyboards; NFKC already folds full-width ones. */
const DIGIT_BLOCKS = [0x0660, 0x06f0, 0x0966, 0x09e6, 0x0e50];

function asciiDigits(input: string): string {
  let out = '';
  for (const ch of input.normalize('NFKC')) {
    const cp = ch.codePointAt(0)!;
    const block = DIGIT_BLOCKS.find((zero) => cp >= zero && cp <= zero + 9);
    out += block === undefined ? ch : String(cp - block);
  }
  return out;
}

/**
 * Normalises a phone number to E.164 with libphonenumber's full metadata, or says why not. Never throws,
 * whatever it is given (arrays, 10 kB strings, zero-width spaces), and is idempotent on its output.
 */
export function normalizePhone(input: unknown, policy: PhonePolicy): PhoneResult {
  if (typeof input !== 'string' || input.length === 0 || input.length > MAX_INPUT)
    return { ok: false, reason: 'invalid' };
  let text = asciiDigits(input)
    .replace(/[\u200b-\u200f\u2060\ufeff]/g, '')
    .replace(/[\s\-().]/g, '');
  // "00" is the international call prefix in China and most of the world.
  if (text.startsWith('00')) text = `+${text.slice(2)}`;
  if (!/^\+?\d{5,17}$/.test(text)) return { ok: false, reason: 'invalid' };
  let parsed: ReturnType<typeof parsePhoneNumberFromString>;
  try {
    parsed = parsePhoneNumberFromString(text, policy.defaultRegion);
  } catch {
    return { ok: false, reason: 'invalid' };
  }
  if (!parsed?.isValid()) return { ok: false, reason: 'invalid' };
  const type = parsed.getType();
  // Codes go out by SMS: a number that cannot be a mobile cannot receive one.
  if (type !== undefined && type !== 'MOBILE' && type !== 'FIXED_LINE_OR_MOBILE')
    return { ok: false, reason: 'invalid' };
  const region = parsed.country;
  if (!region || !policy.allowedRegions.includes(region)) return { ok: false, reason: 'region_not_allowed' };
  return { ok: true, e164: parsed.number, region };
}

/** For logs and events (R28): +86138****5678. */
export function maskPhone(e164: string): string {
  if (e164.length < 8) return '****';
  return `${e164.slice(0, e164.length - 8)}****${e164.slice(-4)}`;
}

export function isCountryCode(value: string): value is CountryCode {
  return /^[A-Z]{2}$/.test(value);
}
