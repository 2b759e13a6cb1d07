import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { derToP1363, p1363ToDer } from '../../src/sessions/ecdsa-encoding.ts';

describe('ECDSA signature encodings (DER ↔ IEEE P1363)', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

  it('agrees with node:crypto both ways on real signatures', () => {
    for (let i = 0; i < 300; i++) {
      const data = randomBytes(64);
      const der = sign('sha256', data, privateKey);
      const p1363 = derToP1363(der);
      expect(p1363).toHaveLength(64);
      expect(verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, p1363)).toBe(true);
      const native = sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      expect(verify('sha256', data, publicKey, p1363ToDer(native))).toBe(true);
    }
  });

  it('round-trips any 64 bytes, leading zeros and high bits included', () => {
    const half = fc.oneof(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.constantFrom(
        new Uint8Array(32),
        Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 0x80 : 0)),
      ),
    );
    fc.assert(
      fc.property(half, half, (r, s) => {
        const p1363 = Buffer.concat([r, s]);
        expect(derToP1363(p1363ToDer(p1363)).equals(p1363)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses what is not a DER signature', () => {
    expect(() => derToP1363(Buffer.from('not der'))).toThrow();
    expect(() => derToP1363(Buffer.of(0x30, 0x03, 0x02, 0x01, 0x00))).toThrow();
  });
});
