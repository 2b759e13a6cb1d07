import { randomBytes } from 'node:crypto';
import { cpuMicros, getJson, postJson } from '../lib/http.ts';
import { closedLoop, JSON_HEADERS, type OpenLoopResult, openLoop, type RequestSpec } from '../lib/load.ts';
import type { Row, Scenario } from '../lib/results.ts';
import { summarize } from '../lib/stats.ts';
import { type System, startWxauth } from '../lib/systems.ts';
import { APP_ID, type Sim, startSim } from '../sim/client.ts';

interface JobAnswer {
  summary: { status: string; checked: number; stale: number; errors: number };
  wallMs: number;
  rssBefore: number;
  rssPeak: number;
}

/**
 * S6, the session-key check job over N identities against a simulator that answers 45011 above R
 * checksession calls per second. Wall time against N/R; calls over the limit as the simulator counts
 * them; and login latency (open loop at 30 % of S1's ceiling) while the job runs against alone.
 * Also the floor under the scan itself: one keyset pass over the N rows with no upstream calls.
 */
export const s6: Scenario = {
  id: 'S6',
  title: 'Session-key check job at N/R',
  perStore: true,
  async run({ profile, store, log, shared }) {
    const n = profile.jobRows;
    const rate = profile.jobRate;
    const sim = await startSim({ rateLimits: { '/wxa/checksession': { perSecond: rate } } });
    let wxauth: System | null = null;
    try {
      wxauth = await startWxauth(store, sim, { env: { WXAUTH_SESSION_KEY_CHECK_RATE: String(rate) } });
      const seed = randomBytes(8).toString('hex');
      const prefix = `o${seed.slice(0, 6)}`;
      log(`  seeding ${n} identities`);
      await sim.seed({ prefix, n, seed });
      await postJson(
        `${wxauth.url}/__bench/seed-identities`,
        { appId: APP_ID, prefix, n, seed },
        { timeoutMs: 1_800_000 },
      );
      const scan = (
        await postJson<{ rows: number; ms: number }>(
          `${wxauth.url}/__bench/scan`,
          { pageSize: 500 },
          { timeoutMs: 600_000 },
        )
      ).body;

      const ceiling = shared.s1Ceiling.get(store.label) ?? (await measureCeiling(wxauth.url, sim));
      const loginRate = Math.max(5, Math.round(ceiling * 0.3));
      const loginSpec = (durationSec: number, until?: Promise<unknown>) => ({
        origin: wxauth!.url,
        rate: loginRate,
        durationSec,
        ...(until ? { until } : {}),
        next: (): RequestSpec => ({
          method: 'POST',
          path: '/v1/auth/wechat/login',
          headers: JSON_HEADERS,
          body: JSON.stringify({ code: sim.codes.take(), appId: APP_ID }),
        }),
      });
      const aloneSec = Math.min(Math.max(3, n / rate), profile.openRoundSec);
      // The job is stopped at the cap, and then reported as "interrupted" (its wall ratio is above cap/ideal).
      const capSec = Math.max(20, (n / rate) * 2.5);
      await sim.codes.ensure(Math.ceil(loginRate * (aloneSec + capSec)) + 1_000);
      log(`  logins alone at ${loginRate}/s for ${aloneSec.toFixed(0)} s`);
      await sim.collectGarbage();
      const alone = await openLoop(loginSpec(aloneSec));
      // The logins so far stored keys too, and the run checks every key stored before it starts: the
      // floor is all of them over R, not just the N seeded.
      const rows = (await postJson<{ rows: number }>(`${wxauth.url}/__bench/scan`, { pageSize: 500 })).body
        .rows;
      const ideal = rows / rate;

      log(
        `  job: N=${n} (+${rows - n} from logins), R=${rate}/s (N/R = ${ideal.toFixed(1)} s, capped at ${capSec.toFixed(0)} s), logins alongside`,
      );
      await sim.resetCounters();
      await sim.collectGarbage();
      const cpuBefore = await cpuMicros(wxauth.url);
      const job = postJson<JobAnswer>(
        `${wxauth.url}/__bench/session-key-check`,
        { timeoutMs: capSec * 1000 },
        { timeoutMs: (capSec + 60) * 1000 },
      );
      const during = await openLoop(loginSpec(capSec, job));
      const answer = await job;
      const jobCpu = (await cpuMicros(wxauth.url)) - cpuBefore;
      if (answer.status !== 200)
        throw new Error(`job route answered ${answer.status}: ${JSON.stringify(answer.body)}`);
      const counters = (await sim.counters()).checksession;
      const mem = await getJson<{ rss: number }>(`${wxauth.url}/__bench/mem`);

      return report({
        store: store.label,
        n,
        rows,
        rate,
        ideal,
        scan,
        job: answer.body,
        jobCpuMs: jobCpu / 1000,
        counters,
        alone,
        during,
        loginRate,
        rssAfter: mem.rss,
      });
    } finally {
      await wxauth?.stop();
      await sim.child.stop();
    }
  },
};

