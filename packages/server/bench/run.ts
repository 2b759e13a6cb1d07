import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs, type ScenarioId, USAGE, UsageError } from './lib/args.ts';
import { killAllChildrenNow, liveChildren, stopAllChildren } from './lib/children.ts';
import { judgeGoals } from './lib/goals.ts';
import { canCollectGarbage } from './lib/harness-gc.ts';
import { machineInfo } from './lib/machine.ts';
import { profileFor } from './lib/profile.ts';
import { consoleTable, goalsTable, markdownReport } from './lib/report.ts';
import type { Metrics, Row, Scenario, ScenarioContext } from './lib/results.ts';
import { dropAllSchemas, resolveStores, type Store } from './lib/stores.ts';
import { betterAuthAvailable } from './lib/systems.ts';
import { s0 } from './scenarios/s0-bare.ts';
import { s1 } from './scenarios/s1-login.ts';
import { s2 } from './scenarios/s2-verify.ts';
import { s3 } from './scenarios/s3-refresh.ts';
import { s4 } from './scenarios/s4-sms.ts';
import { s5 } from './scenarios/s5-limiters.ts';
import { s6 } from './scenarios/s6-job.ts';
import { s7 } from './scenarios/s7-start.ts';

/**
 * The benchmark suite of shared/performance.md §10 (issue 6): S0–S7, each system in its own process,
 * comparators interleaved A/B/A/B, a table on stdout and docs/benchmarks.md. Progress goes to stderr.
 *   npm run bench                 full profile, PGlite and PostgreSQL
 *   npm run bench -- --quick      about 2–3 minutes
 *   npm run bench -- --help       every option
 */
const SCENARIOS: Record<ScenarioId, Scenario> = {
  S0: s0,
  S1: s1,
  S2: s2,
  S3: s3,
  S4: s4,
  S5: s5,
  S6: s6,
  S7: s7,
};

const log = (line: string) => process.stderr.write(`${line}\n`);
/** process.exit drops what a pipe has not taken yet: write, then exit once it is flushed. */
const writeThenExit = (stream: NodeJS.WriteStream, text: string, code: number) =>
  stream.write(text, () => process.exit(code));

let args: ReturnType<typeof parseBenchArgs>;
try {
  args = parseBenchArgs(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof UsageError) && !(err instanceof TypeError)) throw err;
  writeThenExit(process.stderr, `${err.message ? `${err.message}\n` : ''}${USAGE}\n`, err.message ? 2 : 0);
  // Nothing below may run while the usage is being flushed.
  await new Promise(() => {});
  throw err;
}

// Children must not outlive the runner, however it ends.
process.on('exit', killAllChildrenNow);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`\n${signal}: stopping children and dropping schemas`);
    void Promise.race([
      Promise.all([stopAllChildren(), dropAllSchemas()]),
      new Promise((r) => setTimeout(r, 10_000)),
    ]).finally(() => process.exit(130));
  });
}

if (!canCollectGarbage())
  log(
    'note: started without --expose-gc (npm run bench passes it): the runner cannot collect between phases',
  );
const startedAt = new Date();
const loadBefore = loadavg();
const profile = profileFor(args.mode);
const { stores, notes: storeNotes } = await resolveStores(args.store, args.mode);
const rows: Row[] = [];
const metricsByStore = new Map<string, Metrics>();
const notes: string[] = [...storeNotes];
const shared: ScenarioContext['shared'] = { s1Ceiling: new Map() };

log(
  `wxauth bench: ${args.mode}; scenarios ${args.only.join(',')}; stores ${stores.map((s) => s.label).join(', ')}`,
);
if (!betterAuthAvailable()) {
  notes.push(
    'better-auth: comparators/better-auth/server.ts does not exist yet, so its rows say "not available".',
  );
}

try {
  for (const id of args.only) {
    const scenario = SCENARIOS[id];
    const passes: Store[] = scenario.perStore ? stores : [stores[0]!];
    for (const store of passes) {
      const tag = scenario.perStore ? ` [${store.label}]` : '';
      log(`\n${id} ${scenario.title}${tag}`);
      const started = performance.now();
      try {
        const out = await scenario.run({ profile, store, log, shared });
        rows.push(...out.rows);
        notes.push(...out.notes);
        const key = scenario.perStore ? store.label : '*';
        metricsByStore.set(key, { ...metricsByStore.get(key), ...out.metrics });
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        log(`${id}${tag} failed: ${message}`);
        notes.push(`${id}${tag} failed: ${message.split('\n')[0]}`);
      } finally {
        // A scenario stops what it started; this catches whatever an error left behind.
        if (liveChildren() > 0) await stopAllChildren();
        log(`${id}${tag}: ${((performance.now() - started) / 1000).toFixed(0)} s`);
      }
    }
  }
} finally {
  await stopAllChildren();
  await dropAllSchemas();
}

// Goals are stated on PostgreSQL; PGlite stands in when PostgreSQL was not run.
const goalStore = stores.find((s) => s.kind === 'pg') ?? stores[0]!;
const goals = judgeGoals({ ...metricsByStore.get('*'), ...metricsByStore.get(goalStore.label) });
const minutes = (Date.now() - startedAt.getTime()) / 60_000;
notes.push(
  'Access tokens are ES256 everywhere (R16 requires ES256/EdDSA), so the floor signs and verifies ES256 with node:crypto; performance.md §9–10 quote HS256 figures, which a symmetric key would give and R16 rules out.',
  "Open-loop phases use the suite's own paced generator (undici, evenly spaced arrivals, latency from the scheduled send time), not autocannon's -R, which caps each connection per second and so sends in bursts.",
  "The floor, the upstream-only proxy and better-auth call the simulator with wxauth's undici settings (512 connections, keep-alive) and use its pg pool settings (16 connections, kept open while idle): comparators/upstream-options.ts and pg-pool-options.ts.",
  "S1's overhead is each request's latency at the load generator minus the time its code2Session spent inside the simulator, so it also counts what happens outside the server on these shared cores: the generator sending late, the kernel, the simulator reading the call. The upstream-only proxy row shows that part.",
  'The simulator adds a log-normal latency (median 50 ms, p99 300 ms) plus a 1 % tail of 1–3 s to every WeChat call; the 0.1 % timeouts of §10.2 are not simulated. Every login uses a fresh wx.login code of a new user.',
  'Not measured: DB round trips per login and the longest transaction held (S1), S2 latency at 50 % load (S2 is closed loop only), resumability after kill -9 (S6; the job tests cover it), the SMS provider rate cap (S4: the bench provider has none).',
);

const table = consoleTable(rows);
const printed = `\n${table}\n\nGoals (${goalStore.label}):\n${goalsTable(goals)}\n`;
if (args.out) {
  const path = isAbsolute(args.out)
    ? args.out
    : fileURLToPath(new URL(`../../../${args.out}`, import.meta.url));
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  writeFileSync(
    path,
    markdownReport({
      command,
      profile,
      machine: machineInfo(),
      stores,
      goalStore: goalStore.label,
      rows,
      goals,
      notes,
      startedAt,
      minutes,
      loadAvg: { before: loadBefore, after: loadavg() },
      harnessGc: canCollectGarbage(),
    }),
  );
  log(`\nwrote ${args.out} (${minutes.toFixed(1)} minutes)`);
}
// Exit explicitly: keep-alive sockets and timers of the load generators would otherwise linger.
writeThenExit(process.stdout, printed, 0);
