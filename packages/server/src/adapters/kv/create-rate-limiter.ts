import type { Registry } from 'prom-client';
import type { Clock } from '../../clock.ts';
import type { RateLimiter } from './kv.types.ts';
import { createMemoryRateLimiter } from './memory-limiter.ts';
import { instrumentRateLimiter, rateLimitMetrics } from './rate-limit-metrics.ts';

export interface CreateRateLimiterOptions {
  /** Redis when set (limits shared by all instances), memory otherwise (one instance only). */
  redisUrl?: string;
  clock: Clock;
  /** The app's metrics (only its registry is used): decisions are counted when given. */
  metrics?: { registry: Registry };
  prefix?: string;
  commandTimeoutMs?: number;
  /** Redis connection errors (e.g. to log them rate-limited). */
  onError?: (error: Error) => void;
}

/**
 * The limiter the composition root builds. SMS send uses it as is (fails closed on
 * KvUnavailableError); refresh and login wrap it in createFallbackRateLimiter (R24).
 */
export async function createRateLimiter(options: CreateRateLimiterOptions): Promise<RateLimiter> {
  const { redisUrl, clock, metrics } = options;
  // ioredis is loaded only when Redis is configured: it is a noticeable part of a cold start.
  const limiter = redisUrl
    ? (await import('./redis-limiter.ts')).createRedisRateLimiter({
        redis: redisUrl,
        clock,
        ...(options.prefix !== undefined && { prefix: options.prefix }),
        ...(options.commandTimeoutMs !== undefined && { commandTimeoutMs: options.commandTimeoutMs }),
        ...(options.onError && { onError: options.onError }),
      })
    : createMemoryRateLimiter({ clock });
  return metrics ? instrumentRateLimiter(limiter, rateLimitMetrics(metrics.registry)) : limiter;
}
