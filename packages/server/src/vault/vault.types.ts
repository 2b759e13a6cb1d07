/**
 * What a sealed value is bound to. The per-record key is derived from `purpose` and `rowId`, and
 * table/column/rowId/kid are authenticated as AAD, so a ciphertext copied to another row or column
 * does not open (R25).
 */
export interface SealContext {
  table: string;
  column: string;
  rowId: string;
}

export interface VaultKeyStatus {
  kid: string;
  /** primary: seals and opens; decrypt-only: opens; retired: refused. */
  status: 'primary' | 'decrypt-only' | 'retired';
}

export interface Vault {
  /** Seals with the primary key; returns the envelope as compact JSON text `{v,kid,alg,nonce,ct}`. */
  seal(plaintext: string, context: SealContext): string;
  /**
   * Opens an envelope. Fails closed: any bad tag, unknown or retired kid, malformed blob or wrong
   * context returns null (and emits a security event) — never the ciphertext, never a guess (R27).
   */
  open(envelope: string, context: SealContext): string | null;
  /** The kid an envelope names, or null when it is not an envelope. */
  kidOf(envelope: string): string | null;
  primaryKid(): string;
  keys(): VaultKeyStatus[];
}
