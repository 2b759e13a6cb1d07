import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { StoreChoice } from './args.ts';

export interface Store {
  kind: 'pglite' | 'pg';
  label: string;
  /** What a commit costs in durability terms: PGlite runs with fsync off; PG as configured. */
  durability: string;
  url?: string;
}

export const PG_URL =
  process.env.BENCH_PG_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const PGLITE: Store = {
  kind: 'pglite',
  label: 'PGlite (memory)',
  durability: 'in memory, fsync off (PGlite runs single-user postgres with -F)',
};

async function describePg(): Promise<Store | null> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 1_500 });
  try {
    await client.connect();
    const show = async (name: string) => (await client.query(`SHOW ${name}`)).rows[0]?.[name] as string;
    const version = (await show('server_version')).split(' ')[0];
    return {
      kind: 'pg',
      label: `PostgreSQL ${version}`,
      durability: `synchronous_commit=${await show('synchronous_commit')}, fsync=${await show('fsync')}`,
      url: PG_URL,
    };
  } catch {
    return null;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The stores to run on. Full runs default to both; --quick defaults to PostgreSQL when reachable
 * (the goals are stated on PostgreSQL) and PGlite otherwise, to stay within its time budget.
 */
export async function resolveStores(
  choice: StoreChoice | null,
  mode: 'quick' | 'full' | 'long',
): Promise<{ stores: Store[]; notes: string[] }> {
  const wanted: StoreChoice = choice ?? (mode === 'quick' ? 'pg' : 'both');
  const pgStore = wanted === 'pglite' ? null : await describePg();
  const notes: string[] = [];
  if (wanted !== 'pglite' && !pgStore)
    notes.push(`PostgreSQL not reachable at ${redact(PG_URL)}: PGlite only.`);
  const stores: Store[] = [];
  if (wanted !== 'pg' || !pgStore) stores.push(PGLITE);
  if (pgStore) stores.push(pgStore);
  if (wanted === 'pg' && !pgStore && choice === 'pg')
    notes.push('--store pg asked for, but fell back to PGlite.');
  return { stores, notes };
}

const created = new Set<string>();

/** A fresh, empty schema for one system; dropped by dropSchema or, at the latest, dropAllSchemas. */
export async function createSchema(prefix: string): Promise<string> {
  const schema = `bench_${prefix}_${randomBytes(4).toString('hex')}`;
  await adminQuery(`CREATE SCHEMA ${schema}`);
  created.add(schema);
  return schema;
}

export async function dropSchema(schema: string): Promise<void> {
  if (!created.delete(schema)) return;
  await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
}

export async function dropAllSchemas(): Promise<void> {
  for (const schema of [...created]) await dropSchema(schema).catch(() => undefined);
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
