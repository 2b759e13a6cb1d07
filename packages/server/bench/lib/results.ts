import type { ScenarioId } from './args.ts';
import type { Profile } from './profile.ts';
import { type ContenderSamples, summarizePhases } from './rounds.ts';
import { ratio, type Summary } from './stats.ts';
import type { Store } from './stores.ts';

/** One line of the results table. */
export interface Row {
  scenario: ScenarioId;
  store: string;
  system: string;
  /** How it was loaded, e.g. "closed, 100 conn" or "open, 400/s". */
  load: string;
  rps?: Summary;
  p50?: Summary;
  p99?: Summary;
  cpu?: Summary;
  /** wxauth's median ÷ this row's median, on the scenario's headline metric. */
  ratio?: number;
  errors?: number;
  note?: string;
}

/** The numbers the goals are judged on (goals.ts), per store. */
export type MetricKey =
  | 'S0.vsFastify'
  | 'S1.vsFloor'
  | 'S1.overheadP50'
  | 'S1.overheadP99'
  | 'S1.vsBetterAuth'
  | 'S2.vsBare'
  | 'S2.vsBetterAuthNoCache'
  | 'S3.vsFloor'
  | 'S4.vsBetterAuthVerify'
  | 'S6.wallOverNR'
  /** 1 when the job finished, 0 when it was stopped at its time cap (wallOverNR is then a lower bound). */
  | 'S6.completed'
  | 'S6.overLimit'
  | 'S6.p99Ratio'
  | 'S7.readyExistingMs';

export type Metrics = Partial<Record<MetricKey, number>>;

export interface ScenarioOutput {
  rows: Row[];
  metrics: Metrics;
  notes: string[];
}

export interface ScenarioContext {
  profile: Profile;
  store: Store;
  log(line: string): void;
  /** Results one scenario leaves for another (S6 loads at 30 % of S1's ceiling). */
  shared: { s1Ceiling: Map<string, number> };
}

export interface Scenario {
  id: ScenarioId;
  title: string;
  /** Run once per store; otherwise once, on the first store. */
  perStore: boolean;
  run(ctx: ScenarioContext): Promise<ScenarioOutput>;
}

/** A table row from a contender's samples; a failed or missing contender becomes a row that says why. */
export function rowOf(
  base: Omit<Row, 'rps' | 'p50' | 'p99' | 'cpu' | 'errors'>,
  samples: ContenderSamples | undefined,
): Row {
  if (!samples || samples.phases.length === 0) {
    return { ...base, note: [base.note, samples?.failure ?? 'no samples'].filter(Boolean).join('; ') };
  }
  const s = summarizePhases(samples.phases);
  const details = [...new Set(samples.phases.flatMap((p) => (p.errorDetail ? [p.errorDetail] : [])))];
  const notes = [base.note, details.length > 0 ? `errors: ${details.join('; ')}` : undefined];
  return {
    ...base,
    ...(notes.some(Boolean) ? { note: notes.filter(Boolean).join('; ') } : {}),
    rps: s.rps,
    p50: s.p50,
    p99: s.p99,
    cpu: s.cpu,
    errors: s.errors,
    ...(samples.failure
      ? { note: [base.note, `failed: ${samples.failure}`].filter(Boolean).join('; ') }
      : {}),
  };
}

/** Ratio of two rows' median throughput (NaN when either is missing). */
export function rpsRatio(a: Row | undefined, b: Row | undefined): number {
  return ratio(a?.rps?.median, b?.rps?.median);
}

export function unavailableRow(base: Omit<Row, 'note'>, why: string): Row {
  return { ...base, note: `not available: ${why}` };
}
