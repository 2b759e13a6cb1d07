import type { MetricKey, Metrics } from './results.ts';

export type GoalStatus = 'aim met' | 'must met' | 'not met' | 'not measured';

export interface GoalResult {
  scenario: string;
  goal: string;
  must: string;
  aim: string;
  value: string;
  status: GoalStatus;
}

type Get = (key: MetricKey) => number | undefined;

interface GoalDef {
  scenario: string;
  goal: string;
  must: string;
  aim: string;
  keys: MetricKey[];
  value(get: Get): string;
  /** 2: aim met, 1: must met, 0: neither. */
  level(get: Get): 0 | 1 | 2;
}

const x = (v: number | undefined) => (v === undefined ? '—' : `${v.toFixed(2)}×`);
const atLeast = (key: MetricKey, must: number, aim: number): Pick<GoalDef, 'keys' | 'value' | 'level'> => ({
  keys: [key],
  value: (get) => x(get(key)),
  level: (get) => {
    const v = get(key)!;
    return v >= aim ? 2 : v >= must ? 1 : 0;
  },
});

/** The goals table of issue 6 (ratios of medians in one run, on PostgreSQL unless named). */
const GOALS: GoalDef[] = [
  {
    scenario: 'S0',
    goal: 'app bare route vs plain Fastify',
    must: '≥ 0.90×',
    aim: '≥ 0.97×',
    ...atLeast('S0.vsFastify', 0.9, 0.97),
  },
  {
    scenario: 'S1',
    goal: 'WeChat login vs the hand-written floor; overhead p99 over the upstream',
    must: '≥ 0.60×, overhead p99 ≤ 15 ms',
    aim: '≥ 0.85×, overhead p99 ≤ 5 ms',
    keys: ['S1.vsFloor', 'S1.overheadP99'],
    value: (get) => `${x(get('S1.vsFloor'))}, p99 +${get('S1.overheadP99')!.toFixed(1)} ms`,
    level: (get) => {
      const r = get('S1.vsFloor')!;
      const p99 = get('S1.overheadP99')!;
      return r >= 0.85 && p99 <= 5 ? 2 : r >= 0.6 && p99 <= 15 ? 1 : 0;
    },
  },
  {
    scenario: 'S1',
    goal: 'WeChat login vs better-auth',
    must: '≥ 1.0×',
    aim: '≥ 1.5×',
    ...atLeast('S1.vsBetterAuth', 1, 1.5),
  },
  {
    scenario: 'S2',
    goal: 'protected route vs bare route',
    must: '≥ 0.40×',
    aim: '≥ 0.60×',
    ...atLeast('S2.vsBare', 0.4, 0.6),
  },
  {
    scenario: 'S2',
    goal: 'vs better-auth getSession without cookie cache',
    must: '≥ 1.2×',
    aim: '≥ 3×',
    ...atLeast('S2.vsBetterAuthNoCache', 1.2, 3),
  },
  {
    scenario: 'S3',
    goal: 'refresh vs the single-statement DB floor',
    must: '≥ 0.60×',
    aim: '≥ 0.80×',
    ...atLeast('S3.vsFloor', 0.6, 0.8),
  },
  {
    scenario: 'S4',
    goal: 'SMS verify vs better-auth verify',
    must: '≥ 1.2×',
    aim: '≥ 2×',
    ...atLeast('S4.vsBetterAuthVerify', 1.2, 2),
  },
  {
    scenario: 'S6',
    goal: 'session-key job wall time vs N/R',
    must: '≤ 1.10×',
    aim: '≤ 1.03×, no call over the limit, login p99 ≤ 1.2× while it runs',
    keys: ['S6.wallOverNR', 'S6.overLimit', 'S6.p99Ratio'],
    value: (get) => {
      // A job stopped at its time cap only tells us its ratio is at least this.
      const capped = get('S6.completed') === 0;
      return `${capped ? '≥ ' : ''}${x(get('S6.wallOverNR'))}${capped ? ' (stopped at its time cap)' : ''}, ${get('S6.overLimit')} over the limit, login p99 ${x(get('S6.p99Ratio'))}`;
    },
    level: (get) => {
      if (get('S6.completed') === 0) return 0;
      const wall = get('S6.wallOverNR')!;
      if (wall <= 1.03 && get('S6.overLimit') === 0 && get('S6.p99Ratio')! <= 1.2) return 2;
      return wall <= 1.1 ? 1 : 0;
    },
  },
  {
    scenario: 'S7',
    goal: 'ready with an existing data dir (PGlite)',
    must: '≤ 1.5 s',
    aim: '≤ 0.8 s',
    keys: ['S7.readyExistingMs'],
    value: (get) => `${(get('S7.readyExistingMs')! / 1000).toFixed(2)} s`,
    level: (get) => {
      const ms = get('S7.readyExistingMs')!;
      return ms <= 800 ? 2 : ms <= 1500 ? 1 : 0;
    },
  },
];

export function judgeGoals(metrics: Metrics): GoalResult[] {
  const get: Get = (key) => {
    const v = metrics[key];
    return v === undefined || Number.isNaN(v) ? undefined : v;
  };
  return GOALS.map((g) => {
    const head = { scenario: g.scenario, goal: g.goal, must: g.must, aim: g.aim };
    if (g.keys.some((k) => get(k) === undefined))
      return { ...head, value: '—', status: 'not measured' as const };
    const level = g.level(get);
    return {
      ...head,
      value: g.value(get),
      status: level === 2 ? 'aim met' : level === 1 ? 'must met' : 'not met',
    };
  });
}
