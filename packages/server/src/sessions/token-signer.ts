import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import { createClockCache } from '../util/clock-cache.ts';
import { createRandomPool } from '../util/random-pool.ts';
import { compactJws } from './compact-jws.ts';
import { type ClaimsPolicy, checkClaims } from './jwt-claims.ts';
import {
  assertValidSigningKeys,
  publicPart,
  SIGNING_KID_PATTERN,
  type SigningKeyConfig,
} from './signing-keys.ts';
import type { AccessTokenClaims, SignedAccessToken, TokenSigner } from './token-signer.types.ts';

/**
 * Access tokens (R16): ES256 JWTs, header exactly `{alg:'ES256', typ:'at+jwt', kid}`, claims
 * iss, aud, sub, sid, app_id (optional), iat, nbf, exp, jti.
 *
 * Verification trusts nothing in the token for choosing a key: the header must hold exactly those
 * three members (so jku/x5u/jwk/x5c/crit can never be honoured), the kid is looked up in our own
 * ring, and only ES256 is ever tried. Every failure is AppError('unauthorized').
 *
 * Signing and verifying use node:crypto directly (compact-jws.ts), not jose: jose's WebCrypto path
 * costs two to three times the CPU per operation, on every login, refresh and cold verify. The claim
 * checks (jwt-claims.ts) follow jwtVerify's order and outcomes; tests verify our tokens with jose.
 *
 * Verified tokens are cached (bounded, CLOCK ≈ LRU, token string → claims) so repeat requests skip the
 * signature check. A hit re-applies exactly the time checks jose applies (nbf/exp with the same
 * leeway, against the injected clock), so the cache never accepts what a cold verify would refuse.
 * The key ring of one signer never changes, so a cached entry cannot outlive its key; session
 * revocation (sid checks, R21) is the caller's job either way.
 */
const ALG = 'ES256';
const TYP = 'at+jwt';
/** alg, typ, kid: nothing else. */
const HEADER_MEMBER_COUNT = 3;
/** Ours are ~360 chars; the cap bounds parsing work on hostile input. */
const MAX_TOKEN_CHARS = 4096;
const MAX_ID_CHARS = 256;
const MAX_TTL_SEC = 3600;
const MAX_LEEWAY_SEC = 60;

interface CacheEntry {
  claims: AccessTokenClaims;
  nbf: number;
}

function reject(reason: string): never {
  throw new AppError('unauthorized', { message: `Access token rejected: ${reason}.` });
}

