import { randomBytes } from 'node:crypto';
import { closed, open } from '../lib/contenders.ts';
import { REDIS_URL, redisReachable } from '../lib/redis.ts';
import { type Row, rowOf, rpsRatio, type Scenario } from '../lib/results.ts';
import { type ContenderSamples, interleave } from '../lib/rounds.ts';
import { type LimiterKind, type System, startLimiterServer, stopAll } from '../lib/systems.ts';

const CONNECTIONS = 100;
/** Well below every ceiling: the open-loop phase reads added latency, not queueing. */
const OPEN_RATE = 1_000;

const LABELS: Record<LimiterKind, string> = {
  none: 'no limiter',
  memory: "wxauth's in-memory limiter",
  redis: "wxauth's Redis limiter (one EVAL)",
  'fastify-rate-limit': '@fastify/rate-limit, RedisStore',
  rlflex: 'rate-limiter-flexible, RateLimiterRedis',
};

/**
 * S5, rate-limiter overhead: one cheap route on plain Fastify with no limiter, wxauth's in-memory
 * and Redis limiters (R23's per-IP rule shape), @fastify/rate-limit (RedisStore) and
 * rate-limiter-flexible (RateLimiterRedis). One load generator means one client IP, i.e. one hot
 * key: this is the cost of counting, not of a key flood.
 */
export const s5: Scenario = {
  id: 'S5',
  title: 'Rate-limiter overhead',
  perStore: false,
  async run({ profile, log }) {
    const notes: string[] = [];
    const kinds: LimiterKind[] = ['none', 'memory'];
    if (await redisReachable(REDIS_URL)) kinds.push('redis', 'fastify-rate-limit', 'rlflex');
    else notes.push(`S5: Redis not reachable at ${REDIS_URL}; Redis limiters skipped.`);
    const prefix = `wxauth-bench:${randomBytes(4).toString('hex')}:`;
    const systems: System[] = [];
    try {
      systems.push(...(await Promise.all(kinds.map((k) => startLimiterServer(k, REDIS_URL, prefix)))));
      const samples = await interleave(
        systems.map((s, i) =>
          closed(kinds[i]!, {
            origin: s.url,
            connections: CONNECTIONS,
            next: () => ({ method: 'GET', path: '/cheap' }),
            cpuUrl: s.url,
          }),
        ),
        profile,
        log,
      );
      // Added latency needs its own open-loop phase; --quick leaves it out to keep to its budget.
      let openSamples = new Map<string, ContenderSamples>();
      if (profile.mode !== 'quick') {
        log(`  open loop at ${OPEN_RATE}/s`);
        openSamples = await interleave(
          systems.map((s, i) =>
            open(kinds[i]!, {
              origin: s.url,
              rate: OPEN_RATE,
              next: () => ({ method: 'GET', path: '/cheap' }),
            }),
          ),
          { warmupSec: 0, roundSec: profile.openRoundSec, rounds: 1 },
          log,
        );
      }
      const base = { scenario: 'S5' as const, store: '—', load: `closed, ${CONNECTIONS} conn` };
      const rows: Row[] = kinds.map((k) => rowOf({ ...base, system: LABELS[k] }, samples.get(k)));
      const openP50 = kinds.map((k) => openSamples.get(k)?.phases[0]?.p50 ?? Number.NaN);
      const none = rows[0]!;
      rows.forEach((row, i) => {
        const measured = Number.isFinite(openP50[0]!);
        if (i === 0) {
          if (measured) row.note = `p50 at ${OPEN_RATE}/s open loop: ${openP50[0]!.toFixed(2)} ms`;
          return;
        }
        // Here the ratio is limiter ÷ no limiter: the share of throughput the limiter keeps.
        row.ratio = rpsRatio(row, none);
        const cpu = (row.cpu?.median ?? Number.NaN) - (none.cpu?.median ?? Number.NaN);
        const p50 = openP50[i]! - openP50[0]!;
        row.note = [
          row.note,
          `adds ${cpu.toFixed(0)} CPU-µs/req`,
          measured ? `p50 ${p50 >= 0 ? '+' : ''}${p50.toFixed(2)} ms at ${OPEN_RATE}/s open loop` : '',
        ]
          .filter(Boolean)
          .join('; ');
      });
      notes.push(
        `S5: the ratio column is limiter ÷ no limiter. Redis keys are under ${prefix}* and expire within a minute.`,
      );
      return { rows, metrics: {}, notes };
    } finally {
      await stopAll(systems);
    }
  },
};
