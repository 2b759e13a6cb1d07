import { createHash } from 'node:crypto';
import type pg from 'pg';

/**
 * Wraps every pooled PostgreSQL client's `query(text, values)` for two things.
 *
 * 1. Named (server-side prepared) statements, unless `named` is false. The login statement is one
 *    40-parameter CTE of ~3 KB; PostgreSQL spent about as long planning it as running it (EXPLAIN: 0.7 ms
 *    planning, 0.7 ms execution), and a named statement is parsed and planned once per connection.
 *    Measured serially here: 3.6 ms → 1.6 ms per login statement round. The name is a hash of the SQL
 *    text, so one text always maps to one name and a name is never reused for another text. Each
 *    connection prepares at most `maxPerConnection` texts (our SQL comes from a finite set of code paths;
 *    the cap only guards against unbounded growth, e.g. IN lists of many lengths), and runs later texts
 *    unnamed. WXAUTH_DATABASE_PREPARE=false turns naming off for poolers that cannot carry named
 *    statements across transactions (PgBouncer in transaction mode before 1.21).
 * 2. Date parameters sent as ISO-8601 UTC text (`isoDates`), named or not.
 */
export function wrapPoolQueries(pool: pg.Pool, options: { named: boolean; maxPerConnection?: number }): void {
  const maxPerConnection = options.maxPerConnection ?? 256;
  pool.on('connect', (client) => {
    const names = new Map<string, string>();
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    // (text, values) from Kysely; (text, values, callback) from pool.query (Db.run).
    const patched = (...args: unknown[]): unknown => {
      const [text, raw, callback] = args;
      const shape = args.length === 2 || (args.length === 3 && typeof callback === 'function');
      if (typeof text !== 'string' || !Array.isArray(raw) || !shape) return query(...args);
      const values = isoDates(raw);
      const rest = args.length === 3 ? [callback] : [];
      if (!options.named) return query(text, values, ...rest);
      let name = names.get(text);
      if (name === undefined) {
        if (names.size >= maxPerConnection) return query(text, values, ...rest);
        name = `wx_${createHash('sha1').update(text).digest('base64url')}`;
        names.set(text, name);
      }
      return query({ name, text, values }, ...rest);
    };
    // pg's query has many overloads; this wrapper forwards every shape it does not handle unchanged.
    (client as unknown as { query: typeof patched }).query = patched;
  });
}

/**
 * Date parameters as ISO-8601 UTC text. pg formats a Date in the process's local time by string
 * padding, and that was the largest single allocation site of a login (about 7 KB per login over the
 * statement's dozen timestamps, in a sampling heap profile). Every timestamp column here is timestamptz,
 * which reads both forms as the same instant. An invalid Date goes as the text 'Invalid Date', which
 * PostgreSQL rejects as it rejected pg's NaN text (pg itself now warns that it will throw on one).
 */
export function isoDates(values: readonly unknown[]): unknown[] {
  let out: unknown[] | null = null;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v instanceof Date) {
      out ??= values.slice();
      out[i] = Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString();
    }
  }
  return out ?? (values as unknown[]);
}
