import { closed, cycler, drainCpu, open } from '../lib/contenders.ts';
import { postJson } from '../lib/http.ts';
import { closedLoop, JSON_HEADERS, type PhaseResult } from '../lib/load.ts';
import { betterAuthLogins, wxauthLogins } from '../lib/logins.ts';
import { type Row, rowOf, rpsRatio, type Scenario, unavailableRow } from '../lib/results.ts';
import { type Contender, interleave } from '../lib/rounds.ts';
import { median } from '../lib/stats.ts';
import {
  type BetterAuthSettings,
  betterAuthAvailable,
  describeBetterAuth,
  type System,
  startBetterAuth,
  startRefreshFloor,
  startWxauth,
  stopAll,
  tryStart,
} from '../lib/systems.ts';
import { startSim } from '../sim/client.ts';
import { checkReuseDetection } from './s3-reuse-check.ts';

/** The same concurrency for the HTTP phase and the DB floor's workers. */
const CONCURRENCY = 64;
const BA_UPDATE_EVERY_CALL: BetterAuthSettings = { cookieCache: false, awaitSend: false, updateAge: 0 };

interface Chain {
  token: string;
  dead: boolean;
}

/**
 * S3, refresh rotation: wxauth's POST /v1/auth/token/refresh, each connection rotating its own
 * session's chain, against a raw-driver loop running wxauth's own rotation statement at the same
 * concurrency on the same store (no HTTP), and better-auth's get-session with updateAge 0 (a session
 * UPDATE per call). Then wxauth alone in open loop at 50 % of its ceiling, and a reuse-detection check.
 */
