import { setFlagsFromString } from 'node:v8';

const FLAG = 'allocation-site-pretenuring';

/**
 * Node flags the server is started with (`npm start`; the bench starts its wxauth the same way). They
 * size the heap, which only the command line (or NODE_OPTIONS) can do: V8 fixes it before any code runs.
 *
 * `--max-semi-space-size=8` (MB): V8 grows the young generation to 32 MB per semi-space under load and
 * keeps it there; a scavenge then comes about once a second and copies everything a second's logins
 * still hold, 8–12 ms of pause with both cores busy. At 8 MB it comes about every 0.4 s and pauses
 * about 3 ms. Interleaved at 584 logins/s on PostgreSQL, 4 rounds each, default vs 8 MB: mean scavenge
 * 4.6 → 3.2 ms, overhead p99 44.2/37.1/24.3/48.6 → 39.3/16.5/21.0/21.4 ms; 4 MB was no better than 8.
 * It costs nothing at start (S7, existing data dir: 702 ms with it, 723 ms without) and holds less
 * memory (RSS after 20k logins: 338 MB with it, 503 MB without).
 */
export const NODE_FLAGS = ['--max-semi-space-size=8'] as const;

/**
 * Turns off V8's allocation-site pretenuring for this process, unless the operator chose either way
 * with `--[no-]allocation-site-pretenuring` on node's command line (NODE_OPTIONS cannot carry V8 flags).
 *
 * Why: pretenuring allocates objects from a "long-lived looking" site straight in the old generation.
 * A login's objects look long-lived during bursts (hundreds in flight for the length of an upstream
 * call), so some per-request objects were born old; dead, they still point at younger objects, which
 * every scavenge must then copy and promote until the next full GC. Measured under S1's open loop
 * (584 logins/s, PostgreSQL, interleaved, 4 rounds each): bytes surviving a scavenge about −30 %,
 * mean scavenge pause 7.7 → 6.6 ms, logins over 15 ms of overhead 320/212/177/460 → 222/86/120/130.
 * Must run before the request path is hot (first thing in main.ts), so optimised code never bakes
 * in the allocation mementos pretenuring needs.
 */
export function tuneV8(execArgv: readonly string[] = process.execArgv): string | null {
  const chosen = execArgv.some((arg) => /^--(no-)?allocation[-_]site[-_]pretenuring(=|$)/.test(arg));
  if (chosen) return null;
  const flag = `--no-${FLAG}`;
  setFlagsFromString(flag);
  return flag;
}
