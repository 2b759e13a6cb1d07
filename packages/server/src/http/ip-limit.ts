import type { FastifyRequest } from 'fastify';
import type { LimitRule, RateLimiter } from '../adapters/kv/kv.types.ts';
import { AppError } from '../errors.ts';

/**
 * R23: a per-client-IP limit as a preHandler. The limiter given here is the fallback-wrapped one, so
 * when Redis is down the route keeps working under an in-process limit at 10 % of the rate (R24).
 * The IP comes from the socket, or from X-Forwarded-For only when WXAUTH_TRUST_PROXY trusts the proxy.
 */
export function ipLimit(limiter: RateLimiter, rule: LimitRule) {
  return async function limitByIp(request: FastifyRequest): Promise<void> {
    const decision = await limiter.hit(rule, request.ip);
    if (!decision.allowed) throw new AppError('rate_limited', { retryAfter: decision.retryAfterSec });
  };
}
