import { PGlite } from '@electric-sql/pglite';
import { Kysely, PGliteDialect, PostgresDialect } from 'kysely';
import { Migrator } from 'kysely/migration';
import pg from 'pg';
import type { Database } from '../../../src/storage/database.ts';
import { migrationProvider } from '../../../src/storage/migrations/index.ts';
import { comparatorPoolOptions } from '../pg-pool-options.ts';

/** A raw driver (pg.Pool or PGlite) over a database with wxauth's own schema (its migrations). */
export interface RawStore {
  query(sql: string, params: unknown[]): Promise<{ rows: unknown[] }>;
  close(): Promise<void>;
}

export async function openRawStore(kind: 'pglite' | 'pg', url?: string, schema?: string): Promise<RawStore> {
  if (kind === 'pg') {
    // The same pool as wxauth's bench server, so "the same concurrency" means the same thing.
    const pool = new pg.Pool(comparatorPoolOptions(url, schema));
    pool.on('error', () => {});
    await migrate(new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), schema);
    return {
      query: (sql, params) => pool.query(sql, params),
      close: () => pool.end(),
    };
  }
  const pglite = new PGlite();
  await migrate(new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) }), undefined);
  return { query: (sql, params) => pglite.query(sql, params), close: () => pglite.close() };
}

/** The Kysely instance is left open on purpose: destroying it would end the pool / PGlite the raw store uses. */
async function migrate(db: Kysely<Database>, schema: string | undefined): Promise<void> {
  const { error } = await new Migrator({
    db,
    provider: migrationProvider,
    ...(schema ? { migrationTableSchema: schema } : {}),
  }).migrateToLatest();
  if (error) throw error;
}
