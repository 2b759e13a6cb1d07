import { PGlite } from '@electric-sql/pglite';
import { Kysely, type LogEvent, PGliteDialect, PostgresDialect } from 'kysely';
import pg from 'pg';
import { comparatorPoolOptions } from '../pg-pool-options.ts';

export interface ComparatorDb {
  /** better-auth's database option types its Kysely as Kysely<any>; it owns the table types. */
  kysely: Kysely<Record<string, never>>;
  kind: 'pglite' | 'postgres';
  close(): Promise<void>;
}

/**
 * The same stores wxauth's bench server uses (in-memory PGlite through Kysely's PGliteDialect, or a pg
 * Pool set as in ../pg-pool-options.ts), so a ratio compares the auth code and not the driver.
 */
export function createComparatorDb(options: {
  database: string;
  schema: string | undefined;
  logQueries: boolean;
}): ComparatorDb {
  const log = options.logQueries ? logQuery : undefined;
  if (options.database === 'pglite') {
    const pglite = new PGlite();
    const kysely = new Kysely<Record<string, never>>({
      dialect: new PGliteDialect({ pglite }),
      ...(log ? { log } : {}),
    });
    return {
      kysely,
      kind: 'pglite',
      close: async () => {
        await kysely.destroy();
        if (!pglite.closed) await pglite.close();
      },
    };
  }
  const pool = new pg.Pool({
    ...comparatorPoolOptions(options.database, options.schema),
    connectionTimeoutMillis: 5_000,
  });
  // An idle client that errors must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  const kysely = new Kysely<Record<string, never>>({
    dialect: new PostgresDialect({ pool }),
    ...(log ? { log } : {}),
  });
  return { kysely, kind: 'postgres', close: () => kysely.destroy() };
}

/** stderr only: the runner reads stdout for the READY line and nothing else. */
function logQuery(event: LogEvent): void {
  if (event.level !== 'query') return;
  const text = event.query.sql.replace(/\s+/g, ' ').slice(0, 300);
  process.stderr.write(`[sql ${event.queryDurationMillis.toFixed(2)}ms] ${text}\n`);
}
