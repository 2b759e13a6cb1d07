import { closed, withCodes } from '../lib/contenders.ts';
import { JSON_HEADERS, type RequestSpec } from '../lib/load.ts';
import { REDIS_URL, redisReachable } from '../lib/redis.ts';
import { type Row, rowOf, rpsRatio, type Scenario, unavailableRow } from '../lib/results.ts';
import { type Contender, type ContenderSamples, interleave, openRateFor } from '../lib/rounds.ts';
import { median } from '../lib/stats.ts';
import {
  betterAuthAvailable,
  describeBetterAuth,
  type System,
  startBetterAuth,
  startFloor,
  startWxauth,
  stopAll,
  tryStart,
} from '../lib/systems.ts';
import { APP_ID, type CodePool, startSim, UPSTREAM_LATENCY } from '../sim/client.ts';
import { openLoginWithOverhead } from './s1-overhead.ts';

const CONNECTIONS = 200;
const BA_DEFAULTS = { cookieCache: false, awaitSend: false, updateAge: 86_400 };
/** A 200 without a token is not a login. */
const issuedToken = (body: string) => /"(accessToken|token)"/.test(body);

const login = (codes: CodePool, path: string, withAppId: boolean) => (): RequestSpec => ({
  method: 'POST',
  path,
  headers: JSON_HEADERS,
  body: JSON.stringify(withAppId ? { code: codes.take(), appId: APP_ID } : { code: codes.take() }),
});

/**
 * S1, WeChat login end to end, against (a) the hand-written floor on the same store, (b) the floor
 * with the DB stubbed, (c) better-auth's minimal WeChat endpoint. Closed loop for the ceiling; then
 * open loop at 50 % of wxauth's ceiling, where each request's overhead is its latency minus the time
 * its own code2Session spent in the simulator (s1-overhead.ts); a route that only proxies code2Session
 * shows what the load generator and the kernel add to that on these shared cores. On PostgreSQL with
 * Redis reachable, a second wxauth with WXAUTH_REDIS_URL (login-code claims in Redis) joins the open
 * loop as a row of its own; the goal is read from the first, PostgreSQL alone.
 */
export const s1: Scenario = {
  id: 'S1',
  title: 'WeChat login end to end',
  perStore: true,
  async run({ profile, store, log, shared }) {
    const sim = await startSim();
    const systems: (System | { unavailable: string } | null)[] = [];
    try {
      const [wxauth, floor, stub, ba] = await Promise.all([
        startWxauth(store, sim),
        startFloor(store, sim),
        startFloor('stub', sim),
        betterAuthAvailable()
          ? tryStart(() => startBetterAuth(store, sim, BA_DEFAULTS))
          : Promise.resolve({ unavailable: 'comparators/better-auth/server.ts does not exist yet' }),
      ]);
      systems.push(wxauth, floor, stub, ba);
      // wxauth as deployed with Redis (R1's claims in Redis): an open-loop row beside the goal's.
      const withRedis =
        store.kind === 'pg' && (await redisReachable(REDIS_URL))
          ? await startWxauth(store, sim, { env: { WXAUTH_REDIS_URL: REDIS_URL } })
          : null;
      if (withRedis) systems.push(withRedis);

      const wxauthLogins = (url: string) => ({
        origin: url,
        connections: CONNECTIONS,
        next: login(sim.codes, '/v1/auth/wechat/login', true),
        verifyBody: issuedToken,
        cpuUrl: url,
      });
      const contenders: Contender[] = [
        closed('wxauth', wxauthLogins(wxauth.url)),
        closed('floor', {
          origin: floor.url,
          connections: CONNECTIONS,
          next: login(sim.codes, '/wechat/login', false),
          verifyBody: issuedToken,
          cpuUrl: floor.url,
        }),
        closed('floor, DB stubbed', {
          origin: stub.url,
          connections: CONNECTIONS,
          next: login(sim.codes, '/wechat/login', false),
          verifyBody: issuedToken,
          cpuUrl: stub.url,
        }),
      ];
      if ('url' in ba) {
        contenders.push(
          closed('better-auth', {
            origin: ba.url,
            connections: CONNECTIONS,
            next: login(sim.codes, '/wechat/login', false),
            verifyBody: issuedToken,
            cpuUrl: ba.url,
          }),
        );
      }
      log(`  closed loop, ${CONNECTIONS} connections`);
      const closedSamples = await interleave(
        contenders.map((c) => withCodes(sim.codes, c)),
        profile,
        log,
      );

      if (withRedis) {
        // Warmed as the closed-loop contenders were (JIT, pools), so its first open round is not a cold start.
        const warmUp = closed('wxauth + Redis, warm-up', wxauthLogins(withRedis.url));
        await withCodes(sim.codes, warmUp).run(Math.max(2, profile.warmupSec));
      }
      const ceiling = median(closedSamples.get('wxauth')!.phases.map((p) => p.rps));
      shared.s1Ceiling.set(store.label, ceiling);
      const rate = Math.max(10, Math.round(ceiling * 0.5));
      log(`  open loop at ${rate}/s (50 % of wxauth's ceiling)`);
      const openContenders: Contender[] = [
        openLoginWithOverhead(
          'upstream only (proxy)',
          sim,
          floor.url,
          '/proxy/code2session',
          false,
          rate,
          floor.url,
        ),
        openLoginWithOverhead('wxauth', sim, wxauth.url, '/v1/auth/wechat/login', true, rate, wxauth.url),
        ...(withRedis
          ? [
              openLoginWithOverhead(
                'wxauth + Redis',
                sim,
                withRedis.url,
                '/v1/auth/wechat/login',
                true,
                rate,
                withRedis.url,
              ),
            ]
          : []),
        openLoginWithOverhead('floor', sim, floor.url, '/wechat/login', false, rate, floor.url),
      ];
      // better-auth's ceiling is below wxauth's half: offered that rate it queued for seconds (p50 5–8 s),
      // which measures its queue, not its overhead, and its backlog (still in the database and the
      // simulator when its phase ended) fell into the next contender's phase. It runs at half of its own.
      const baRate = 'url' in ba ? openRateFor(rate, closedSamples.get('better-auth')) : rate;
      if ('url' in ba) {
        openContenders.push(
          openLoginWithOverhead('better-auth', sim, ba.url, '/wechat/login', false, baRate, ba.url),
        );
      }
      const openSamples = await interleave(
        openContenders,
        { warmupSec: 0, roundSec: profile.openRoundSec, rounds: profile.openRounds },
        log,
      );

      return report(store.label, closedSamples, openSamples, rate, baRate, ba, sim.codes.shortfall());
    } finally {
      await stopAll(systems);
      await sim.child.stop();
    }
  },
};

