export { type CreateRateLimiterOptions, createRateLimiter } from './create-rate-limiter.ts';
export { createFallbackRateLimiter, type FallbackRateLimiterOptions } from './fallback-limiter.ts';
export {
  KvUnavailableError,
  type LimitDecision,
  type LimitRule,
  type RateLimiter,
} from './kv.types.ts';
export {
  createMemoryRateLimiter,
  type MemoryRateLimiter,
  type MemoryRateLimiterOptions,
} from './memory-limiter.ts';
export { instrumentRateLimiter, type RateLimitMetrics, rateLimitMetrics } from './rate-limit-metrics.ts';
// Types only: the Redis limiter (and ioredis) is loaded on demand by createRateLimiter.
export type { RedisRateLimiter, RedisRateLimiterOptions } from './redis-limiter.ts';
