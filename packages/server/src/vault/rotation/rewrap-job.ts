import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import type { Clock } from '../../clock.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Database } from '../../storage/database.ts';
import type { SealContext, Vault } from '../vault.types.ts';
import {
  createRotationRepository,
  type IdentityCursor,
  type RotationRepository,
} from './rotation.repository.ts';
import { accessTokenContext, identitySessionKeyContext, type SealedTable } from './sealed-columns.ts';

/** Why the vault refused a row; the vault itself emits the security event (R27). */
export type UnreadableReason = 'malformed' | 'unknown_kid' | 'retired_kid' | 'bad_tag';

export interface UnreadableRows {
  table: SealedTable;
  kid: string | null;
  reason: UnreadableReason;
  rows: number;
}

/** Running totals of one table in the current pass, reported after every batch. */
export interface RewrapProgress {
  table: SealedTable;
  scanned: number;
  rewrapped: number;
  skippedUnreadable: number;
  changedConcurrently: number;
}

export interface RewrapResult {
  /** The kid rows were re-sealed with. */
  primaryKid: string;
  rewrapped: number;
  /** Rows the vault cannot open: left exactly as they are, never rewritten, never turned into plaintext. */
  skippedUnreadable: number;
  /** Rows another writer (a login, a token refresh) changed between our read and our write: theirs wins. */
  changedConcurrently: number;
  /** Sealed rows not on the primary kid after the pass, unreadable and newer ones included. */
  remaining: number;
  /**
   * Rows sealed with a key newer than this vault's primary (listed after it, decrypt-only here): some
   * instance already has that key as primary, so this key set is behind. Left alone, never sealed back.
   */
  newer: number;
  /** The signal stopped the pass early: rows after that point were not looked at. */
  stopped: boolean;
  unreadable: UnreadableRows[];
  durationMs: number;
}

export const DEFAULT_REWRAP_BATCH = 100;
const MAX_BATCH = 10_000;

type Source = { db: Kysely<Database> } | { repository: RotationRepository };
type Resealed = { envelope: string } | { kid: string | null; reason: UnreadableReason };

/** The state of one pass, shared by its tables. */
interface Pass {
  primary: string;
  /** Kids this pass leaves alone (newer than the primary). */
  newer: string[];
  unreadable: Map<string, UnreadableRows>;
  signal: AbortSignal | undefined;
  stopped: boolean;
}

/**
 * The rewrap job (R26): re-seals every sealed column whose kid is not the vault's primary, in
 * keyset-paginated batches, each row with a compare-and-set on what was read (kid and envelope).
 *
 * - No lost update: a login that stores a fresh session_key while the job runs is never overwritten,
 *   whichever kid it sealed with (an instance not yet restarted after `promote` still seals with the
 *   old one); such rows are counted as `changedConcurrently` and left for the next pass.
 * - Fails closed (R27): a row the vault cannot open is left untouched and reported; the job never
 *   writes anything it did not get from a successful open.
 * - Short statements only: one SELECT per batch and one single-row UPDATE per row, each in its own
 *   implicit transaction, so no lock outlives a statement and a crash leaves nothing half done. Running
 *   it on several instances at once is safe (the compare-and-set lets one of them win), just wasteful.
 * - Idempotent and resumable: a pass only looks at rows not yet on the primary kid.
 * - Only forward: rows sealed with a key newer than the primary are never touched. During the rolling
 *   restart after `keys promote`, an instance still on the old key set may run this job (the scheduler
 *   runs it wherever a worker is free); it must not undo the rotation the restarted ones began.
 * - Yields to the event loop before every batch: PGlite answers queries without a macrotask, so an
 *   in-process run would otherwise starve request handling for a whole pass.
 */
