/**
 * CSV as RFC 4180 writes it, for exports (CDRs, queue and agent reports):
 * - rows end in CRLF, the first row is the header;
 * - a field holding a comma, a double quote, CR or LF is enclosed in double quotes, and a double
 *   quote inside it is doubled;
 * - `null` and `undefined` are an empty field; numbers, bigints and booleans as JavaScript prints
 *   them; a Date as ISO 8601 UTC (format times in the caller's time zone before, as text).
 *
 * Formula injection guard (CWE-1236): a spreadsheet treats a cell that starts with `=`, `+`, `-`,
 * `@`, a tab or CR as a formula, so a caller name such as `=HYPERLINK(...)` could run in the
 * supervisor's spreadsheet. A *text* value (a string) starting with one of those characters gets a
 * leading apostrophe (`'`), which spreadsheets show as text and do not display; the value itself
 * is unchanged after it. Numbers are typed, never guarded: `-3` stays `-3`. So a caller number
 * `+4930123` is written `'+4930123`: a program reading the file strips one leading apostrophe
 * when the next character is one of the six.
 *
 * `csvReadable` turns an async iterable of rows into a byte stream with backpressure: the rows are
 * pulled only as fast as the reader (an HTTP response) takes them, and destroying the stream (the
 * client went away) ends the iteration, which runs the source's cleanup (`return()` of the
 * iterator: a database cursor closes).
 */
import { Readable } from 'node:stream';

export type CsvCell = string | number | bigint | boolean | Date | null | undefined;

const NEEDS_QUOTES = /[",\r\n]/;
/** = + - @ tab CR, by char code (a field's first character is checked on every row of an export) */
const FORMULA_START = new Set([0x3d, 0x2b, 0x2d, 0x40, 0x09, 0x0d]);

/** One field: guarded (text only) and quoted where RFC 4180 needs it. */
export function csvField(value: CsvCell): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  let text = value instanceof Date ? value.toISOString() : value;
  if (typeof value === 'string' && FORMULA_START.has(text.charCodeAt(0))) text = `'${text}`;
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One row, CRLF included. */
export function csvRow(cells: readonly CsvCell[]): string {
  let line = '';
  for (let i = 0; i < cells.length; i++) line += (i === 0 ? '' : ',') + csvField(cells[i]);
  return `${line}\r\n`;
}

/** A whole (small) document: the header row, then the rows. */
export function csvDocument(header: readonly string[], rows: Iterable<readonly CsvCell[]>): string {
  let out = csvRow(header);
  for (const row of rows) out += csvRow(row);
  return out;
}

export interface CsvStreamOptions {
  /** Rows are gathered into chunks of about this many characters (fewer, larger writes). Default 64 KiB. */
  readonly chunkChars?: number;
}

/**
 * The header row, then one row per item of `rows`, as a byte stream (UTF-8) that an HTTP reply
 * can send (Fastify: `reply.send(stream)`). Backpressure: the source is read only when the stream
 * wants more. Destroying the stream stops the source (its iterator's `return()` runs).
 */
export function csvReadable(header: readonly string[], rows: AsyncIterable<readonly CsvCell[]>, options: CsvStreamOptions = {}): Readable {
  const chunkChars = options.chunkChars ?? 64 * 1024;
  async function* chunks(): AsyncGenerator<string> {
    let chunk = csvRow(header);
    for await (const row of rows) {
      chunk += csvRow(row);
      if (chunk.length >= chunkChars) {
        yield chunk;
        chunk = '';
      }
    }
    if (chunk.length > 0) yield chunk;
  }
  return Readable.from(chunks(), { objectMode: false });
}
