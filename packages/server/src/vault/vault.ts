import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { createClockCache } from '../util/clock-cache.ts';
import { createRandomPool } from '../util/random-pool.ts';
import { assertValidVaultKeys, KID_PATTERN, type VaultKeyConfig } from './keys.ts';
import type { SealContext, Vault, VaultKeyStatus } from './vault.types.ts';

export type { VaultKeyConfig } from './keys.ts';

/**
 * Envelope encryption of secrets at rest (R25–R27).
 *
 * - Per-record data key = HKDF-SHA256(KEK, salt = empty, info = UTF-8(column) ‖ 0x00 ‖ UTF-8(rowId), 32 bytes).
 *   One KEK therefore never encrypts directly, so GCM's 2^32 random-nonce bound applies per row, not per KEK.
 * - AES-256-GCM, fresh random 96-bit nonce per seal, 128-bit tag.
 * - AAD = UTF-8(table ‖ 0x00 ‖ column ‖ 0x00 ‖ rowId ‖ 0x00 ‖ kid ‖ 0x00 ‖ v), so an envelope moved to
 *   another table, column or row, or relabelled with another kid or version, fails its tag.
 *   Context fields may not contain 0x00, which keeps both encodings injective.
 * - Envelope = compact JSON `{"v":1,"kid":"…","alg":"A256GCM-HKDF","nonce":"b64url","ct":"b64url(ciphertext‖tag)"}`.
 *
 * `open` fails closed (R27): any defect returns null and emits one VaultEvent, never a throw.
 */

/** `context`: the SealContext itself is unusable. A wrong-but-valid context shows up as `bad_tag`. */
export type VaultEvent = {
  type: 'vault.open_failed';
  reason: 'malformed' | 'unknown_kid' | 'retired_kid' | 'bad_tag' | 'context';
  kid: string | null;
};

export type VaultImpl = Vault & {
  /** Seals done by this process under `kid` (R26 keeps each KEK far below 2^32 encryptions). */
  sealCount(kid: string): number;
};

const VERSION = 1;
const ALG = 'A256GCM-HKDF';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Bounds the work a hostile or corrupt blob can cause before it is rejected. */
const MAX_ENVELOPE_CHARS = 64 * 1024;
/** Keeps every sealed envelope under MAX_ENVELOPE_CHARS, so whatever seals also opens. */
const MAX_PLAINTEXT_BYTES = 32 * 1024;
/** node's HKDF rejects info longer than 1024 bytes. */
const MAX_INFO_BYTES = 1024;
const DERIVED_KEY_CACHE_SIZE = 10_000;
const EMPTY_SALT = Buffer.alloc(0);
const ENVELOPE_FIELDS = ['alg', 'ct', 'kid', 'nonce', 'v'];
/** With the `u` flag a surrogate class matches only unpaired halves, which UTF-8 cannot carry. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

interface Envelope {
  kid: string;
  nonce: Buffer;
  ct: Buffer;
}

interface RingEntry {
  /** null for retired keys: their material is not kept in memory at all. */
  key: KeyObject | null;
}

function decodeB64url(value: unknown): Buffer | null {
  if (typeof value !== 'string') return null;
  const bytes = Buffer.from(value, 'base64url');
  // Buffer.from skips invalid characters; the round trip rejects them and non-canonical forms.
  return bytes.toString('base64url') === value ? bytes : null;
}

function parseEnvelope(text: unknown): Envelope | null {
  if (typeof text !== 'string' || text.length > MAX_ENVELOPE_CHARS) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const fields = Object.keys(value).sort();
  if (fields.length !== ENVELOPE_FIELDS.length || fields.some((name, i) => name !== ENVELOPE_FIELDS[i]))
    return null;
  const { v, kid, alg, nonce, ct } = value as Record<string, unknown>;
  if (v !== VERSION || alg !== ALG || typeof kid !== 'string' || !KID_PATTERN.test(kid)) return null;
  const nonceBytes = decodeB64url(nonce);
  const ctBytes = decodeB64url(ct);
  if (
    nonceBytes === null ||
    nonceBytes.length !== NONCE_BYTES ||
    ctBytes === null ||
    ctBytes.length < TAG_BYTES
  ) {
    return null;
  }
  return { kid, nonce: nonceBytes, ct: ctBytes };
}

/** The HKDF info and AAD for a context, or null when the context cannot be encoded unambiguously. */
function encodeContext(context: SealContext): { info: string; aadPrefix: string } | null {
  if (typeof context !== 'object' || context === null) return null;
  const { table, column, rowId } = context;
  for (const part of [table, column, rowId]) {
    if (typeof part !== 'string' || part.length === 0 || part.includes('\0') || LONE_SURROGATE.test(part))
      return null;
  }
  const info = `${column}\0${rowId}`;
  if (Buffer.byteLength(info) > MAX_INFO_BYTES) return null;
  return { info, aadPrefix: `${table}\0${column}\0${rowId}\0` };
}