export const s3: Scenario = {
  id: 'S3',
  title: 'Refresh rotation',
  perStore: true,
  async run({ profile, store, log }) {
    const sim = await startSim();
    const systems: (System | { unavailable: string })[] = [];
    try {
      const [wxauth, floor, ba] = await Promise.all([
        startWxauth(store, sim),
        startRefreshFloor(store),
        betterAuthAvailable()
          ? tryStart(() => startBetterAuth(store, sim, BA_UPDATE_EVERY_CALL))
          : Promise.resolve({ unavailable: 'comparators/better-auth/server.ts does not exist yet' }),
      ]);
      systems.push(wxauth, floor, ba);

      // A spare chain per connection per phase: a phase's end can cut a rotation off mid-flight.
      const phases = profile.rounds + 1;
      const logins = await wxauthLogins(wxauth.url, sim.codes, CONCURRENCY * (phases + 1));
      const chains: Chain[] = logins.map((t) => ({ token: t.refreshToken, dead: false }));
      // Each request takes an idle chain and its answer gives it back, so no two requests ever hold one
      // chain (autocannon's per-request context does not survive to the connection's next request).
      const refreshPhase = async (seconds: number): Promise<PhaseResult> => {
        const idle = chains.filter((c) => !c.dead);
        const result = await closedLoop(
          {
            origin: wxauth.url,
            connections: CONCURRENCY,
            cpuUrl: wxauth.url,
            next: (ctx) => {
              const chain = idle.shift();
              ctx.chain = chain;
              return {
                method: 'POST',
                path: '/v1/auth/token/refresh',
                headers: JSON_HEADERS,
                body: JSON.stringify({ refreshToken: chain?.token ?? 'no-idle-chain' }),
              };
            },
            onResponse: (status, body, ctx) => {
              const chain = ctx.chain as Chain | undefined;
              if (!chain) return;
              if (status !== 200) {
                chain.dead = true;
                return;
              }
              chain.token = (JSON.parse(body) as { refreshToken: string }).refreshToken;
              idle.push(chain);
            },
          },
          { durationSec: seconds },
        );
        // A chain that did not come back was cut off mid-rotation: its token may be stale, and
        // replaying it would trip reuse detection, so it is retired.
        const back = new Set(idle);
        for (const chain of chains) if (!back.has(chain)) chain.dead = true;
        return result;
      };
      const floorPhase = async (seconds: number): Promise<PhaseResult> => {
        const { status, body } = await postJson<{
          ops: number;
          errors: number;
          seconds: number;
          cpuMicros: number;
        }>(`${floor.url}/run`, { seconds, concurrency: CONCURRENCY }, { timeoutMs: (seconds + 60) * 1000 });
        if (status !== 200) throw new Error(`refresh floor: ${status} ${JSON.stringify(body)}`);
        return {
          ok: body.ops,
          seconds: body.seconds,
          rps: body.ops / body.seconds,
          p50: Number.NaN,
          p99: Number.NaN,
          cpuPerOp: body.ops > 0 ? body.cpuMicros / body.ops : null,
          errors: body.errors,
        };
      };
      const contenders: Contender[] = [
        { id: 'wxauth refresh', run: refreshPhase, drain: () => drainCpu(wxauth.url) },
        { id: 'DB floor', run: floorPhase },
      ];
      if ('url' in ba) {
        const next = cycler(await betterAuthLogins(ba.url, sim.codes, profile.tokenPool));
        contenders.push(
          closed('better-auth', {
            origin: ba.url,
            connections: CONCURRENCY,
            cpuUrl: ba.url,
            next: () => ({
              method: 'GET',
              path: '/api/auth/get-session',
              headers: { authorization: `Bearer ${next().token}` },
            }),
            // getSession answers 200 null for a session it does not know.
            verifyBody: (body) => body.includes('"session"'),
          }),
        );
      }
      const samples = await interleave(contenders, profile, log);

      // Open loop: a shared queue of tokens; each answer hands its rotated token back.
      const ceiling = median(samples.get('wxauth refresh')?.phases.map((p) => p.rps) ?? []);
      const rate = Math.max(10, Math.round(ceiling * 0.5));
      const queue = (await wxauthLogins(wxauth.url, sim.codes, Math.min(2_000, Math.max(200, rate)))).map(
        (t) => t.refreshToken,
      );
      log(`  open loop at ${rate}/s (50 % of the refresh ceiling)`);
      const openSamples = await interleave(
        [
          open('wxauth refresh (open)', {
            origin: wxauth.url,
            rate,
            cpuUrl: wxauth.url,
            next: () => ({
              method: 'POST',
              path: '/v1/auth/token/refresh',
              headers: JSON_HEADERS,
              body: JSON.stringify({ refreshToken: queue.shift() ?? 'pool-empty' }),
            }),
            onResponse: (status, body) => {
              if (status === 200) queue.push((JSON.parse(body) as { refreshToken: string }).refreshToken);
            },
          }),
        ],
        { warmupSec: 0, roundSec: profile.openRoundSec, rounds: profile.openRounds },
        log,
      );
      const reuse = await checkReuseDetection(wxauth.url, sim.codes);

      const base = { scenario: 'S3' as const, store: store.label, load: `closed, ${CONCURRENCY} conn` };
      const ours = rowOf(
        { ...base, system: 'wxauth POST /v1/auth/token/refresh', note: `reuse detection: ${reuse}` },
        samples.get('wxauth refresh'),
      );
      const floorRow = rowOf(
        {
          ...base,
          load: `${CONCURRENCY} workers, no HTTP`,
          system: "DB floor: wxauth's rotate statement, raw driver",
        },
        samples.get('DB floor'),
      );
      const baRow =
        'url' in ba
          ? rowOf(
              { ...base, system: `better-auth get-session (${describeBetterAuth(BA_UPDATE_EVERY_CALL)})` },
              samples.get('better-auth'),
            )
          : unavailableRow({ ...base, system: 'better-auth get-session (updateAge 0)' }, ba.unavailable);
      floorRow.ratio = rpsRatio(ours, floorRow);
      baRow.ratio = rpsRatio(ours, baRow);
      const openRow = rowOf(
        {
          scenario: 'S3',
          store: store.label,
          load: `open, ${rate}/s`,
          system: 'wxauth refresh at 50 % load',
        },
        openSamples.get('wxauth refresh (open)'),
      );
      const rows: Row[] = [ours, floorRow, baRow, openRow];
      return { rows, metrics: { 'S3.vsFloor': floorRow.ratio }, notes: [] };
    } finally {
      await stopAll(systems);
      await sim.child.stop();
    }
  },
};
