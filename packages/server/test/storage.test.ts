import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { isMigrated } from '../src/storage/create-db.ts';
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
