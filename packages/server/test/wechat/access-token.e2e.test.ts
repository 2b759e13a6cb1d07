import { type Simulator, startSimulator } from '@wxauth/wechat-sim';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AccessTokenEvent,
  createAccessTokenManager,
  createAccessTokenRepository,
  createWeChatClient,
  type WeChatClient,
} from '../../src/adapters/wechat/index.ts';
import { systemClock } from '../../src/clock.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import type { Db } from '../../src/storage/create-db.ts';
import { testStores } from '../support/test-db.ts';
import { createFakeVault } from './support/fake-vault.ts';
import { captureLogger, metricValue, newAppId } from './support/harness.ts';

/**
 * R6 end to end: client + token manager + shared DB row + the simulator over HTTP, on both stores.
 * Race C9 across two server processes is access-token-c9.test.ts; here it is one instance's share of it.
 */
describe.each(testStores)('access token sharing on $name', (store) => {
  let db: Db;
  let sim: Simulator;
  let agent: Agent;
  const vault = createFakeVault();

  beforeAll(async () => {
    db = await store.open();
    sim = await startSimulator({ seed: 7 });
    agent = new Agent({ connect: { timeout: 1_000 }, connections: 128 });
  });
  afterAll(async () => {
    await agent?.close();
    await sim?.close();
    await db?.close();
  });

  function newApp() {
    const appId = newAppId();
    const secret = `secret-${appId}`;
    sim.registerApp({ appId, secret });
    return { appId, secret };
  }

  /** One server "instance": its own metrics, memory cache and single flight; the DB row is shared. */
  function instance(app: { appId: string; secret: string }, instanceId: string) {
    const metrics = createMetrics();
    const { logger, lines } = captureLogger();
    const events: AccessTokenEvent[] = [];
    let client: WeChatClient | undefined;
    const accessTokens = createAccessTokenManager({
      appId: app.appId,
      repository: createAccessTokenRepository({ db: db.kysely, vault }),
      fetchStable: (force) => client!.fetchStableToken(force),
      clock: systemClock,
      metrics,
      logger,
      instanceId,
      onEvent: (e) => events.push(e),
    });
    client = createWeChatClient({
      ...app,
      baseUrl: sim.url,
      clock: systemClock,
      metrics,
      logger,
      accessTokens,
      dispatcher: agent,
      retry: { baseMs: 5, capMs: 20 },
    });
    return { client, accessTokens, metrics, lines, events };
  }

  const tokenCalls = (appId: string) =>
    sim.calls().filter((c) => c.path === '/cgi-bin/stable_token' && c.appId === appId).length;

  /** "Another service" force-refreshes the app's stable token: ours dies at once (§4). */
  async function forceRefreshElsewhere(app: { appId: string; secret: string }): Promise<void> {
    const response = await fetch(`${sim.url}/cgi-bin/stable_token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        grant_type: 'client_credential',
        appid: app.appId,
        secret: app.secret,
        force_refresh: true,
      }),
    });
    const body = (await response.json()) as { access_token?: string };
    expect(body.access_token).toBeTypeOf('string');
  }

  /** 50 checkSessionKey + 50 getPhoneNumber calls, started together. */
  function hundredCalls(app: { appId: string }, clients: WeChatClient[]) {
    return Array.from({ length: 100 }, (_, i) => {
      const client = clients[i % clients.length]!;
      if (i % 2 === 0) {
        const user = sim.login({ appId: app.appId });
        return client.checkSessionKey(user.openid, user.sessionKey);
      }
      const { code } = sim.phoneCode({ appId: app.appId, phoneNumber: '13900139000' });
      return client.getPhoneNumber(code).then((p) => p.purePhoneNumber);
    });
  }

  it('stores one sealed token that every instance reuses', async () => {
    const app = newApp();
    const a = instance(app, 'a');
    const b = instance(app, 'b');
    const token = await a.accessTokens.get();
    expect(await b.accessTokens.get()).toBe(token);
    expect(await a.accessTokens.get()).toBe(token);
    expect(tokenCalls(app.appId)).toBe(1);
    const row = await db.kysely
      .selectFrom('wechat_access_tokens')
      .selectAll()
      .where('app_id', '=', app.appId)
      .executeTakeFirstOrThrow();
    expect(row.token_enc).not.toContain(token);
    expect(row.fetched_by).toBe('a');
    expect(row.lease_owner).toBeNull();
    expect(a.lines.join('\n')).not.toContain(token);
  });

  it('100 concurrent calls all hitting 40001 cause one token fetch in one instance (single flight)', async () => {
    const app = newApp();
    const a = instance(app, 'a');
    await a.accessTokens.get();
    await forceRefreshElsewhere(app);
    const before = tokenCalls(app.appId);
    const results = await Promise.all(hundredCalls(app, [a.client]));
    expect(results.filter((r) => r === 'valid').length).toBe(50);
    expect(results.filter((r) => r === '13900139000').length).toBe(50);
    expect(tokenCalls(app.appId) - before).toBe(1);
    expect(await metricValue(a.metrics.accessTokenOverwrites, { app_id: app.appId })).toBe(1);
    expect(a.events.filter((e) => e.type === 'wechat.access_token_overwritten')).toHaveLength(1);
  });

  it('recovers from a 40001 storm within one retry per call and counts each overwrite', async () => {
    const app = newApp();
    const a = instance(app, 'a');
    const user = sim.login({ appId: app.appId });
    expect(await a.client.checkSessionKey(user.openid, user.sessionKey)).toBe('valid');
    for (let round = 1; round <= 3; round++) {
      sim.advanceClock(31_000); // §4: force refreshes closer than 30 s apart refresh nothing
      await forceRefreshElsewhere(app);
      const checks = sim.calls().filter((c) => c.path === '/wxa/checksession').length;
      expect(await a.client.checkSessionKey(user.openid, user.sessionKey)).toBe('valid');
      // One 40001, then the retry with the refetched token.
      expect(sim.calls().filter((c) => c.path === '/wxa/checksession').length - checks).toBe(2);
      expect(await metricValue(a.metrics.accessTokenOverwrites)).toBe(round);
    }
    expect(await metricValue(a.metrics.accessTokenRefreshes, { mode: 'force' })).toBe(0);
    expect(a.lines.some((l) => l.includes('"alert":"wechat_access_token_overwritten"'))).toBe(true);
  });
});