export function createVault(options: {
  keys: VaultKeyConfig[];
  onEvent?: (event: VaultEvent) => void;
}): VaultImpl {
  assertValidVaultKeys(options.keys);
  const ring = new Map<string, RingEntry>();
  let primary = '';
  for (const { kid, key, status } of options.keys) {
    // createSecretKey copies the bytes, so a caller reusing or zeroing its buffer cannot change our keys;
    // KeyObjects also make hkdfSync/createCipheriv several times cheaper than raw Buffers.
    ring.set(kid, { key: status === 'retired' ? null : createSecretKey(key) });
    if (status === 'primary') primary = kid;
  }
  const statuses: VaultKeyStatus[] = options.keys.map(({ kid, status }) => ({ kid, status }));
  const sealCounts = new Map<string, number>();
  const onEvent = options.onEvent;

  // Only open() fills the cache. A login seals for a row whose key is then used once, and keeping that
  // KeyObject (a JS object with a native handle) for thousands of later logins moved every one of them
  // into the old generation: under a steady login load the scavenger copied it, then mark-compacts
  // collected it. A row that is opened (decrypt, the session-key job) is the one read again.
  const derivedKeys = createClockCache<KeyObject>(DERIVED_KEY_CACHE_SIZE);
  function dataKey(kid: string, kek: KeyObject, info: string, keep: boolean): KeyObject {
    const cacheKey = `${kid}\0${info}`;
    let derived = derivedKeys.get(cacheKey);
    if (derived === undefined) {
      derived = createSecretKey(
        Buffer.from(hkdfSync('sha256', kek, EMPTY_SALT, Buffer.from(info, 'utf8'), 32)),
      );
      if (keep) derivedKeys.set(cacheKey, derived);
    }
    return derived;
  }

  // Nonces come from the CSPRNG in blocks: one randomFillSync per 512 seals instead of one call per seal.
  const nonces = createRandomPool(NONCE_BYTES * 512);
  const nextNonce = (): Buffer => nonces.bytes(NONCE_BYTES);

  function fail(reason: VaultEvent['reason'], kid: string | null): null {
    try {
      onEvent?.({ type: 'vault.open_failed', reason, kid });
    } catch {
      // A broken event sink must not turn a fail-closed null into a thrown error on the request path.
    }
    return null;
  }

  return {
    seal(plaintext, context) {
      if (typeof plaintext !== 'string' || LONE_SURROGATE.test(plaintext)) {
        // UTF-8 would replace a lone surrogate with U+FFFD and open() would return a different string.
        throw new TypeError('vault.seal: plaintext must be a well-formed Unicode string');
      }
      if (Buffer.byteLength(plaintext) > MAX_PLAINTEXT_BYTES) {
        throw new RangeError(`vault.seal: plaintext is larger than ${MAX_PLAINTEXT_BYTES} bytes`);
      }
      const encoded = encodeContext(context);
      if (encoded === null) {
        throw new TypeError(
          'vault.seal: table, column and rowId must be non-empty well-formed strings without NUL (column+rowId ≤ 1023 bytes)',
        );
      }
      const kek = ring.get(primary)!.key!;
      const nonce = nextNonce();
      const cipher = createCipheriv('aes-256-gcm', dataKey(primary, kek, encoded.info, false), nonce, {
        authTagLength: TAG_BYTES,
      });
      cipher.setAAD(Buffer.from(`${encoded.aadPrefix}${primary}\0${VERSION}`, 'utf8'));
      const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      sealCounts.set(primary, (sealCounts.get(primary) ?? 0) + 1);
      return JSON.stringify({
        v: VERSION,
        kid: primary,
        alg: ALG,
        nonce: nonce.toString('base64url'),
        ct: ct.toString('base64url'),
      });
    },

    open(envelope, context) {
      const parsed = parseEnvelope(envelope);
      if (parsed === null) return fail('malformed', null);
      const { kid, nonce, ct } = parsed;
      const encoded = encodeContext(context);
      if (encoded === null) return fail('context', kid);
      const entry = ring.get(kid);
      if (entry === undefined) return fail('unknown_kid', kid);
      if (entry.key === null) return fail('retired_kid', kid);
      try {
        const decipher = createDecipheriv('aes-256-gcm', dataKey(kid, entry.key, encoded.info, true), nonce, {
          authTagLength: TAG_BYTES,
        });
        decipher.setAAD(Buffer.from(`${encoded.aadPrefix}${kid}\0${VERSION}`, 'utf8'));
        decipher.setAuthTag(ct.subarray(ct.length - TAG_BYTES));
        const body = ct.subarray(0, ct.length - TAG_BYTES);
        // final() throws on a bad tag; nothing from update() is used before it has passed.
        const plain = Buffer.concat([decipher.update(body), decipher.final()]);
        const text = plain.toString('utf8');
        // Strings cannot be wiped, but the buffer copy can (R25: plaintext only for the duration of use).
        plain.fill(0);
        return text;
      } catch {
        // A wrong table/column/rowId/kid changes the AAD or the derived key, so it also lands here.
        return fail('bad_tag', kid);
      }
    },

    kidOf(envelope) {
      return parseEnvelope(envelope)?.kid ?? null;
    },

    primaryKid() {
      return primary;
    },

    keys() {
      return statuses.map((status) => ({ ...status }));
    },

    sealCount(kid) {
      return sealCounts.get(kid) ?? 0;
    },
  };
}
