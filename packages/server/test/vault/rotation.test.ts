import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccessTokenRepository } from '../../src/adapters/wechat/access-token.repository.ts';
import { createManualClock } from '../../src/clock.ts';
import { generateKeySetJson, parseKeySet } from '../../src/config/keys.ts';
import { createLogger } from '../../src/observability/logger.ts';
import type { Db } from '../../src/storage/create-db.ts';
import { generateVaultKey, type VaultKeyConfig } from '../../src/vault/keys.ts';
import {
  addVaultKey,
  createRewrapJob,
  createRotationRepository,
  describeRotation,
  identitySessionKeyContext,
  KeyRotationError,
  type KeySetDocument,
  newVaultKid,
  parseKeySetDocument,
  promoteVaultKey,
  type RotationRepository,
  readKidUsage,
  retireVaultKey,
} from '../../src/vault/rotation/index.ts';
import { writeKeyFileAtomic } from '../../src/vault/rotation/key-file.ts';
import { vaultKidDate } from '../../src/vault/rotation/key-set-document.ts';
import { createVault, type VaultEvent } from '../../src/vault/vault.ts';
import { createLogCapture } from '../support/log-capture.ts';
import { testStores } from '../support/test-db.ts';
import { insertIdentity, newSessionKey, readIdentities, sealIdentity } from './rotation-support.ts';

const APP = 'wxrotation000000001';

async function freshDocument(): Promise<KeySetDocument> {
  return parseKeySetDocument(JSON.parse(await generateKeySetJson()));
}

const statuses = (doc: KeySetDocument) => doc.vault.map(({ kid, status }) => `${kid}:${status}`);

