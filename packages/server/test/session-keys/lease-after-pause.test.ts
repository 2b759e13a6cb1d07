import { describe, expect, it } from 'vitest';
import { createCheckPipeline } from '../../src/session-keys/check-pipeline.ts';
import { createRowChecker, type RowControl } from '../../src/session-keys/check-row.ts';
import type { ClaimedKey } from '../../src/session-keys/session-keys.repository.ts';
import { generateVaultKey } from '../../src/vault/keys.ts';
import { identitySessionKeyContext } from '../../src/vault/sealed-contexts.ts';
import { createVault } from '../../src/vault/vault.ts';

const LEASE_MS = 10_000;

/**
 * R7 / C11: a row waiting for its pacing token after a 45011 waits until the next minute, longer than
 * its lease. Another worker may claim and check it meanwhile, so the worker must hold the lease again
 * after the wait, and not call WeChat for a row it no longer owns.
 */
describe('session-key job: a lease lost during the pacing wait', () => {
  async function run(otherWorkerTookTheRows: boolean) {
    const clock = { t: 1_000_000, now: () => clock.t };
    const vault = createVault({ keys: [{ kid: 'k1', key: generateVaultKey(), status: 'primary' }] });
    const keys: ClaimedKey[] = ['o1', 'o2', 'o3'].map((openid) => ({
      appId: 'wxapp',
      openid,
      sessionKeyEnc: vault.seal('c2Vzc2lvbi1rZXktMTIzNA==', identitySessionKeyContext('wxapp', openid)),
      status: 'valid',
      version: null,
      updatedAt: null,
      resetAt: null,
    }));
    const called: string[] = [];
    const recorded: string[] = [];
    const control: RowControl = {
      // The pacer after a 45011: the next token comes at the next minute.
      take: async () => {
        clock.t += 60_000;
        return true;
      },
      minuteQuota: () => {},
      pause: () => {},
      fatal: () => {},
    };
    const api = {
      checkSessionKey: async (openid: string) => {
        called.push(openid);
        return 'valid' as const;
      },
      resetUserSessionKey: async () => ({ sessionKey: 'unused' }),
    };
    const checkRow = createRowChecker({ vault, clock, resetAgeMs: null });
    const pipeline = createCheckPipeline({
      clock,
      leaseMs: LEASE_MS,
      check: (key, holdLease) => checkRow(key, api, control, holdLease),
      record: async (key) => {
        recorded.push(key.openid);
        return true;
      },
      counted: () => {},
      // Renewal keeps only the rows still claimed by this worker.
      renew: async (rows) =>
        otherWorkerTookTheRows ? new Set() : new Set(rows.map((k) => `${k.appId}:${k.openid}`)),
      release: async () => {},
      stopped: () => false,
    });
    pipeline.add(keys, clock.now() + LEASE_MS);
    await pipeline.idle();
    await pipeline.close();
    return { called, recorded };
  }

  it('does not call WeChat for rows another worker claimed while it waited', async () => {
    expect(await run(true)).toEqual({ called: [], recorded: [] });
  });

  it('renews and checks rows nobody else claimed', async () => {
    const { called, recorded } = await run(false);
    expect(called.sort()).toEqual(['o1', 'o2', 'o3']);
    expect(recorded.sort()).toEqual(['o1', 'o2', 'o3']);
  });
});
