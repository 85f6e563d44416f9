/**
 * List imports as the API sees them (docs/campaigns.md "Contact lists and time zones"): an upload
 * is spooled (import-upload.ts), recorded as a queued import and handed to the job queue
 * (import-jobs.ts); progress, listings and the reject report read the import rows.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Db } from '../db/database.js';
import { notFound } from '../errors.js';
import type { Keyset } from '../http/paging.js';
import type { Logger } from '../logger.js';
import type { ImportQueue } from './import-jobs.js';
import { createImport, getImport, listImports, streamRejects, unfinishedImports, type ImportScope } from './import-store.js';
import { spoolCsv } from './import-upload.js';
import { spoolFile } from './importer.js';
import type { CampaignImportRow } from './tables.js';

export interface ImportServiceDeps {
  readonly db: Db;
  readonly dir: string;
  readonly maxBytes: number;
  readonly queue: ImportQueue;
  readonly log: Logger;
}

export class ImportService {
  constructor(private readonly deps: ImportServiceDeps) {}

  get maxBytes(): number {
    return this.deps.maxBytes;
  }

  /** 404 campaign-not-found unless the campaign exists. */
  async campaign(campaignId: string): Promise<void> {
    const row = await this.deps.db.selectFrom('campaigns').select('id').where('id', '=', campaignId).executeTakeFirst();
    if (!row) throw notFound('campaign-not-found', 'campaign', campaignId);
  }

  /** Spools the body, records the import and queues its job; the import stays queued (swept later) while Redis is down. */
  async upload(scope: ImportScope, body: Readable, fileName: string | null): Promise<CampaignImportRow> {
    if (scope.campaignId !== null) await this.campaign(scope.campaignId);
    await mkdir(this.deps.dir, { recursive: true });
    const id = randomUUID();
    const file = spoolFile(this.deps.dir, id);
    const bytes = await spoolCsv(body, file, this.deps.maxBytes, scope.kind);
    const row = await createImport(this.deps.db, id, scope, fileName, bytes).catch(async (err: unknown) => {
      await rm(file, { force: true });
      throw err;
    });
    await this.deps.queue.enqueue(id).catch((err: Error) => this.deps.log.warn({ importId: id, err: err.message }, 'import not queued yet (Redis); queued when Redis is back'));
    return row;
  }

  /** The import, when it belongs to the scope (404 import-not-found otherwise). */
  async get(scope: ImportScope, importId: string): Promise<CampaignImportRow> {
    const row = await getImport(this.deps.db, importId);
    if (!row || row.kind !== scope.kind || row.campaign_id !== scope.campaignId) throw notFound('import-not-found', 'import', importId);
    return row;
  }

  /** A DNC import's scope (site-wide or its campaign's); 404 import-not-found for anything else. */
  async dncScope(importId: string): Promise<ImportScope> {
    const row = await getImport(this.deps.db, importId);
    if (!row || row.kind !== 'dnc') throw notFound('import-not-found', 'import', importId);
    return { kind: 'dnc', campaignId: row.campaign_id };
  }

  async list(scope: ImportScope, limit: number, after: Keyset | null) {
    if (scope.campaignId !== null) await this.campaign(scope.campaignId);
    return listImports(this.deps.db, scope, limit + 1, after);
  }

  async rejects(scope: ImportScope, importId: string) {
    await this.get(scope, importId);
    return streamRejects(this.deps.db, importId);
  }

  /**
   * Queues every import Postgres says is not finished whose file is in this daemon's spool folder
   * (on start, and when Redis is back); another daemon's (another host, another site on the same
   * database) is left to it.
   */
  async sweep(): Promise<void> {
    for (const id of await unfinishedImports(this.deps.db)) {
      if (existsSync(spoolFile(this.deps.dir, id))) await this.deps.queue.enqueue(id);
    }
  }
}

/** The API's view of an import. */
export function importView(row: CampaignImportRow) {
  return {
    id: row.id,
    kind: row.kind,
    campaignId: row.campaign_id,
    state: row.state,
    fileName: row.file_name,
    bytes: Number(row.bytes),
    rowsRead: row.rows_read,
    accepted: row.accepted,
    rejected: row.rejected,
    rejectedByReason: row.rejected_by_reason,
    error: row.error,
    createdAt: row.created_at.toISOString(),
    finishedAt: row.finished_at?.toISOString() ?? null,
  };
}
