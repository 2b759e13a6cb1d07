import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRefreshTokenCodec } from '../../src/sessions/refresh-token.ts';

const codec = createRefreshTokenCodec(randomBytes(32));

describe('refresh token codec', () => {
  it('issues 256-bit opaque tokens and stores only their hash', () => {
    const sid = codec.newSessionId();
    const { token, hash } = codec.issue(sid);
    const parsed = codec.parse(token)!;
    expect(parsed).toMatchObject({ sessionId: sid, generation: 0 });
    expect(Buffer.from(parsed.secret, 'base64url')).toHaveLength(32);
    expect(hash).toEqual(codec.hash(parsed.secret));
  });

  it('derives exactly one child per token, and proves ancestry only for genuine ancestors', () => {
    const root = codec.parse(codec.issue(codec.newSessionId()).token)!;
    const c1 = codec.child(root);
    expect(codec.child(root)).toEqual(c1);
    const p1 = codec.parse(c1.token)!;
    const c3 = codec.child(codec.parse(codec.child(p1).token)!);
    expect(c3.generation).toBe(3);
    expect(codec.isAncestor(root, 3, c3.hash)).toBe(true);
    expect(codec.isAncestor(p1, 3, c3.hash)).toBe(true);
    expect(codec.isAncestor({ ...root, secret: 'A'.repeat(43) }, 3, c3.hash)).toBe(false);
    expect(codec.isAncestor(root, 0, c3.hash)).toBe(false);
    // Another server (another pepper) derives a different chain.
    const other = createRefreshTokenCodec(randomBytes(32));
    expect(other.child(root).token).not.toBe(c1.token);
  });

  it('parses only well-formed tokens and never throws', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const parsed = codec.parse(value);
        if (parsed !== null) expect(typeof value).toBe('string');
      }),
      { numRuns: 2000 },
    );
    expect(codec.parse(`${'a'.repeat(22)}.01.${'b'.repeat(43)}`)).toBeNull();
    expect(codec.parse(`${'a'.repeat(22)}.0.${'b'.repeat(43)}x`)).toBeNull();
  });

  it('refuses a short pepper', () => {
    expect(() => createRefreshTokenCodec(randomBytes(16))).toThrow(/32 bytes/);
  });
});
