import { createHash } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { Clock } from '../../clock.ts';
import { KvUnavailableError, type LimitDecision, type LimitRule, type RateLimiter } from './kv.types.ts';
import { assertDistinct, assertRule, type CounterRead, decide, windowOf } from './limit-window.ts';

export interface RedisRateLimiterOptions {
  /** A URL (the limiter then owns and closes the client) or a client built with `rateLimiterRedisOptions`. */
  redis: Redis | string;
  clock: Clock;
  prefix?: string;
  /** R24: Redis slower than this counts as unavailable. */
  commandTimeoutMs?: number;
  /** Connection errors of an owned client (they also surface per call as KvUnavailableError). */
  onError?: (error: Error) => void;
}

export type RedisRateLimiter = RateLimiter & { readonly kind: 'redis' };

/**
 * KEYS: one counter per rule. ARGV: max and TTL (ms) per rule, in KEYS order. Returns
 * {allowed (1|0), count per rule}: counts after the increment when allowed, before it when refused.
 * Everything is checked before anything is counted, so a refused call eats none of the other budgets.
 * The TTL is set in the same atomic step as the INCR that creates the key (R23: no window between
 * INCR and EXPIRE in which a crash leaves an immortal counter); `PTTL < 0` also repairs a key that
 * somebody created without one.
 */
const HIT_ALL = `
local reply = {1}
for i = 1, #KEYS do
  local count = tonumber(redis.call('GET', KEYS[i]) or '0')
  reply[i + 1] = count
  if count >= tonumber(ARGV[2 * i - 1]) then reply[1] = 0 end
end
if reply[1] == 1 then
  for i = 1, #KEYS do
    local count = redis.call('INCR', KEYS[i])
    reply[i + 1] = count
    if count == 1 or redis.call('PTTL', KEYS[i]) < 0 then
      redis.call('PEXPIRE', KEYS[i], ARGV[2 * i])
    end
  end
end
return reply
`;
export const HIT_ALL_SHA = createHash('sha1').update(HIT_ALL).digest('hex');

/** Added to every TTL: instances whose clocks lag by up to this much still find the window's counter. */
const TTL_SLACK_MS = 1000;

/**
 * Client options for a limiter's Redis connection (R24: slow or down must fail fast, never queue):
 * no offline queue and no resend after a reconnect (a counter update replayed later would count twice),
 * a per-command timeout, and reconnection with backoff in the background.
 */
export function rateLimiterRedisOptions(commandTimeoutMs = 50): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: commandTimeoutMs,
    connectTimeout: 1000,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000) + Math.floor(Math.random() * 100),
  };
}

/**
 * Fixed-window counters in Redis, shared by every server instance. One EVALSHA per call.
 *
 * The window id comes from the injected clock and is part of the key, rather than from Redis TIME:
 * tests move time to window edges without sleeping, and every instance derives the same key for the
 * same window without a round trip. The cost is that an instance whose clock is off by d counts into
 * its neighbour window for d around the edges; NTP keeps d far below a second, and the TTL slack keeps
 * a lagging instance from finding an expired key. The TTL is relative (window remainder + slack), so it
 * holds whatever the two clocks say.
 */
