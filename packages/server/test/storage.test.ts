import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { createDb, type Db, isMigrated } from '../src/storage/create-db.ts';
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
