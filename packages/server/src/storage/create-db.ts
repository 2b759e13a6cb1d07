import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { CompiledQuery, Kysely, PGliteDialect, PostgresDialect, sql } from 'kysely';
import { DEFAULT_MIGRATION_TABLE as MIGRATION_TABLE, Migrator } from 'kysely/migration';
import pg from 'pg';
import type { Config } from '../config/load-config.ts';
import type { Database } from './database.ts';
import { LATEST_MIGRATION, migrationProvider } from './migrations/index.ts';
import { wrapPoolQueries } from './prepared-statements.ts';

export type StoreKind = 'pglite' | 'postgres';

export interface DbOptions {
  /** PostgreSQL connection string; when absent the embedded PGlite is used. */
  databaseUrl?: string | undefined;
  /** PGlite data directory; `memory://` (or undefined) keeps it in memory. */
  dataDir?: string | undefined;
  /** Load a PGlite data dir dump (tests clone a migrated template this way). */
  loadDataDir?: Blob | undefined;
  /** PostgreSQL only: run queries as named prepared statements (default true); see prepared-statements.ts. */
  prepareStatements?: boolean;
  /** Pool size for PostgreSQL (R29: a fixed pool). */
  poolSize?: number;
  /** Postgres schema to use (tests isolate themselves in one schema each). */
  schema?: string | undefined;
}

/**
 * One statement on its own (autocommit, never inside a transaction), returning its rows. The per-login
 * statements use it: on PostgreSQL it goes straight to the pool, without Kysely's executor, which
 * allocated about 6 KB per statement (a login's two statements were a fifth of its allocated bytes, and
 * allocation rate sets how often the scavenger pauses the process). On PGlite it goes through Kysely,
 * whose connection mutex keeps it out of another request's open transaction.
 */
export type RunSql = <R>(text: string, values: readonly unknown[]) => Promise<R[]>;

export interface Db {
  kysely: Kysely<Database>;
  kind: StoreKind;
  run: RunSql;
  close(): Promise<void>;
  /** Throws when the database cannot answer; /readyz uses it. */
  ping(): Promise<void>;
  /** The PostgreSQL schema in use when not the default (tests); migrations keep their tables there. */
  schema?: string;
  /** PGlite only: a dump of the data dir (tests clone a migrated template from it). */
  dumpDataDir?: () => Promise<Blob>;
}

/**
 * PGlite keeps PostgreSQL's default 128 MB of shared buffers, zeroed at every start (about a third of a
 * second of a two-second start here) and held for the life of the process. The embedded store serves
 * one instance and modest data, and its "disk" is memory or the OS page cache, so a smaller pool costs
 * little: 16 MB opens about 0.35 s sooner.
 */
const PGLITE_SHARED_BUFFERS = '16MB';
/** PGlite's own start parameters, which a custom list must repeat (`--single`, `-F`, …). */
const PGLITE_DEFAULT_START_PARAMS = (PGlite as unknown as { defaultStartParams?: readonly string[] })
  .defaultStartParams;

/** The server's database as configured: PostgreSQL when WXAUTH_DATABASE_URL is set, else PGlite on disk. */
export function dbOptionsFromConfig(
  config: Pick<Config, 'databaseUrl' | 'dataDir' | 'dbPoolSize' | 'dbPrepareStatements'>,
): DbOptions {
  return {
    databaseUrl: config.databaseUrl,
    dataDir: `${config.dataDir}/pglite`,
    poolSize: config.dbPoolSize,
    prepareStatements: config.dbPrepareStatements,
  };
}

export function createDb(options: DbOptions): Db {
  if (options.databaseUrl) {
    // pg returns bigint (int8) as string and timestamptz as Date, which the repositories expect.
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: 5_000,
      // R29: a fixed pool. pg closes a connection idle for 10 s by default; every reconnect then costs
      // a new server backend with a cold catalog cache and our prepared statements planned again, so
      // the first second of traffic after a quiet spell ran 100–300 ms slower per statement. TCP
      // keep-alive stops NATs and load balancers from silently dropping the idle connections instead.
      idleTimeoutMillis: 0,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
    });
    // An idle client that errors (server restart) must not crash the process; the pool replaces it.
    pool.on('error', () => {});
    wrapPoolQueries(pool, { named: options.prepareStatements !== false });
    const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return {
      kysely,
      kind: 'postgres',
      run: async <R>(text: string, values: readonly unknown[]) =>
        (await pool.query<R & pg.QueryResultRow>(text, values as unknown[])).rows,
      ...(options.schema ? { schema: options.schema } : {}),
      close: () => kysely.destroy(),
      ping: async () => {
        await sql`select 1`.execute(kysely);
      },
    };
  }
  const dataDir = options.dataDir && options.dataDir !== 'memory://' ? options.dataDir : undefined;
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const pglite = new PGlite({
    ...(dataDir ? { dataDir } : {}),
    ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
    ...(PGLITE_DEFAULT_START_PARAMS
      ? { startParams: [...PGLITE_DEFAULT_START_PARAMS, '-c', `shared_buffers=${PGLITE_SHARED_BUFFERS}`] }
      : {}),
  });
  const kysely = new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) });
  return {
    kysely,
    kind: 'pglite',
    run: async <R>(text: string, values: readonly unknown[]) =>
      (await kysely.executeQuery<R>(CompiledQuery.raw(text, [...values]))).rows,
    close: async () => {
      await kysely.destroy();
      if (!pglite.closed) await pglite.close();
    },
    ping: async () => {
      await sql`select 1`.execute(kysely);
    },
    dumpDataDir: () => pglite.dumpDataDir('none'),
  };
}

/**
 * Kysely looks for its lock table across all schemas; with several schemas on one server (parallel
 * test files) it could see another schema's table and skip creating its own. Naming the schema fixes that.
 */
function migrator(db: Db): Migrator {
  return new Migrator({
    db: db.kysely,
    provider: migrationProvider,
    ...(db.schema ? { migrationTableSchema: db.schema } : {}),
  });
}

export async function migrateToLatest(db: Db): Promise<void> {
  // The usual start finds everything applied: one query instead of the Migrator's lock dance (about
  // 150 ms of a PGlite start).
  if (await latestApplied(db)) return;
  const { error, results } = await migrator(db).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new Error(`migration ${failed ?? '?'} failed`, { cause: error });
  }
}

/** True when the newest migration is recorded (Kysely applies them strictly in order). */
async function latestApplied(db: Db): Promise<boolean> {
  const table = db.schema ? sql.id(db.schema, MIGRATION_TABLE) : sql.id(MIGRATION_TABLE);
  try {
    const result = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM ${table} WHERE name = ${LATEST_MIGRATION}`.execute(db.kysely);
    return result.rows[0]?.n === 1;
  } catch {
    return false; // no migration table yet (a fresh database): the Migrator creates it
  }
}

/** True when every known migration has been applied. */
export async function isMigrated(db: Db): Promise<boolean> {
  const all = await migrator(db).getMigrations();
  return all.every((m) => m.executedAt !== undefined) && all.some((m) => m.name === LATEST_MIGRATION);
}
