import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { createDb, type Db, isMigrated, migrateToLatest } from '../src/storage/create-db.ts';
import { isoDates } from '../src/storage/prepared-statements.ts';
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

  it('runs one statement through Db.run and returns its rows', async () => {
    const db = await store.open();
    try {
      const at = new Date('2026-05-06T07:08:09.010Z');
      const rows = await db.run<{ v: number; at: Date }>('select $1::int + 1 as v, $2::timestamptz as at', [
        41,
        at,
      ]);
      expect(rows).toEqual([{ v: 42, at }]);
      await expect(db.run('select $1::int as v', ['not a number'])).rejects.toThrow();
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
        // Db.run (pool.query's callback form) is named the same way.
        for (let i = 0; i < 2; i++)
          expect(await db.run<{ v: number }>('select $1::int as v', [i])).toEqual([{ v: i }]);
        // The three runs share one text, Db.run's is a second; the counting query is a third text.
        expect(await count(db)).toBe(prepareStatements ? 3 : 0);
      } finally {
        await db.close();
      }
    }
  });

  it('stores a Date parameter as the same instant in any process time zone, and still rejects an invalid one', async () => {
    const zone = process.env.TZ;
    const instant = new Date('2026-03-08T02:30:00.123Z');
    try {
      for (const prepareStatements of [true, false]) {
        for (const tz of ['UTC', 'Asia/Shanghai', 'America/New_York']) {
          process.env.TZ = tz;
          const db = createDb({
            databaseUrl: process.env.TEST_DATABASE_URL!,
            poolSize: 1,
            prepareStatements,
          });
          try {
            const { rows } = await sql<{ at: Date; epoch_ms: string }>`
              select ${instant}::timestamptz as at,
                     (extract(epoch from ${instant}::timestamptz) * 1000)::bigint::text as epoch_ms`.execute(
              db.kysely,
            );
            expect(rows[0]!.at.getTime()).toBe(instant.getTime());
            expect(rows[0]!.epoch_ms).toBe(String(instant.getTime()));
            await expect(
              sql`select ${new Date(Number.NaN)}::timestamptz as at`.execute(db.kysely),
            ).rejects.toThrow();
          } finally {
            await db.close();
          }
        }
      }
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });
});

describe('isoDates', () => {
  it('turns Dates into ISO text (an invalid one into text PostgreSQL refuses) and copies only when it changes something', () => {
    const plain = ['a', 1, null, Buffer.from('x')];
    expect(isoDates(plain)).toBe(plain);
    const bad = new Date(Number.NaN);
    const mixed = [new Date('2026-01-02T03:04:05.006Z'), 'b', bad];
    const out = isoDates(mixed);
    expect(out).not.toBe(mixed);
    expect(out).toEqual(['2026-01-02T03:04:05.006Z', 'b', 'Invalid Date']);
    expect(mixed[0]).toBeInstanceOf(Date);
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