export function createRedisRateLimiter(options: RedisRateLimiterOptions): RedisRateLimiter {
  const { clock } = options;
  const prefix = options.prefix ?? 'wxauth:rl:';
  const commandTimeoutMs = options.commandTimeoutMs ?? 50;
  const owned = typeof options.redis === 'string';
  const redis =
    typeof options.redis === 'string'
      ? new Redis(options.redis, rateLimiterRedisOptions(commandTimeoutMs))
      : options.redis;
  if (owned) {
    // Without a listener ioredis prints every failed reconnect; callers learn about outages per call.
    redis.on('error', (error: Error) => options.onError?.(error));
    redis.connect().catch(() => {});
  }

  /** One shared wait per connection attempt, so 200 calls during a connect add 3 listeners, not 600. */
  let connecting: Promise<void> | null = null;

  /** Waits for a connection that is being established; a client waiting to reconnect fails at once. */
  function ready(): Promise<void> {
    const status = redis.status;
    if (status === 'ready') return Promise.resolve();
    if (status === 'wait') redis.connect().catch(() => {});
    else if (status !== 'connecting' && status !== 'connect') {
      return Promise.reject(new KvUnavailableError({ cause: new Error(`redis is ${status}`) }));
    }
    connecting ??= new Promise<void>((resolve, reject) => {
      // Settles with the attempt itself (ready, error or close; connectTimeout bounds it).
      const done = (error?: Error) => {
        redis.off('ready', onReady);
        redis.off('error', onFail);
        redis.off('close', onClose);
        connecting = null;
        if (error) reject(new KvUnavailableError({ cause: error }));
        else resolve();
      };
      const onReady = () => done();
      const onFail = (error: Error) => done(error);
      const onClose = () => done(new Error('redis connection closed'));
      redis.once('ready', onReady);
      redis.once('error', onFail);
      redis.once('close', onClose);
    });
    return connecting;
  }

  /** One deadline for the whole call (connection wait included): R24 treats slow as down. */
  async function withinDeadline<T>(run: () => Promise<T>, deadlineMs = commandTimeoutMs): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new KvUnavailableError({ cause: new Error(`no answer within ${deadlineMs} ms`) })),
        deadlineMs,
      );
    });
    try {
      return await Promise.race([run(), deadline]);
    } catch (error) {
      throw error instanceof KvUnavailableError ? error : new KvUnavailableError({ cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  async function evalHitAll(keys: string[], args: number[]): Promise<unknown> {
    await ready();
    try {
      return await redis.evalsha(HIT_ALL_SHA, keys.length, ...keys, ...args);
    } catch (error) {
      // First call on this server (or after SCRIPT FLUSH): EVAL also caches the script for next time.
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await redis.eval(HIT_ALL, keys.length, ...keys, ...args);
    }
  }

  function keyOf(rule: LimitRule, key: string, windowId: number): string {
    return `${prefix}${rule.name}:${key}:${windowId}`;
  }

  async function hitAll(
    rules: readonly LimitRule[],
    keyFor: (rule: LimitRule) => string,
  ): Promise<LimitDecision> {
    const now = clock.now();
    const windows = rules.map((rule) => {
      assertRule(rule);
      return windowOf(rule, now);
    });
    const keys = rules.map((rule, i) => keyOf(rule, keyFor(rule), windows[i]!.id));
    assertDistinct(keys);
    if (rules.length === 0) return decide([], true, now);
    const args = rules.flatMap((rule, i) => [rule.max, windows[i]!.endsAt - now + TTL_SLACK_MS]);

    const reply = await withinDeadline(() => evalHitAll(keys, args));
    if (!Array.isArray(reply) || reply.length !== rules.length + 1 || !reply.every(Number.isSafeInteger)) {
      throw new KvUnavailableError({ cause: new Error('unexpected reply from the rate-limit script') });
    }
    const reads: CounterRead[] = rules.map((rule, i) => ({
      rule,
      endsAt: windows[i]!.endsAt,
      count: reply[i + 1] as number,
    }));
    return decide(reads, reply[0] === 1, now);
  }

  return {
    kind: 'redis',
    hit: (rule, key) => hitAll([rule], () => key),
    hitAll,
    async reset(rule, key) {
      assertRule(rule);
      const id = keyOf(rule, key, windowOf(rule, clock.now()).id);
      await withinDeadline(async () => {
        await ready();
        await redis.del(id);
      });
    },
    warmUp(timeoutMs) {
      return withinDeadline(async () => {
        await ready();
        await redis.script('LOAD', HIT_ALL);
        return true;
      }, timeoutMs).catch(() => false);
    },
    async close() {
      if (!owned) return;
      if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
      else redis.disconnect();
    },
  };
}