describe('key set operations (R26 steps on the JSON)', () => {
  it('add → promote → retire, each result a valid key set, other fields untouched, input never mutated', async () => {
    const doc = await freshDocument();
    const before = JSON.stringify(doc);
    const first = doc.vault[0]!.kid;
    const key = generateVaultKey();

    const added = addVaultKey(doc, { kid: 'v2', key });
    expect(JSON.stringify(doc)).toBe(before);
    expect(statuses(added)).toEqual([`${first}:primary`, 'v2:decrypt-only']);
    expect(Buffer.from(added.vault[1]!.key, 'base64').equals(key)).toBe(true);
    for (const field of ['jwt', 'refreshPepper', 'otpPepper']) expect(added[field]).toEqual(doc[field]);
    expect(parseKeySet(added).vault.map((k) => k.status)).toEqual(['primary', 'decrypt-only']);

    const promoted = promoteVaultKey(added, 'v2');
    expect(promoted).toMatchObject({ changed: true, previousPrimary: first });
    expect(statuses(promoted.doc)).toEqual([`${first}:decrypt-only`, 'v2:primary']);
    expect(promoteVaultKey(promoted.doc, 'v2')).toMatchObject({ changed: false, previousPrimary: 'v2' });

    expect(() => retireVaultKey(promoted.doc, first, 3)).toThrow(/3 stored row\(s\) are still sealed with/);
    expect(() => retireVaultKey(promoted.doc, 'v2', 0)).toThrow(/is the primary key/);
    const retired = retireVaultKey(promoted.doc, first, 0);
    expect(statuses(retired.doc)).toEqual([`${first}:retired`, 'v2:primary']);
    // A retired key keeps its material: restoring an older database backup needs it back as decrypt-only.
    expect(retired.doc.vault[0]!.key).toBe(doc.vault[0]!.key);
    expect(retireVaultKey(retired.doc, first, 5)).toMatchObject({ changed: false });
    expect(() => promoteVaultKey(retired.doc, first)).toThrow(/retired and cannot become primary/);
    expect(parseKeySet(retired.doc).vault.map((k) => k.status)).toEqual(['retired', 'primary']);
  });

  it('refuses reused or malformed kids, unknown kids and duplicated key material, without echoing keys', async () => {
    const doc = await freshDocument();
    const kid = doc.vault[0]!.kid;
    const cases: [() => unknown, RegExp][] = [
      [() => addVaultKey(doc, { kid, key: generateVaultKey() }), /already in this key set/],
      [() => addVaultKey(doc, { kid: 'a b', key: generateVaultKey() }), /must match/],
      [() => promoteVaultKey(doc, 'nope'), /no vault key with kid "nope"/],
      [() => retireVaultKey(doc, 'nope', 0), /no vault key with kid "nope"/],
      [
        () => addVaultKey(doc, { kid: 'copy', key: Buffer.from(doc.vault[0]!.key, 'base64') }),
        /share the same key/,
      ],
    ];
    for (const [run, message] of cases) {
      let error: unknown;
      try {
        run();
      } catch (caught) {
        error = caught;
      }
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain(doc.vault[0]!.key.slice(0, 12));
    }
    expect(() => parseKeySetDocument({ ...doc, vault: [] })).toThrow(/at least one key/);
  });

  it('new kids carry their creation day', () => {
    const clock = createManualClock(Date.UTC(2026, 2, 15, 23, 59));
    const kid = newVaultKid(clock);
    expect(kid).toMatch(/^v20260315-[0-9a-f]{4}$/);
    expect(vaultKidDate(kid)).toBe(Date.UTC(2026, 2, 15));
    expect(vaultKidDate('k1')).toBeNull();
  });

  it('writes the key file atomically with mode 0600, replacing a looser file and leaving no temp file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wxauth-keys-'));
    try {
      const path = join(dir, 'keys.json');
      writeFileSync(path, '{}', { mode: 0o644 });
      const doc = await freshDocument();
      writeKeyFileAtomic(path, doc);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(doc);
      expect(readdirSync(dir)).toEqual(['keys.json']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('rotation status: the next step for each phase', () => {
  const now = Date.UTC(2026, 5, 1);
  const usage = (entries: [string | null, number, number?][]) =>
    entries.flatMap(([kid, ids, tokens]) => [
      { table: 'wechat_identities' as const, kid, rows: ids },
      ...(tokens ? [{ table: 'wechat_access_tokens' as const, kid, rows: tokens }] : []),
    ]);

  it('walks add → promote → rewrap → retire', () => {
    const fresh = describeRotation({
      keys: [{ kid: 'a', status: 'primary' }],
      usage: usage([['a', 5, 1]]),
      now,
    });
    expect(fresh.next).toEqual([expect.stringMatching(/^Nothing to do\. Rotate at least every 12 months/)]);
    expect(fresh.keys[0]!.rows).toEqual({ wechat_identities: 5, wechat_access_tokens: 1 });

    const added = describeRotation({
      keys: [
        { kid: 'a', status: 'primary' },
        { kid: 'b', status: 'decrypt-only' },
      ],
      usage: usage([['a', 5, 1]]),
      now,
    });
    expect(added.next).toEqual([expect.stringContaining('`keys promote b`')]);

    const promoted = describeRotation({
      keys: [
        { kid: 'a', status: 'decrypt-only' },
        { kid: 'b', status: 'primary' },
      ],
      usage: usage([
        ['a', 4, 1],
        ['b', 1],
      ]),
      now,
    });
    expect(promoted.next).toEqual([
      expect.stringMatching(/^5 row\(s\) are still sealed with "a".*`keys rewrap`/),
    ]);

    const rewrapped = describeRotation({
      keys: [
        { kid: 'a', status: 'decrypt-only' },
        { kid: 'b', status: 'primary' },
      ],
      usage: usage([['b', 5, 1]]),
      now,
    });
    expect(rewrapped.next).toEqual(['No row uses "a" any more: `keys retire a`.']);
  });

  it('puts unreadable rows first and flags a primary older than 12 months', () => {
    const broken = describeRotation({
      keys: [
        { kid: 'old', status: 'retired' },
        { kid: 'v20240101-abcd', status: 'primary' },
      ],
      usage: usage([
        ['gone', 2],
        [null, 0, 1],
        ['old', 1],
        ['v20240101-abcd', 3],
      ]),
      now,
    });
    expect(broken.unknownKids).toEqual([
      { kid: 'gone', rows: { wechat_identities: 2, wechat_access_tokens: 0 } },
      { kid: null, rows: { wechat_identities: 0, wechat_access_tokens: 1 } },
    ]);
    expect(broken.next).toHaveLength(3);
    expect(broken.next[0]).toMatch(/^2 row\(s\) are sealed with "gone".*fail closed/);
    expect(broken.next[2]).toMatch(/retired key "old" and fail closed: mark it decrypt-only again/);

    const stale = describeRotation({
      keys: [{ kid: 'v20240101-abcd', status: 'primary' }],
      usage: [],
      now,
    });
    expect(stale.next).toEqual([expect.stringMatching(/more than 12 months old.*`keys add`/)]);
  });
});

const KEK_OLD: VaultKeyConfig = { kid: 'old', key: generateVaultKey(), status: 'primary' };
const KEK_NEW: VaultKeyConfig = { kid: 'new', key: generateVaultKey(), status: 'primary' };
const KEK_GONE: VaultKeyConfig = { kid: 'gone', key: generateVaultKey(), status: 'primary' };
const KEK_RETIRED: VaultKeyConfig = { kid: 'ret', key: generateVaultKey(), status: 'primary' };

const onlyOld = () => createVault({ keys: [KEK_OLD] });
const onlyNew = () => createVault({ keys: [KEK_NEW] });
/** After `promote new`: the new key seals, the old one still opens. */
function promotedRing(events: VaultEvent[] = []) {
  return createVault({
    keys: [{ ...KEK_OLD, status: 'decrypt-only' }, KEK_NEW, { ...KEK_RETIRED, status: 'retired' }],
    onEvent: (e) => events.push(e),
  });
}

describe.each(testStores)('rewrap job on $name', (store) => {
  let db: Db;
  beforeAll(async () => {
    db = await store.open();
  });
  afterAll(async () => {
    await db?.close();
  });

  it('re-seals every readable row under the primary in keyset batches; unreadable rows fail closed, untouched', async () => {
    const plain = new Map<string, string>();
    const old = onlyOld();
    for (let i = 0; i < 10; i++) {
      const openid = `oReadable${String(i).padStart(2, '0')}`;
      const sessionKey = newSessionKey();
      plain.set(openid, sessionKey);
      await sealIdentity(db.kysely, old, { appId: APP, openid, sessionKey });
    }
    // The access token goes through its real writer, so the job must use that writer's context.
    const oldTokens = createAccessTokenRepository({ db: db.kysely, vault: old });
    await oldTokens.ensureRow(APP);
    expect(await oldTokens.tryAcquireLease(APP, 'test', Date.now(), 60_000)).toBe(true);
    expect(await oldTokens.saveToken(APP, 'test', { token: 'AT-1', expiresAt: 1, fetchedAt: 1 })).toBe(true);

    // Four rows no ring can open, one per reason: a removed key, a retired key, a bad tag, not an envelope.
    const broken = new Map<string, string>();
    const seal = async (openid: string, kek: VaultKeyConfig) => {
      const key = newSessionKey();
      broken.set(
        openid,
        await sealIdentity(db.kysely, createVault({ keys: [kek] }), { appId: APP, openid, sessionKey: key }),
      );
      return key;
    };
    const goneKey = await seal('oBrokenGone', KEK_GONE);
    await seal('oBrokenRetired', KEK_RETIRED);
    const tampered = JSON.parse(old.seal(newSessionKey(), identitySessionKeyContext(APP, 'oBrokenTag')));
    tampered.ct = `${tampered.ct.startsWith('A') ? 'B' : 'A'}${tampered.ct.slice(1)}`;
    broken.set('oBrokenTag', JSON.stringify(tampered));
    await insertIdentity(db.kysely, {
      appId: APP,
      openid: 'oBrokenTag',
      envelope: broken.get('oBrokenTag')!,
      kid: 'old',
    });
    broken.set('oBrokenJunk', 'not an envelope');
    await insertIdentity(db.kysely, {
      appId: APP,
      openid: 'oBrokenJunk',
      envelope: 'not an envelope',
      kid: 'old',
    });
    const before = await readIdentities(db.kysely);

    const events: VaultEvent[] = [];
    const logs = createLogCapture();
    const batches: number[] = [];
    const job = createRewrapJob({
      db: db.kysely,
      vault: promotedRing(events),
      clock: createManualClock(),
      logger: createLogger({ destination: logs.stream }),
      batchSize: 3,
      onBatch: (p) => batches.push(p.scanned),
    });
    const first = await job.runOnce();
    expect(first).toMatchObject({
      primaryKid: 'new',
      rewrapped: 11,
      skippedUnreadable: 4,
      changedConcurrently: 0,
      remaining: 4,
    });
    // 14 identities in pages of 3 (the last page short), then the one access token.
    expect(batches).toEqual([3, 6, 9, 12, 14, 1]);
    expect(first.unreadable).toEqual(
      expect.arrayContaining([
        { table: 'wechat_identities', kid: 'gone', reason: 'unknown_kid', rows: 1 },
        { table: 'wechat_identities', kid: 'ret', reason: 'retired_kid', rows: 1 },
        { table: 'wechat_identities', kid: 'old', reason: 'bad_tag', rows: 1 },
        { table: 'wechat_identities', kid: null, reason: 'malformed', rows: 1 },
      ]),
    );
    expect(first.unreadable).toHaveLength(4);
    // R27: the vault emitted one security event per unreadable row.
    expect(events.map((e) => e.reason).sort()).toEqual([
      'bad_tag',
      'malformed',
      'retired_kid',
      'unknown_kid',
    ]);

    const after = await readIdentities(db.kysely);
    const newOnly = onlyNew();
    for (const row of after) {
      const was = before.find((b) => b.openid === row.openid)!;
      // Rewrapping re-seals the same WeChat key: its age (for the reset policy) does not change.
      expect(row.session_key_updated_at).toEqual(was.session_key_updated_at);
      if (broken.has(row.openid)) {
        expect(row.session_key_enc).toBe(broken.get(row.openid));
        expect(row.session_key_kid).toBe(was.session_key_kid);
        continue;
      }
      expect(row.session_key_kid).toBe('new');
      expect(newOnly.kidOf(row.session_key_enc!)).toBe('new');
      expect(newOnly.open(row.session_key_enc!, identitySessionKeyContext(APP, row.openid))).toBe(
        plain.get(row.openid),
      );
    }
    // Fail closed, never plaintext: no stored value is or contains a session_key, not even the lost one.
    for (const row of after) {
      for (const key of [...plain.values(), goneKey]) expect(row.session_key_enc).not.toContain(key);
    }
    const newTokens = createAccessTokenRepository({ db: db.kysely, vault: newOnly });
    expect(await newTokens.findByAppId(APP)).toMatchObject({
      token: 'AT-1',
      unreadable: false,
      fetchedBy: 'test',
    });
    expect(logs.text()).not.toContain(plain.values().next().value!);
    expect(logs.text()).not.toContain('AT-1');

    // A second pass has nothing left it can do and still rewrites nothing.
    events.length = 0;
    const second = await job.runOnce();
    expect(second).toMatchObject({ rewrapped: 0, skippedUnreadable: 4, remaining: 4 });
    expect(events).toHaveLength(4);
    expect(await readIdentities(db.kysely)).toEqual(after);

    const usage = await readKidUsage(createRotationRepository(db.kysely), (e) => newOnly.kidOf(e));
    expect(usage).toEqual(
      expect.arrayContaining([
        { table: 'wechat_identities', kid: 'new', rows: 10 },
        { table: 'wechat_identities', kid: 'old', rows: 2 },
        { table: 'wechat_access_tokens', kid: 'new', rows: 1 },
      ]),
    );
  });

  it('compare-and-set: a row written between the read and the write is never overwritten (no lost update)', async () => {
    const appId = 'wxrotationcas00001';
    const old = onlyOld();
    const newer = onlyNew();
    const rows = ['oCas1', 'oCas2', 'oCas3', 'oCas4'];
    for (const openid of rows)
      await sealIdentity(db.kysely, old, { appId, openid, sessionKey: newSessionKey() });
    const tokens = createAccessTokenRepository({ db: db.kysely, vault: old });
    await tokens.ensureRow(appId);
    await tokens.tryAcquireLease(appId, 'test', Date.now(), 60_000);
    await tokens.saveToken(appId, 'test', { token: 'AT-old', expiresAt: 1, fetchedAt: 1 });

    // Logins that land after the job read its page: one from an instance still sealing with the old
    // key (same kid, new envelope), one from a promoted instance (new kid).
    const fresh = { oCas2: newSessionKey(), oCas3: newSessionKey() };
    const writeLogin = async (openid: 'oCas2' | 'oCas3', vault: typeof old) => {
      const envelope = vault.seal(fresh[openid], identitySessionKeyContext(appId, openid));
      await db.kysely
        .updateTable('wechat_identities')
        .set({ session_key_enc: envelope, session_key_kid: vault.kidOf(envelope) })
        .where('app_id', '=', appId)
        .where('openid', '=', openid)
        .execute();
    };
    const real = createRotationRepository(db.kysely);
    let interleaved = false;
    const repository: RotationRepository = {
      ...real,
      async findIdentitiesToRewrap(primary, after, limit) {
        const page = await real.findIdentitiesToRewrap(primary, after, limit);
        if (!interleaved && page.some((r) => r.appId === appId)) {
          interleaved = true;
          await writeLogin('oCas2', old);
          await writeLogin('oCas3', newer);
        }
        return page;
      },
      async findSealedAccessTokens(after, limit) {
        const page = await real.findSealedAccessTokens(after, limit);
        if (page.some((r) => r.appId === appId)) {
          await tokens.tryAcquireLease(appId, 'refresher', Date.now(), 60_000);
          await tokens.saveToken(appId, 'refresher', { token: 'AT-fresh', expiresAt: 2, fetchedAt: 2 });
        }
        return page;
      },
    };
    const job = createRewrapJob({
      repository,
      vault: promotedRing(),
      clock: createManualClock(),
      logger: createLogger({ level: 'silent' }),
      batchSize: 100,
    });
    const pass = await job.runOnce();
    expect(interleaved).toBe(true);
    expect(pass.changedConcurrently).toBeGreaterThanOrEqual(3);

    const ring = promotedRing();
    const stored = new Map(
      (await readIdentities(db.kysely)).filter((r) => r.app_id === appId).map((r) => [r.openid, r]),
    );
    for (const openid of ['oCas2', 'oCas3'] as const) {
      expect(ring.open(stored.get(openid)!.session_key_enc!, identitySessionKeyContext(appId, openid))).toBe(
        fresh[openid],
      );
    }
    expect(stored.get('oCas2')!.session_key_kid).toBe('old');
    expect(stored.get('oCas3')!.session_key_kid).toBe('new');
    expect(stored.get('oCas1')!.session_key_kid).toBe('new');
    expect(
      await createAccessTokenRepository({ db: db.kysely, vault: ring }).findByAppId(appId),
    ).toMatchObject({
      token: 'AT-fresh',
    });

    // The next pass (no interleaving now) re-seals what the concurrent writers left on the old key.
    const next = await createRewrapJob({
      db: db.kysely,
      vault: promotedRing(),
      clock: createManualClock(),
      logger: createLogger({ level: 'silent' }),
    }).runOnce();
    expect(next.rewrapped).toBeGreaterThanOrEqual(2);
    const final = (await readIdentities(db.kysely)).filter((r) => r.app_id === appId);
    expect(final.map((r) => r.session_key_kid)).toEqual(['new', 'new', 'new', 'new']);
    expect(onlyNew().open(final[1]!.session_key_enc!, identitySessionKeyContext(appId, 'oCas2'))).toBe(
      fresh.oCas2,
    );
    expect(
      await createAccessTokenRepository({ db: db.kysely, vault: onlyNew() }).findByAppId(appId),
    ).toMatchObject({
      token: 'AT-fresh',
    });
  });

  it('refuses a batch size outside 1..10000', () => {
    for (const batchSize of [0, -1, 1.5, 10_001]) {
      expect(() =>
        createRewrapJob({
          db: db.kysely,
          vault: promotedRing(),
          clock: createManualClock(),
          logger: createLogger({ level: 'silent' }),
          batchSize,
        }),
      ).toThrow(RangeError);
    }
  });
});

describe('KeyRotationError', () => {
  it('is a named Error', () => {
    const error = new KeyRotationError('x');
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('KeyRotationError');
  });
});