/** The payload as an object, or null when it is not a JSON object. */
function parsePayload(segment: string): Record<string, unknown> | null {
  try {
    const payload: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof payload === 'object' && payload !== null && !Array.isArray(payload)
      ? (payload as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** Buffer.from skips invalid characters and ignores spare bits; the round trip makes each token have one spelling. */
function isCanonicalB64url(segment: string): boolean {
  return segment.length > 0 && Buffer.from(segment, 'base64url').toString('base64url') === segment;
}

/**
 * The kid of a header that is exactly `{alg:'ES256', typ:'at+jwt', kid}`, else why not. Any other
 * member (jku, x5u, jwk, x5c, crit, b64, zip…) is refused rather than ignored.
 */
function checkHeader(segment: string): { kid: string } | { reason: string } {
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    return { reason: 'malformed header' };
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    return { reason: 'malformed header' };
  const { alg, typ, kid } = header as Record<string, unknown>;
  if (alg !== ALG) return { reason: 'algorithm not allowed' };
  if (typ !== TYP) return { reason: 'typ not allowed' };
  if (typeof kid !== 'string' || !SIGNING_KID_PATTERN.test(kid)) return { reason: 'kid invalid' };
  if (Object.keys(header).length !== HEADER_MEMBER_COUNT) return { reason: 'header member not allowed' };
  return { kid };
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_CHARS;
}

function integerOption(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  const result = value ?? fallback;
  if (!Number.isInteger(result) || result < min || result > max) {
    throw new Error(`token signer: ${name} must be an integer in [${min}, ${max}]`);
  }
  return result;
}

export function createTokenSigner(options: {
  keys: SigningKeyConfig[];
  issuer: string;
  audience: string;
  ttlSec?: number;
  clock: Clock;
  leewaySec?: number;
  cacheSize?: number;
}): TokenSigner {
  assertValidSigningKeys(options.keys);
  const { issuer, audience, clock } = options;
  if (!isId(issuer) || !isId(audience))
    throw new Error('token signer: issuer and audience must be non-empty strings');
  const ttlSec = integerOption('ttlSec', options.ttlSec, 900, 1, MAX_TTL_SEC);
  const leewaySec = integerOption('leewaySec', options.leewaySec, 60, 0, MAX_LEEWAY_SEC);
  const cacheSize = integerOption('cacheSize', options.cacheSize, 10_000, 0, 1_000_000);

  const primary = options.keys.find((key) => key.status === 'primary')!;
  const primaryKid = primary.kid;
  const primaryJwk: JsonWebKey = { ...primary.privateJwk };
  const publicJwks = options.keys.map((key) => ({
    ...publicPart(key.privateJwk),
    kid: key.kid,
    alg: ALG,
    use: 'sig',
  }));

  // Imported once, synchronously: KeyObjects are what node:crypto signs and verifies with.
  const signingKey: KeyObject = createPrivateKey({ key: primaryJwk, format: 'jwk' });
  const verifyingKeys = new Map<string, KeyObject>(
    publicJwks.map(({ kid, ...jwk }) => [kid, createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' })]),
  );
  const policy: ClaimsPolicy = {
    issuer,
    audience,
    leewaySec,
    required: ['sub', 'sid', 'iat', 'nbf', 'exp', 'jti', 'aud', 'iss'],
  };

  const cache = createClockCache<CacheEntry>(cacheSize);
  const random = createRandomPool();

  function verifyCold(token: string, nowMs: number): CacheEntry {
    const segments = token.split('.');
    if (segments.length !== 3 || !segments.every(isCanonicalB64url)) reject('malformed');
    const header = checkHeader(segments[0]!);
    if ('reason' in header) reject(header.reason);
    const key = verifyingKeys.get(header.kid);
    if (key === undefined) reject('unknown key');
    const signingInput = `${segments[0]}.${segments[1]}`;
    if (!compactJws.verify(signingInput, segments[2]!, key)) reject('bad signature');
    const payload = parsePayload(segments[1]!);
    if (payload === null) reject('malformed');
    const check = checkClaims(payload, policy, Math.floor(nowMs / 1000));
    if (!check.ok) reject(check.reason);
    const { sub, sid, app_id: appId, iat, nbf, exp } = payload;
    if (!isId(sub) || !isId(sid)) reject('sub/sid check failed');
    if (appId !== undefined && !isId(appId)) reject('app_id check failed');
    // checkClaims saw numbers; ours are always whole seconds.
    if (!Number.isSafeInteger(iat) || !Number.isSafeInteger(nbf) || !Number.isSafeInteger(exp)) {
      reject('time claims check failed');
    }
    return {
      claims: { sub, sid, appId: appId ?? null, iat: iat as number, exp: exp as number },
      nbf: nbf as number,
    };
  }

  return {
    async sign({ sub, sid, appId }): Promise<SignedAccessToken> {
      if (!isId(sub) || !isId(sid) || (appId !== null && !isId(appId))) {
        throw new TypeError(
          `token signer: sub, sid and appId must be non-empty strings of ≤ ${MAX_ID_CHARS} chars`,
        );
      }
      const iat = Math.floor(clock.now() / 1000);
      // Claim order as jose's SignJWT wrote it, so tokens look the same as before the switch.
      const token = compactJws.sign(
        { alg: ALG, typ: TYP, kid: primaryKid },
        {
          sid,
          ...(appId === null ? {} : { app_id: appId }),
          iss: issuer,
          aud: audience,
          sub,
          iat,
          nbf: iat,
          exp: iat + ttlSec,
          jti: random.bytes(16).toString('base64url'),
        },
        signingKey,
      );
      return { token, expiresIn: ttlSec };
    },

    async verify(token): Promise<AccessTokenClaims> {
      if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS) reject('malformed');
      const nowMs = clock.now();
      const hit = cache.get(token);
      if (hit !== undefined) {
        const nowSec = Math.floor(nowMs / 1000);
        // The same comparisons jose makes, so a hit and a cold verify agree at every instant.
        if (hit.nbf <= nowSec + leewaySec && hit.claims.exp > nowSec - leewaySec) return { ...hit.claims };
        // Out of its window: drop it and let the cold path produce the precise rejection.
        cache.delete(token);
      }
      const entry = verifyCold(token, nowMs);
      cache.set(token, entry);
      return { ...entry.claims };
    },

    jwks() {
      return { keys: publicJwks.map((jwk) => ({ ...jwk })) };
    },
  };
}
