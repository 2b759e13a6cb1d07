import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { createFallbackRateLimiter } from '../../src/adapters/kv/fallback-limiter.ts';
import type { LimitRule, RateLimiter } from '../../src/adapters/kv/kv.types.ts';
import { createMemoryRateLimiter } from '../../src/adapters/kv/memory-limiter.ts';
import { createRedisRateLimiter } from '../../src/adapters/kv/redis-limiter.ts';
import { systemClock } from '../../src/clock.ts';
import { ipLimit } from '../../src/http/ip-limit.ts';

/**
 * S5: one cheap route (GET /cheap → {ok:true}) on plain Fastify, limited by one of
 *   none | memory (wxauth's in-process limiter) | redis (wxauth's Redis limiter, one EVAL, with its
 *   in-memory fallback as deps.ts wires it)
 *   | fastify-rate-limit (@fastify/rate-limit with its RedisStore) | rlflex (rate-limiter-flexible RateLimiterRedis)
 * chosen by LIMITER, each in its own process so its CPU is its own. The limit is far above the load
 * (nothing is ever refused), keyed by client IP like R23's per-IP rules: the cost of counting, not of
 * refusing. Env: LIMITER, REDIS_URL, LIMIT_PREFIX (a unique key prefix per run).
 */
const kind = process.env.LIMITER ?? 'none';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = process.env.LIMIT_PREFIX ?? `bench:${process.pid}:`;
const MAX = 1_000_000_000;
const RULE: LimitRule = { name: 'bench_cheap_1m', windowMs: 60_000, max: MAX };

const app = Fastify({ logger: false });
const closers: (() => Promise<unknown>)[] = [];
let preHandler: ((request: FastifyRequest) => Promise<void>) | undefined;

async function ours(limiter: RateLimiter): Promise<void> {
  if (!(await limiter.warmUp(2_000))) throw new Error(`${kind}: limiter store not ready`);
  closers.push(() => limiter.close());
  preHandler = ipLimit(limiter, RULE);
}

if (kind === 'memory') await ours(createMemoryRateLimiter({ clock: systemClock }));
else if (kind === 'redis') {
  // As deps.ts wires it for the per-IP rules: Redis, falling back to memory when Redis is slow (R24).
  await ours(
    createFallbackRateLimiter({
      primary: createRedisRateLimiter({ redis: redisUrl, clock: systemClock, prefix }),
      fallback: createMemoryRateLimiter({ clock: systemClock }),
    }),
  );
} else if (kind === 'fastify-rate-limit') {
  const redis = new Redis(redisUrl, { connectTimeout: 2_000, maxRetriesPerRequest: 1 });
  closers.push(() => redis.quit());
  await app.register(rateLimit, { global: true, max: MAX, timeWindow: 60_000, redis, nameSpace: prefix });
} else if (kind === 'rlflex') {
  const redis = new Redis(redisUrl, { connectTimeout: 2_000, maxRetriesPerRequest: 1 });
  closers.push(() => redis.quit());
  const limiter = new RateLimiterRedis({ storeClient: redis, points: MAX, duration: 60, keyPrefix: prefix });
  preHandler = async (request) => {
    await limiter.consume(request.ip);
  };
} else if (kind !== 'none') throw new Error(`unknown LIMITER ${kind}`);

app.get('/cheap', preHandler ? { preHandler } : {}, async () => ({ ok: true }));
app.get('/__bench/cpu', { config: { rateLimit: false } }, async () => process.cpuUsage());
await app.ready();
const address = await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`READY ${address}\n`);
process.on('SIGTERM', async () => {
  setTimeout(() => process.exit(0), 3_000).unref();
  await app.close();
  for (const close of closers) await close().catch(() => undefined);
  process.exit(0);
});
