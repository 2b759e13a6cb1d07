import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { createDb } from '../../src/storage/create-db.ts';
import { fixedStatement } from '../../src/storage/fixed-statement.ts';

describe('fixedStatement', () => {
  // Compiling needs a Kysely instance but runs no query: an in-memory PGlite that is never opened by a query.
  const db = createDb({});

  it('compiles once and binds each call’s values in the template’s parameter order, repeats included', () => {
    let builds = 0;
    const statement = fixedStatement(['a', 'b'] as const, (v) => {
      builds++;
      return sql`select ${v.b}::int as b, ${v.a}::text as a, ${v.b}::int + 1 as c`;
    });
    const first = statement.bind(db.kysely, { a: 'x', b: 1 });
    const second = statement.bind(db.kysely, { a: 'y', b: 2 });
    expect(builds).toBe(1);
    expect(first.sql).toBe('select $1::int as b, $2::text as a, $3::int + 1 as c');
    expect(second.sql).toBe(first.sql);
    expect(first.parameters).toEqual([1, 'x', 1]);
    expect(second.parameters).toEqual([2, 'y', 2]);
  });

  it('refuses a template that computes with a value instead of interpolating it', () => {
    const statement = fixedStatement(['n'] as const, (v) => sql`select ${(v.n as number) - 1}`);
    expect(() => statement.bind(db.kysely, { n: 5 })).toThrow(/not a placeholder/);
  });
});
