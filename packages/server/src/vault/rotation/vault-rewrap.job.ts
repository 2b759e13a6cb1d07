import type { Kysely } from 'kysely';
import type { Clock } from '../../clock.ts';
import type { JobRunsRepository, JoinedRun, RunStatus } from '../../jobs/job-runs.repository.ts';
import { enterRun } from '../../jobs/worker-run.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Metrics } from '../../observability/metrics.ts';
import type { Database } from '../../storage/database.ts';
import type { Vault } from '../vault.types.ts';
import { createRewrapJob, type RewrapResult } from './rewrap-job.ts';
import { createRotationRepository } from './rotation.repository.ts';

export const VAULT_REWRAP_JOB = 'vault-rewrap';

/** What one worker did; the run's totals are in job_runs (`jobs.ts list-runs`). */
export interface VaultRewrapSummary {
  /** 'idle': no row is sealed with an older key, so no run was started or recorded. */
  status: RunStatus | 'idle';
  runId: string | null;
  how: JoinedRun['how'] | null;
  primaryKid: string;
  passes: number;
  rewrapped: number;
  changedConcurrently: number;
  /** Rows the vault cannot open (R27), as counted by the last pass. */
  unreadable: number;
  /** Readable rows still sealed with an older key after the last pass. */
  olderLeft: number;
  /** Rows sealed with a key newer than this instance's primary: this instance's key set is behind. */
  newer: number;
  durationMs: number;
  detail: string | null;
}

/** Passes per run while rows sealed with an older key keep appearing (as `keys rewrap` does). */
const MAX_PASSES = 5;

/**
 * The rewrap (R26) as a scheduled job, so that after `keys promote` and the rolling restart the
 * re-sealing finishes by itself. The work is rewrap-job.ts (keyset batches, compare-and-set on kid and
 * envelope, only forward); this adds what a scheduled job needs:
 *
 * - A cheap no-op: with no decrypt-only key besides the primary, one index probe (is a run of this
 *   job open?); otherwise a skip scan of the kid index (one probe per distinct kid) and the
 *   access-token rows (one per app) decide whether any row still needs it. An idle tick records no run.
 * - Only forward, and only where the key set is current: an instance whose key set is behind (rows
 *   already use a newer key) does nothing, so it neither re-seals rows backwards nor closes a run the
 *   up-to-date instances still have work in.
 * - Run history in job_runs, shared with the other jobs: `checked` = rows re-sealed, `errors` = rows the
 *   vault could not open, `detail` = the rest. A run whose rows keep coming back under an older key
 *   (an instance not yet restarted with the promoted key set) is left `interrupted`; the next tick
 *   resumes it, and it succeeds once every instance seals with the primary.
 * - Idempotent and safe beside other workers (the CLI, another instance): each row is a compare-and-set.
 */
