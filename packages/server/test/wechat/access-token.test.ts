import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AccessTokenManagerOptions,
  createAccessTokenManager,
  createAccessTokenRepository,
} from '../../src/adapters/wechat/index.ts';
import { createManualClock } from '../../src/clock.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import type { Db } from '../../src/storage/create-db.ts';
import type { Vault } from '../../src/vault/vault.types.ts';
import { testStores } from '../support/test-db.ts';
import { createFakeVault } from './support/fake-vault.ts';
import { captureLogger, metricValue, newAppId, rejection } from './support/harness.ts';

/** R6 rules of the token manager, with a scripted WeChat token endpoint and a manual clock. */
describe.each(testStores)('access token manager on $name', (store) => {
  let db: Db;
  beforeAll(async () => {
    db = await store.open();
  });
  afterAll(async () => {
    await db?.close();
  });

  /** WeChat's stable_token as a script: normal mode returns `current`; force mints a new one. */
  function fakeWeChat(options: { newTokenOnNormal?: boolean; delayMs?: number } = {}) {
    const state = { current: 'T0', normal: 0, force: 0, serial: 0 };
    return {
      state,
      fetchStable: async (force: boolean) => {
        if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
        if (force) {
          state.force++;
          state.current = `F${state.force}`;
        } else {
          state.normal++;
          if (options.newTokenOnNormal) state.current = `N${++state.serial}`;
        }
        return { accessToken: state.current, expiresIn: 7200 };
      },
    };
  }

  function manager(
    appId: string,
    fetchStable: AccessTokenManagerOptions['fetchStable'],
    extra: Partial<AccessTokenManagerOptions> & { vault?: Vault } = {},
  ) {
    const metrics = createMetrics();
    const { logger, lines } = captureLogger();
    const clock = extra.clock ?? createManualClock(Date.UTC(2026, 0, 1));
    const m = createAccessTokenManager({
      appId,
      repository: createAccessTokenRepository({ db: db.kysely, vault: extra.vault ?? createFakeVault() }),
      fetchStable,
      clock,
      metrics,
      logger,
      instanceId: 'i1',
      ...extra,
    });
    return { m, metrics, lines, clock: clock as ReturnType<typeof createManualClock> };
  }

  it('forces a refresh only after normal mode yields the rejected token twice ≥ 30 s apart, ≤ 10 a day', async () => {
    const wx = fakeWeChat();
    const { m, metrics, lines, clock } = manager(newAppId(), wx.fetchStable);
    expect(await m.get()).toBe('T0');

    // Normal mode hands back the token WeChat just rejected: first occurrence, no force yet.
    expect((await rejection(m.invalidate('T0'))).code).toBe('upstream_unavailable');
    clock.advance(10_000);
    expect((await rejection(m.invalidate('T0'))).code).toBe('upstream_unavailable'); // < 30 s later
    expect(wx.state).toMatchObject({ normal: 2, force: 0 });
    clock.advance(25_000);
    expect(await m.invalidate('T0')).toBe('F1');
    expect(wx.state.force).toBe(1);

    /** One escalation: a first strike, then 31 s later a second one that may force. */
    const round = async (): Promise<'forced' | 'refused'> => {
      clock.advance(31_000);
      const bad = wx.state.current;
      await rejection(m.invalidate(bad));
      clock.advance(31_000);
      try {
        return (await m.invalidate(bad)) !== bad ? 'forced' : 'refused';
      } catch {
        return 'refused';
      }
    };
    const outcomes: string[] = [];
    for (let i = 0; i < 10; i++) outcomes.push(await round());
    expect(outcomes).toEqual([...Array(9).fill('forced'), 'refused']);
    expect(wx.state.force).toBe(10);
    expect(await metricValue(metrics.accessTokenRefreshes, { mode: 'force', outcome: 'refused' })).toBe(1);
    const alerts = lines.filter((l) => l.includes('"alert":"wechat_force_refresh"'));
    expect(alerts).toHaveLength(6); // the 5th to the 10th of the day
    expect(lines.some((l) => l.includes('"alert":"wechat_force_refresh_refused"'))).toBe(true);

    // WeChat's day is the Beijing day (UTC+8): 16:00 UTC starts a new quota.
    clock.set(Date.UTC(2026, 0, 1, 16, 0, 1));
    expect(await round()).toBe('forced');
    expect(wx.state.force).toBe(11);
  });

  it('enforces the 30 s force-refresh spacing cluster-wide in the row', async () => {
    const appId = newAppId();
    const repo = createAccessTokenRepository({ db: db.kysely, vault: createFakeVault() });
    await repo.ensureRow(appId);
    const t = Date.UTC(2026, 0, 1);
    const limits = { day: '2026-01-01', maxPerDay: 10, minIntervalMs: 30_000 };
    const first = await Promise.all([
      repo.reserveForceRefresh(appId, { ...limits, now: t }),
      repo.reserveForceRefresh(appId, { ...limits, now: t }),
    ]);
    expect(first.sort()).toEqual([1, null]);
    expect(await repo.reserveForceRefresh(appId, { ...limits, now: t + 29_999 })).toBeNull();
    expect(await repo.reserveForceRefresh(appId, { ...limits, now: t + 30_000 })).toBe(2);
  });

  it('serves the memory cache ≤ 60 s, then the shared row', async () => {
    const appId = newAppId();
    const wx = fakeWeChat({ newTokenOnNormal: true });
    const clock = createManualClock(Date.UTC(2026, 0, 1));
    const a = manager(appId, wx.fetchStable, { clock, instanceId: 'a' });
    const b = manager(appId, wx.fetchStable, { clock, instanceId: 'b' });
    expect(await a.m.get()).toBe('N1');
    expect(await b.m.get()).toBe('N1');
    expect(await b.m.invalidate('N1')).toBe('N2'); // b refetched; a still holds N1 in memory
    clock.advance(59_000);
    expect(await a.m.get()).toBe('N1');
    clock.advance(1_000);
    expect(await a.m.get()).toBe('N2');
    expect(wx.state.normal).toBe(2);
  });

  it('waits for the lease holder instead of calling WeChat, and takes over an expired lease', async () => {
    const appId = newAppId();
    const clock = createManualClock(Date.UTC(2026, 0, 1));
    const repo = createAccessTokenRepository({ db: db.kysely, vault: createFakeVault() });
    await repo.ensureRow(appId);
    expect(await repo.tryAcquireLease(appId, 'ghost', clock.now(), 10_000)).toBe(true);
    const wx = fakeWeChat();
    const b = manager(appId, wx.fetchStable, { clock, instanceId: 'b', leaseMs: 200, pollMs: 20 });
    expect((await rejection(b.m.get())).code).toBe('upstream_unavailable'); // polled, never fetched
    expect(wx.state.normal).toBe(0);
    clock.advance(10_001); // the ghost's lease ran out
    expect(await b.m.get()).toBe('T0');
    expect(wx.state.normal).toBe(1);

    // A live holder: instance c fetches slowly while d asks; d gets c's token without a fetch of its own.
    const app2 = newAppId();
    const slow = fakeWeChat({ delayMs: 150, newTokenOnNormal: true });
    const idle = fakeWeChat();
    const c = manager(app2, slow.fetchStable, { clock, instanceId: 'c' });
    const d = manager(app2, idle.fetchStable, { clock, instanceId: 'd', pollMs: 10 });
    const first = c.m.get();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await d.m.get()).toBe('N1');
    expect(await first).toBe('N1');
    expect(idle.state.normal).toBe(0);
  });

  it('refreshes ahead of expiry once per cooldown, even when WeChat returns the same token', async () => {
    const wx = fakeWeChat({ newTokenOnNormal: true });
    const { m, clock } = manager(newAppId(), wx.fetchStable);
    expect(await m.refreshIfDue()).toBe(true); // nothing stored yet
    expect(await m.refreshIfDue()).toBe(false);
    clock.advance(7_200_000 - 9 * 60_000); // 9 minutes left: due
    expect(await m.refreshIfDue()).toBe(true);
    expect(wx.state.current).toBe('N2');

    // §4 normal mode returns the same token until its last 5 minutes: no fetch loop.
    const same = { token: 'S', expiresAt: clock.now() + 8 * 60_000 };
    const sticky = manager(
      newAppId(),
      async () => ({
        accessToken: same.token,
        expiresIn: Math.floor((same.expiresAt - clock.now()) / 1000),
      }),
      { clock },
    );
    expect(await sticky.m.refreshIfDue()).toBe(true);
    expect(await sticky.m.refreshIfDue()).toBe(false);
    clock.advance(30_000);
    expect(await sticky.m.refreshIfDue()).toBe(false);
    clock.advance(31_000);
    expect(await sticky.m.refreshIfDue()).toBe(true);
  });

  it('treats a row the vault cannot open as absent (R27) and refetches', async () => {
    const appId = newAppId();
    const wx = fakeWeChat({ newTokenOnNormal: true });
    const clock = createManualClock(Date.UTC(2026, 0, 1));
    const a = manager(appId, wx.fetchStable, { clock, instanceId: 'a' });
    expect(await a.m.get()).toBe('N1');
    const blind: Vault = { ...createFakeVault(), open: () => null };
    const b = manager(appId, wx.fetchStable, { clock, instanceId: 'b', vault: blind });
    expect(await b.m.get()).toBe('N2');
  });
});
