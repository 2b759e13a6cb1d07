import { createECDH, createPrivateKey, type JsonWebKey, randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';

/**
 * One access-token signing key. `primary` signs and verifies; `verify-only` only verifies, which is
 * how rotation keeps tokens from the previous key valid for their lifetime (R16: overlap ≥ token TTL).
 */
export interface SigningKeyConfig {
  kid: string;
  /** EC P-256 private JWK: kty, crv, x, y, d. */
  privateJwk: JsonWebKey;
  status: 'primary' | 'verify-only';
}

/** kids travel in token headers and JWKS; a plain token keeps path and header tricks out of lookups. */
export const SIGNING_KID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** A P-256 coordinate or scalar: 32 bytes, unpadded base64url. */
const COORDINATE = /^[A-Za-z0-9_-]{43}$/;

export async function generateSigningKey(
  kid: string = randomBytes(9).toString('base64url'),
): Promise<SigningKeyConfig> {
  if (!SIGNING_KID_PATTERN.test(kid)) throw new Error('signing keys: kid must match [A-Za-z0-9_-]{1,64}');
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const { kty, crv, x, y, d } = await exportJWK(privateKey);
  // Only the key members: exportJWK also adds key_ops/ext, which would constrain later imports.
  return { kid, privateJwk: { kty, crv, x, y, d }, status: 'primary' };
}

/** The public JWK members of a validated private key. */
export function publicPart(jwk: JsonWebKey): { kty: 'EC'; crv: 'P-256'; x: string; y: string } {
  return { kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! };
}

function assertPrivateP256(jwk: unknown, kid: string): void {
  const problem = `signing keys: kid "${kid}" must be an EC P-256 private JWK`;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw new Error(problem);
  const { kty, crv, x, y, d } = jwk as Record<string, unknown>;
  if (kty !== 'EC' || crv !== 'P-256') throw new Error(`${problem} (kty EC, crv P-256)`);
  for (const member of [x, y, d]) {
    if (typeof member !== 'string' || !COORDINATE.test(member))
      throw new Error(`${problem} (x, y, d of 32 bytes)`);
  }
  let publicPoint: Buffer;
  try {
    // Derives the public point from d: proves d is a valid scalar and x, y belong to it. (Importing the
    // JWK is not enough: OpenSSL keeps a supplied x, y without checking them against d.)
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(Buffer.from(d as string, 'base64url'));
    publicPoint = ecdh.getPublicKey();
    createPrivateKey({ key: { kty: 'EC', crv: 'P-256', x, y, d } as JsonWebKey, format: 'jwk' });
  } catch {
    // The cause is dropped on purpose: crypto errors may quote the input.
    throw new Error(`${problem} (the key does not import)`);
  }
  // Uncompressed point: 0x04 ‖ X (32 bytes) ‖ Y (32 bytes).
  if (
    publicPoint.subarray(1, 33).toString('base64url') !== x ||
    publicPoint.subarray(33).toString('base64url') !== y
  ) {
    throw new Error(`${problem} (x, y do not match d)`);
  }
}

/** Validates a key ring; errors name entries by index or kid, never by key material. */
export function assertValidSigningKeys(keys: readonly SigningKeyConfig[]): void {
  if (!Array.isArray(keys) || keys.length === 0)
    throw new Error('signing keys: at least one key is required');
  const kids = new Set<string>();
  let primaries = 0;
  keys.forEach((entry, index) => {
    if (typeof entry !== 'object' || entry === null)
      throw new Error(`signing keys: entry ${index} must be an object`);
    const { kid, status, privateJwk } = entry;
    if (typeof kid !== 'string' || !SIGNING_KID_PATTERN.test(kid)) {
      throw new Error(`signing keys: entry ${index} has an invalid kid (expected [A-Za-z0-9_-]{1,64})`);
    }
    if (kids.has(kid)) throw new Error(`signing keys: kid "${kid}" appears more than once`);
    kids.add(kid);
    if (status !== 'primary' && status !== 'verify-only') {
      throw new Error(`signing keys: kid "${kid}" has an invalid status (expected primary or verify-only)`);
    }
    if (status === 'primary') primaries++;
    assertPrivateP256(privateJwk, kid);
  });
  if (primaries !== 1)
    throw new Error(`signing keys: exactly one primary key is required, found ${primaries}`);
}

/**
 * Parses the signing key ring as it comes from the secrets manager: `[{kid, privateJwk, status}]`.
 * Accepts the parsed JSON value or its text.
 */
export function parseSigningKeys(json: unknown): SigningKeyConfig[] {
  let value = json;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      // No cause: V8's message quotes the input, which holds private keys.
      throw new Error('signing keys: not valid JSON');
    }
  }
  if (!Array.isArray(value))
    throw new Error('signing keys: expected a JSON array of {kid, privateJwk, status}');
  const keys = value.map((raw: unknown, index): SigningKeyConfig => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new Error(`signing keys: entry ${index} must be an object {kid, privateJwk, status}`);
    }
    // Field names are not echoed: a mangled entry could carry key material in a name.
    if (Object.keys(raw).some((name) => name !== 'kid' && name !== 'privateJwk' && name !== 'status')) {
      throw new Error(
        `signing keys: entry ${index} has unexpected fields (only kid, privateJwk, status are allowed)`,
      );
    }
    const { kid, privateJwk, status } = raw as Record<string, unknown>;
    if (typeof kid !== 'string' || !SIGNING_KID_PATTERN.test(kid)) {
      throw new Error(`signing keys: entry ${index} has an invalid kid (expected [A-Za-z0-9_-]{1,64})`);
    }
    if (typeof privateJwk !== 'object' || privateJwk === null) {
      throw new Error(`signing keys: kid "${kid}" must be an EC P-256 private JWK`);
    }
    // Only the key members are kept (members are checked below, in assertValidSigningKeys).
    const { kty, crv, x, y, d } = privateJwk as Record<string, string>;
    return { kid, privateJwk: { kty, crv, x, y, d }, status: status as SigningKeyConfig['status'] };
  });
  assertValidSigningKeys(keys);
  return keys;
}
