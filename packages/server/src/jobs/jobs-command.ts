import type { SessionKeyCheckJob } from '../session-keys/session-key-check.job.ts';
import { SESSION_KEY_CHECK_JOB } from '../session-keys/session-key-check.job.ts';
import type { SessionKeysRepository } from '../session-keys/session-keys.repository.ts';
import { VAULT_REWRAP_JOB, type VaultRewrapJob } from '../vault/rotation/vault-rewrap.job.ts';
import type { JobRun, JobRunsRepository } from './job-runs.repository.ts';

export const JOBS_USAGE = `usage:
  node packages/server/src/cli/jobs.ts run session-key-check|vault-rewrap
  node packages/server/src/cli/jobs.ts list-runs [job] [--json]
  node packages/server/src/cli/jobs.ts mark-compromised <appId> <openid>
`;

/** The part of the composition root (deps.ts) the jobs commands use. */
export interface JobsCommandDeps {
  sessionKeyCheck: SessionKeyCheckJob;
  vaultRewrap: VaultRewrapJob;
  jobRuns: JobRunsRepository;
  sessionKeys: SessionKeysRepository;
  close(): Promise<void>;
}

export interface JobsCommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Aborted on SIGINT/SIGTERM: a run stops cleanly (rows in flight land, the rest are released). */
  signal?: AbortSignal;
}

/**
 * The jobs commands (cli/jobs.ts is the process wrapper). Returns the exit code: 0 success, 1 the run
 * did not complete or nothing matched, 2 usage. Dependencies are opened only for a valid command.
 */
export async function runJobsCommand(
  argv: readonly string[],
  openDeps: () => Promise<JobsCommandDeps>,
  io: JobsCommandIo,
): Promise<number> {
  const [command, ...args] = argv;
  const usage = () => {
    io.stderr(JOBS_USAGE);
    return 2;
  };
  const withDeps = async (work: (deps: JobsCommandDeps) => Promise<number>) => {
    const deps = await openDeps();
    try {
      return await work(deps);
    } finally {
      await deps.close();
    }
  };

  if (command === 'run') {
    const job = args.length === 1 ? args[0] : undefined;
    if (job !== SESSION_KEY_CHECK_JOB && job !== VAULT_REWRAP_JOB) return usage();
    return withDeps(async (deps) => {
      const options = io.signal ? { signal: io.signal } : {};
      const worker =
        job === SESSION_KEY_CHECK_JOB
          ? await deps.sessionKeyCheck.run(options)
          : await deps.vaultRewrap.run(options);
      // An idle rewrap (no row on an older key) records no run.
      const run = worker.runId === null ? null : await deps.jobRuns.findRun(worker.runId);
      io.stdout(`${JSON.stringify({ worker, run })}\n`);
      return worker.status === 'succeeded' || worker.status === 'idle' ? 0 : 1;
    });
  }
  if (command === 'list-runs') {
    const json = args.includes('--json');
    const rest = args.filter((a) => a !== '--json');
    if (rest.length > 1) return usage();
    return withDeps(async (deps) => {
      const runs = await deps.jobRuns.listRuns({ ...(rest[0] ? { job: rest[0] } : {}), limit: 50 });
      io.stdout(`${json ? JSON.stringify(runs) : formatRuns(runs)}\n`);
      return 0;
    });
  }
  if (command === 'mark-compromised') {
    const [appId, openid] = args;
    if (!appId || !openid || args.length !== 2) return usage();
    return withDeps(async (deps) => {
      const marked = await deps.sessionKeys.markCompromised(appId, openid);
      io.stdout(
        marked
          ? `marked ${appId}:${openid} compromised; the next ${SESSION_KEY_CHECK_JOB} run resets its key\n`
          : `no stored session_key for ${appId}:${openid}\n`,
      );
      return marked ? 0 : 1;
    });
  }
  return usage();
}

function formatRuns(runs: JobRun[]): string {
  const header = [
    'id',
    'job',
    'status',
    'started',
    'finished',
    'checked',
    'stale',
    'reset',
    'errors',
    'detail',
  ];
  const rows = runs.map((r) => [
    r.id,
    r.job,
    r.status,
    r.startedAt.toISOString(),
    r.finishedAt?.toISOString() ?? '-',
    String(r.checked),
    String(r.stale),
    String(r.reset),
    String(r.errors),
    r.detail ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
