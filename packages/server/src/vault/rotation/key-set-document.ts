import { randomBytes } from 'node:crypto';
import type { Clock } from '../../clock.ts';
import { parseKeySet } from '../../config/keys.ts';
import { KID_PATTERN, type VaultKeyConfig } from '../keys.ts';

/**
 * Pure operations on the key set JSON (WXAUTH_KEYS / WXAUTH_KEYS_FILE / dev keys.json) for the three
 * rotation steps of R26. They change only the `vault` list and keep every other field as it was.
 *
 * Order convention: `vault` is kept oldest first. `add` appends and nothing reorders, so a
 * decrypt-only key after the primary is one waiting to be promoted and one before it is one waiting
 * to be rewrapped and retired (the status command relies on this).
 */
export type VaultKeyState = VaultKeyConfig['status'];

/** A vault entry as it appears in the JSON: the key stays in its original base64 text. */
export interface VaultKeyEntry {
  kid: string;
  key: string;
  status: VaultKeyState;
}

export interface KeySetDocument {
  vault: VaultKeyEntry[];
  [field: string]: unknown;
}

/** A refused rotation step. Messages name kids and counts, never key material. */
export class KeyRotationError extends Error {
  override name = 'KeyRotationError';
}

/** Validates a whole key set (throws ConfigError, as at server start) and returns a private copy. */
export function parseKeySetDocument(json: unknown): KeySetDocument {
  parseKeySet(json);
  // parseKeySet accepted it, so `vault` is an array of exactly {kid, key, status}.
  return structuredClone(json) as KeySetDocument;
}

/** A kid that says when the key was made, e.g. `v20260315-9f2c` (kids are not secret). */
export function newVaultKid(clock: Clock): string {
  const day = new Date(clock.now()).toISOString().slice(0, 10).replaceAll('-', '');
  return `v${day}-${randomBytes(2).toString('hex')}`;
}

/** The day encoded by newVaultKid, or null for a kid in another format. */
export function vaultKidDate(kid: string): number | null {
  const m = /^v(\d{4})(\d{2})(\d{2})-/.exec(kid);
  if (!m) return null;
  const at = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Number.isNaN(at) ? null : at;
}

function find(doc: KeySetDocument, kid: string): VaultKeyEntry {
  const entry = doc.vault.find((k) => k.kid === kid);
  if (!entry) throw new KeyRotationError(`no vault key with kid "${kid}" in this key set`);
  return entry;
}

function withVault(doc: KeySetDocument, vault: VaultKeyEntry[]): KeySetDocument {
  const next = { ...structuredClone(doc), vault };
  parseKeySet(next);
  return next;
}

/**
 * Step 1: a new key as `decrypt-only`. It must reach every instance before anything is sealed with
 * it; otherwise an instance that lacks it could not open rows another instance already re-sealed.
 */
export function addVaultKey(doc: KeySetDocument, input: { kid: string; key: Buffer }): KeySetDocument {
  if (!KID_PATTERN.test(input.kid)) {
    throw new KeyRotationError('the kid must match [A-Za-z0-9_-]{1,64}');
  }
  if (doc.vault.some((k) => k.kid === input.kid)) {
    // Reusing a kid, even a retired one, would make old envelopes ambiguous.
    throw new KeyRotationError(`kid "${input.kid}" is already in this key set; kids are never reused`);
  }
  const entry: VaultKeyEntry = { kid: input.kid, key: input.key.toString('base64'), status: 'decrypt-only' };
  return withVault(doc, [...doc.vault.map((k) => ({ ...k })), entry]);
}

/** Step 2: `kid` becomes the primary; the previous primary stays readable as `decrypt-only`. */
export function promoteVaultKey(
  doc: KeySetDocument,
  kid: string,
): { doc: KeySetDocument; previousPrimary: string; changed: boolean } {
  const entry = find(doc, kid);
  const previousPrimary = doc.vault.find((k) => k.status === 'primary')!.kid;
  if (entry.status === 'primary') return { doc: structuredClone(doc), previousPrimary, changed: false };
  if (entry.status === 'retired') {
    throw new KeyRotationError(`"${kid}" is retired and cannot become primary again; add a new key instead`);
  }
  const vault = doc.vault.map((k): VaultKeyEntry => {
    if (k.kid === kid) return { ...k, status: 'primary' };
    if (k.status === 'primary') return { ...k, status: 'decrypt-only' };
    return { ...k };
  });
  return { doc: withVault(doc, vault), previousPrimary, changed: true };
}

/** The checks of retireVaultKey that need no database: false when the key is already retired. */
export function assertRetirable(doc: KeySetDocument, kid: string): boolean {
  const entry = find(doc, kid);
  if (entry.status === 'primary') {
    throw new KeyRotationError(`"${kid}" is the primary key; promote another key and rewrap first`);
  }
  return entry.status !== 'retired';
}

/**
 * Step 3, last: `retired` (no longer opens anything) — only when no stored row names the kid, since
 * such a row would become unreadable (R26). The entry stays in the file: restoring a database backup
 * taken before the rewrap needs it (mark it decrypt-only again for that).
 */
export function retireVaultKey(
  doc: KeySetDocument,
  kid: string,
  rowsUsingKid: number,
): { doc: KeySetDocument; changed: boolean } {
  if (!assertRetirable(doc, kid)) return { doc: structuredClone(doc), changed: false };
  if (rowsUsingKid > 0) {
    throw new KeyRotationError(
      `${rowsUsingKid} stored row(s) are still sealed with "${kid}"; run \`keys rewrap\` until none are left`,
    );
  }
  const vault = doc.vault.map((k): VaultKeyEntry => (k.kid === kid ? { ...k, status: 'retired' } : { ...k }));
  return { doc: withVault(doc, vault), changed: true };
}
