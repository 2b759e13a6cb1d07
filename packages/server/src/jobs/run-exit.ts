import type { Clock } from '../clock.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { JobRunsRepository, RunCounts, RunStatus } from './job-runs.repository.ts';

/**
 * How a worker leaves a run, the same for every job: it records its end in the run history and counts
 * the outcome in the job metrics (and the last success). A worker that failed leaves quietly (its own
 * error is what the caller rethrows); one that finished learns the run's status from the history.
 */
export function createRunExit(deps: {
  runs: JobRunsRepository;
  metrics: Metrics;
  clock: Clock;
  job: string;
  runId: string;
  workerId: string;
  /** Workers seen within this long count as still taking part. */
  liveMs: number;
}) {
  const { runs, metrics, clock, job, runId, workerId } = deps;
  const leave = (done: boolean, detail: string | null, totals?: RunCounts) =>
    runs.leave({
      ...(totals ? { totals } : {}),
      runId,
      workerId,
      now: new Date(clock.now()),
      liveSince: new Date(clock.now() - deps.liveMs),
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
