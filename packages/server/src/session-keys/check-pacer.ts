import { nextMinuteBoundary } from '../adapters/wechat/errcodes.ts';
import type { Clock } from '../clock.ts';
import { createTokenBucket, type Sleep } from '../jobs/token-bucket.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { RowControl } from './check-row.ts';

/**
 * Pacing for one app (WeChat's quotas are per appid): a token bucket at the configured rate divided by
 * the run's live workers, and R4's back-off on 45011 — nothing until the next minute, then half the
 * rate for the rest of the run.
 */
export function createCheckPacer(deps: {
  appId: string;
  rate: number;
  job: string;
  runId: string;
  clock: Clock;
  sleep: Sleep;
  metrics: Metrics;
  log: Logger;
  signal: AbortSignal | undefined;
  /** Calling on is pointless: the worker stops with this reason. */
  fatal(reason: string): void;
}) {
  const { appId, clock, metrics, job } = deps;
  let baseRate = deps.rate;
  let share = 1;
  let quotaUntil = 0;
  const bucket = createTokenBucket({ rate: baseRate, clock, sleep: deps.sleep });
  const apply = () => {
    bucket.setRate(baseRate / share);
    metrics.jobRate.set({ job, app_id: appId }, bucket.rate());
  };
  const control: RowControl = {
    take: () => bucket.take(deps.signal),
    minuteQuota() {
      const now = clock.now();
      metrics.jobQuotaBackoffs.inc({ job });
      if (now < quotaUntil) return; // another lane already backed off for this window
      quotaUntil = nextMinuteBoundary(now);
      baseRate = Math.max(1, baseRate / 2);
      bucket.pauseUntil(quotaUntil);
      apply();
      deps.log.warn(
        { runId: deps.runId, appId, rate: bucket.rate(), resumeAt: new Date(quotaUntil).toISOString() },
        'WeChat minute quota (45011): backing off',
      );
    },
    pause: (ms) => bucket.pauseUntil(clock.now() + ms),
    fatal: deps.fatal,
  };
  apply();
  return {
    control,
    /** The run's live workers: this one takes an equal share of the rate. */
    setShare(live: number): void {
      if (live === share) return;
      share = live;
      apply();
    },
    rate: () => bucket.rate(),
  };
}