async function measureCeiling(url: string, sim: Sim): Promise<number> {
  await sim.codes.ensure(10_000);
  const result = await closedLoop(
    {
      origin: url,
      connections: 200,
      next: () => ({
        method: 'POST',
        path: '/v1/auth/wechat/login',
        headers: JSON_HEADERS,
        body: JSON.stringify({ code: sim.codes.take(), appId: APP_ID }),
      }),
    },
    { durationSec: 3 },
  );
  return result.rps;
}

function report(r: {
  store: string;
  n: number;
  rows: number;
  rate: number;
  ideal: number;
  scan: { rows: number; ms: number };
  job: JobAnswer;
  jobCpuMs: number;
  counters: { total: number; overLimit: number; maxPerSecond: number };
  alone: OpenLoopResult;
  during: OpenLoopResult;
  loginRate: number;
  rssAfter: number;
}) {
  const wall = r.job.wallMs / 1000;
  const mb = (bytes: number) => (bytes / 1_048_576).toFixed(0);
  const one = (v: number) => summarize([v]);
  const base = { scenario: 'S6' as const, store: r.store };
  const rows: Row[] = [
    {
      ...base,
      system: `session-key job, N=${r.n} (+${r.rows - r.n} from logins), R=${r.rate}/s`,
      load: `${r.job.summary.status}`,
      note:
        `wall ${wall.toFixed(1)} s = ${(wall / r.ideal).toFixed(2)}× N/R (${r.ideal.toFixed(1)} s); ` +
        `checked ${r.job.summary.checked}, errors ${r.job.summary.errors}; calls ${r.counters.total}, over the limit (45011) ${r.counters.overLimit}, busiest second ${r.counters.maxPerSecond}; ` +
        `job CPU ${(r.jobCpuMs / 1000).toFixed(1)} s (incl. logins alongside); RSS ${mb(r.job.rssBefore)} → peak ${mb(r.job.rssPeak)} MB`,
    },
    {
      ...base,
      system: `keyset scan of the ${r.scan.rows} rows, no upstream`,
      load: 'pages of 500',
      note: `${(r.scan.ms / 1000).toFixed(2)} s`,
    },
    {
      ...base,
      system: 'wxauth login alone',
      load: `open, ${r.loginRate}/s (30 % of S1)`,
      rps: one(r.alone.rps),
      p50: one(r.alone.p50),
      p99: one(r.alone.p99),
      errors: r.alone.errors,
      ...(r.alone.cpuPerOp === null ? {} : { cpu: one(r.alone.cpuPerOp) }),
    },
    {
      ...base,
      system: 'wxauth login while the job runs',
      load: `open, ${r.loginRate}/s (30 % of S1)`,
      rps: one(r.during.rps),
      p50: one(r.during.p50),
      p99: one(r.during.p99),
      errors: r.during.errors,
      note: `p99 ${(r.during.p99 / r.alone.p99).toFixed(2)}× alone`,
    },
  ];
  return {
    rows,
    metrics: {
      'S6.wallOverNR': wall / r.ideal,
      'S6.completed': r.job.summary.status === 'succeeded' ? 1 : 0,
      'S6.overLimit': r.counters.overLimit,
      'S6.p99Ratio': r.during.p99 / r.alone.p99,
    },
    notes: [],
  };
}
