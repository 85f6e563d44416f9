/**
 * Runs one list import (the job of queue `campaign-imports`): reads its spooled CSV file with
 * csv-parse as a stream, checks each row (import-rows.ts) and writes them in batches (1,000 rows
 * or about 1 MB of text, whichever comes first: memory stays flat whatever the file), each batch
 * with the import's counters in one transaction (import-store.ts). Run again (a crash, a stalled
 * job, the daemon restarted), it skips the rows the counters already hold and goes on from there.
 * The file is deleted once the import is done or failed.
 *
 * A CSV error (a quote never closed) fails the import there: rows before it stay imported.
 * Database errors are thrown: the job is retried and resumes.
 */
import { parse, CsvError } from 'csv-parse';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Db, DbOrTx } from '../db/database.js';
import type { Logger } from '../logger.js';
import { contactRow, dncRow, readHeader, type Columns, type ContactRow, type DncRow, type RowResult } from './import-rows.js';
import { applyBatch, getImport, setImportState, writeContacts, writeDnc, type Batch, type ImportScope, type Lined, type Reject } from './import-store.js';

export const IMPORT_BATCH_ROWS = 1000;
/** A batch also ends at about this much CSV text, so wide rows (a big data column) do not make big batches. */
const BATCH_CHARS = 1_000_000;

export interface ImporterDeps {
  readonly db: Db;
  /** The spool folder (config.campaignImports.dir). */
  readonly dir: string;
  readonly log: Logger;
  readonly batchRows?: number;
}

export const spoolFile = (dir: string, importId: string): string => path.join(dir, `${importId}.csv`);

/** The parser's options: the raw text of each record (the reject report, and its line). */
export const CSV_OPTIONS = { bom: true, relax_column_count: true, skip_empty_lines: false, raw: true, max_record_size: 1_000_000 } as const;

interface Kind<T extends ContactRow | DncRow> {
  check(fields: readonly string[], cols: Columns, country: string | null): RowResult<T>;
  write(tx: DbOrTx, batch: Batch<T>): Promise<{ accepted: number; rejects: readonly Reject[] }>;
}
const CONTACTS: Kind<ContactRow> = { check: contactRow, write: writeContacts };
const DNC: Kind<DncRow> = { check: dncRow, write: writeDnc };

export class Importer {
  constructor(private readonly deps: ImporterDeps) {}

  /** Runs (or resumes) the import; `signal` stops it between batches (as a crash would). */
  async run(importId: string, signal?: AbortSignal): Promise<void> {
    const { db, log } = this.deps;
    const row = await getImport(db, importId);
    if (!row || row.state === 'done' || row.state === 'failed') return;
    const scope: ImportScope = { kind: row.kind, campaignId: row.campaign_id };
    const country = scope.campaignId === null ? null
      : (await db.selectFrom('campaigns').select('default_country').where('id', '=', scope.campaignId).executeTakeFirst())?.default_country;
    if (country === undefined) return; // the campaign is gone (its imports with it)
    await setImportState(db, importId, 'running');
    const file = spoolFile(this.deps.dir, importId);
    try {
      const finished = scope.kind === 'contacts'
        ? await this.read(importId, scope, country, row.rows_read, file, CONTACTS, signal)
        : await this.read(importId, scope, country, row.rows_read, file, DNC, signal);
      if (!finished) return;
      await setImportState(db, importId, 'done');
      log.info({ importId, kind: scope.kind }, 'list import done');
    } catch (err) {
      if (!(err instanceof CsvError) && (err as NodeJS.ErrnoException).code !== 'ENOENT' && !(err instanceof HeaderError)) throw err;
      const message = err instanceof CsvError ? `line ${String((err as CsvError & { lines?: number }).lines ?? '?')}: ${err.message}`
        : err instanceof HeaderError ? err.message : 'the uploaded file is gone';
      await setImportState(db, importId, 'failed', message);
      log.warn({ importId, err: message }, 'list import failed');
    }
    await rm(file, { force: true });
  }

  /** true: read to the end; false: stopped (signal, or another run owns the import now). */
  private async read<T extends ContactRow | DncRow>(
    importId: string, scope: ImportScope, country: string | null, skip: number, file: string, kind: Kind<T>, signal: AbortSignal | undefined,
  ): Promise<boolean> {
    const size = this.deps.batchRows ?? IMPORT_BATCH_ROWS;
    const parser = createReadStream(file).pipe(parse(CSV_OPTIONS));
    let cols: Columns | null = null;
    let nextLine = 1;
    let index = 0;
    let from = skip;
    let rows: Lined<T>[] = [];
    let rejects: Reject[] = [];
    let batchChars = 0;
    const flush = async (): Promise<boolean> => {
      const read = rows.length + rejects.length;
      if (read === 0) return true;
      const ok = await applyBatch(this.deps.db, { importId, scope, from, read, rows, rejects }, kind.write);
      from += read;
      rows = [];
      rejects = [];
      batchChars = 0;
      return ok;
    };
    try {
      for await (const rec of parser as AsyncIterable<{ record: string[]; raw: string }>) {
        // Where the record starts: line breaks counted in its raw text (info.lines counts a CRLF
        // inside quotes twice; the raw text of a CRLF record ends in its CR alone).
        const line = nextLine;
        nextLine += countNewlines(rec.raw);
        if (cols === null) {
          const header = readHeader(rec.record, scope.kind);
          if (!header.ok) throw new HeaderError(header.detail);
          cols = header.columns;
          continue;
        }
        index += 1;
        if (index <= skip) continue;
        const raw = rec.raw.replace(/(\r\n|\r|\n)$/, '');
        const r = kind.check(rec.record, cols, country);
        if (r.ok) rows.push({ line, raw, row: r.row });
        else rejects.push({ line, reason: r.reason, detail: r.detail, raw });
        batchChars += rec.raw.length;
        if (rows.length + rejects.length >= size || batchChars >= BATCH_CHARS) {
          if (signal?.aborted || !(await flush())) return false;
        }
      }
      if (signal?.aborted) return false;
      return await flush();
    } finally {
      parser.destroy();
    }
  }
}

class HeaderError extends Error {}

/** Line breaks in `text`: CRLF, CR or LF, each one. */
function countNewlines(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === 0x0a || (c === 0x0d && text.charCodeAt(i + 1) !== 0x0a)) n += 1;
  }
  return n;
}
