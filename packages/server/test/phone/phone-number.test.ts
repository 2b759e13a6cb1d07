import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maskPhone, normalizePhone, type PhonePolicy } from '../../src/phone/phone-number.ts';

const CN: PhonePolicy = { defaultRegion: 'CN', allowedRegions: ['CN'] };
const CN_HK: PhonePolicy = { defaultRegion: 'CN', allowedRegions: ['CN', 'HK'] };

describe('phone number normalisation', () => {
  it.each([
    ['13800138000', '+8613800138000'],
    ['+86 138 0013 8000', '+8613800138000'],
    ['008613800138000', '+8613800138000'],
    ['+86-138-0013-8000', '+8613800138000'],
    ['１３８００１３８０００', '+8613800138000'],
    ['١٣٨٠٠١٣٨٠٠٠', '+8613800138000'],
    ['138\u200b0013\u200b8000', '+8613800138000'],
    ['(+86) 19912345678', '+8619912345678'],
  ])('accepts %j as %s', (input, e164) => {
    expect(normalizePhone(input, CN)).toEqual({ ok: true, e164, region: 'CN' });
  });

  it.each([
    ['12345'],
    ['010-12345678'],
    ['+861380013800'],
    ['abc'],
    [''],
    ['+'],
    ['1'.repeat(65)],
    ['23800138000'],
  ])('refuses %j as invalid', (input) => {
    expect(normalizePhone(input, CN)).toEqual({ ok: false, reason: 'invalid' });
  });

  it('refuses other regions unless allowed', () => {
    expect(normalizePhone('+85261234567', CN)).toEqual({ ok: false, reason: 'region_not_allowed' });
    expect(normalizePhone('+85261234567', CN_HK)).toEqual({ ok: true, e164: '+85261234567', region: 'HK' });
  });

  it('never throws, whatever it is given, and every accepted result is E.164 of an allowed region', () => {
    const weird = fc.oneof(
      fc.anything(),
      fc.string({ maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 30 }),
      fc.stringMatching(/^(\+|00)?86[ -]?1[3-9]\d{9}$/),
      fc.constant('1'.repeat(10_000)),
    );
    fc.assert(
      fc.property(weird, (input) => {
        const result = normalizePhone(input, CN);
        if (result.ok) expect(result.e164).toMatch(/^\+861[3-9]\d{9}$/);
      }),
      { numRuns: 3000 },
    );
  });

  it('is idempotent on what it accepts', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^(\+86|0086)?[ -]?1[3-9]\d{9}$/), (input) => {
        const once = normalizePhone(input, CN);
        if (once.ok) expect(normalizePhone(once.e164, CN)).toEqual(once);
      }),
      { numRuns: 2000 },
    );
  });

  it('masks numbers for logs', () => {
    expect(maskPhone('+8613800138000')).toBe('+86138****8000');
  });
});