export function createRewrapJob(
  options: Source & {
    vault: Vault;
    clock: Clock;
    logger: Logger;
    batchSize?: number;
    onBatch?: (progress: RewrapProgress) => void;
  },
) {
  const { vault, clock, onBatch } = options;
  const repository = 'repository' in options ? options.repository : createRotationRepository(options.db);
  const batchSize = options.batchSize ?? DEFAULT_REWRAP_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH) {
    throw new RangeError(`rewrap: batchSize must be an integer from 1 to ${MAX_BATCH}`);
  }
  const logger = options.logger.child({ component: 'vault-rewrap' });

  function classify(envelope: string): { kid: string | null; reason: UnreadableReason } {
    const kid = vault.kidOf(envelope);
    if (kid === null) return { kid, reason: 'malformed' };
    const status = vault.keys().find((k) => k.kid === kid)?.status;
    if (status === undefined) return { kid, reason: 'unknown_kid' };
    if (status === 'retired') return { kid, reason: 'retired_kid' };
    return { kid, reason: 'bad_tag' };
  }

  /** The new envelope, or why there is none. The plaintext never leaves this function. */
  function reseal(envelope: string, context: SealContext): Resealed {
    const plaintext = vault.open(envelope, context);
    if (plaintext === null) return classify(envelope);
    return { envelope: vault.seal(plaintext, context) };
  }

  /** Decrypt-only keys listed after the primary: `vault` lists keys oldest first (key-set-document.ts). */
  function newerKids(primary: string): string[] {
    const keys = vault.keys();
    const at = keys.findIndex((k) => k.kid === primary);
    return keys.slice(at + 1).flatMap((k) => (k.status === 'decrypt-only' ? [k.kid] : []));
  }

  function newProgress(table: SealedTable): RewrapProgress {
    return { table, scanned: 0, rewrapped: 0, skippedUnreadable: 0, changedConcurrently: 0 };
  }

  /** Counts one row's outcome; unreadable rows are grouped by table, kid and reason. */
  function count(
    progress: RewrapProgress,
    unreadable: Map<string, UnreadableRows>,
    outcome: Resealed,
    written: boolean,
  ) {
    progress.scanned++;
    if ('envelope' in outcome) {
      if (written) progress.rewrapped++;
      else progress.changedConcurrently++;
      return;
    }
    progress.skippedUnreadable++;
    const key = `${progress.table}\0${outcome.kid}\0${outcome.reason}`;
    const entry = unreadable.get(key) ?? { table: progress.table, ...outcome, rows: 0 };
    entry.rows++;
    unreadable.set(key, entry);
  }

  async function identitiesPass(pass: Pass) {
    const { primary, unreadable } = pass;
    const progress = newProgress('wechat_identities');
    let cursor: IdentityCursor | null = null;
    for (;;) {
      await nextTurn();
      if (pass.signal?.aborted) {
        pass.stopped = true;
        return progress;
      }
      const page = await repository.findIdentitiesToRewrap(primary, cursor, batchSize, pass.newer);
      for (const row of page) {
        const outcome = reseal(row.envelope, identitySessionKeyContext(row.appId, row.openid));
        const written =
          'envelope' in outcome &&
          (await repository.replaceIdentityEnvelope({
            appId: row.appId,
            openid: row.openid,
            expectedKid: row.kid,
            expectedEnvelope: row.envelope,
            kid: primary,
            envelope: outcome.envelope,
          }));
        count(progress, unreadable, outcome, written);
      }
      if (page.length > 0) onBatch?.({ ...progress });
      if (page.length < batchSize) return progress;
      const last = page.at(-1)!;
      cursor = { appId: last.appId, openid: last.openid };
    }
  }

  /** The table has no kid column (one row per app): each envelope's own kid decides. */
  async function accessTokensPass(pass: Pass) {
    const { primary, unreadable } = pass;
    const progress = newProgress('wechat_access_tokens');
    let after: string | null = null;
    for (;;) {
      await nextTurn();
      if (pass.signal?.aborted) {
        pass.stopped = true;
        return progress;
      }
      const page = await repository.findSealedAccessTokens(after, batchSize);
      const stale = page.filter((row) => {
        const kid = vault.kidOf(row.envelope);
        return kid !== primary && (kid === null || !pass.newer.includes(kid));
      });
      for (const row of stale) {
        const outcome = reseal(row.envelope, accessTokenContext(row.appId));
        const written =
          'envelope' in outcome &&
          (await repository.replaceAccessTokenEnvelope({
            appId: row.appId,
            expectedEnvelope: row.envelope,
            envelope: outcome.envelope,
          }));
        count(progress, unreadable, outcome, written);
      }
      if (stale.length > 0) onBatch?.({ ...progress });
      if (page.length < batchSize) return progress;
      after = page.at(-1)!.appId;
    }
  }

  /** Access tokens not on the primary, and how many of those are on a newer key. */
  async function accessTokensNotOn(primary: string, newer: readonly string[]) {
    const rows = { notOn: 0, newer: 0 };
    let after: string | null = null;
    for (;;) {
      const page = await repository.findSealedAccessTokens(after, batchSize);
      for (const row of page) {
        const kid = vault.kidOf(row.envelope);
        if (kid === primary) continue;
        rows.notOn++;
        if (kid !== null && newer.includes(kid)) rows.newer++;
      }
      if (page.length < batchSize) return rows;
      after = page.at(-1)!.appId;
    }
  }

  return {
    batchSize,

    /**
     * One pass over every sealed column, to the end of each table, or until `signal` aborts (checked
     * before each batch, so a stop waits for one batch at most).
     */
    async runOnce(options: { signal?: AbortSignal } = {}): Promise<RewrapResult> {
      const started = clock.now();
      const primary = vault.primaryKid();
      const pass: Pass = {
        primary,
        newer: newerKids(primary),
        unreadable: new Map(),
        signal: options.signal,
        stopped: false,
      };
      const tables = [await identitiesPass(pass)];
      if (!pass.stopped) tables.push(await accessTokensPass(pass));
      const sum = (field: 'rewrapped' | 'skippedUnreadable' | 'changedConcurrently') =>
        tables.reduce((n, p) => n + p[field], 0);
      const tokens = await accessTokensNotOn(primary, pass.newer);
      let newer = tokens.newer;
      for (const kid of pass.newer) newer += await repository.countIdentitiesWithKid(kid);
      const result: RewrapResult = {
        primaryKid: primary,
        rewrapped: sum('rewrapped'),
        skippedUnreadable: sum('skippedUnreadable'),
        changedConcurrently: sum('changedConcurrently'),
        remaining: (await repository.countIdentitiesNotOn(primary)) + tokens.notOn,
        newer,
        stopped: pass.stopped,
        unreadable: [...pass.unreadable.values()],
        durationMs: clock.now() - started,
      };
      // Counts and kids only: no row ids, no envelopes.
      if (result.unreadable.length > 0) {
        logger.warn(
          { unreadable: result.unreadable },
          'vault rewrap: rows the vault cannot open were left as they are',
        );
      }
      if (result.newer > 0) {
        logger.warn(
          { primaryKid: primary, newerKids: pass.newer, rows: result.newer },
          'vault rewrap: rows are sealed with a key newer than this instance’s primary; restart it with the promoted key set',
        );
      }
      const { unreadable: _listed, ...summary } = result;
      logger.info(summary, 'vault rewrap pass finished');
      return result;
    },
  };
}

export type RewrapJob = ReturnType<typeof createRewrapJob>;
