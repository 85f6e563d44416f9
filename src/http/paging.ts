/**
 * One list shape for the whole API: `{items, nextCursor}`.
 *
 * - Configuration lists (extensions, trunks, queues, ...) are small and return everything:
 *   `list(items)`, schema `ListOf(item)`; their `nextCursor` is always null.
 * - Lists that grow without bound (CDRs, the audit log, an agent's state log, a mailbox) are paged
 *   by keyset on (time, id), newest first: `limit` (default PAGE_LIMIT_DEFAULT, at most
 *   PAGE_LIMIT_MAX) and `cursor` (the `nextCursor` of the page before). A cursor is opaque to
 *   clients: base64url of the last row's time (microseconds, UTC) and id. One that this API did
 *   not issue gets 400 `cursor-invalid`.
 * The SQL side (the row's exact time and the keyset condition) is src/db/keyset.ts.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { AppError } from '../errors.js';

export const PAGE_LIMIT_DEFAULT = 50;
export const PAGE_LIMIT_MAX = 500;

/** Where a page ends: the last row's time (ISO 8601 UTC with microseconds, as Postgres stores it) and id. */
export interface Keyset {
  readonly at: string;
  readonly id: string;
}

/** A list that returns everything: nextCursor is always null. */
export const ListOf = (item: TSchema) =>
  Type.Object(
    { items: Type.Array(item), nextCursor: Type.Null({ description: 'always null: this list returns every item' }) },
    { additionalProperties: false },
  );

/** A page of a list paged by cursor: nextCursor is null on the last page. */
export const PageOf = (item: TSchema) =>
  Type.Object(
    { items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'pass as `cursor` for the next page; null on the last page' }) },
    { additionalProperties: false },
  );

export const list = <T>(items: T[]): { items: T[]; nextCursor: null } => ({ items, nextCursor: null });

/** The querystring fields of a paged list; spread them into the route's querystring schema. */
export const pageQueryFields = {
  limit: Type.Integer({ minimum: 1, maximum: PAGE_LIMIT_MAX, default: PAGE_LIMIT_DEFAULT, description: `items per page (default ${PAGE_LIMIT_DEFAULT}, at most ${PAGE_LIMIT_MAX})` }),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'nextCursor of the previous page' })),
};

const AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;
const ID = /^\d{1,18}$/;

export function encodeCursor(k: Keyset): string {
  return Buffer.from(`${k.at}|${k.id}`, 'utf8').toString('base64url');
}

/**
 * The keyset a cursor names; 400 cursor-invalid for anything this API did not issue. `isId`: what
 * the list's ids look like (default: a numeric id).
 */
export function decodeCursor(cursor: string, isId: (id: string) => boolean = (id) => ID.test(id)): Keyset {
  const [at, id, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (rest.length > 0 || !at || !id || !AT.test(at) || !isId(id) || Number.isNaN(new Date(at).getTime())) {
    throw new AppError('cursor-invalid', 400, 'querystring.cursor is not a cursor this API issued: start again without one', { field: 'querystring.cursor' });
  }
  return { at, id };
}

/**
 * The page from rows fetched with limit + 1 (the extra row only says that there is more):
 * nextCursor names the last row kept.
 */
export function pageOf<R, T>(rows: R[], limit: number, keyOf: (row: R) => Keyset, json: (row: R) => T): { items: T[]; nextCursor: string | null } {
  const kept = rows.slice(0, limit);
  const last = kept[kept.length - 1];
  return { items: kept.map(json), nextCursor: rows.length > limit && last ? encodeCursor(keyOf(last)) : null };
}
