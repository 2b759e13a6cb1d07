import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { KvUnavailableError, type LimitRule, type RateLimiter } from '../../src/adapters/kv/kv.types.ts';
import {
  createRedisRateLimiter,
  HIT_ALL_SHA,
  rateLimiterRedisOptions,
} from '../../src/adapters/kv/redis-limiter.ts';
import { createManualClock } from '../../src/clock.ts';
import { adminClient, deleteUnder, redisUrl, uniquePrefix } from './limiter-targets.ts';

const rule: LimitRule = { name: 'outage', windowMs: 60_000, max: 100 };

/** R24 (B.4): down or slow Redis must fail within about the 50 ms budget, never hang. */
async function expectFastUnavailable(
  call: () => Promise<unknown>,
  withinMs = 100,
): Promise<KvUnavailableError> {
  const started = performance.now();
  const error = await call().then(
    () => null,
    (e: unknown) => e,
  );
  const elapsed = performance.now() - started;
  expect(error).toBeInstanceOf(KvUnavailableError);
  expect(elapsed).toBeLessThan(withinMs);
  return error as KvUnavailableError;
}

describe('redis limiter when Redis is down', () => {
  it('fails with KvUnavailableError within 100 ms when nothing listens, on every call', async () => {
    const errors: Error[] = [];
    // Port 1: connection refused at once. The first call races the initial connect.
    const limiter = createRedisRateLimiter({
      redis: 'redis://127.0.0.1:1',
      clock: createManualClock(),
      onError: (e) => errors.push(e),
    });
    try {
      await expectFastUnavailable(() => limiter.hit(rule, 'k'));
      for (let i = 0; i < 5; i++) {
        await expectFastUnavailable(() => limiter.hit(rule, 'k'));
        await expectFastUnavailable(() => limiter.hitAll([rule], () => 'k'));
        await expectFastUnavailable(() => limiter.reset(rule, 'k'));
        await sleep(20);
      }
      expect(errors.length).toBeGreaterThan(0);
    } finally {
      await limiter.close();
    }
  });

  it('fails within the deadline when the connection never completes', async () => {
    // A listener that accepts TCP but never speaks RESP: the connect phase hangs, calls must not.
    const net = await import('node:net');
    const sockets = new Set<import('node:net').Socket>();
    const server = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as import('node:net').AddressInfo;
    const limiter = createRedisRateLimiter({
      redis: `redis://127.0.0.1:${port}`,
      clock: createManualClock(),
    });
    try {
      const started = performance.now();
      expect(await limiter.warmUp(150)).toBe(false);
      expect(performance.now() - started).toBeLessThan(1_000);
      await expectFastUnavailable(() => limiter.hit(rule, 'k'));
      await Promise.all(
        Array.from({ length: 50 }, () => expectFastUnavailable(() => limiter.hit(rule, 'k'))),
      );
    } finally {
      await limiter.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe.runIf(redisUrl)('redis limiter when Redis is paused', () => {
  const prefix = uniquePrefix();
  const admin = redisUrl ? adminClient(redisUrl) : null;
  const limiters: RateLimiter[] = [];
  const clients: Redis[] = [];
  afterAll(async () => {
    await Promise.all(limiters.map((l) => l.close()));
    for (const client of clients) client.disconnect();
    if (admin) {
      await deleteUnder(admin, prefix);
      await admin.quit();
    }
  });

  it('warms up at start: connected and the script loaded before the first request', async () => {
    const limiter = createRedisRateLimiter({ redis: redisUrl!, clock: createManualClock(), prefix });
    limiters.push(limiter);
    await admin!.script('FLUSH');
    expect(await limiter.warmUp(2_000)).toBe(true);
    expect(await admin!.script('EXISTS', HIT_ALL_SHA)).toEqual([1]);
    expect(await limiter.hit(rule, 'warm')).toMatchObject({ allowed: true, count: 1 });
  });

  it('fails within 100 ms during CLIENT PAUSE, then works again', async () => {
    const clock = createManualClock();
    const limiter = createRedisRateLimiter({ redis: redisUrl!, clock, prefix });
    limiters.push(limiter);
    expect(await limiter.hit(rule, 'k')).toMatchObject({ allowed: true, count: 1 });

    // WRITE mode pauses every script (and write) but lets the other test files on this Redis read.
    const pauser = adminClient(redisUrl!);
    clients.push(pauser);
    await pauser.call('CLIENT', 'PAUSE', '300', 'WRITE');
    const pausedAt = performance.now();
    await expectFastUnavailable(() => limiter.hit(rule, 'k'));
    await expectFastUnavailable(() => limiter.hitAll([rule], () => 'k'));
    expect(performance.now() - pausedAt).toBeLessThan(250);

    await sleep(Math.max(0, 350 - (performance.now() - pausedAt)));
    // The timed-out scripts still ran after the pause (Redis had them), so they counted: a caller
    // that got KvUnavailableError may have been counted, never the other way round.
    const after = await limiter.hit(rule, 'k');
    expect(after.allowed).toBe(true);
    expect(after.count).toBeGreaterThanOrEqual(2);
    expect(after.count).toBeLessThanOrEqual(4);
  });

  it('bounds a caller-supplied client by the same deadline', async () => {
    const client = new Redis(redisUrl!, rateLimiterRedisOptions(50));
    clients.push(client);
    await client.connect();
    const limiter = createRedisRateLimiter({ redis: client, clock: createManualClock(), prefix });
    limiters.push(limiter);
    expect((await limiter.hit(rule, 'shared-client')).allowed).toBe(true);
    const pauser = adminClient(redisUrl!);
    clients.push(pauser);
    await pauser.call('CLIENT', 'PAUSE', '200', 'WRITE');
    await expectFastUnavailable(() => limiter.hit(rule, 'shared-client'));
    await sleep(250);
    expect((await limiter.hit(rule, 'shared-client')).allowed).toBe(true);
    await limiter.close();
    expect(client.status).toBe('ready'); // not ours to close
  });
});