export function createVaultRewrapJob(deps: {
  db: Kysely<Database>;
  runs: JobRunsRepository;
  vault: Vault;
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
  instanceId: string;
  newId: () => string;
  batchSize?: number;
}) {
  const { runs, vault, clock, metrics } = deps;
  const job = VAULT_REWRAP_JOB;
  const log = deps.logger.child({ component: 'job', job });
  const repository = createRotationRepository(deps.db);
  const rewrap = createRewrapJob({
    repository,
    vault,
    clock,
    logger: deps.logger,
    ...(deps.batchSize === undefined ? {} : { batchSize: deps.batchSize }),
  });

  /** Decrypt-only keys before (older) and after (newer) the primary; `vault` lists keys oldest first. */
  function ring(): { older: Set<string>; newer: Set<string> } {
    const keys = vault.keys();
    const at = keys.findIndex((k) => k.status === 'primary');
    const decryptOnly = (list: typeof keys) =>
      new Set(list.flatMap((k) => (k.status === 'decrypt-only' ? [k.kid] : [])));
    return { older: decryptOnly(keys.slice(0, at)), newer: decryptOnly(keys.slice(at + 1)) };
  }

  /**
   * What this instance can do, cheaply enough to ask on every tick: 'work' when some row is sealed with
   * an older key; 'behind' when rows use a key newer than this primary (this instance has not been
   * restarted with the promoted key set: another one will do the work, and this one must not judge a
   * run finished); else 'idle'. Reads nothing when the key set has no decrypt-only key.
   */
  async function assess(): Promise<'work' | 'behind' | 'idle'> {
    const { older, newer } = ring();
    if (older.size === 0 && newer.size === 0) return 'idle';
    const kids = await repository.findIdentityKids();
    if (kids.some((kid) => newer.has(kid))) return 'behind';
    if (kids.some((kid) => older.has(kid))) return 'work';
    if (older.size === 0) return 'idle';
    let after: string | null = null;
    for (;;) {
      const page = await repository.findSealedAccessTokens(after, 500);
      if (page.some((row) => older.has(vault.kidOf(row.envelope) ?? ''))) return 'work';
      if (page.length < 500) return 'idle';
      after = page.at(-1)!.appId;
    }
  }

  async function run(options: { signal?: AbortSignal } = {}): Promise<VaultRewrapSummary> {
    const { signal } = options;
    const started = clock.now();
    const at = (ms: number) => new Date(ms);
    const summary: VaultRewrapSummary = {
      status: 'idle',
      runId: null,
      how: null,
      primaryKid: vault.primaryKid(),
      passes: 0,
      rewrapped: 0,
      changedConcurrently: 0,
      unreadable: 0,
      olderLeft: 0,
      newer: 0,
      durationMs: 0,
      detail: null,
    };
    const state = await assess();
    if (state === 'behind') {
      log.warn(
        { primaryKid: summary.primaryKid },
        'vault rewrap skipped: rows are sealed with a key newer than this instance’s primary; restart it with the promoted key set',
      );
    }
    // A run left open by an earlier tick is closed once nothing is left, so it does not stay
    // `interrupted` in the history after the last lagging instance restarted.
    if (state === 'behind' || (state === 'idle' && (await runs.findOpenRunId(job)) === null)) {
      summary.durationMs = clock.now() - started;
      log.debug({ primaryKid: summary.primaryKid, state }, 'vault rewrap: nothing to do here');
      return summary;
    }

    const exit = await enterRun({
      runs,
      metrics,
      clock,
      job,
      instanceId: deps.instanceId,
      newId: deps.newId,
    });
    const { workerId, joined } = exit;
    summary.runId = joined.runId;
    summary.how = joined.how;
    log.info({ runId: joined.runId, how: joined.how, workerId }, 'vault rewrap started');

    let last: RewrapResult | null = null;
    try {
      while (summary.passes < MAX_PASSES && signal?.aborted !== true) {
        last = await rewrap.runOnce(signal ? { signal } : {});
        summary.passes++;
        summary.rewrapped += last.rewrapped;
        summary.changedConcurrently += last.changedConcurrently;
        // The same unreadable rows come back every pass: count them once per worker.
        const newlyUnreadable = Math.max(0, last.skippedUnreadable - summary.unreadable);
        summary.unreadable += newlyUnreadable;
        metrics.jobRows.inc({ job, outcome: 'rewrapped' }, last.rewrapped);
        metrics.jobRows.inc({ job, outcome: 'unreadable' }, newlyUnreadable);
        metrics.jobRows.inc({ job, outcome: 'changed' }, last.changedConcurrently);
        await runs.addCounts(
          joined.runId,
          workerId,
          { checked: last.rewrapped, stale: 0, reset: 0, errors: newlyUnreadable },
          at(clock.now()),
        );
        await exit.heartbeat();
        summary.olderLeft = Math.max(0, last.remaining - last.skippedUnreadable - last.newer);
        summary.newer = last.newer;
        // Another pass helps only if rows moved: a lagging instance keeps sealing with the old key.
        if (last.stopped || summary.olderLeft === 0 || last.rewrapped + last.changedConcurrently === 0) break;
      }
    } catch (err) {
      await exit.failed();
      throw err;
    }

    const done = last !== null && !last.stopped && summary.olderLeft === 0;
    summary.detail = describe(summary, done, signal?.aborted === true);
    summary.status = await exit.finished({ done, detail: summary.detail });
    summary.durationMs = clock.now() - started;
    log.info(summary, 'vault rewrap finished');
    return summary;
  }

  return { name: VAULT_REWRAP_JOB, run };
}

/**
 * The run's `detail`, counts and kids only. Never empty: the last worker to leave writes it, and a run
 * that succeeds after an interruption must not keep the interruption's reason.
 */
function describe(s: VaultRewrapSummary, done: boolean, stopped: boolean): string {
  const parts: string[] = [];
  if (done) parts.push(`every readable row on "${s.primaryKid}"`);
  else if (stopped) parts.push('stopped');
  else {
    parts.push(
      `${s.olderLeft} row(s) still sealed with an older key after ${s.passes} pass(es): an instance still seals with it; restart it with the key set where "${s.primaryKid}" is primary`,
    );
  }
  if (s.unreadable > 0) parts.push(`${s.unreadable} row(s) cannot be opened (see \`keys status\`)`);
  if (s.newer > 0) parts.push(`${s.newer} row(s) on a key newer than "${s.primaryKid}"`);
  if (s.changedConcurrently > 0) parts.push(`${s.changedConcurrently} left to a concurrent write`);
  return parts.join('; ');
}

export type VaultRewrapJob = ReturnType<typeof createVaultRewrapJob>;
