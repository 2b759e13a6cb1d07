import type { Clock } from '../clock.ts';
import { createGroupCommit, retryDeadlock } from '../jobs/group-commit.ts';
import type { JobRunsRepository, RunCounts, RunStatus } from '../jobs/job-runs.repository.ts';
import { realSleep, type Sleep } from '../jobs/token-bucket.ts';
import { enterRun } from '../jobs/worker-run.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Vault } from '../vault/vault.types.ts';
import { createCheckPacer } from './check-pacer.ts';
import { createCheckPipeline } from './check-pipeline.ts';
import { createRowChecker, type SessionKeyApi } from './check-row.ts';
import {
  type CheckOutcome,
  type ClaimedKey,
  outcomeName,
  type RunScope,
  type SessionKeysRepository,
} from './session-keys.repository.ts';

export const SESSION_KEY_CHECK_JOB = 'session-key-check';

export type { SessionKeyApi } from './check-row.ts';

export interface SessionKeyCheckPolicy {
  /** WeChat calls per second, cluster-wide: each live worker of a run takes an equal share. */
  rate: number;
  /** Reset keys older than this (ms); null: only keys marked compromised are reset. */
  resetAgeMs: number | null;
}

export interface RunSummary extends RunCounts {
  runId: string;
  how: 'new' | 'joined' | 'resumed';
  /** The run's status when this worker left it. */
  status: RunStatus;
  /** What this worker did; the run's totals are in job_runs (list-runs). */
  durationMs: number;
  detail: string | null;
}

const BATCH = 100; // R7 (Supabase cleanup.go): batches of 100
const LEASE_MS = 10_000;
/** How often a worker says it is alive, learns how many share the run, and publishes its counts. */
const HEARTBEAT_MS = 1_000;
/** Parallel calls at most (R7): what one worker needs for 1,000 calls/s at 250 ms a call. */
export const MAX_LANES = 256;

/**
 * The scheduled session-key job (R7): checks every stored key with checksession, marks the ones
 * WeChat no longer accepts `stale`, and resets compromised (or, if configured, old) keys. Safe on
 * every instance at once: rows are claimed in SKIP LOCKED batches under a short lease, each result
 * is checkpointed as it lands, and a run cut short is resumed by the next start.
 */
