import {
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
} from 'kysely';
import { createSessionsRepository } from '../../../src/sessions/sessions.repository.ts';
import type { Database } from '../../../src/storage/database.ts';

export type Role = 'sessionId' | 'generation' | 'tokenHash' | 'childHash' | 'now' | 'idleUntil';

export interface RotateStatement {
  sql: string;
  /** What each $n parameter is: a role to fill per call, or a constant to pass as captured. */
  params: ({ role: Role } | { constant: unknown })[];
}

export interface RotateInput {
  sessionId: string;
  generation: number;
  tokenHash: Buffer;
  childHash: Buffer;
  now: Date;
  idleUntil: Date;
}

const SENTINEL = {
  sessionId: 'bench-sentinel-session-id',
  generation: 987_654_321,
  tokenHash: Buffer.from('bench-sentinel-token-hash'),
  childHash: Buffer.from('bench-sentinel-child-hash'),
  now: new Date(1_000_000_000_000),
  idleTtlMs: 123_456_789,
};

/**
 * The exact SQL wxauth's refresh runs (sessions.repository.ts rotate), taken from the repository
 * itself through a Kysely whose driver only records what it is asked to run — so the S3 floor keeps
 * executing wxauth's statement even while that statement is being optimised. Parameters are mapped
 * back to their meaning by recognising sentinel inputs.
 */
export async function captureRotateStatement(): Promise<RotateStatement> {
  const captured: CompiledQuery[] = [];
  const connection: DatabaseConnection = {
    async executeQuery<R>(query: CompiledQuery) {
      captured.push(query);
      return { rows: [] as R[] };
    },
    // biome-ignore lint/correctness/useYield: never streamed; the recorder has nothing to stream
    async *streamQuery() {
      throw new Error('not supported');
    },
  };
  const driver: Driver = {
    init: async () => {},
    acquireConnection: async () => connection,
    beginTransaction: async () => {},
    commitTransaction: async () => {},
    rollbackTransaction: async () => {},
    releaseConnection: async () => {},
    destroy: async () => {},
  };
  const recorder = new Kysely<Database>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => driver,
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
  await createSessionsRepository(recorder).rotate(SENTINEL);
  if (captured.length !== 1) throw new Error(`rotate ran ${captured.length} statements, expected 1`);
  const query = captured[0]!;
  const idleUntil = SENTINEL.now.getTime() + SENTINEL.idleTtlMs;
  return {
    sql: query.sql,
    params: query.parameters.map((value) => {
      if (value === SENTINEL.sessionId) return { role: 'sessionId' };
      if (value === SENTINEL.generation) return { role: 'generation' };
      if (Buffer.isBuffer(value) && value.equals(SENTINEL.tokenHash)) return { role: 'tokenHash' };
      if (Buffer.isBuffer(value) && value.equals(SENTINEL.childHash)) return { role: 'childHash' };
      if (value instanceof Date && value.getTime() === SENTINEL.now.getTime()) return { role: 'now' };
      if (value instanceof Date && value.getTime() === idleUntil) return { role: 'idleUntil' };
      return { constant: value };
    }),
  };
}

export function bindRotate(statement: RotateStatement, input: RotateInput): unknown[] {
  return statement.params.map((p) => ('role' in p ? input[p.role] : p.constant));
}
