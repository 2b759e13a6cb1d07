import { CronExpressionParser } from 'cron-parser';
import type { PgBoss } from 'pg-boss';
import type { Clock } from '../clock.ts';
import type { Logger } from '../observability/logger.ts';
import type { StoreKind } from '../storage/create-db.ts';

/** A job as the scheduler sees it: a name and one run, which must stop soon after `signal` aborts. */
export interface ScheduledJob {
  name: string;
  /** A cron expression (UTC), or null: never scheduled (the CLI can still run it). */
  cron: string | null;
  run(options: { signal?: AbortSignal }): Promise<unknown>;
}

export interface SchedulerOptions {
  store: StoreKind;
  /** PostgreSQL only: pg-boss keeps its queue in its own schema of the same database. */
  databaseUrl?: string | undefined;
  bossSchema?: string;
  /** How often an idle pg-boss worker looks for a queued run. Default 5 s. */
  pollingIntervalSeconds?: number;
  jobs: ScheduledJob[];
  clock: Clock;
  logger: Logger;
}

/** pg-boss holds a job this long without a heartbeat before it counts the worker dead. */
const HEARTBEAT_SEC = 60;

/**
 * Runs jobs on a schedule. On PostgreSQL this is pg-boss (architecture: an existing engine, not a
 * home-made queue): a cron schedule per job and an `exclusive` queue, so one run is queued or active
 * cluster-wide at a time, whichever instance's worker picks it up. On PGlite (one process owns the
 * database) the same job code runs on an in-process timer. Either way a job's own run history lets a
 * run that overlaps another — the CLI, a pg-boss retry after a lost heartbeat — join it instead of
 * redoing it (jobs/job-runs.repository.ts).
 */
export function createScheduler(options: SchedulerOptions) {
  const log = options.logger.child({ component: 'scheduler' });
  const scheduled = options.jobs.filter((j) => j.cron !== null);
  // Validated at construction, so a bad expression fails the start, not the first tick.
  for (const job of scheduled) nextOccurrence(job.cron!, new Date(options.clock.now()));

  let boss: PgBoss | null = null;
  const timers = new Map<string, NodeJS.Timeout>();
  const running = new Map<string, Promise<unknown>>();
  let abort = new AbortController();
  let started = false;

  /**
   * The parser pg-boss's own schedules use (cron-parser), called directly: the timer mode and the
   * start-up check read expressions as pg-boss does, without loading pg-boss on PGlite (a tenth of a
   * second of every start).
   */
  function nextOccurrence(cron: string, from: Date): Date {
    try {
      return CronExpressionParser.parse(cron, { currentDate: from, tz: 'UTC' }).next().toDate();
    } catch (err) {
      throw new Error(`cron expression "${cron}": ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** One run at a time per job in this process; a tick that finds one running is skipped. */
  function runOnce(job: ScheduledJob): Promise<unknown> {
    const current = running.get(job.name);
    if (current) return current;
    const promise = job
      .run({ signal: abort.signal })
      .catch((err: unknown) => log.error({ job: job.name, err: String(err) }, 'job run failed'))
      .finally(() => running.delete(job.name));
    running.set(job.name, promise);
    return promise;
  }

  function armTimer(job: ScheduledJob): void {
    const now = options.clock.now();
    const delay = Math.max(1_000, nextOccurrence(job.cron!, new Date(now)).getTime() - now);
    // setTimeout holds 32-bit delays; a long gap is crossed in steps.
    const timer = setTimeout(
      () => {
        if (!started) return;
        if (options.clock.now() + 1_000 >= now + delay) void runOnce(job);
        armTimer(job);
      },
      Math.min(delay, 2 ** 31 - 1),
    );
    timer.unref();
    timers.set(job.name, timer);
  }

  async function startBoss(): Promise<void> {
    if (!options.databaseUrl) throw new Error('the pg-boss scheduler needs a PostgreSQL URL');
    const { PgBoss } = await import('pg-boss');
    const instance = new PgBoss({
      connectionString: options.databaseUrl,
      schema: options.bossSchema ?? 'pgboss',
      max: 3,
      application_name: 'wxauth-jobs',
    });
    instance.on('error', (err) => log.error({ err: String(err) }, 'pg-boss error'));
    await instance.start();
    boss = instance;
    for (const job of scheduled) {
      await instance.createQueue(job.name, {
        policy: 'exclusive',
        retryLimit: 0,
        heartbeatSeconds: HEARTBEAT_SEC,
        expireInSeconds: 24 * 3_600,
      });
      await instance.schedule(job.name, job.cron!, null, { tz: 'UTC' });
      await instance.work(
        job.name,
        { batchSize: 1, pollingIntervalSeconds: options.pollingIntervalSeconds ?? 5 },
        async () => {
          await runOnce(job);
        },
      );
    }
  }

  const mode: 'pg-boss' | 'timer' = options.store === 'postgres' ? 'pg-boss' : 'timer';

  return {
    mode,

    async start(): Promise<void> {
      if (started || scheduled.length === 0) return;
      started = true;
      abort = new AbortController();
      if (options.store === 'postgres') await startBoss();
      else for (const job of scheduled) armTimer(job);
      log.info({ mode, jobs: scheduled.map((j) => `${j.name} (${j.cron})`) }, 'job scheduler started');
    },

    /** Queues a run now (pg-boss) or starts one in-process (timer); returns once it is queued/started. */
    async trigger(name: string): Promise<void> {
      const job = options.jobs.find((j) => j.name === name);
      if (!job) throw new Error(`no job ${name}`);
      if (boss) await boss.send(name, {});
      else void runOnce(job);
    },

    /** Stops scheduling, asks running jobs to stop (they release their rows), waits for them. */
    async stop(): Promise<void> {
      if (!started) return;
      started = false;
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      abort.abort();
      await Promise.allSettled([...running.values()]);
      if (boss) {
        const instance = boss;
        boss = null;
        await instance.stop({ graceful: true, timeout: 10_000 });
      }
    },
  };
}

export type Scheduler = ReturnType<typeof createScheduler>;
