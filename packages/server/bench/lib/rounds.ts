import type { PhaseResult } from './load.ts';
import { median, type Summary, summarize } from './stats.ts';

/** One side of an A/B comparison: something that can run a load phase of a given length. */
export interface Contender {
  id: string;
  run(seconds: number): Promise<PhaseResult>;
  /** Waits until the work a phase left behind (abandoned in-flight requests) is done. */
  drain?: () => Promise<void>;
}

export interface ContenderSamples {
  phases: PhaseResult[];
  /** Set when the contender failed mid-scenario; it is skipped from then on. */
  failure?: string;
}

export interface PhaseSummary {
  rps: Summary;
  p50: Summary;
  p99: Summary;
  cpu: Summary;
  errors: number;
  rounds: number;
}

/**
 * A/B/A/B: each contender warms up once, then every round runs each contender in turn, so slow drift
 * of a shared, noisy machine lands on all of them alike. A contender that throws is dropped (with
 * its error kept for the report) rather than ending the scenario.
 */
export async function interleave(
  contenders: readonly Contender[],
  plan: { warmupSec: number; roundSec: number; rounds: number },
  log: (line: string) => void,
): Promise<Map<string, ContenderSamples>> {
  const samples = new Map<string, ContenderSamples>(contenders.map((c) => [c.id, { phases: [] }]));
  const attempt = async (c: Contender, seconds: number, keep: boolean) => {
    const entry = samples.get(c.id)!;
    if (entry.failure) return;
    try {
      const result = await c.run(seconds);
      // Requests cut off at the end of a phase still run on the server: they must not land on the
      // next contender's phase (or this contender's CPU reading of the next one).
      const drainStart = performance.now();
      await c.drain?.();
      const drained = performance.now() - drainStart;
      if (drained > 1_000) log(`    ${c.id}: ${(drained / 1000).toFixed(1)} s to finish abandoned requests`);
      if (keep) {
        entry.phases.push(result);
        const extra = Object.entries(result.extra ?? {})
          .map(([k, v]) => `  ${k} ${v.toFixed(1)}`)
          .join('');
        log(
          `    ${c.id.padEnd(28)} ${result.rps.toFixed(0).padStart(7)}/s  p50 ${result.p50.toFixed(1)} ms  p99 ${result.p99.toFixed(1)} ms  cpu ${result.cpuPerOp?.toFixed(0) ?? '-'} µs/op${result.errors ? `  errors ${result.errors} (${result.errorDetail ?? '?'})` : ''}${extra}`,
        );
      }
    } catch (err) {
      entry.failure = err instanceof Error ? err.message.split('\n')[0]! : String(err);
      log(`    ${c.id}: failed — ${entry.failure}`);
    }
  };
  if (plan.warmupSec > 0) for (const c of contenders) await attempt(c, plan.warmupSec, false);
  for (let round = 0; round < plan.rounds; round++) {
    // The order turns by one each round. With a fixed order a contender always ran right after the same
    // other one and took on whatever that one left behind (the database settling its writes, say).
    for (let k = 0; k < contenders.length; k++) {
      await attempt(contenders[(k + round) % contenders.length]!, plan.roundSec, true);
    }
  }
  return samples;
}

export function summarizePhases(phases: readonly PhaseResult[]): PhaseSummary {
  return {
    rps: summarize(phases.map((p) => p.rps)),
    p50: summarize(phases.map((p) => p.p50)),
    p99: summarize(phases.map((p) => p.p99)),
    cpu: summarize(phases.flatMap((p) => (p.cpuPerOp === null ? [] : [p.cpuPerOp]))),
    errors: phases.reduce((sum, p) => sum + p.errors, 0),
    rounds: phases.length,
  };
}

/**
 * The open-loop rate of a comparator: the common rate (half of wxauth's ceiling), or half of its own
 * closed-loop ceiling when that is lower, so that no contender is measured past saturation.
 */
export function openRateFor(common: number, closedSamples: ContenderSamples | undefined): number {
  const phases = closedSamples?.phases ?? [];
  if (phases.length === 0) return common;
  return Math.max(10, Math.min(common, Math.round(median(phases.map((p) => p.rps)) * 0.5)));
}
