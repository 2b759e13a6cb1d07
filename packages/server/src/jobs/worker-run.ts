import type { Clock } from '../clock.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { JobRunsRepository, RunCounts, RunStatus } from './job-runs.repository.ts';

/** Workers heard from within this long count as still taking part in a run. */
const LIVE_MS = 30_000;
/** A run cut short longer ago than this is abandoned and a new one starts. */
const RESUME_MAX_AGE_MS = 24 * 3_600_000;

/**
 * How a worker takes part in a run, the same for every job: it starts, joins or resumes the run
 * (job_runs), says it is alive and learns how many workers share it, and leaves it — recording its end
 * in the run history and counting the outcome in the job metrics (and the last success). A worker that
 * failed leaves quietly (its own error is what the caller rethrows); one that finished learns the run's
 * status from the history.
 */
export async function enterRun(deps: {
  runs: JobRunsRepository;
  metrics: Metrics;
  clock: Clock;
  job: string;
  instanceId: string;
  newId: () => string;
}) {
  const { runs, clock, job } = deps;
  const started = clock.now();
  const workerId = `${deps.instanceId}/${deps.newId()}`;
  const joined = await runs.startOrJoin({
    job,
    workerId,
    newRunId: deps.newId(),
    now: new Date(started),
    resumeAfter: new Date(started - RESUME_MAX_AGE_MS),
    liveSince: new Date(started - LIVE_MS),
  });
  return {
    workerId,
    joined,
    /** Says this worker is alive; returns how many workers of the run are. */
    heartbeat(): Promise<number> {
      const now = clock.now();
      return runs.heartbeat(joined.runId, workerId, new Date(now), new Date(now - LIVE_MS));
    },
    ...createRunExit({ ...deps, runId: joined.runId, workerId }),
  };
}

function createRunExit(deps: {
  runs: JobRunsRepository;
  metrics: Metrics;
  clock: Clock;
  job: string;
  runId: string;
  workerId: string;
}) {
  const { runs, metrics, clock, job, runId, workerId } = deps;
  const leave = (done: boolean, detail: string | null, totals?: RunCounts) =>
    runs.leave({
      ...(totals ? { totals } : {}),
      runId,
      workerId,
      now: new Date(clock.now()),
      liveSince: new Date(clock.now() - LIVE_MS),
      done,
      detail,
    });

  return {
    async failed(): Promise<void> {
      await leave(false, 'worker failed').catch(() => undefined);
      metrics.jobRuns.inc({ job, status: 'failed' });
    },

    async finished(input: { done: boolean; detail: string | null; totals?: RunCounts }): Promise<RunStatus> {
      const status = await leave(input.done, input.detail, input.totals);
      metrics.jobRuns.inc({ job, status });
      if (status === 'succeeded') metrics.jobLastSuccess.set({ job }, Math.floor(clock.now() / 1000));
      return status;
    },
  };
}
