import {
  type CompiledQuery,
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
} from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createSmsFastLoginRepository } from '../../src/phone/sms-fast-login.repository.ts';
import type { Database } from '../../src/storage/database.ts';
import { postgresStore } from '../support/test-db.ts';

/** The statement a fast SMS login sends, compiled without a database. */
async function fastLoginStatement(): Promise<CompiledQuery> {
  const queries: CompiledQuery[] = [];
  const kysely = new Kysely<Database>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
    log: (event) => {
      if (event.level === 'query') queries.push(event.query);
    },
  });
  const now = new Date();
  await createSmsFastLoginRepository(kysely).consumeAndStartSession({
    codeId: 'code-00001',
    phone: '+8613800000001',
    maxAttempts: 5,
    newUserId: 'user-1',
    session: {
      id: 'session-1',
      appId: null,
      method: 'phone',
      tokenHash: Buffer.alloc(32),
      now,
      idleExpiresAt: new Date(now.getTime() + 86_400_000),
      expiresAt: new Date(now.getTime() + 30 * 86_400_000),
      userAgent: null,
      ip: null,
    },
    maxSessions: 10,
  });
  expect(queries).toHaveLength(1);
  return queries[0]!;
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

/** The scans of one table anywhere in a plan, as "<node type> on <index or table>". */
function scansOf(node: PlanNode, table: string): string[] {
  const own =
    node['Relation Name'] === table && node['Node Type'] !== 'ModifyTable'
      ? [`${node['Node Type']} on ${node['Index Name'] ?? table}`]
      : [];
  return [...own, ...(node.Plans ?? []).flatMap((child) => scansOf(child, table))];
}

const literal = (client: pg.Client, value: unknown): string => {
  if (value === null || value === undefined) return 'NULL';
  if (value instanceof Date) return client.escapeLiteral(value.toISOString());
  if (Buffer.isBuffer(value)) return client.escapeLiteral(`\\x${value.toString('hex')}`);
  return client.escapeLiteral(String(value));
};

/**
 * The fast SMS login must find its code by primary key. With `consumed_at IS NULL AND invalidated_at
 * IS NULL` spelled out, a generic plan over a table that outgrew its statistics read the whole partial
 * index sms_codes_active_idx instead (S4: 2.5 ms of database CPU per login).
 */
describe.runIf(postgresStore)('SMS fast login plan (PostgreSQL)', () => {
  it('consumes the code through sms_codes_pkey in a generic plan on an unanalysed table', async () => {
    const statement = await fastLoginStatement();
    const db = await postgresStore!.open();
    const client = new pg.Client({
      connectionString: process.env.TEST_DATABASE_URL,
      options: `-c search_path=${db.schema}`,
    });
    try {
      await client.connect();
      await client.query(`
        INSERT INTO sms_codes (id, phone, purpose, code_hmac, attempts, created_at, expires_at)
        SELECT 'code-' || lpad(i::text, 5, '0'), '+86138' || lpad(i::text, 8, '0'), 'login', '\\x00', 0,
               now(), now() + interval '5 minutes'
        FROM generate_series(1, 20000) i`);
      await client.query('SET plan_cache_mode = force_generic_plan');
      await client.query(`PREPARE fast_login AS ${statement.sql}`);
      const args = statement.parameters.map((p) => literal(client, p)).join(', ');
      const result = await client.query(`EXPLAIN (FORMAT JSON) EXECUTE fast_login(${args})`);
      // sms_codes is read once in this statement: by the UPDATE that consumes the code.
      expect(scansOf(result.rows[0]['QUERY PLAN'][0].Plan, 'sms_codes')).toEqual([
        'Index Scan on sms_codes_pkey',
      ]);
    } finally {
      await client.end();
      await db.close();
    }
  });
});
