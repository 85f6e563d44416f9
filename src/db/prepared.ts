/**
 * A query shape built and compiled by Kysely once, run again with new values: for a read the API
 * serves thousands of times a second (GET /cdrs: docs/benchmarks.md#read-api), where building and
 * compiling the query each time cost the daemon more CPU than reading its rows.
 *
 * The shape is compiled with a placeholder (`slot(name)`) where each value goes; `bind` puts the
 * values in their places, the shape's other parameters as compiled. A `name` makes it a named
 * statement in Postgres: parsed once per connection, and after a few runs planned once
 * (Postgres's generic plan, chosen only when it costs no more than planning anew). pg takes a named
 * statement as a query config ({name, text}) where Kysely hands it the SQL text; Kysely passes
 * `sql` through to pg untouched (test/integration/prepared.test.ts pins that). Name only shapes
 * whose plan does not depend on the values (a range and the keyset on an indexed order), and never
 * two different texts under one name (pg refuses: "Prepared statements must be unique").
 */
import { CompiledQuery, type Compilable } from 'kysely';

const SLOT = '\u0000pbx-slot:';

/** Where a value goes in a shape: any value of the column's type may be passed here (typed as T). */
export const slot = <T>(name: string): T => `${SLOT}${name}` as unknown as T;

export interface Shape {
  readonly sql: string;
  readonly name: string | undefined;
  /** Per parameter: the slot's name, or the compiled constant (`{ constant }`). */
  readonly params: readonly (string | { readonly constant: unknown })[];
}

export function compileShape(query: Compilable, name?: string): Shape {
  const compiled = query.compile();
  const params = compiled.parameters.map((p) => (typeof p === 'string' && p.startsWith(SLOT) ? p.slice(SLOT.length) : { constant: p }));
  return { sql: compiled.sql, name, params };
}

/** The shape with these values in its slots, ready for `db.executeQuery`. A slot without a value is an error. */
export function bind<R>(shape: Shape, values: Readonly<Record<string, unknown>>): CompiledQuery<R> {
  const parameters = shape.params.map((p) => {
    if (typeof p !== 'string') return p.constant;
    if (!(p in values)) throw new Error(`no value for the slot ${p} of a prepared query`);
    return values[p];
  });
  const text = shape.name ? ({ name: shape.name, text: shape.sql } as unknown as string) : shape.sql;
  return CompiledQuery.raw(text, parameters) as CompiledQuery<R>;
}
