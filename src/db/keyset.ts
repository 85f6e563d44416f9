/**
 * The SQL half of keyset paging (src/http/paging.ts has the cursor): newest first by (time, id).
 * The time goes into the cursor as Postgres has it (microseconds): a JavaScript Date keeps only
 * milliseconds, and rows within the same millisecond would be skipped or repeated.
 */
import { sql, type RawBuilder } from 'kysely';

/** Select as `cursor_at`: the column's exact time as ISO 8601 UTC with microseconds. */
export const cursorAt = (column: string): RawBuilder<string> =>
  sql<string>`to_char(${sql.ref(column)} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** Rows after the keyset in newest-first order: (time, id) < (at, id). */
export const olderThan = (timeColumn: string, idColumn: string, key: { at: string; id: string }): RawBuilder<boolean> =>
  sql<boolean>`(${sql.ref(timeColumn)}, ${sql.ref(idColumn)}) < (${key.at}::timestamptz, ${key.id}::bigint)`;
