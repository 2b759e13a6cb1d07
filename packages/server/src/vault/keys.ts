import { randomBytes } from 'node:crypto';

/**
 * One key-encryption key (KEK) of the vault's key ring. KEKs come from the secrets manager (R25),
 * never from code or the database. Rotation (R26): add as `decrypt-only` everywhere → promote to
 * `primary` → rewrap rows → mark the old one `retired` once no row names it.
 */
export interface VaultKeyConfig {
  kid: string;
  /** 32 bytes (AES-256 / HKDF-SHA256 input key). */
  key: Buffer;
  status: 'primary' | 'decrypt-only' | 'retired';
}

export const VAULT_KEY_BYTES = 32;
/** kids are written into every envelope and into AAD, so they stay short and unambiguous (no 0x00). */
export const KID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const STATUSES: ReadonlySet<string> = new Set(['primary', 'decrypt-only', 'retired']);

export function generateVaultKey(): Buffer {
  return randomBytes(VAULT_KEY_BYTES);
}

/**
 * Checks a key ring; throws an Error naming the offending entry by index/kid only — key material
 * never appears in a message, since config errors end up in logs.
 */
export function assertValidVaultKeys(keys: readonly VaultKeyConfig[]): void {
  if (!Array.isArray(keys) || keys.length === 0) throw new Error('vault keys: at least one key is required');
  const seenKids = new Set<string>();
  const seenMaterial = new Map<string, string>();
  let primaries = 0;
  keys.forEach((entry, index) => {
    const kid: unknown = entry?.kid;
    if (typeof kid !== 'string' || !KID_PATTERN.test(kid)) {
      throw new Error(`vault keys: entry ${index} has an invalid kid (expected [A-Za-z0-9_-]{1,64})`);
    }
    if (seenKids.has(kid)) throw new Error(`vault keys: kid "${kid}" appears more than once`);
    seenKids.add(kid);
    if (!STATUSES.has(entry.status)) {
      throw new Error(
        `vault keys: kid "${kid}" has an invalid status (expected primary, decrypt-only or retired)`,
      );
    }
    if (!Buffer.isBuffer(entry.key) || entry.key.length !== VAULT_KEY_BYTES) {
      throw new Error(`vault keys: kid "${kid}" must have a key of exactly ${VAULT_KEY_BYTES} bytes`);
    }
    // The same KEK under two kids is always a copy-paste mistake, and it would defeat retiring one of them.
    const material = entry.key.toString('hex');
    const other = seenMaterial.get(material);
    if (other !== undefined)
      throw new Error(`vault keys: kids "${other}" and "${kid}" share the same key material`);
    seenMaterial.set(material, kid);
    if (entry.status === 'primary') primaries++;
  });
  if (primaries !== 1) throw new Error(`vault keys: exactly one primary key is required, found ${primaries}`);
}

const STD_B64 = /^[A-Za-z0-9+/]+={0,2}$/;
const URL_B64 = /^[A-Za-z0-9_-]+={0,2}$/;

/** Strict base64 (std or url alphabet, not mixed): Buffer.from alone silently skips bad characters. */
function decodeKey(value: string): Buffer | null {
  const std = STD_B64.test(value);
  if (!std && !URL_B64.test(value)) return null;
  const bytes = Buffer.from(value, std ? 'base64' : 'base64url');
  // Round-trip to reject non-canonical trailing bits and misplaced padding.
  const canonical = bytes.toString(std ? 'base64' : 'base64url').replace(/=+$/, '');
  return canonical === value.replace(/=+$/, '') ? bytes : null;
}

/**
 * Parses the key ring as it comes from the secrets manager: `[{kid, key, status}]` with `key` in
 * base64 (standard or URL alphabet). Accepts the parsed JSON value or its text.
 */
export function parseVaultKeys(json: unknown): VaultKeyConfig[] {
  let value = json;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      // No cause and no position: V8's message quotes the input, which holds key material.
      throw new Error('vault keys: not valid JSON');
    }
  }
  if (!Array.isArray(value)) throw new Error('vault keys: expected a JSON array of {kid, key, status}');
  const keys = value.map((raw: unknown, index): VaultKeyConfig => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new Error(`vault keys: entry ${index} must be an object {kid, key, status}`);
    }
    const { kid, key, status } = raw as Record<string, unknown>;
    // Field names are not echoed: a mangled entry could carry key material in a name.
    if (Object.keys(raw).some((name) => name !== 'kid' && name !== 'key' && name !== 'status')) {
      throw new Error(`vault keys: entry ${index} has unexpected fields (only kid, key, status are allowed)`);
    }
    if (typeof kid !== 'string' || !KID_PATTERN.test(kid)) {
      throw new Error(`vault keys: entry ${index} has an invalid kid (expected [A-Za-z0-9_-]{1,64})`);
    }
    if (typeof status !== 'string' || !STATUSES.has(status)) {
      throw new Error(
        `vault keys: kid "${kid}" has an invalid status (expected primary, decrypt-only or retired)`,
      );
    }
    const bytes = typeof key === 'string' ? decodeKey(key) : null;
    if (bytes === null) throw new Error(`vault keys: kid "${kid}" has a key that is not valid base64`);
    if (bytes.length !== VAULT_KEY_BYTES) {
      throw new Error(`vault keys: kid "${kid}" must have a key of exactly ${VAULT_KEY_BYTES} bytes`);
    }
    return { kid, key: bytes, status: status as VaultKeyConfig['status'] };
  });
  assertValidVaultKeys(keys);
  return keys;
}
