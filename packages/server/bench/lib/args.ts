import { parseArgs } from 'node:util';

export const SCENARIO_IDS = ['S0', 'S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7'] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];
export type StoreChoice = 'pglite' | 'pg' | 'both';

export interface BenchArgs {
  mode: 'quick' | 'full' | 'long';
  only: ScenarioId[];
  /** null: the default for the mode (see stores.ts). */
  store: StoreChoice | null;
  /** Where the markdown report goes; null: do not write one. */
  out: string | null;
}

export const USAGE = `npm run bench -- [--quick | --long] [--only S1,S2] [--store pglite|pg|both] [--out file | --no-write]
  --quick   2 rounds of 1 s after 1 s warm-up, small N (about 2-3 minutes on a quiet machine)
  --long    the full profile plus the 1M-row session-key job (S6)
  --only    scenarios to run (default: all of S0-S7)
  --store   pglite, pg (BENCH_PG_URL, TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/test) or both
            (default: both for full runs; for --quick PostgreSQL when reachable, else PGlite)
  --out     markdown report path (default docs/benchmarks.md); --no-write prints only`;

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      long: { type: 'boolean', default: false },
      only: { type: 'string' },
      store: { type: 'string' },
      out: { type: 'string' },
      'no-write': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) throw new UsageError('');
  if (values.quick && values.long) throw new UsageError('--quick and --long exclude each other');
  const only = values.only === undefined ? [...SCENARIO_IDS] : parseOnly(values.only);
  const store = values.store;
  if (store !== undefined && store !== 'pglite' && store !== 'pg' && store !== 'both')
    throw new UsageError(`--store must be pglite, pg or both, not ${store}`);
  return {
    mode: values.quick ? 'quick' : values.long ? 'long' : 'full',
    only,
    store: store ?? null,
    out: values['no-write'] ? null : (values.out ?? 'docs/benchmarks.md'),
  };
}

function parseOnly(text: string): ScenarioId[] {
  const wanted = text
    .split(',')
    .map((s) => s.trim().toUpperCase())
    .filter(Boolean);
  const known = new Set<string>(SCENARIO_IDS);
  const unknown = wanted.filter((id) => !known.has(id));
  if (unknown.length > 0 || wanted.length === 0)
    throw new UsageError(`--only takes scenario ids from ${SCENARIO_IDS.join(',')}; got ${text}`);
  return SCENARIO_IDS.filter((id) => wanted.includes(id));
}

export class UsageError extends Error {
  override name = 'UsageError';
}
