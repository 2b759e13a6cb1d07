import { createHmac, createPrivateKey, createPublicKey, sign as ecSign, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { createLocalJWKSet, exportJWK, generateKeyPair, type JSONWebKeySet, jwtVerify } from 'jose';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import { AppError } from '../../src/errors.ts';
import { compactJws } from '../../src/sessions/compact-jws.ts';
import {
  generateSigningKey,
  parseSigningKeys,
  type SigningKeyConfig,
} from '../../src/sessions/signing-keys.ts';
import { createTokenSigner } from '../../src/sessions/token-signer.ts';

const ISSUER = 'https://auth.wxauth.test';
const AUDIENCE = 'wxauth-api';
const USER = { sub: 'user-1', sid: 'sess-1', appId: 'wx0123456789abcdef' };

let keyA: SigningKeyConfig;
let keyB: SigningKeyConfig;
/** Not in any of our rings: an attacker's key. */
let keyZ: SigningKeyConfig;

beforeAll(async () => {
  [keyA, keyB, keyZ] = await Promise.all([
    generateSigningKey('key-a'),
    generateSigningKey('key-b'),
    generateSigningKey('key-a'),
  ]);
});

afterEach(() => {
  vi.restoreAllMocks();
});

function setup(options: { keys?: SigningKeyConfig[]; leewaySec?: number; cacheSize?: number } = {}) {
  const clock = createManualClock();
  const signer = createTokenSigner({
    keys: options.keys ?? [keyA],
    issuer: ISSUER,
    audience: AUDIENCE,
    clock,
    leewaySec: options.leewaySec,
    cacheSize: options.cacheSize,
  });
  return { clock, signer };
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const decode = (segment: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>;

/** Builds a compact JWS by hand, so headers jose would refuse to produce can be tested. */
function craft(
  header: Record<string, unknown>,
  payload: unknown,
  signer: SigningKeyConfig | { hmac: string | Buffer } | 'none',
): string {
  const input = `${b64(header)}.${typeof payload === 'string' ? Buffer.from(payload).toString('base64url') : b64(payload)}`;
  if (signer === 'none') return `${input}.`;
  if ('hmac' in signer)
    return `${input}.${createHmac('sha256', signer.hmac).update(input).digest('base64url')}`;
  const key = createPrivateKey({ key: signer.privateJwk, format: 'jwk' });
  return `${input}.${ecSign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

function claimsAt(nowMs: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = Math.floor(nowMs / 1000);
  return {
    sid: USER.sid,
    app_id: USER.appId,
    iss: ISSUER,
    aud: AUDIENCE,
    sub: USER.sub,
    iat,
    nbf: iat,
    exp: iat + 900,
    jti: randomBytes(16).toString('base64url'),
    ...overrides,
  };
}

const HEADER = { alg: 'ES256', typ: 'at+jwt', kid: 'key-a' };

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the token to be rejected');
    },
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AppError);
  expect(error).toMatchObject({ code: 'unauthorized', status: 401 });
  return error as AppError;
}

async function expectRejected(promise: Promise<unknown>, reason: string | RegExp): Promise<void> {
  const error = await rejection(promise);
  expect(error.message).toMatch(typeof reason === 'string' ? `Access token rejected: ${reason}.` : reason);
}

describe('token signer: round trip (R16)', () => {
  it('signs ES256 at+jwt tokens with the documented header and claims, and verifies them', async () => {
    const { signer, clock } = setup();
    const { token, expiresIn } = await signer.sign(USER);
    expect(expiresIn).toBe(900);
    const [header, payload] = token.split('.').map((part, i) => (i < 2 ? decode(part) : part)) as [
      Record<string, unknown>,
      Record<string, unknown>,
    ];
    expect(header).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: 'key-a' });
    const iat = clock.now() / 1000;
    expect(payload).toEqual({
      sid: USER.sid,
      app_id: USER.appId,
      iss: ISSUER,
      aud: AUDIENCE,
      sub: USER.sub,
      iat,
      nbf: iat,
      exp: iat + 900,
      jti: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
    });
    expect(await signer.verify(token)).toEqual({
      sub: USER.sub,
      sid: USER.sid,
      appId: USER.appId,
      iat,
      exp: iat + 900,
    });
  });

  it('omits app_id when there is none and verifies it as null; every token gets its own jti', async () => {
    const { signer } = setup();
    const a = await signer.sign({ ...USER, appId: null });
    const b = await signer.sign({ ...USER, appId: null });
    expect(decode(a.token.split('.')[1]!)).not.toHaveProperty('app_id');
    expect((await signer.verify(a.token)).appId).toBeNull();
    expect(decode(a.token.split('.')[1]!).jti).not.toBe(decode(b.token.split('.')[1]!).jti);
  });

  it('honours ttlSec', async () => {
    const clock = createManualClock();
    const signer = createTokenSigner({
      keys: [keyA],
      issuer: ISSUER,
      audience: AUDIENCE,
      clock,
      ttlSec: 300,
    });
    const { token, expiresIn } = await signer.sign(USER);
    const claims = await signer.verify(token);
    expect(expiresIn).toBe(300);
    expect(claims.exp - claims.iat).toBe(300);
  });

  it('accepts a hand-crafted token with the right shape (so the rejections below test one defect each)', async () => {
    const { signer, clock } = setup();
    await expect(signer.verify(craft(HEADER, claimsAt(clock.now()), keyA))).resolves.toMatchObject({
      sub: 'user-1',
    });
  });

  it('refuses to sign bad input', async () => {
    const { signer } = setup();
    await expect(signer.sign({ ...USER, sub: '' })).rejects.toThrow(TypeError);
    await expect(signer.sign({ ...USER, sid: 'x'.repeat(257) })).rejects.toThrow(TypeError);
    await expect(signer.sign({ ...USER, appId: '' })).rejects.toThrow(TypeError);
  });
});

describe('token signer: every defect → unauthorized (R16, test plan B.2)', () => {
  it('rejects alg none, with or without a signature', async () => {
    const { signer, clock } = setup();
    const claims = claimsAt(clock.now());
    await expectRejected(signer.verify(craft({ ...HEADER, alg: 'none' }, claims, 'none')), 'malformed');
    const withSig = `${craft({ ...HEADER, alg: 'none' }, claims, 'none')}${randomBytes(64).toString('base64url')}`;
    await expectRejected(signer.verify(withSig), 'algorithm not allowed');
  });

  it('rejects HS256, including HS256 keyed with our own public key', async () => {
    const { signer, clock } = setup();
    const claims = claimsAt(clock.now());
    const publicKey = createPublicKey(createPrivateKey({ key: keyA.privateJwk, format: 'jwk' }));
    const secrets: (string | Buffer)[] = [
      publicKey.export({ format: 'pem', type: 'spki' }) as string,
      publicKey.export({ format: 'der', type: 'spki' }),
      JSON.stringify(signer.jwks().keys[0]),
      'secret',
    ];
    for (const secret of secrets) {
      await expectRejected(
        signer.verify(craft({ ...HEADER, alg: 'HS256' }, claims, { hmac: secret })),
        'algorithm not allowed',
      );
    }
  });

  it('rejects any other algorithm label', async () => {
    const { signer, clock } = setup();
    for (const alg of ['ES384', 'ES512', 'RS256', 'PS256', 'EdDSA', 'es256', 'ES256 ', ['ES256'], null]) {
      await expectRejected(
        signer.verify(craft({ ...HEADER, alg }, claimsAt(clock.now()), keyA)),
        'algorithm not allowed',
      );
    }
  });

  it('rejects unknown kids and kids that are not plain strings', async () => {
    const { signer, clock } = setup();
    const claims = claimsAt(clock.now());
    await expectRejected(signer.verify(craft({ ...HEADER, kid: 'key-b' }, claims, keyB)), 'unknown key');
    for (const kid of [
      123,
      null,
      ['key-a'],
      { id: 'key-a' },
      '',
      '../key-a',
      'key-a/../key-a',
      'key-a\0',
      'k'.repeat(65),
    ]) {
      await expectRejected(signer.verify(craft({ ...HEADER, kid }, claims, keyA)), 'kid invalid');
    }
    const { kid: _dropped, ...noKid } = HEADER;
    await expectRejected(signer.verify(craft(noKid, claims, keyA)), 'kid invalid');
  });

  it('never honours jku, x5u, jwk, x5c (or any other extra header), even when correctly signed', async () => {
    const { signer, clock } = setup();
    const claims = claimsAt(clock.now());
    const { publicKey } = await generateKeyPair('ES256');
    const extras: Record<string, unknown>[] = [
      { jku: 'https://evil.example/jwks.json' },
      { x5u: 'https://evil.example/cert.pem' },
      { jwk: await exportJWK(publicKey) },
      { x5c: ['MIIB'] },
      { crit: ['exp'] },
      { b64: false },
      { cty: 'JWT' },
    ];
    for (const extra of extras) {
      await expectRejected(
        signer.verify(craft({ ...HEADER, ...extra }, claims, keyA)),
        'header member not allowed',
      );
    }
    // The classic attack: sign with your own key and embed it; kid points at ours.
    const attacker = craft({ ...HEADER, jwk: signer.jwks().keys[0] }, claims, keyZ);
    await expectRejected(signer.verify(attacker), 'header member not allowed');
  });

  it('rejects a typ other than exactly at+jwt', async () => {
    const { signer, clock } = setup();
    const claims = claimsAt(clock.now());
    for (const typ of ['JWT', 'jwt', 'AT+JWT', 'application/at+jwt', 'at+jwt ', undefined]) {
      await expectRejected(signer.verify(craft({ ...HEADER, typ }, claims, keyA)), 'typ not allowed');
    }
  });

  it('rejects a forged signature and a signature by a key we do not hold', async () => {
    const { signer, clock } = setup();
    const claims = claimsAt(clock.now());
    await expectRejected(signer.verify(craft(HEADER, claims, keyZ)), 'bad signature');
    const good = craft(HEADER, claims, keyA);
    const [h, p] = good.split('.');
    await expectRejected(
      signer.verify(`${h}.${p}.${randomBytes(64).toString('base64url')}`),
      'bad signature',
    );
    const other = craft(HEADER, claimsAt(clock.now(), { sub: 'user-2' }), keyA);
    await expectRejected(signer.verify(`${h}.${other.split('.')[1]}.${good.split('.')[2]}`), 'bad signature');
  });

  it('rejects wrong iss and aud', async () => {
    const { signer, clock } = setup();
    const now = clock.now();
    await expectRejected(
      signer.verify(craft(HEADER, claimsAt(now, { iss: 'https://evil' }), keyA)),
      'iss check failed',
    );
    await expectRejected(
      signer.verify(craft(HEADER, claimsAt(now, { aud: 'other-api' }), keyA)),
      'aud check failed',
    );
    await expectRejected(
      signer.verify(craft(HEADER, claimsAt(now, { aud: ['other'] }), keyA)),
      'aud check failed',
    );
  });

  it('rejects tokens expired beyond the leeway, accepts them within it', async () => {
    const { signer, clock } = setup({ cacheSize: 0 });
    const { token } = await signer.sign(USER);
    clock.advance((900 + 59) * 1000);
    await expect(signer.verify(token)).resolves.toMatchObject({ sub: USER.sub });
    clock.advance(1000);
    await expectRejected(signer.verify(token), 'expired');
  });

  it('rejects nbf in the future beyond the leeway, accepts it within', async () => {
    const { signer, clock } = setup({ cacheSize: 0 });
    const iat = Math.floor(clock.now() / 1000);
    const within = craft(HEADER, claimsAt(clock.now(), { nbf: iat + 60 }), keyA);
    const beyond = craft(HEADER, claimsAt(clock.now(), { nbf: iat + 61 }), keyA);
    await expect(signer.verify(within)).resolves.toMatchObject({ sub: USER.sub });
    await expectRejected(signer.verify(beyond), 'nbf check failed');
    // Same thing from a verifier whose clock is behind the signer's.
    const { signer: issuer, clock: ahead } = setup();
    ahead.advance(61_000);
    const { token } = await issuer.sign(USER);
    await expectRejected(signer.verify(token), 'nbf check failed');
  });

  it('honours a smaller leeway, and refuses a leeway above 60 s', async () => {
    const { signer, clock } = setup({ leewaySec: 0, cacheSize: 0 });
    const { token } = await signer.sign(USER);
    clock.advance(899_999);
    await expect(signer.verify(token)).resolves.toBeDefined();
    clock.advance(1);
    await expectRejected(signer.verify(token), 'expired');
    expect(() => setup({ leewaySec: 61 })).toThrow(/leewaySec/);
  });

  it('rejects missing or ill-typed claims', async () => {
    const { signer, clock } = setup();
    const now = clock.now();
    const without = (claim: string) => {
      const claims = claimsAt(now);
      delete claims[claim];
      return craft(HEADER, claims, keyA);
    };
    for (const claim of ['sub', 'sid', 'iat', 'nbf', 'exp', 'jti', 'iss', 'aud']) {
      await expectRejected(signer.verify(without(claim)), `${claim} check failed`);
    }
    for (const bad of [{ sub: '' }, { sid: 42 }, { sub: { id: 1 } }, { sid: 'x'.repeat(300) }]) {
      await expectRejected(signer.verify(craft(HEADER, claimsAt(now, bad), keyA)), 'sub/sid check failed');
    }
    for (const appId of [7, '', null]) {
      await expectRejected(
        signer.verify(craft(HEADER, claimsAt(now, { app_id: appId }), keyA)),
        'app_id check failed',
      );
    }
    const iat = Math.floor(now / 1000);
    await expectRejected(
      signer.verify(craft(HEADER, claimsAt(now, { iat: iat + 0.5 }), keyA)),
      'time claims check failed',
    );
    await expectRejected(
      signer.verify(craft(HEADER, claimsAt(now, { exp: String(iat + 900) }), keyA)),
      'exp check failed',
    );
  });

  it('rejects refresh tokens and other non-JWT strings', async () => {
    const { signer } = setup();
    const id = () => randomBytes(16).toString('base64url');
    const refreshTokens = [0, 1, 12, 345].map(
      (generation) => `${id()}.${generation}.${randomBytes(32).toString('base64url')}`,
    );
    const other: unknown[] = [
      ...refreshTokens,
      '',
      '.',
      '..',
      'a.b',
      `${id()}.${id()}.${id()}`,
      'a.b.c.d.e',
      `Bearer ${id()}`,
      'x'.repeat(5000),
      undefined,
      null,
      42,
      { token: 'x' },
    ];
    for (const token of other) await rejection(signer.verify(token as string));
  });

  it('rejects non-JSON or non-object payloads and non-canonical base64url', async () => {
    const { signer, clock } = setup();
    await expectRejected(signer.verify(craft(HEADER, 'not json', keyA)), 'malformed');
    await expectRejected(signer.verify(craft(HEADER, [1, 2], keyA)), 'malformed');
    const good = craft(HEADER, claimsAt(clock.now()), keyA);
    const sig = good.split('.')[2]!;
    // 64 signature bytes → 86 chars: the last one carries 4 spare bits. Same bytes, different spelling.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const respelled = `${good.slice(0, -1)}${alphabet[alphabet.indexOf(sig.at(-1)!) ^ 1]}`;
    expect(Buffer.from(respelled.split('.')[2]!, 'base64url')).toEqual(Buffer.from(sig, 'base64url'));
    await expectRejected(signer.verify(respelled), 'malformed');
    await expectRejected(signer.verify(`${good}=`), 'malformed');
    await expectRejected(signer.verify(` ${good}`), 'malformed');
    await expect(signer.verify(good)).resolves.toBeDefined();
  });

  it('leaks nothing from the token in its error message', async () => {
    const { signer, clock } = setup();
    const tokens = [
      craft({ ...HEADER, kid: 'nope' }, claimsAt(clock.now(), { sub: 'secret-subject' }), keyA),
      craft(HEADER, claimsAt(clock.now(), { iss: 'secret-issuer' }), keyA),
      craft(HEADER, claimsAt(clock.now(), { sub: 'secret-subject' }), keyZ),
    ];
    for (const token of tokens) {
      const error = await rejection(signer.verify(token));
      expect(error.message.length).toBeLessThan(60);
      expect(error.message).not.toMatch(/secret|nope|eyJ/);
      expect(error.cause).toBeUndefined();
    }
  });
});

describe('token signer: key rotation (R16)', () => {
  it('a token from a key that is now verify-only still verifies; once the key is removed it does not', async () => {
    const before = setup({ keys: [keyA] });
    const old = (await before.signer.sign(USER)).token;
    const during = setup({ keys: [{ ...keyB }, { ...keyA, status: 'verify-only' }] });
    await expect(during.signer.verify(old)).resolves.toMatchObject({ sub: USER.sub });
    const fresh = (await during.signer.sign(USER)).token;
    expect(decode(fresh.split('.')[0]!).kid).toBe('key-b');
    expect(during.signer.jwks().keys.map((k) => k.kid)).toEqual(['key-b', 'key-a']);
    const after = setup({ keys: [keyB] });
    await expectRejected(after.signer.verify(old), 'unknown key');
    await expect(after.signer.verify(fresh)).resolves.toMatchObject({ sub: USER.sub });
  });

  it('publishes public JWKs only, usable by a standard JWKS verifier', async () => {
    const { signer, clock } = setup({ keys: [keyA, { ...keyB, status: 'verify-only' }] });
    const jwks = signer.jwks();
    for (const jwk of jwks.keys) {
      expect(Object.keys(jwk).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
      expect(jwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    }
    const text = JSON.stringify(jwks);
    expect(text).not.toContain(keyA.privateJwk.d!);
    expect(text).not.toContain(keyB.privateJwk.d!);
    jwks.keys[0]!.kid = 'mutated';
    expect(signer.jwks().keys[0]!.kid).toBe('key-a');
    const { token } = await signer.sign(USER);
    const { payload } = await jwtVerify(token, createLocalJWKSet(signer.jwks() as unknown as JSONWebKeySet), {
      issuer: ISSUER,
      audience: AUDIENCE,
      currentDate: new Date(clock.now()),
    });
    expect(payload.sub).toBe(USER.sub);
  });

  it('validates options at construction', () => {
    const clock = createManualClock();
    const base = { keys: [keyA], issuer: ISSUER, audience: AUDIENCE, clock };
    expect(() => createTokenSigner({ ...base, keys: [] })).toThrow(/at least one key/);
    expect(() => createTokenSigner({ ...base, keys: [{ ...keyA, status: 'verify-only' }] })).toThrow(
      /found 0/,
    );
    expect(() => createTokenSigner({ ...base, issuer: '' })).toThrow(/issuer/);
    expect(() => createTokenSigner({ ...base, ttlSec: 0 })).toThrow(/ttlSec/);
    expect(() => createTokenSigner({ ...base, ttlSec: 1.5 })).toThrow(/ttlSec/);
    expect(() => createTokenSigner({ ...base, cacheSize: -1 })).toThrow(/cacheSize/);
  });
});

describe('token signer: verified-token cache', () => {
  it('a cache hit skips the signature check', async () => {
    const { signer } = setup();
    const { token } = await signer.sign(USER);
    const spy = vi.spyOn(compactJws, 'verify');
    const first = await signer.verify(token);
    expect(spy).toHaveBeenCalledTimes(1);
    first.sub = 'tampered';
    expect(await signer.verify(token)).toMatchObject({ sub: USER.sub });
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it('honours exp on every hit (with the same leeway as a cold verify)', async () => {
    const { signer, clock } = setup();
    const { token } = await signer.sign(USER);
    await signer.verify(token);
    clock.advance((900 + 59) * 1000);
    await expect(signer.verify(token)).resolves.toBeDefined();
    clock.advance(1000);
    await expectRejected(signer.verify(token), 'expired');
    clock.set(clock.now() - 120_000); // and a dropped entry stays dropped: it is verified cold again
    await expect(signer.verify(token)).resolves.toBeDefined();
  });

  it('with no leeway a cached token stops at exactly exp', async () => {
    const { signer, clock } = setup({ leewaySec: 0 });
    const { token } = await signer.sign(USER);
    await signer.verify(token);
    clock.advance(899_999);
    await expect(signer.verify(token)).resolves.toBeDefined();
    clock.advance(1);
    await expectRejected(signer.verify(token), 'expired');
  });

  it('honours nbf on a hit when the clock moves back', async () => {
    const { signer, clock } = setup();
    const { token } = await signer.sign(USER);
    await signer.verify(token);
    clock.advance(-61_000);
    await expectRejected(signer.verify(token), 'nbf check failed');
  });

  it('a hit and a cold verify agree at every instant', async () => {
    const cached = setup();
    const { token } = await cached.signer.sign(USER);
    await cached.signer.verify(token);
    const cold = createTokenSigner({
      keys: [keyA],
      issuer: ISSUER,
      audience: AUDIENCE,
      clock: cached.clock,
      cacheSize: 0,
    });
    const start = cached.clock.now();
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: -200_000, max: 1_100_000 }), async (offsetMs) => {
        cached.clock.set(start + offsetMs);
        const [a, b] = await Promise.all([
          cached.signer.verify(token).then(
            () => 'ok',
            (e: AppError) => e.message,
          ),
          cold.verify(token).then(
            () => 'ok',
            (e: AppError) => e.message,
          ),
        ]);
        expect(a).toBe(b);
        // Re-warm the entry a rejection dropped, so later runs test hits again.
        cached.clock.set(start);
        await cached.signer.verify(token);
      }),
      { numRuns: 300 },
    );
  });

  it('stays bounded: evicted tokens verify again (cold), concurrent requests check once', async () => {
    const { signer } = setup({ cacheSize: 2 });
    const tokens = await Promise.all([1, 2, 3].map((n) => signer.sign({ ...USER, sub: `u${n}` })));
    const spy = vi.spyOn(compactJws, 'verify');
    // A cold verify is synchronous, so the second of two concurrent requests already finds the entry.
    await Promise.all([signer.verify(tokens[0]!.token), signer.verify(tokens[0]!.token)]);
    expect(spy).toHaveBeenCalledTimes(1);
    await signer.verify(tokens[0]!.token); // hit: referenced, so it survives the next eviction
    await signer.verify(tokens[1]!.token);
    await signer.verify(tokens[2]!.token);
    expect(spy).toHaveBeenCalledTimes(3);
    await signer.verify(tokens[0]!.token);
    expect(spy).toHaveBeenCalledTimes(3);
    for (const { token } of tokens) await expect(signer.verify(token)).resolves.toBeDefined();
  });

  it('cacheSize 0 disables the cache', async () => {
    const { signer } = setup({ cacheSize: 0 });
    const { token } = await signer.sign(USER);
    const spy = vi.spyOn(compactJws, 'verify');
    await signer.verify(token);
    await signer.verify(token);
    expect(spy).toHaveBeenCalledTimes(2);
  });
});

describe('token signer: mutations of a valid token never verify (fast-check)', () => {
  const HEADER_MEMBERS = ['alg', 'typ', 'kid', 'jku', 'x5u', 'jwk', 'x5c', 'crit', 'b64', 'zip', 'cty'];
  const CLAIMS = ['iss', 'aud', 'sub', 'sid', 'app_id', 'iat', 'nbf', 'exp', 'jti', 'scope', 'admin'];
  const value = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom('ES256', 'HS256', 'none', 'at+jwt', 'key-a', 'key-b', ISSUER, AUDIENCE, 'user-2', true),
    fc.integer({ min: 1_700_000_000, max: 1_900_000_000 }),
  );
  const member = (names: string[]) => fc.oneof(fc.constantFrom(...names), fc.string({ maxLength: 6 }));
  const edit = (names: string[]) =>
    fc.oneof(
      fc.record({ kind: fc.constant('set' as const), name: member(names), value }),
      fc.record({ kind: fc.constant('delete' as const), name: fc.constantFrom(...names) }),
    );
  type Edit = { kind: 'set'; name: string; value: unknown } | { kind: 'delete'; name: string };
  const apply = (segment: string, edits: Edit[]): string => {
    const object = decode(segment);
    for (const e of edits) {
      if (e.kind === 'delete') delete object[e.name];
      else
        Object.defineProperty(object, e.name, {
          value: e.value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
    }
    return b64(object);
  };

  it('header and claim edits, with the original signature or re-signed by an attacker key', async () => {
    const { signer } = setup();
    const { token } = await signer.sign(USER);
    const [h, p, s] = token.split('.') as [string, string, string];
    await fc.assert(
      fc.asyncProperty(
        fc.array(edit(HEADER_MEMBERS), { maxLength: 3 }),
        fc.array(edit(CLAIMS), { maxLength: 3 }),
        fc.boolean(),
        async (headerEdits, claimEdits, resign) => {
          const input = `${apply(h, headerEdits)}.${apply(p, claimEdits)}`;
          const mutated = resign
            ? `${input}.${ecSign('sha256', Buffer.from(input), { key: createPrivateKey({ key: keyZ.privateJwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }).toString('base64url')}`
            : `${input}.${s}`;
          fc.pre(mutated !== token);
          await rejection(signer.verify(mutated));
        },
      ),
      { numRuns: 1000 },
    );
    await expect(signer.verify(token)).resolves.toBeDefined();
  });

  it('character edits anywhere in the token', async () => {
    const { signer } = setup();
    const { token } = await signer.sign(USER);
    const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ';
    await fc.assert(
      fc.asyncProperty(
        fc.nat(),
        fc.constantFrom('replace', 'insert', 'delete'),
        fc.constantFrom(...chars),
        async (seed, kind, char) => {
          const i = seed % token.length;
          const mutated =
            kind === 'replace'
              ? token.slice(0, i) + char + token.slice(i + 1)
              : kind === 'insert'
                ? token.slice(0, i) + char + token.slice(i)
                : token.slice(0, i) + token.slice(i + 1);
          fc.pre(mutated !== token);
          await rejection(signer.verify(mutated));
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('signing keys', () => {
  it('generates P-256 private JWKs with only the key members', async () => {
    const key = await generateSigningKey();
    expect(key.kid).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect(key.status).toBe('primary');
    expect(Object.keys(key.privateJwk).sort()).toEqual(['crv', 'd', 'kty', 'x', 'y']);
    expect(key.privateJwk).toMatchObject({ kty: 'EC', crv: 'P-256' });
    await expect(generateSigningKey('bad kid')).rejects.toThrow(/kid/);
  });

  it('parses a ring from a value or JSON text', () => {
    const json = [keyA, { ...keyB, status: 'verify-only' }];
    for (const input of [json, JSON.stringify(json)]) {
      const parsed = parseSigningKeys(input);
      expect(parsed).toEqual(json);
      expect(() =>
        createTokenSigner({ keys: parsed, issuer: ISSUER, audience: AUDIENCE, clock: createManualClock() }),
      ).not.toThrow();
    }
  });

  it('rejects bad rings with clear errors that never contain key material', async () => {
    const { privateKey: p384 } = await generateKeyPair('ES384', { extractable: true });
    const { privateKey: rsa } = await generateKeyPair('RS256', { extractable: true });
    const jwk = keyA.privateJwk;
    const ok = { kid: 'a', privateJwk: jwk, status: 'primary' };
    const cases: [unknown, RegExp][] = [
      [`[{"kid":"a","privateJwk":{"d":"${jwk.d}"}`, /not valid JSON/],
      [{}, /expected a JSON array/],
      [[], /at least one key/],
      [[42], /entry 0 must be an object/],
      [[{ ...ok, [jwk.d!]: 1 }], /entry 0 has unexpected fields/],
      [[{ ...ok, kid: 'a/b' }], /entry 0 has an invalid kid/],
      [[{ ...ok, status: 'retired' }], /kid "a" has an invalid status/],
      [[{ ...ok, privateJwk: null }], /must be an EC P-256 private JWK/],
      [[{ ...ok, privateJwk: await exportJWK(p384) }], /kty EC, crv P-256/],
      [[{ ...ok, privateJwk: await exportJWK(rsa) }], /kty EC, crv P-256/],
      [[{ ...ok, privateJwk: { ...jwk, d: undefined } }], /x, y, d of 32 bytes/],
      [[{ ...ok, privateJwk: { ...jwk, x: `${jwk.x}A` } }], /x, y, d of 32 bytes/],
      [
        [{ ...ok, privateJwk: { ...jwk, x: keyB.privateJwk.x, y: keyB.privateJwk.y } }],
        /do not match d|does not import/,
      ],
      [[{ ...ok, privateJwk: { ...jwk, d: 'A'.repeat(43) } }], /does not import/],
      [[{ ...ok, privateJwk: { ...jwk, d: '_'.repeat(43) } }], /does not import/],
      [[ok, { ...ok, kid: 'b', privateJwk: keyB.privateJwk }], /found 2/],
      [[{ ...ok, status: 'verify-only' }], /found 0/],
      [[ok, { ...ok, status: 'verify-only' }], /appears more than once/],
    ];
    for (const [input, message] of cases) {
      let error: unknown;
      try {
        parseSigningKeys(input);
      } catch (caught) {
        error = caught;
      }
      expect(error, String(message)).toBeInstanceOf(Error);
      const text = `${(error as Error).message} ${String((error as Error).cause ?? '')}`;
      expect(text).toMatch(message);
      for (const secret of [jwk.d!, jwk.x!, keyB.privateJwk.d!])
        expect(text).not.toContain(secret.slice(0, 12));
    }
  });
});
