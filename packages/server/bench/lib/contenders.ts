import { cpuMicros, sleep } from './http.ts';
import { type ClosedLoopSpec, closedLoop, type OpenLoopSpec, openLoop } from './load.ts';
import type { Contender } from './rounds.ts';

/** A contender that runs a closed-loop phase of whatever length the round asks for. */
export function closed(id: string, spec: ClosedLoopSpec): Contender {
  return {
    id,
    run: (seconds) => closedLoop(spec, { durationSec: seconds }),
    ...(spec.cpuUrl ? { drain: () => drainCpu(spec.cpuUrl!) } : {}),
  };
}

/** A contender that runs an open-loop phase at a fixed rate. */
export function open(id: string, spec: Omit<OpenLoopSpec, 'durationSec'>): Contender {
  return {
    id,
    run: (seconds) => openLoop({ ...spec, durationSec: seconds }),
    ...(spec.cpuUrl ? { drain: () => drainCpu(spec.cpuUrl!) } : {}),
  };
}

/**
 * Waits (at most maxMs) until the child at `url` is nearly idle: under 5 % of a core over 100 ms,
 * twice in a row.
 */
export async function drainCpu(url: string, maxMs = 5_000): Promise<void> {
  const deadline = performance.now() + maxMs;
  let quiet = 0;
  let last = await cpuMicros(url).catch(() => Number.NaN);
  while (quiet < 2 && performance.now() < deadline && Number.isFinite(last)) {
    await sleep(100);
    const now = await cpuMicros(url).catch(() => Number.NaN);
    quiet = now - last < 5_000 ? quiet + 1 : 0;
    last = now;
  }
}

/** Hands out a pool's values round-robin, one per request. */
export function cycler<T>(values: readonly T[]): () => T {
  let i = 0;
  return () => values[i++ % values.length]!;
}

/** What `withCodes` needs of a pool of single-use inputs. */
export interface Replenishable {
  ensure(n: number): Promise<void>;
}

/**
 * Tops the pool up before each phase (by the contender's last throughput, with headroom), so the
 * pool's producer never has to work while a phase is being measured.
 */
export function withCodes(pool: Replenishable, contender: Contender, firstGuessRps = 2_000): Contender {
  let lastRps = firstGuessRps;
  return {
    ...contender,
    run: async (seconds) => {
      await pool.ensure(Math.ceil(Math.max(lastRps, 200) * seconds * 1.5) + 1_000);
      const result = await contender.run(seconds);
      lastRps = result.rps;
      return result;
    },
  };
}
