import { performance } from 'node:perf_hooks';
import { type Simulator, startSimulator } from '@wxauth/wechat-sim';
import { Agent } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createWeChatClient,
  type WeChatClientOptions,
  type WeChatError,
} from '../../src/adapters/wechat/index.ts';
import { createManualClock } from '../../src/clock.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { captureLogger, metricValue, rejection } from './support/harness.ts';
import { createSimpleTokens } from './support/simple-tokens.ts';

const appId = 'wx1234567890abcdef';
const secret = 's3cret-for-tests';
const C2S = '/sns/jscode2session';
let sim: Simulator;
let agent: Agent;

beforeAll(async () => {
  sim = await startSimulator({ apps: [{ appId, secret, unionBound: true }], seed: 1 });
  agent = new Agent({ connect: { timeout: 1_000 } });
});
afterAll(async () => {
  await sim.close();
  await agent.close();
});
beforeEach(() => sim.reset());

function build(overrides: Partial<WeChatClientOptions> = {}) {
  const metrics = createMetrics();
  const { logger, lines } = captureLogger();
  const clock = createManualClock(Date.UTC(2026, 0, 1, 0, 0, 15));
  const tokens = createSimpleTokens(() => client);
  const client = createWeChatClient({
    appId,
    secret,
    baseUrl: sim.url,
    clock,
    metrics,
    logger,
    accessTokens: tokens,
    dispatcher: agent,
    retry: { baseMs: 5, capMs: 20 },
    ...overrides,
  });
  return { client, metrics, lines, clock, tokens };
}

const count = (path: string) => sim.callCounts()[path] ?? 0;