function report(
  storeLabel: string,
  closedSamples: Map<string, ContenderSamples>,
  openSamples: Map<string, ContenderSamples>,
  rate: number,
  baRate: number,
  ba: System | { unavailable: string },
  shortfall: number,
) {
  const closedBase = { scenario: 'S1' as const, store: storeLabel, load: `closed, ${CONNECTIONS} conn` };
  const ours = rowOf(
    { ...closedBase, system: 'wxauth POST /v1/auth/wechat/login' },
    closedSamples.get('wxauth'),
  );
  const floor = rowOf(
    { ...closedBase, system: 'floor: upstream + 1 statement + ES256 sign' },
    closedSamples.get('floor'),
  );
  const stub = rowOf(
    { ...closedBase, system: 'floor, DB stubbed (CPU ceiling)' },
    closedSamples.get('floor, DB stubbed'),
  );
  floor.ratio = rpsRatio(ours, floor);
  stub.ratio = rpsRatio(ours, stub);
  const baLabel = `better-auth (${describeBetterAuth(BA_DEFAULTS)})`;
  const baRow =
    'url' in ba
      ? rowOf({ ...closedBase, system: baLabel }, closedSamples.get('better-auth'))
      : unavailableRow({ ...closedBase, system: 'better-auth' }, ba.unavailable);
  baRow.ratio = rpsRatio(ours, baRow);

  const openBase = { scenario: 'S1' as const, store: storeLabel, load: `open, ${rate}/s` };
  const upstream = rowOf(
    {
      ...openBase,
      system: 'upstream only: a route proxying code2Session',
      note: `simulator: median ${UPSTREAM_LATENCY.median} ms, p99 ${UPSTREAM_LATENCY.p99} ms, 1 % 1–3 s`,
    },
    openSamples.get('upstream only (proxy)'),
  );
  const openOurs = rowOf({ ...openBase, system: 'wxauth login' }, openSamples.get('wxauth'));
  const openFloor = rowOf({ ...openBase, system: 'floor login' }, openSamples.get('floor'));
  const rows: Row[] = [ours, floor, stub, baRow, upstream, openOurs, openFloor];
  if ('url' in ba)
    rows.push(
      rowOf(
        {
          ...openBase,
          load: baRate === rate ? openBase.load : `open, ${baRate}/s (50 % of its own ceiling)`,
          system: 'better-auth login',
        },
        openSamples.get('better-auth'),
      ),
    );

  // Per request: each login's latency minus its own code2Session time inside the simulator.
  const overheadOf = (id: string, key: 'overheadP50' | 'overheadP99') =>
    median(
      (openSamples.get(id)?.phases ?? []).map((p) => p.extra?.[key] ?? Number.NaN).filter(Number.isFinite),
    );
  const describe = (row: Row | undefined, id: string) => {
    if (!row) return;
    const text = `overhead over its own upstream call: p50 ${overheadOf(id, 'overheadP50').toFixed(1)} ms, p99 ${overheadOf(id, 'overheadP99').toFixed(1)} ms`;
    row.note = row.note ? `${row.note}; ${text}` : text;
  };
  describe(upstream, 'upstream only (proxy)');
  describe(openOurs, 'wxauth');
  describe(openFloor, 'floor');
  describe(rows[7], 'better-auth');
  const redisSamples = openSamples.get('wxauth + Redis');
  if (redisSamples) {
    const redisRow = rowOf(
      { ...openBase, system: 'wxauth login, claims in Redis (WXAUTH_REDIS_URL)' },
      redisSamples,
    );
    describe(redisRow, 'wxauth + Redis');
    rows.push(redisRow);
  }
  const overheadP50 = overheadOf('wxauth', 'overheadP50');
  const overheadP99 = overheadOf('wxauth', 'overheadP99');
  const notes =
    shortfall > 0 ? [`S1: the login-code pool ran dry ${shortfall} times (those requests failed).`] : [];
  return {
    rows,
    metrics: {
      'S1.vsFloor': floor.ratio,
      'S1.vsBetterAuth': baRow.ratio,
      'S1.overheadP50': overheadP50,
      'S1.overheadP99': overheadP99,
    },
    notes,
  };
}
