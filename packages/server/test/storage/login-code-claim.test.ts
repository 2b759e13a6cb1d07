import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createLoginCodesRepository, loginCodeHash } from '../../src/login/login-codes.repository.ts';
import { createDb, migrateToLatest } from '../../src/storage/create-db.ts';
import { testStores } from '../support/test-db.ts';

describe.each(testStores)('login-code claim on $name', (store) => {
  it('lets the first claim of a code win and every later one lose, and records it as pending', async () => {
    const db = await store.open();
    try {
      const codes = createLoginCodesRepository(db.kysely, db.run);
      const hash = loginCodeHash('wxapp', `code-${randomBytes(4).toString('hex')}`);
      const at = new Date('2026-11-25T10:00:00.000Z');
      expect(await codes.claimLoginCode(hash, 'wxapp', at)).toBe(true);
      expect(await codes.claimLoginCode(hash, 'wxapp', at)).toBe(false);
      expect(await codes.claimLoginCode(hash, 'otherapp', new Date())).toBe(false);
      expect(await codes.findLoginCode(hash)).toEqual({
        state: 'pending',
        userId: null,
        errorCode: null,
        createdAt: at,
        completedAt: null,
      });
    } finally {
      await db.close();
    }
  });
});

describe.runIf(process.env.TEST_DATABASE_URL)('login-code claim on postgres: commit mode', () => {
  it('relaxes synchronous_commit for its own transaction only, never for the session that runs the login', async () => {
    const url = process.env.TEST_DATABASE_URL!;
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    // One connection: the claim, the SHOWs and the transaction all run in the same session.
    const db = createDb({ databaseUrl: url, schema, poolSize: 1 });
    try {
      await migrateToLatest(db);
      const codes = createLoginCodesRepository(db.kysely, db.run);
      const show = async () =>
        (await sql<{ synchronous_commit: string }>`show synchronous_commit`.execute(db.kysely)).rows[0]!
          .synchronous_commit;
      expect(await show()).toBe('on');

      // Inside a transaction the setting is visible, so the claim's commit does not wait for the flush.
      await db.run('begin', []);
      expect(await codes.claimLoginCode(loginCodeHash('wxapp', 'in-tx'), 'wxapp', new Date())).toBe(true);
      expect(await show()).toBe('off');
      await db.run('commit', []);
      expect(await show()).toBe('on');

      // On its own (the way the login runs it) it reverts at its implicit commit, and the row is there.
      const hash = loginCodeHash('wxapp', 'autocommit');
      expect(await codes.claimLoginCode(hash, 'wxapp', new Date())).toBe(true);
      expect(await show()).toBe('on');
      expect((await codes.findLoginCode(hash))?.state).toBe('pending');
    } finally {
      await db.close();
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    }
  });
});
