import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createFallbackRateLimiter } from '../../src/adapters/kv/fallback-limiter.ts';
import type { RateLimiter } from '../../src/adapters/kv/kv.types.ts';
import { createMemoryRateLimiter } from '../../src/adapters/kv/memory-limiter.ts';
import { createRedisRateLimiter } from '../../src/adapters/kv/redis-limiter.ts';
import type { Clock } from '../../src/clock.ts';

/**
 * The limiters the shared contract runs on: memory always, real Redis when TEST_REDIS_URL is set.
 * The Redis is shared with other test files (some FLUSHALL it), so every namespace gets a random
 * prefix and deletes only its own keys.
 */
export interface LimiterNamespace {
  /** A new limiter on this namespace; for Redis each one is a new client, like another server instance. */
  create(clock: Clock): RateLimiter;
  /** PTTL of every key in the namespace whose rest matches `match` (Redis only). */
  ttls?(match?: string): Promise<{ key: string; pttl: number }[]>;
  close(): Promise<void>;
}

export interface LimiterTarget {
  name: string;
  /** Do two limiters of one namespace share counters (two server instances on one Redis)? */
  shared: boolean;
  open(): LimiterNamespace;
  /** Cases for property tests: Redis costs a round trip per hit. */
  propertyRuns: number;
}

export const redisUrl = process.env.TEST_REDIS_URL;

/** A plain client for inspection and fault injection (no fail-fast options). */
export function adminClient(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1 });
}

export function uniquePrefix(): string {
  return `wxauth:rl:test:${randomBytes(6).toString('hex')}:`;
}

export async function keysUnder(admin: Redis, prefix: string, match = '*'): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await admin.scan(cursor, 'MATCH', `${prefix}${match}`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

export async function deleteUnder(admin: Redis, prefix: string): Promise<void> {
  const keys = await keysUnder(admin, prefix);
  for (let i = 0; i < keys.length; i += 500) await admin.unlink(...keys.slice(i, i + 500));
}

const memoryTarget: LimiterTarget = {
  name: 'memory',
  shared: false,
  propertyRuns: 1000,
  open() {
    const limiters: RateLimiter[] = [];
    return {
      create(clock) {
        const limiter = createMemoryRateLimiter({ clock });
        limiters.push(limiter);
        return limiter;
      },
      close: async () => {
        await Promise.all(limiters.map((l) => l.close()));
      },
    };
  },
};

/** The R24 wrapper with a healthy primary must be indistinguishable from the primary. */
const fallbackTarget: LimiterTarget = {
  name: 'fallback over memory',
  shared: false,
  propertyRuns: 300,
  open() {
    const limiters: RateLimiter[] = [];
    return {
      create(clock) {
        const limiter = createFallbackRateLimiter({
          primary: createMemoryRateLimiter({ clock }),
          fallback: createMemoryRateLimiter({ clock }),
          onFallback: () => {
            throw new Error('fallback used while the primary is healthy');
          },
        });
        limiters.push(limiter);
        return limiter;
      },
      close: async () => {
        await Promise.all(limiters.map((l) => l.close()));
      },
    };
  },
};

function redisTarget(url: string): LimiterTarget {
  return {
    name: 'redis',
    shared: true,
    propertyRuns: 200,
    open() {
      const prefix = uniquePrefix();
      const limiters: RateLimiter[] = [];
      let admin: Redis | undefined;
      const inspect = () => {
        admin ??= adminClient(url);
        return admin;
      };
      return {
        create(clock) {
          // A generous timeout: the contract is about counting; R24 timing is tested in the outage file.
          const limiter = createRedisRateLimiter({ redis: url, clock, prefix, commandTimeoutMs: 2000 });
          limiters.push(limiter);
          return limiter;
        },
        async ttls(match) {
          const client = inspect();
          const keys = await keysUnder(client, prefix, match);
          return Promise.all(keys.map(async (key) => ({ key, pttl: await client.pttl(key) })));
        },
        async close() {
          await Promise.all(limiters.map((l) => l.close()));
          const client = inspect();
          await deleteUnder(client, prefix);
          await client.quit();
        },
      };
    },
  };
}

export const limiterTargets: LimiterTarget[] = [
  memoryTarget,
  fallbackTarget,
  ...(redisUrl ? [redisTarget(redisUrl)] : []),
];
