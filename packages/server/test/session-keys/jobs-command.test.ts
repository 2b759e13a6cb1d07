import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOBS_USAGE, runJobsCommand } from '../../src/jobs/jobs-command.ts';
import type { Db } from '../../src/storage/create-db.ts';
import { APP_ID, APP_SECRET, type Harness, startHarness } from '../support/harness.ts';
import { pgliteStore } from '../support/test-db.ts';
import { type CountingSim, seedIdentities, startCountingSim } from './job-support.ts';

/**
 * The jobs commands behind `node src/cli/jobs.ts` (the process wrapper itself is exercised by the
 * at-scale job test, which runs the job through it).
 */
describe('jobs commands', () => {
  let db: Db;
  let h: Harness;
  let cs: CountingSim;
  let closed = 0;
  const exec = async (...argv: string[]) => {
    const out = { stdout: '', stderr: '' };
    const code = await runJobsCommand(argv, async () => ({ ...h.deps, close: async () => void closed++ }), {
      stdout: (t) => {
        out.stdout += t;
      },
      stderr: (t) => {
        out.stderr += t;
      },
    });
    return { code, ...out };
  };

  beforeAll(async () => {
    db = await pgliteStore.open();
    cs = await startCountingSim({ apps: [{ appId: APP_ID, secret: APP_SECRET }] });
    h = await startHarness({ db, sim: cs.sim, apps: [{ appId: APP_ID, secret: APP_SECRET }] });
  });
  afterAll(async () => {
    await h?.close();
    await cs?.close();
    await db?.close();
  });

  it('refuses bad usage with exit code 2, before opening anything', async () => {
    for (const argv of [
      [],
      ['run'],
      ['run', 'nope'],
      ['run', 'session-key-check', 'vault-rewrap'],
      ['mark-compromised', APP_ID],
      ['list-runs', 'a', 'b'],
      ['x'],
    ]) {
      const res = await exec(...argv);
      expect(res.code, argv.join(' ')).toBe(2);
      expect(res.stderr).toBe(JOBS_USAGE);
    }
    expect(closed).toBe(0);
  });

  it('marks a key compromised, runs the job (which resets it), and lists the run', async () => {
    const seeded = await seedIdentities(db, h.deps.vault, cs.sim, {
      appId: APP_ID,
      n: 5,
      staleEvery: 5,
      prefix: 'cmd',
    });
    expect((await exec('mark-compromised', APP_ID, 'nobody')).code).toBe(1);
    const marked = await exec('mark-compromised', APP_ID, seeded.openids[0]!);
    expect(marked).toMatchObject({ code: 0, stdout: expect.stringContaining('compromised') });

    const run = await exec('run', 'session-key-check');
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as { worker: { runId: string }; run: Record<string, unknown> };
    expect(out.run).toMatchObject({ status: 'succeeded', checked: 5, stale: 1, reset: 1, errors: 0 });

    const list = await exec('list-runs');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^id\s+job\s+status\s+started\s+finished\s+checked\s+stale\s+reset\s+errors/);
    expect(list.stdout).toMatch(new RegExp(`${out.worker.runId}\\s+session-key-check\\s+succeeded`));
    const json = await exec('list-runs', 'session-key-check', '--json');
    expect(JSON.parse(json.stdout)).toMatchObject([{ id: out.worker.runId, status: 'succeeded', reset: 1 }]);
    expect(JSON.parse((await exec('list-runs', 'other-job', '--json')).stdout)).toEqual([]);
    expect(closed).toBe(6);
  });

  it('runs the vault rewrap by hand: idle (exit 0, no run recorded) when no row is on an older key', async () => {
    const res = await exec('run', 'vault-rewrap');
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ worker: { status: 'idle', runId: null }, run: null });
    expect(JSON.parse((await exec('list-runs', 'vault-rewrap', '--json')).stdout)).toEqual([]);
  });
});
