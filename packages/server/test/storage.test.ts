import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { createDb, type Db, isMigrated, migrateToLatest } from '../src/storage/create-db.ts';
import { testStores } from './support/test-db.ts';

describe.each(testStores)('storage on $name', (store) => {
  it('opens a migrated database with every table', async () => {
    const db = await store.open();
    try {
      expect(await isMigrated(db)).toBe(true);
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from sessions`.execute(db.kysely);
      expect(rows[0]?.n).toBe(0);
    } finally {
      await db.close();
    }
  });
});

describe.runIf(process.env.TEST_DATABASE_URL)('storage on postgres: prepared statements', () => {
  const count = (db: Db) =>
    sql<{ n: number }>`select count(*)::int as n from pg_prepared_statements where name like 'wx\\_%'`
      .execute(db.kysely)
      .then((r) => r.rows[0]!.n);

  it('runs repeated queries as named statements, one per text, and not when turned off', async () => {
    for (const prepareStatements of [true, false]) {
      // One connection, so every query (and the count) runs in the session that holds the statements.
      const db = createDb({ databaseUrl: process.env.TEST_DATABASE_URL!, poolSize: 1, prepareStatements });
      try {
        for (let i = 0; i < 3; i++) {
          const { rows } = await sql<{ v: number }>`select ${i}::int + 1 as v`.execute(db.kysely);
          expect(rows[0]!.v).toBe(i + 1);
        }
        // The three runs share one text; the counting query is a second text.
        expect(await count(db)).toBe(prepareStatements ? 2 : 0);
      } finally {
        await db.close();
      }
    }
  });
});

describe('storage on PGlite', () => {
  // One fresh database (each takes seconds to create): its settings, then a first and a second migration.
  it('starts with a small shared buffer pool and its defaults kept; migrates once, then finds nothing to do', async () => {
    const db = createDb({});
    try {
      const show = async (name: string) =>
        (await sql<{ v: string }>`SELECT current_setting(${name}) AS v`.execute(db.kysely)).rows[0]!.v;
      expect(await show('shared_buffers')).toBe('16MB');
      // PGlite's own start parameters still apply (a custom list replaces them).
      expect(await show('max_worker_processes')).toBe('0');

      expect(await isMigrated(db)).toBe(false);
      await migrateToLatest(db);
      expect(await isMigrated(db)).toBe(true);
      const applied = async () =>
        (await sql<{ n: number }>`SELECT count(*)::int AS n FROM kysely_migration`.execute(db.kysely))
          .rows[0]!.n;
      const before = await applied();
      await migrateToLatest(db);
      expect(await applied()).toBe(before);
    } finally {
      await db.close();
    }
  }, 60_000);
});
