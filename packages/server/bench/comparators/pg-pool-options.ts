/**
 * The comparators' pg.Pool settings: those of wxauth's bench server (16 connections; kept open while
 * idle, as src/storage/create-db.ts does for R29). pg's default closes a connection after 10 s idle,
 * and a new backend starts with a cold catalog and no prepared plans, which would put that cost on a
 * comparator at the start of every phase and make it look slower than it is.
 */
export function comparatorPoolOptions(connectionString: string | undefined, schema: string | undefined) {
  return {
    connectionString,
    max: 16,
    idleTimeoutMillis: 0,
    keepAlive: true,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  };
}