describe('wechat client against the simulator', () => {
  it('exchanges a code, checks and resets the session key, reads a phone number', async () => {
    const { client, lines, tokens } = build();
    const user = sim.login({ appId });
    const session = await client.code2Session(user.code);
    expect(session).toEqual({ openid: user.openid, unionid: user.unionid, sessionKey: user.sessionKey });

    expect(await client.checkSessionKey(user.openid, user.sessionKey)).toBe('valid');
    const reset = await client.resetUserSessionKey(user.openid, user.sessionKey);
    expect(reset.sessionKey).toBe(sim.currentSessionKey(appId, user.openid));
    expect(await client.checkSessionKey(user.openid, user.sessionKey)).toBe('invalid'); // 87009 (§5.2)

    const { code } = sim.phoneCode({ appId, phoneNumber: '13800138000' });
    // §7.1: the sim sends countryCode as the number 86; the client normalises it to a string.
    expect(await client.getPhoneNumber(code, user.openid)).toEqual({
      phoneNumber: '13800138000',
      purePhoneNumber: '13800138000',
      countryCode: '86',
    });
    expect((await rejection(client.getPhoneNumber(code))).code).toBe('wechat_phone_code_invalid'); // used: 40029
    expect(tokens.fetches()).toBe(1);
    expect(count('/cgi-bin/token')).toBe(0); // R6: never the legacy endpoint

    // R2: nothing secret in any log line, at debug level.
    const text = lines.join('\n');
    for (const value of [secret, user.code, user.sessionKey, reset.sessionKey, code, await tokens.get()]) {
      expect(text).not.toContain(value);
    }
  });

  it('maps code errors without retrying: 40029, 40163, 40226', async () => {
    const { client } = build();
    expect((await rejection(client.code2Session('no-such-code'))).code).toBe('wechat_code_invalid');
    const user = sim.login({ appId });
    await client.code2Session(user.code);
    expect((await rejection(client.code2Session(user.code))).code).toBe('wechat_code_invalid'); // 40163
    const blocked = sim.login({ appId, blocked: true });
    const err = await rejection(client.code2Session(blocked.code));
    expect(err.code).toBe('wechat_user_blocked');
    expect((err.cause as WeChatError).rid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/);
    expect(count(C2S)).toBe(4);
    expect((await rejection(client.code2Session('bad code!'))).code).toBe('wechat_code_invalid');
    expect(count(C2S)).toBe(4); // a malformed code never reaches WeChat
  });

  it('surfaces 40163 after a retried 502 as wechat_code_invalid (the lost first answer used the code)', async () => {
    const { client } = build();
    const user = sim.login({ appId });
    // The first exchange reached WeChat and used the code; only its answer was lost (played by a direct call).
    await fetch(
      `${sim.url}${C2S}?appid=${appId}&secret=${secret}&js_code=${user.code}&grant_type=authorization_code`,
    );
    sim.injectFault({ path: C2S, status: 502 });
    const err = await rejection(client.code2Session(user.code));
    expect(err.code).toBe('wechat_code_invalid');
    expect((err.cause as WeChatError).errcode).toBe(40163);
    expect(count(C2S)).toBe(3);
  });

  it('fails a 5 s upstream stall with upstream_unavailable within 3.1 s (R3)', async () => {
    const { client, metrics } = build();
    sim.injectFault({ path: C2S, delayMs: 5_000 });
    const started = performance.now();
    const err = await rejection(client.code2Session(sim.login({ appId }).code));
    const elapsed = performance.now() - started;
    expect(err.code).toBe('upstream_unavailable');
    expect((err.cause as WeChatError).kind).toBe('timeout');
    expect(elapsed).toBeGreaterThan(2_900);
    expect(elapsed).toBeLessThanOrEqual(3_100);
    expect(await metricValue(metrics.wechatCalls, { api: 'jscode2session', errcode: 'timeout' })).toBe(1);
  });

  it.each([
    ['html', { body: 'html' as const }, 'bad_response'],
    ['empty', { body: 'empty' as const }, 'bad_response'],
    ['truncated', { body: 'truncated' as const }, 'bad_response'],
    ['http 404', { status: 404 }, 'http_404'],
    ['unknown errcode', { errcode: 61_234 }, '61234'],
  ])('classifies a %s body as upstream_unavailable without retrying', async (_name, fault, label) => {
    const { client, metrics } = build();
    sim.injectFault({ path: C2S, ...fault });
    const err = await rejection(client.code2Session(sim.login({ appId }).code));
    expect(err.code).toBe('upstream_unavailable');
    expect(count(C2S)).toBe(1);
    expect(await metricValue(metrics.wechatCalls, { api: 'jscode2session', errcode: label })).toBe(1);
  });

  it('retries a reset or a 502 once for code2Session, then gives up', async () => {
    const { client, metrics } = build();
    const user = sim.login({ appId });
    sim.injectFault({ path: C2S, reset: true });
    expect((await client.code2Session(user.code)).openid).toBe(user.openid);
    expect(count(C2S)).toBe(2);
    sim.injectFault({ path: C2S, status: 502, times: 5 });
    const err = await rejection(client.code2Session(sim.login({ appId }).code));
    expect(err.code).toBe('upstream_unavailable');
    expect(count(C2S)).toBe(4);
    expect(await metricValue(metrics.wechatCalls, { errcode: 'reset' })).toBe(1);
    expect(await metricValue(metrics.wechatCalls, { errcode: 'http_502' })).toBe(2);
  });

  it('gives other calls up to 3 attempts on -1', async () => {
    const { client } = build();
    const user = sim.login({ appId });
    await client.checkSessionKey(user.openid, user.sessionKey); // token fetched
    sim.injectFault({ path: '/wxa/checksession', errcode: -1, times: 2 });
    expect(await client.checkSessionKey(user.openid, user.sessionKey)).toBe('valid');
    sim.injectFault({ path: '/wxa/checksession', errcode: -1, times: 3 });
    expect((await rejection(client.checkSessionKey(user.openid, user.sessionKey))).code).toBe(
      'upstream_unavailable',
    );
    expect(count('/wxa/checksession')).toBe(1 + 3 + 3);
  });

  it('opens the breaker on a -1 burst, fails fast while open, closes after a good probe (R5)', async () => {
    const { client, metrics, clock } = build();
    sim.injectFault({ path: C2S, errcode: -1, times: 0 });
    for (let i = 0; i < 10; i++) {
      expect((await rejection(client.code2Session(sim.login({ appId }).code))).code).toBe(
        'upstream_unavailable',
      );
      expect(count(C2S)).toBe(2 * (i + 1)); // ≤ 1 retry per login
    }
    expect(client.breakerState()).toBe('open'); // 20 calls, 100 % failures
    expect(await metricValue(metrics.wechatBreakerOpen, { app_id: appId })).toBe(1);

    const started = performance.now();
    const err = await rejection(client.code2Session(sim.login({ appId }).code));
    expect(performance.now() - started).toBeLessThan(50);
    expect(err.code).toBe('upstream_unavailable');
    expect(err.retryAfter).toBe(30);
    expect(count(C2S)).toBe(20); // no upstream call while open

    sim.clearFaults();
    clock.advance(30_000);
    expect(client.breakerState()).toBe('half-open');
    const user = sim.login({ appId });
    expect((await client.code2Session(user.code)).openid).toBe(user.openid);
    expect(client.breakerState()).toBe('closed');
    expect(await metricValue(metrics.wechatBreakerOpen, { app_id: appId })).toBe(0);
  });

  it('does not count 40029 against the breaker', async () => {
    const { client } = build({ breaker: { minCalls: 5 } });
    for (let i = 0; i < 10; i++) await rejection(client.code2Session(`bad-code-${i}`));
    expect(client.breakerState()).toBe('closed');
  });

  it('stops calling an API after 45011 until the next minute boundary (R4)', async () => {
    const { client, clock } = build(); // clock at hh:mm:15
    const user = sim.login({ appId });
    await client.checkSessionKey(user.openid, user.sessionKey);
    sim.injectFault({ path: C2S, errcode: 45011 });
    const err = await rejection(client.code2Session(sim.login({ appId }).code));
    expect(err.code).toBe('upstream_unavailable');
    expect(err.retryAfter).toBe(45);
    expect(count(C2S)).toBe(1);

    clock.advance(20_000);
    const started = performance.now();
    const again = await rejection(client.code2Session(sim.login({ appId }).code));
    expect(performance.now() - started).toBeLessThan(50);
    expect(again.retryAfter).toBe(25);
    expect(count(C2S)).toBe(1);
    expect(await client.checkSessionKey(user.openid, user.sessionKey)).toBe('valid'); // other APIs go on

    clock.advance(25_000);
    const next = sim.login({ appId });
    expect((await client.code2Session(next.code)).openid).toBe(next.openid);
  });

  it('fails closed after 45009 for that API only (R4)', async () => {
    const { client, clock, lines } = build();
    sim.injectFault({ path: C2S, errcode: 45009 });
    const err = await rejection(client.code2Session(sim.login({ appId }).code));
    expect(err.code).toBe('upstream_quota_exhausted');
    expect(lines.some((l) => l.includes('"alert":"wechat_daily_quota"'))).toBe(true);
    clock.advance(3_600_000);
    expect((await rejection(client.code2Session(sim.login({ appId }).code))).code).toBe(
      'upstream_quota_exhausted',
    );
    expect(count(C2S)).toBe(1);
    const user = sim.login({ appId });
    expect(await client.checkSessionKey(user.openid, user.sessionKey)).toBe('valid');
  });

  it('treats 40001 from the token endpoint as misconfiguration, and never retries a force refresh', async () => {
    const { client } = build();
    sim.injectFault({ path: '/cgi-bin/stable_token', errcode: 40001 });
    expect((await rejection(client.fetchStableToken(false))).code).toBe('upstream_misconfigured');
    sim.injectFault({ path: '/cgi-bin/stable_token', status: 503 });
    expect((await rejection(client.fetchStableToken(true))).code).toBe('upstream_unavailable');
    expect(count('/cgi-bin/stable_token')).toBe(2);
  });

  it('refuses bad options at construction', () => {
    const base = { clock: createManualClock(), metrics: createMetrics(), logger: captureLogger().logger };
    const accessTokens = { get: async () => 't', invalidate: async () => 't' };
    expect(() => createWeChatClient({ ...base, accessTokens, appId: '', secret })).toThrow(TypeError);
    expect(() => createWeChatClient({ ...base, accessTokens, appId, secret: '' })).toThrow(TypeError);
    expect(() => createWeChatClient({ ...base, accessTokens, appId, secret, baseUrl: 'ftp://x' })).toThrow(
      TypeError,
    );
    expect(() =>
      createWeChatClient({ ...base, accessTokens, appId, secret, timeouts: { requestMs: 0 } }),
    ).toThrow(TypeError);
  });
});
