import { setFlagsFromString } from 'node:v8';

const FLAG = 'allocation-site-pretenuring';

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
