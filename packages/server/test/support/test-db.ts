import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { createDb, type Db, migrateToLatest } from '../../src/storage/create-db.ts';

/**
 * The stores every storage-touching suite runs on: PGlite always, and real PostgreSQL when
 * TEST_DATABASE_URL is set (.ci/run sets it when a server is reachable).
 */
export interface TestStore {
  name: 'pglite' | 'postgres';
  open(): Promise<Db>;
}

export const pgliteStore: TestStore = {
  name: 'pglite',
  async open() {
    const file = process.env.WXAUTH_TEST_PGLITE_TEMPLATE;
    if (!file) throw new Error('WXAUTH_TEST_PGLITE_TEMPLATE is not set: run through vitest (global setup)');
    const db = createDb({ loadDataDir: new Blob([readFileSync(file)]) });
    await db.ping();
    return db;
  },
};

export const postgresStore: TestStore | null = process.env.TEST_DATABASE_URL
  ? {
      name: 'postgres',
      async open() {
        const url = process.env.TEST_DATABASE_URL!;
        // One schema per opened database keeps parallel test files apart on one server.
        const schema = `t_${randomBytes(6).toString('hex')}`;
        const admin = new pg.Client({ connectionString: url });
        await admin.connect();
        await admin.query(`CREATE SCHEMA ${schema}`);
        await admin.end();
        const db = createDb({ databaseUrl: url, schema, poolSize: 20 });
        await migrateToLatest(db);
        const close = db.close;
        return {
          ...db,
          close: async () => {
            await close();
            const cleanup = new pg.Client({ connectionString: url });
            await cleanup.connect();
            await cleanup.query(`DROP SCHEMA ${schema} CASCADE`);
            await cleanup.end();
          },
        };
      },
    }
  : null;

/** PGlite plus PostgreSQL when reachable: use with describe.each. */
export const testStores: TestStore[] = [pgliteStore, ...(postgresStore ? [postgresStore] : [])];

/** `url` with the search_path set to `schema`: a child process then uses that test's schema. */
export function urlInSchema(url: string, schema: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('options', `-c search_path=${schema}`);
  return parsed.toString();
}
