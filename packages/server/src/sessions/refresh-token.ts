import { createHmac, createSecretKey, hash as digest, timingSafeEqual } from 'node:crypto';
import { createRandomPool } from '../util/random-pool.ts';

/**
 * Refresh tokens are opaque strings `<sessionId>.<generation>.<secret>` with a 256-bit secret (R17).
 * Only SHA-256(secret) is stored.
 *
 * A child's secret is derived from its parent's: HMAC-SHA256(pepper, sid ‖ generation ‖ parent secret).
 * Two things follow, and both are why we do it:
 * - R18/R19: concurrent refreshes with one token, or a retry after a lost response, get the *same*
 *   child without the server ever storing a token in a recoverable form; a second child is never minted.
 * - Reuse detection can prove a presented old token is a genuine ancestor (derive forward and compare
 *   with the stored hash) before it ends the session, so a forged token with a known session id cannot
 *   be used to log somebody out.
 * Only the server, holding the pepper, can derive; a leaked database row derives nothing.
 */
export interface ParsedRefreshToken {
  sessionId: string;
  generation: number;
  secret: string;
}

const TOKEN = /^([A-Za-z0-9_-]{22})\.(0|[1-9]\d{0,8})\.([A-Za-z0-9_-]{43})$/;
/** Bounds the ancestor check: 30 days of refreshing every minute stays below this. */
export const MAX_ANCESTRY_WALK = 50_000;

export function createRefreshTokenCodec(pepper: Buffer) {
  if (pepper.length < 32) throw new Error('the refresh token pepper must be at least 32 bytes');
  // A KeyObject, not the Buffer: node:crypto re-validates a Buffer key on every createHmac (measured here
  // at ~15 µs against ~3 µs an HMAC).
  const key = createSecretKey(pepper);
  const random = createRandomPool();

  const format = (sessionId: string, generation: number, secret: string) =>
    `${sessionId}.${generation}.${secret}`;

  const deriveSecret = (sessionId: string, generation: number, parentSecret: string): string =>
    createHmac('sha256', key)
      .update(`wxauth-refresh\0${sessionId}\0${generation}\0${parentSecret}`)
      .digest('base64url');

  // One-shot: no Hash object (a native handle the scavenger has to process after it dies).
  const hash = (secret: string): Buffer => digest('sha256', secret, 'buffer');

  return {
    newSessionId: (): string => random.bytes(16).toString('base64url'),

    /** The first token of a new session (generation 0). */
    issue(sessionId: string): { token: string; hash: Buffer } {
      const secret = random.bytes(32).toString('base64url');
      return { token: format(sessionId, 0, secret), hash: hash(secret) };
    },

    parse(token: unknown): ParsedRefreshToken | null {
      if (typeof token !== 'string') return null;
      const m = TOKEN.exec(token);
      if (!m) return null;
      return { sessionId: m[1]!, generation: Number(m[2]), secret: m[3]! };
    },

    hash,

    /** The one child a token can ever have. */
    child(parent: ParsedRefreshToken): { token: string; hash: Buffer; generation: number } {
      const generation = parent.generation + 1;
      const secret = deriveSecret(parent.sessionId, generation, parent.secret);
      return { token: format(parent.sessionId, generation, secret), hash: hash(secret), generation };
    },

    /** True when `token` is a genuine ancestor of the token whose hash is stored for `currentGeneration`. */
    isAncestor(token: ParsedRefreshToken, currentGeneration: number, currentHash: Buffer): boolean {
      const steps = currentGeneration - token.generation;
      if (steps <= 0 || steps > MAX_ANCESTRY_WALK) return false;
      let secret = token.secret;
      for (let g = token.generation + 1; g <= currentGeneration; g++)
        secret = deriveSecret(token.sessionId, g, secret);
      return timingSafeEqual(hash(secret), currentHash);
    },

    matches(secret: string, stored: Buffer | null): boolean {
      return stored !== null && stored.length === 32 && timingSafeEqual(hash(secret), stored);
    },
  };
}

export type RefreshTokenCodec = ReturnType<typeof createRefreshTokenCodec>;
