import type { SimLatencyDistribution, SimulatorOptions } from '@wxauth/wechat-sim';
import { benchScript, type Child, HARNESS_NODE_FLAGS, spawnChild } from '../lib/children.ts';
import { getJson, postJson } from '../lib/http.ts';

export const APP_ID = 'wxbench0000000000001';
export const SECRET = 'bench-secret';

/**
 * §10.2 S1: code2Session with a 50 ms median, p99 300 ms and a 1 % tail of 1–3 s. (The 0.1 %
 * timeouts of §10.2 are not simulated: the simulator's faults are counted, not probabilistic.)
 */
export const UPSTREAM_LATENCY: SimLatencyDistribution = {
  median: 50,
  p99: 300,
  tailProbability: 0.01,
  tailMs: [1000, 3000],
};

export interface Sim {
  child: Child;
  url: string;
  codes: CodePool;
  counters(): Promise<{ checksession: { total: number; overLimit: number; maxPerSecond: number } }>;
  resetCounters(): Promise<void>;
  seed(input: { prefix: string; n: number; seed: string }): Promise<void>;
  /** ms each code's code2Session spent inside the simulator (null: never called, or forgotten). */
  upstreamTimes(codes: readonly string[]): Promise<(number | null)[]>;
  /** A full garbage collection in the simulator, so one does not fall inside the next phase. */
  collectGarbage(): Promise<void>;
}

export async function startSim(overrides: Partial<SimulatorOptions> = {}): Promise<Sim> {
  const options: SimulatorOptions = {
    apps: [{ appId: APP_ID, secret: SECRET, unionBound: true }],
    latencyMs: UPSTREAM_LATENCY,
    // Every login is a new user, so the per-user quota never bites; codes outlive a long run's pool.
    code2SessionPerUserPerMinute: 1_000_000,
    codeTtlMs: 3_600_000,
    maxCallRecords: 1_000,
    ...overrides,
  };
  const child = await spawnChild('wechat-sim', benchScript('sim/host.ts'), {
    env: { SIM_OPTIONS: JSON.stringify(options) },
    nodeArgs: HARNESS_NODE_FLAGS,
  });
  return {
    child,
    url: child.url,
    codes: createCodePool(child.url, APP_ID),
    counters: () => getJson(`${child.url}/__bench/counters`),
    resetCounters: async () => {
      await postJson(`${child.url}/__bench/counters/reset`, {});
    },
    seed: async (input) => {
      const { status } = await postJson(
        `${child.url}/__bench/seed`,
        { appId: APP_ID, ...input },
        { timeoutMs: 600_000 },
      );
      if (status !== 200) throw new Error(`sim seed failed: ${status}`);
    },
    collectGarbage: async () => {
      await postJson(`${child.url}/__bench/gc`, {});
    },
    upstreamTimes: async (codes) => {
      const out: (number | null)[] = [];
      for (let i = 0; i < codes.length; i += 50_000) {
        const { body } = await postJson<{ ms: (number | null)[] }>(`${child.url}/__bench/upstream-times`, {
          codes: codes.slice(i, i + 50_000),
        });
        out.push(...body.ms);
      }
      return out;
    },
  };
}

export interface CodePool {
  /** A fresh wx.login code; never blocks (load generators ask synchronously). */
  take(): string;
  /** Makes sure at least n codes are on hand, and that taking them will not start a refill. */
  ensure(n: number): Promise<void>;
  /** Codes handed out when the pool was empty (those requests fail and are counted as errors). */
  shortfall(): number;
}

/**
 * Making a code costs the simulator ~80 µs of its single thread, so a batch of 5,000 stalls every
 * in-flight WeChat call for ~0.4 s. Phases therefore `ensure` their codes before they start; the
 * background refill is a small safety net for an underestimate.
 */
const BATCH = 5_000;
const REFILL_BATCH = 500;
const LOW_WATER = 2_000;

/**
 * wx.login codes fetched from the simulator in batches ahead of need, because autocannon builds each
 * request synchronously. Every code is used once: a reused code would measure wxauth's repeated-code
 * path (R1), not a login.
 */
export function createCodePool(simUrl: string, appId: string): CodePool {
  let codes: string[] = [];
  let head = 0;
  let missing = 0;
  let refilling = false;
  const available = () => codes.length - head;
  const fetchBatch = async (n: number) => {
    const got = await getJson<{ codes: string[] }>(
      `${simUrl}/__bench/codes?appId=${encodeURIComponent(appId)}&n=${n}`,
    );
    if (head > 50_000) {
      codes = codes.slice(head);
      head = 0;
    }
    codes.push(...got.codes);
  };
  const startRefill = () => {
    if (refilling) return;
    refilling = true;
    void fetchBatch(REFILL_BATCH)
      .catch(() => undefined)
      .finally(() => {
        refilling = false;
      });
  };
  return {
    take() {
      if (available() < LOW_WATER) startRefill();
      if (available() === 0) {
        missing++;
        return `pool-empty-${missing}`;
      }
      return codes[head++]!;
    },
    async ensure(n) {
      // n above the low-water mark: a phase that takes its n codes must not set off a refill. A refill
      // of 500 codes holds the simulator's thread for about 40 ms while requests queue in front of it,
      // outside the upstream time it reports, so S1 would charge that to whichever contender ran then.
      const wanted = n + LOW_WATER;
      for (let i = 0; i < 1_000 && available() < wanted; i++) {
        await fetchBatch(Math.min(10_000, Math.max(BATCH, wanted - available())));
      }
    },
    shortfall: () => missing,
  };
}
