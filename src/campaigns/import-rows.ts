/**
 * One CSV row of a contact or do-not-call list, checked (pure; docs/campaigns.md "Contact lists and
 * time zones"). The header row names the columns: `number` (or `phone`) is required; a contact
 * list also reads `name` and `timezone` (an IANA zone) and keeps every other column as the
 * contact's data; a DNC list reads `note`. Header names are matched trimmed and case-insensitively.
 *
 * A row is rejected with one reason: `empty` (no field has anything), `column-count` (not as many
 * fields as the header), `bad-number`, `bad-time-zone`, or, found when it is written (the database
 * knows the campaign's numbers), `duplicate`.
 */
import { isTimeZone } from '../shared/zoned-time.js';
import { normaliseNumber, zonesOfNumber } from './contact-numbers.js';
import type { ImportKind, TzSource } from './tables.js';

export const REJECT_REASONS = ['empty', 'column-count', 'bad-number', 'bad-time-zone', 'duplicate'] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface Columns {
  readonly kind: ImportKind;
  readonly count: number;
  readonly number: number;
  readonly name: number | null;
  readonly timezone: number | null;
  readonly note: number | null;
  /** The other columns kept as data: [index, header]. */
  readonly data: readonly (readonly [number, string])[];
}

export type HeaderResult = { readonly ok: true; readonly columns: Columns } | { readonly ok: false; readonly code: 'missing-number-column' | 'not-csv'; readonly detail: string };

const NUMBER_NAMES = new Set(['number', 'phone']);

/** What the header row says, or why it cannot be a list. */
export function readHeader(header: readonly string[], kind: ImportKind): HeaderResult {
  const names = header.map((h) => h.trim().toLowerCase());
  if (names.every((n) => n === '')) return { ok: false, code: 'not-csv', detail: 'the first line (the header row) is empty' };
  const seen = new Set<string>();
  for (const n of names) {
    if (n !== '' && seen.has(n)) return { ok: false, code: 'not-csv', detail: `the header names the column "${n}" twice` };
    seen.add(n);
  }
  const number = names.findIndex((n) => NUMBER_NAMES.has(n));
  if (number < 0) {
    return { ok: false, code: 'missing-number-column', detail: `the header row needs a "number" (or "phone") column; it has: ${header.slice(0, 20).join(', ').slice(0, 300)}` };
  }
  const at = (name: string): number | null => (names.indexOf(name) >= 0 ? names.indexOf(name) : null);
  const used = new Set([number]);
  const name = kind === 'contacts' ? at('name') : null;
  const timezone = kind === 'contacts' ? at('timezone') : null;
  const note = kind === 'dnc' ? at('note') : null;
  for (const i of [name, timezone, note]) if (i !== null) used.add(i);
  // A second number column (phone beside number) is data, like every other one.
  const data = kind === 'contacts'
    ? header.flatMap((h, i) => (used.has(i) || h.trim() === '' ? [] : [[i, h.trim()] as const]))
    : [];
  return { ok: true, columns: { kind, count: header.length, number, name, timezone, note, data } };
}

export interface ContactRow {
  readonly number: string;
  readonly name: string | null;
  readonly zones: readonly string[];
  readonly tzSource: TzSource;
  readonly data: Readonly<Record<string, string>>;
}
export interface DncRow {
  readonly number: string;
  readonly note: string | null;
}

export type RowResult<T> = { readonly ok: true; readonly row: T } | { readonly ok: false; readonly reason: RejectReason; readonly detail: string };

const reject = (reason: RejectReason, detail: string) => ({ ok: false as const, reason, detail });

/** Checks shared by both kinds: blank, column count, number. */
function common(fields: readonly string[], cols: Columns, defaultCountry: string | null) {
  if (fields.every((f) => f.trim() === '')) return reject('empty', 'the row is empty');
  if (fields.length !== cols.count) return reject('column-count', `${fields.length} fields; the header has ${cols.count}`);
  const raw = fields[cols.number]!;
  const n = normaliseNumber(raw, defaultCountry);
  if (!n.ok) return reject('bad-number', `"${raw.trim().slice(0, 40)}": ${n.detail}`);
  return { ok: true as const, number: n.number };
}

const text = (fields: readonly string[], i: number | null, max: number): string | null => {
  if (i === null) return null;
  const v = fields[i]!.trim();
  return v === '' ? null : v.slice(0, max);
};

export function contactRow(fields: readonly string[], cols: Columns, defaultCountry: string | null): RowResult<ContactRow> {
  const c = common(fields, cols, defaultCountry);
  if (!c.ok) return c;
  const tz = text(fields, cols.timezone, 200);
  if (tz !== null && !isTimeZone(tz)) return reject('bad-time-zone', `"${tz.slice(0, 64)}" is not an IANA time zone (such as America/New_York)`);
  const { zones, source } = tz !== null ? { zones: [tz], source: 'column' as const } : zonesOfNumber(c.number);
  const data: Record<string, string> = {};
  for (const [i, h] of cols.data) data[h] = fields[i]!;
  return { ok: true, row: { number: c.number.e164, name: text(fields, cols.name, 100), zones, tzSource: source, data } };
}

export function dncRow(fields: readonly string[], cols: Columns, defaultCountry: string | null): RowResult<DncRow> {
  const c = common(fields, cols, defaultCountry);
  if (!c.ok) return c;
  return { ok: true, row: { number: c.number.e164, note: text(fields, cols.note, 200) } };
}
