import { nextMinuteBoundary } from '../adapters/wechat/errcodes.ts';
import type { Clock } from '../clock.ts';
import { createGroupCommit, retryDeadlock } from '../jobs/group-commit.ts';
import type { JobRunsRepository, RunCounts, RunStatus } from '../jobs/job-runs.repository.ts';
import { createRunExit } from '../jobs/run-exit.ts';
import { createTokenBucket, realSleep, type Sleep, type TokenBucket } from '../jobs/token-bucket.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Vault } from '../vault/vault.types.ts';
import { createRowChecker, type RowControl, type SessionKeyApi } from './check-row.ts';
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
/** A lease is renewed when less than this is left: one call may take 3 s (R3), more with retries. */
const LEASE_MARGIN_MS = 5_000;
const LIVE_MS = 30_000;
const RESUME_MAX_AGE_MS = 24 * 3_600_000;

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
    const workerId = `${deps.instanceId}/${deps.newId()}`;
    const at = (ms: number) => new Date(ms);
    const joined = await runs.startOrJoin({
      job,
      workerId,
      newRunId: deps.newId(),
      now: at(started),
      resumeAfter: at(started - RESUME_MAX_AGE_MS),
      liveSince: at(started - LIVE_MS),
    });
    const scope: RunScope = {
      runId: joined.runId,
      runStartedAt: joined.startedAt,
      appIds: [...deps.apps.keys()],
    };
    const exit = createRunExit({ runs, metrics, clock, job, runId: scope.runId, workerId, liveMs: LIVE_MS });
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
    // A lane waits for its row's result to be durable before its next call, so a kill -9 can leave at
    // most one checked-but-unrecorded row per lane; concurrent results share one statement.
    // The worker's writes to its own rows go one at a time (results, renewals, releases): two
    // multi-row updates of the same rows in different orders could deadlock.
    let writes: Promise<unknown> = Promise.resolve();
    const exclusive = <T>(write: () => Promise<T>): Promise<T> => {
      const next = writes.then(write, write);
      writes = next.catch(() => undefined);
      return next;
    };
    const recorder = createGroupCommit((items: { key: ClaimedKey; outcome: CheckOutcome }[]) =>
      exclusive(() => retryDeadlock(() => repository.recordResults(scope, workerId, items, at(clock.now())))),
    );

    /**
     * Pacing per app (WeChat's quotas are per appid): a token bucket at the configured rate divided by
     * the run's live workers, and R4's back-off on 45011 — nothing until the next minute, then half the
     * rate for the rest of the run.
     */
    function createPacer(appId: string) {
      let baseRate = deps.policy.rate;
      let share = 1;
      let quotaUntil = 0;
      const bucket: TokenBucket = createTokenBucket({ rate: baseRate, clock, sleep });
      const apply = () => {
        bucket.setRate(baseRate / share);
        metrics.jobRate.set({ job, app_id: appId }, bucket.rate());
      };
      const control: RowControl = {
        take: () => bucket.take(signal),
        minuteQuota() {
          const now = clock.now();
          metrics.jobQuotaBackoffs.inc({ job });
          if (now < quotaUntil) return; // another lane already backed off for this window
          quotaUntil = nextMinuteBoundary(now);
          baseRate = Math.max(1, baseRate / 2);
          bucket.pauseUntil(quotaUntil);
          apply();
          log.warn(
            { runId: scope.runId, appId, rate: bucket.rate(), resumeAt: new Date(quotaUntil).toISOString() },
            'WeChat minute quota (45011): backing off',
          );
        },
        pause: (ms) => bucket.pauseUntil(clock.now() + ms),
        fatal: (reason) => {
          fatal ??= reason;
        },
      };
      apply();
      return {
        control,
        setShare(live: number) {
          share = live;
          apply();
        },
        rate: () => bucket.rate(),
      };
    }
    const pacers = new Map(scope.appIds.map((appId) => [appId, createPacer(appId)]));
    const totalRate = () => [...pacers.values()].reduce((sum, p) => sum + p.rate(), 0);

    async function processBatch(batch: ClaimedKey[], leasedUntil: number, lanes: number): Promise<void> {
      const id = (k: ClaimedKey) => `${k.appId}:${k.openid}`;
      const open = new Map(batch.map((k) => [id(k), k]));
      const queue = [...batch];
      let leaseUntil = leasedUntil;
      let renewing: Promise<void> | null = null;
      const ensureLease = async () => {
        if (leaseUntil - clock.now() > LEASE_MARGIN_MS) return;
        renewing ??= (async () => {
          const until = clock.now() + LEASE_MS;
          const held = await exclusive(() => repository.renewLeases(workerId, [...open.values()], at(until)));
          for (const key of open.keys()) if (!held.has(key)) open.delete(key);
          leaseUntil = until;
          await runs.heartbeat(scope.runId, workerId, at(clock.now()), at(clock.now() - LIVE_MS));
        })().finally(() => {
          renewing = null;
        });
        await renewing;
      };
      const lane = async () => {
        for (let key = queue.shift(); key && !stopped(); key = queue.shift()) {
          await ensureLease();
          if (!open.has(id(key))) continue; // the lease lapsed and another worker owns the row now
          const result = await checkRow(key, deps.apps.get(key.appId)!, pacers.get(key.appId)!.control);
          if (result === 'retry') {
            queue.unshift(key);
            continue;
          }
          if (result === 'stop') break;
          const recorded = await recorder.add({ key, outcome: result });
          open.delete(id(key));
          if (!recorded) continue;
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
        }
      };
      try {
        await Promise.all(Array.from({ length: Math.min(lanes, batch.length) }, lane));
      } finally {
        // Rows never processed (stop, abort, an error below) go back at once, not when the lease ends.
        await exclusive(() => repository.releaseClaims(workerId, [...open.values()]));
      }
    }

    let done = false;
    try {
      while (!stopped()) {
        const now = clock.now();
        const live = await runs.heartbeat(scope.runId, workerId, at(now), at(now - LIVE_MS));
        for (const pacer of pacers.values()) pacer.setShare(live);
        // Enough rows for ~4 s of calls, so a batch ends well inside its lease even at a lowered rate.
        const limit = Math.max(1, Math.min(BATCH, Math.floor(totalRate() * 4)));
        const leaseUntil = now + LEASE_MS;
        const batch = await repository.claimBatch(scope, {
          workerId,
          now: at(now),
          leaseUntil: at(leaseUntil),
          limit,
        });
        if (batch.length === 0) {
          const pending = await repository.pendingLeases(scope, at(now));
          if (pending.count === 0) {
            done = true;
            break;
          }
          // Rows in flight elsewhere: wait for them to land, or for a dead worker's lease to lapse.
          await sleep(Math.min(1_000, Math.max(50, (pending.nextExpiry ?? now) - now + 1)), signal);
          continue;
        }
        // Enough parallel calls to reach the rate when WeChat takes ~200 ms; few enough to bound
        // what a kill -9 can leave in flight (those rows are the only ones a resumed run checks again).
        const lanes = Math.max(1, Math.min(16, Math.ceil(totalRate() / 5)));
        await processBatch(batch, leaseUntil, lanes);
        await flushCounts();
      }
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
