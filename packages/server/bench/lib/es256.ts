import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';

/**
 * ES256 access tokens with nothing but node:crypto: the like-for-like floor for wxauth's tokens (R16
 * requires ES256/EdDSA; performance.md's HS256 figures are for a symmetric key, which R16 rules out).
 * The header is the one wxauth uses: {alg:'ES256', typ:'at+jwt', kid}.
 */
export const ISSUER = 'https://bench.wxauth.local';
export const AUDIENCE = 'bench-api';

export interface AccessClaims {
  iss: string;
  aud: string;
  sub: string;
  sid: string;
  app_id?: string;
  iat: number;
  nbf: number;
  exp: number;
  jti: string;
}

export function generateEs256Jwk(): JsonWebKey {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
}

export function publicJwk(privateJwk: JsonWebKey): JsonWebKey {
  return createPublicKey({ key: privateJwk, format: 'jwk' }).export({ format: 'jwk' });
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

export function createEs256Signer(privateJwk: JsonWebKey, kid: string) {
  const key: KeyObject = createPrivateKey({ key: privateJwk, format: 'jwk' });
  const header = b64url({ alg: 'ES256', typ: 'at+jwt', kid });
  return (claims: { sub: string; sid: string; appId?: string; ttlSec?: number }): string => {
    const iat = Math.floor(Date.now() / 1000);
    const payload: AccessClaims = {
      iss: ISSUER,
      aud: AUDIENCE,
      sub: claims.sub,
      sid: claims.sid,
      ...(claims.appId ? { app_id: claims.appId } : {}),
      iat,
      nbf: iat,
      exp: iat + (claims.ttlSec ?? 900),
      jti: randomBytes(16).toString('base64url'),
    };
    const input = `${header}.${b64url(payload)}`;
    const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    return `${input}.${signature.toString('base64url')}`;
  };
}

/**
 * The hand-rolled verifier: the header must be byte-for-byte the one we issue (so no alg/jku/crit
 * games are possible), then the signature, then iss/aud/nbf/exp. Returns null on any failure.
 */
export function createEs256Verifier(publicKeyJwk: JsonWebKey, kid: string) {
  const key: KeyObject = createPublicKey({ key: publicKeyJwk, format: 'jwk' });
  const header = b64url({ alg: 'ES256', typ: 'at+jwt', kid });
  return (token: string): AccessClaims | null => {
    const first = token.indexOf('.');
    const second = token.indexOf('.', first + 1);
    if (first < 0 || second < 0 || token.indexOf('.', second + 1) >= 0) return null;
    if (token.slice(0, first) !== header) return null;
    const signature = Buffer.from(token.slice(second + 1), 'base64url');
    if (signature.length !== 64) return null;
    const ok = verify(
      'sha256',
      Buffer.from(token.slice(0, second)),
      { key, dsaEncoding: 'ieee-p1363' },
      signature,
    );
    if (!ok) return null;
    let claims: AccessClaims;
    try {
      claims = JSON.parse(Buffer.from(token.slice(first + 1, second), 'base64url').toString('utf8'));
    } catch {
      return null;
    }
    const now = Math.floor(Date.now() / 1000);
    if (claims.iss !== ISSUER || claims.aud !== AUDIENCE) return null;
    if (!(claims.nbf <= now + 60 && claims.exp > now - 60)) return null;
    return claims;
  };
}
