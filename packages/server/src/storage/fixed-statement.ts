import type { RawBuilder } from 'kysely';

/** What compiles a template: any Kysely instance. */
type Compiler = Parameters<RawBuilder<unknown>['compile']>[0];

const SLOT = Symbol('fixed-statement placeholder');
type Placeholder = { readonly [SLOT]: string };
const isPlaceholder = (value: unknown): value is Placeholder =>
  typeof value === 'object' && value !== null && SLOT in value;

/**
 * A statement written as a Kysely template but compiled once: the per-login statement has about forty
 * parameters, and building and compiling its template on every login was about 8 KB of allocation (a
 * twelfth of a login's), which the scavenger pays for in pauses. `build` gets a placeholder per key
 * and may only interpolate them, never compute with them or branch on them; the first compile checks
 * that every parameter it produced is a placeholder, so a template that breaks this fails at once.
 * The compiled text is kept per Kysely instance (the dialect decides the placeholder syntax).
 */
export function fixedStatement<K extends string>(
  keys: readonly K[],
  build: (values: Record<K, never>) => RawBuilder<unknown>,
) {
  const placeholders = Object.fromEntries(keys.map((key) => [key, Object.freeze({ [SLOT]: key })])) as Record<
    K,
    never
  >;
  const compiled = new WeakMap<object, { sql: string; order: K[] }>();
  return {
    /** The text and, in its order, the parameters for these values. */
    bind(db: Compiler, values: Readonly<Record<K, unknown>>): { sql: string; parameters: unknown[] } {
      let statement = compiled.get(db);
      if (statement === undefined) {
        const query = build(placeholders).compile(db);
        const order = query.parameters.map((p) => {
          if (!isPlaceholder(p))
            throw new Error(`fixedStatement: parameter ${String(p)} is not a placeholder`);
          return p[SLOT] as K;
        });
        statement = { sql: query.sql, order };
        compiled.set(db, statement);
      }
      const parameters = new Array<unknown>(statement.order.length);
      for (let i = 0; i < parameters.length; i++) parameters[i] = values[statement.order[i]!];
      return { sql: statement.sql, parameters };
    },
  };
}