export function createSessionKeyCheckJob(deps: {
  repository: SessionKeysRepository;
  runs: JobRunsRepository;
  apps: ReadonlyMap<string, SessionKeyApi>;
  vault: Vault;
  clock: Clock;
  sleep?: Sleep;
  metrics: Metrics;
  logger: Logger;
  instanceId: string;
  newId: () => string;
  policy: SessionKeyCheckPolicy;
}) {
  const { repository, runs, vault, clock, metrics } = deps;
  const sleep = deps.sleep ?? realSleep;
  const log = deps.logger.child({ component: 'job', job: SESSION_KEY_CHECK_JOB });
  const job = SESSION_KEY_CHECK_JOB;
  const checkRow = createRowChecker({ vault, clock, resetAgeMs: deps.policy.resetAgeMs });

  async function run(options: { signal?: AbortSignal } = {}): Promise<RunSummary> {
    const { signal } = options;
    const started = clock.now();
    const at = (ms: number) => new Date(ms);
    const exit = await enterRun({
      runs,
      metrics,
      clock,
      job,
      instanceId: deps.instanceId,
      newId: deps.newId,
    });
    const { workerId, joined } = exit;
    const scope: RunScope = {
      runId: joined.runId,
      runStartedAt: joined.startedAt,
      appIds: [...deps.apps.keys()],
    };
    log.info({ runId: scope.runId, how: joined.how, workerId }, 'session-key check started');
    if (joined.how === 'new') await repository.refreshStatistics();

    const counts: RunCounts = { checked: 0, stale: 0, reset: 0, errors: 0 };
    /** Progress since the last flush to job_run_workers (list-runs shows it while the run goes on). */
    let unflushed: RunCounts = { checked: 0, stale: 0, reset: 0, errors: 0 };
    const flushCounts = async () => {
      const batchCounts = unflushed;
      unflushed = { checked: 0, stale: 0, reset: 0, errors: 0 };
      await runs.addCounts(scope.runId, workerId, batchCounts, at(clock.now()));
    };
    let fatal: string | null = null;
    const stopped = () => fatal !== null || signal?.aborted === true;
    // The worker's writes to its own rows go one at a time (results, renewals, releases): two
    // multi-row updates of the same rows in different orders could deadlock. Results arriving
    // together share one statement.
    let writes: Promise<unknown> = Promise.resolve();
    const exclusive = <T>(write: () => Promise<T>): Promise<T> => {
      const next = writes.then(write, write);
      writes = next.catch(() => undefined);
      return next;
    };
    const recorder = createGroupCommit((items: { key: ClaimedKey; outcome: CheckOutcome }[]) =>
      exclusive(() => retryDeadlock(() => repository.recordResults(scope, workerId, items, at(clock.now())))),
    );

    const pacers = new Map(
      scope.appIds.map((appId) => [
        appId,
        createCheckPacer({
          appId,
          rate: deps.policy.rate,
          job,
          runId: scope.runId,
          clock,
          sleep,
          metrics,
          log,
          signal,
          fatal: (reason) => {
            fatal ??= reason;
          },
        }),
      ]),
    );
    const totalRate = () => [...pacers.values()].reduce((sum, p) => sum + p.rate(), 0);

    const pipeline = createCheckPipeline({
      clock,
      leaseMs: LEASE_MS,
      check: (key, holdLease) =>
        checkRow(key, deps.apps.get(key.appId)!, pacers.get(key.appId)!.control, holdLease),
      record: (key, outcome) => recorder.add({ key, outcome }),
      counted(result) {
        metrics.jobRows.inc({ job, outcome: outcomeName(result) });
        for (const c of [counts, unflushed]) {
          if (result.kind === 'error') c.errors++;
          if (
            result.kind === 'valid' ||
            result.kind === 'reset' ||
            (result.kind === 'stale' && result.checked)
          )
            c.checked++;
          if (result.kind === 'stale') c.stale++;
          if (result.kind === 'reset') c.reset++;
        }
      },
      renew: async (keys, until) => {
        const held = await exclusive(() => repository.renewLeases(workerId, keys, at(until)));
        await exit.heartbeat();
        return held;
      },
      release: (keys) => exclusive(() => repository.releaseClaims(workerId, keys)),
      stopped,
    });

    let done = false;
    let beatAt = Number.NEGATIVE_INFINITY;
    try {
      try {
        while (!stopped()) {
          const now = clock.now();
          if (now - beatAt >= HEARTBEAT_MS) {
            beatAt = now;
            const live = await exit.heartbeat();
            for (const pacer of pacers.values()) pacer.setShare(live);
            await flushCounts();
          }
          // Claims of ~4 s of calls at most, so rows wait well inside their lease even at a lowered rate.
          const limit = Math.max(1, Math.min(BATCH, Math.floor(totalRate() * 4)));
          // Enough parallel calls to reach the rate while WeChat takes up to ~250 ms on average (a 1 %
          // tail of seconds included); bounded, since the rows in flight at a kill -9 are the only ones a
          // resumed run checks again.
          pipeline.setLanes(Math.min(MAX_LANES, Math.ceil(totalRate() / 4)));
          // Rows still waiting for a lane: claim the next batch only when they run low.
          if (pipeline.busy()) {
            await pipeline.below(limit);
            if (stopped()) break;
          }
          const leaseUntil = clock.now() + LEASE_MS;
          const batch = await repository.claimBatch(scope, {
            workerId,
            now: at(clock.now()),
            leaseUntil: at(leaseUntil),
            limit,
          });
          if (batch.length > 0) {
            pipeline.add(batch, leaseUntil);
            continue;
          }
          // Nothing left to claim: our own rows in flight may yet come back (45011, a stop).
          if (pipeline.busy()) {
            await pipeline.idle();
            continue;
          }
          const pending = await repository.pendingLeases(scope, at(clock.now()));
          if (pending.count === 0) {
            done = true;
            break;
          }
          // Rows in flight elsewhere: wait for them to land, or for a dead worker's lease to lapse.
          const wait = (pending.nextExpiry ?? clock.now()) - clock.now() + 1;
          await sleep(Math.min(1_000, Math.max(50, wait)), signal);
        }
      } finally {
        await pipeline.close();
      }
      await flushCounts();
    } catch (err) {
      await exit.failed();
      throw err;
    }
    const detail = fatal ?? (signal?.aborted ? 'stopped' : null);
    // The run's totals come from the rows' own checkpoints: exact even if a worker died mid-batch.
    const totals = done ? await repository.runTotals(scope.runId) : undefined;
    const status = await exit.finished({ done, detail, ...(totals ? { totals } : {}) });
    const summary: RunSummary = {
      runId: scope.runId,
      how: joined.how,
      status,
      ...counts,
      durationMs: clock.now() - started,
      detail,
    };
    log.info(summary, 'session-key check finished');
    return summary;
  }

  return { name: SESSION_KEY_CHECK_JOB, run };
}

export type SessionKeyCheckJob = ReturnType<typeof createSessionKeyCheckJob>;
