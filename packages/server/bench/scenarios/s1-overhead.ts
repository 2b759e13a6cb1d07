import { drainCpu } from '../lib/contenders.ts';
import { JSON_HEADERS, openLoop, type PhaseResult } from '../lib/load.ts';
import type { Contender } from '../lib/rounds.ts';
import { percentileSorted } from '../lib/stats.ts';
import { APP_ID, type Sim } from '../sim/client.ts';

/**
 * An open-loop login contender that also measures, per request, the overhead over the upstream:
 * the client-side latency minus the time that request's code2Session spent inside the simulator
 * (the simulator times each code). Its p50/p99 land in `extra` as overheadP50/overheadP99; the
 * difference of two latency percentiles would instead be dominated by the 1 % upstream tail.
 */
export function openLoginWithOverhead(
  id: string,
  sim: Sim,
  origin: string,
  path: string,
  withAppId: boolean,
  rate: number,
  cpuUrl: string,
): Contender {
  return {
    id,
    drain: () => drainCpu(cpuUrl),
    run: async (seconds): Promise<PhaseResult> => {
      await sim.codes.ensure(Math.ceil(rate * seconds) + 1_000);
      // Making the codes left garbage in the simulator; collect it now rather than inside the phase.
      await sim.collectGarbage();
      const codes: string[] = [];
      const timed: { code: string; ms: number }[] = [];
      const result = await openLoop({
        origin,
        rate,
        durationSec: seconds,
        cpuUrl,
        next: (i) => {
          const code = sim.codes.take();
          codes[i] = code;
          return {
            method: 'POST',
            path,
            headers: JSON_HEADERS,
            body: JSON.stringify(withAppId ? { code, appId: APP_ID } : { code }),
          };
        },
        onResponse: (status, _body, ms, i) => {
          if (status >= 200 && status < 300) timed.push({ code: codes[i]!, ms });
        },
      });
      const upstream = await sim.upstreamTimes(timed.map((t) => t.code));
      const overhead = Float64Array.from(
        timed.flatMap((t, i) =>
          upstream[i] === null || upstream[i] === undefined ? [] : [t.ms - upstream[i]!],
        ),
      ).sort();
      return {
        ...result,
        extra: { overheadP50: percentileSorted(overhead, 50), overheadP99: percentileSorted(overhead, 99) },
      };
    },
  };
}
