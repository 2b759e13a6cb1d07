import type { LoginCodeState, LoginCodesStore } from './login-codes.repository.ts';

/** Claims older than this are forgotten on the next claim even without a purge (codes live 5 minutes). */
const KEEP_MS = 10 * 60_000;

/**
 * The login-code ledger in memory, for the embedded store. PGlite lives inside one process, so every
 * instance that can share it shares this object too (deps.ts keeps one per database), and a claim costs
 * a Map insert instead of a statement on PGlite's single, main-thread connection (performance.md §9:
 * about 340 µs a statement). Same contract as the table: the first claim of a hash owns the exchange.
 * A restart forgets the claims, as it would forget anything in flight; the WeChat code itself is
 * single-use upstream, so nothing can be logged in twice.
 */
export function createMemoryLoginCodes(): LoginCodesStore {
  const entries = new Map<string, LoginCodeState>();
  const keyOf = (hash: Buffer) => hash.toString('base64');

  /** Map iteration follows insertion, i.e. claim time: stop at the first entry young enough. */
  function dropOlderThan(cutoffMs: number): number {
    let dropped = 0;
    for (const [key, entry] of entries) {
      if (entry.createdAt.getTime() >= cutoffMs) break;
      entries.delete(key);
      dropped++;
    }
    return dropped;
  }

  return {
    async claimLoginCode(codeHash, _appId, now) {
      dropOlderThan(now.getTime() - KEEP_MS);
      const key = keyOf(codeHash);
      if (entries.has(key)) return false;
      entries.set(key, {
        state: 'pending',
        userId: null,
        errorCode: null,
        createdAt: now,
        completedAt: null,
      });
      return true;
    },
    async findLoginCode(codeHash) {
      const entry = entries.get(keyOf(codeHash));
      return entry ? { ...entry } : null;
    },
    async markLoginCodeDone(codeHash, userId, now) {
      const entry = entries.get(keyOf(codeHash));
      if (entry?.state === 'pending') Object.assign(entry, { state: 'done', userId, completedAt: now });
    },
    async markLoginCodeFailed(codeHash, errorCode, now) {
      const entry = entries.get(keyOf(codeHash));
      if (entry?.state === 'pending') Object.assign(entry, { state: 'failed', errorCode, completedAt: now });
    },
    async releaseLoginCode(codeHash) {
      const key = keyOf(codeHash);
      if (entries.get(key)?.state === 'pending') entries.delete(key);
    },
    async purgeLoginCodes(olderThan) {
      return dropOlderThan(olderThan.getTime());
    },
  };
}
