/**
 * An uploaded CSV streamed to its spool file (never held in memory), refused as it arrives when it
 * is too large (413) or holds NUL bytes (400 not-csv: a spreadsheet, an archive, an image); then
 * its header row is read from the first bytes kept aside: UTF-8, a row of column names with a
 * `number` column (400 not-csv / missing-number-column otherwise).
 */
import { parse } from 'csv-parse/sync';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../errors.js';
import { readHeader } from './import-rows.js';
import type { ImportKind } from './tables.js';

/** The header row must end within this many bytes. */
const HEAD_BYTES = 64 * 1024;

const notCsv = (problem: string): AppError => new AppError('not-csv', 400, `the body is not a CSV file: ${problem}`, { problem });
export const tooLarge = (bytes: number, maxBytes: number): AppError =>
  new AppError('payload-too-large', 413, `the file is larger than ${maxBytes} bytes, the most a list may be (PBX_CAMPAIGN_IMPORT_MAX_MB)`, { bytes, maxBytes });

/** Streams `body` into `file`; resolves with its size once the header row checks out. Removes the file on any refusal. */
export async function spoolCsv(body: Readable, file: string, maxBytes: number, kind: ImportKind): Promise<number> {
  let bytes = 0;
  const head: Buffer[] = [];
  let headBytes = 0;
  const gate = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (bytes > maxBytes) return done(tooLarge(bytes, maxBytes));
      if (chunk.includes(0)) return done(notCsv(`a NUL byte near byte ${bytes - chunk.length + chunk.indexOf(0)} (binary data)`));
      if (headBytes < HEAD_BYTES) {
        head.push(chunk);
        headBytes += chunk.length;
      }
      done(null, chunk);
    },
  });
  // The request is piped, not part of the pipeline: a refusal must not destroy it (the answer
  // goes out on its socket); what is left of it is read and dropped.
  body.pipe(gate);
  try {
    await pipeline(gate, createWriteStream(file, { flags: 'wx' }));
    checkHead(Buffer.concat(head).subarray(0, HEAD_BYTES), bytes > HEAD_BYTES, kind);
    return bytes;
  } catch (err) {
    body.unpipe(gate);
    body.resume();
    await rm(file, { force: true });
    throw err;
  }
}

function checkHead(buf: Buffer, more: boolean, kind: ImportKind): void {
  if (buf.length === 0) throw notCsv('it is empty');
  const end = buf.indexOf(0x0a);
  if (end < 0 && more) throw notCsv(`no line break in the first ${HEAD_BYTES} bytes`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(end < 0 ? buf : buf.subarray(0, end + 1));
  } catch {
    throw notCsv('the header row is not UTF-8 text');
  }
  let header: string[];
  try {
    header = (parse(text, { bom: true, to_line: 1, relax_column_count: true, relax_quotes: true }) as string[][])[0] ?? [];
  } catch (err) {
    throw notCsv(`the header row cannot be read: ${(err as Error).message}`);
  }
  const r = readHeader(header, kind);
  if (!r.ok) throw r.code === 'not-csv' ? notCsv(r.detail) : new AppError('missing-number-column', 400, r.detail, { columns: header.slice(0, 50) });
}
