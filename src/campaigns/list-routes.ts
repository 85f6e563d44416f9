/**
 * A campaign's contact list (docs/campaigns.md "Contact lists and time zones"): CSV imports
 * (admin or supervisor; the raw text/csv body streamed to a spool file, imported by a job), their
 * progress and reject report, and the contacts. The text/csv parser passes the request stream
 * through untouched, only inside these route files (encapsulated); dnc-routes.ts uses the same.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { Readable } from 'node:stream';
import { AppError } from '../errors.js';
import { requireRole } from '../http/auth.js';
import { decodeCursor, PageOf, pageOf } from '../http/paging.js';
import { sendCsv } from '../http/csv.js';
import { withErrors } from '../http/schemas.js';
import { csvReadable } from '../shared/csv.js';
import { importView, type ImportService } from './import-service.js';
import { tooLarge } from './import-upload.js';
import { listContacts, type ImportScope } from './import-store.js';
import {
  CampaignIdParams, Contact, ContactQuery, CsvBody, ImportParams, ListImport, PageQuery, UploadQuery,
  type ContactQuery as ContactQueryT, type PageQuery as PageQueryT, type UploadQuery as UploadQueryT,
} from './list-schemas.js';
import type { CampaignRouteDeps } from './route-deps.js';
import type { CampaignContactRow } from './tables.js';

const isUuid = (id: string): boolean => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id);

/** The text/csv body parser (a passthrough stream) and the gate that runs before the body is read. */
export function csvUpload(app: FastifyInstance, imports: ImportService): onRequestAsyncHookHandler {
  app.addContentTypeParser('text/csv', (_request, payload, done) => done(null, payload));
  return async (request, reply) => {
    const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'text/csv') {
      throw new AppError('unsupported-media-type', 415, `send the file as the raw request body with Content-Type text/csv (got ${request.headers['content-type'] ?? 'none'})`, {
        contentType: request.headers['content-type'] ?? null,
      });
    }
    const length = Number(request.headers['content-length']);
    if (Number.isFinite(length) && length > imports.maxBytes) {
      // The body is not read: the connection cannot carry another request after this answer.
      reply.header('connection', 'close');
      throw tooLarge(length, imports.maxBytes);
    }
  };
}

/** Runs an upload and answers 202 with the import. */
export async function acceptUpload(imports: ImportService, scope: ImportScope, request: FastifyRequest, reply: FastifyReply, fileName: string | undefined) {
  try {
    const row = await imports.upload(scope, request.body as Readable, fileName ?? null);
    return await reply.status(202).send(importView(row));
  } catch (err) {
    // Refused part-way (too large, not CSV): the rest of the body is not read; close the connection after the answer.
    if (request.raw.readableEnded === false) reply.header('connection', 'close');
    throw err;
  }
}

/** The reject report of an import as CSV (line, reason, detail, raw). */
export async function sendRejects(imports: ImportService, scope: ImportScope, importId: string, reply: FastifyReply) {
  const rows = await imports.rejects(scope, importId);
  async function* cells() {
    for await (const r of rows) yield [r.line, r.reason, r.detail, r.raw];
  }
  return sendCsv(reply, `rejects-${importId}.csv`, () => csvReadable(['line', 'reason', 'detail', 'raw'], cells()));
}

export async function importPage(imports: ImportService, scope: ImportScope, query: PageQueryT) {
  const after = query.cursor ? decodeCursor(query.cursor, isUuid) : null;
  const rows = await imports.list(scope, query.limit, after);
  return pageOf(rows, query.limit, (r) => ({ at: r.cursor_at, id: r.id }), importView);
}

const contactView = (c: CampaignContactRow) => ({
  id: c.id, number: c.number, name: c.name, timeZones: c.time_zones, tzSource: c.tz_source, data: c.data, state: c.state, attempts: c.attempts,
  nextAttemptAt: c.next_attempt_at.toISOString(), lastOutcome: c.last_outcome, disposition: c.disposition, importId: c.import_id, line: c.line,
  createdAt: c.created_at.toISOString(),
});

export function listRoutes(deps: CampaignRouteDeps) {
  const supervisor = requireRole(deps.auth, 'supervisor');
  const security = [{ bearer: [] }];
  const tags = ['campaigns'];
  const { imports } = deps;
  const scope = (id: string): ImportScope => ({ kind: 'contacts', campaignId: id });
  const err = Type.Ref('ErrorResponse');
  return async (app: FastifyInstance): Promise<void> => {
    app.addSchema(ListImport);
    app.addSchema(Contact);
    const gate = csvUpload(app, imports);

    app.post<{ Params: { id: string }; Querystring: UploadQueryT }>(
      '/campaigns/:id/imports',
      {
        onRequest: [supervisor, gate],
        schema: {
          tags, security, consumes: ['text/csv'], params: CampaignIdParams, querystring: UploadQuery, body: CsvBody,
          summary: 'Import contacts from a CSV file (raw text/csv body, header row with a number column); 202, imported by a background job (docs/campaigns.md#contact-lists-and-time-zones)',
          response: withErrors({ 202: Type.Ref('ListImport'), 413: err, 415: err }),
        },
      },
      (request, reply) => acceptUpload(imports, scope(request.params.id), request, reply, request.query.fileName),
    );

    app.get<{ Params: { id: string }; Querystring: PageQueryT }>(
      '/campaigns/:id/imports',
      { onRequest: supervisor, schema: { tags, security, summary: "The campaign's contact imports, newest first", params: CampaignIdParams, querystring: PageQuery, response: withErrors({ 200: PageOf(Type.Ref('ListImport')) }) } },
      (request) => importPage(imports, scope(request.params.id), request.query),
    );

    app.get<{ Params: { id: string; importId: string } }>(
      '/campaigns/:id/imports/:importId',
      { onRequest: supervisor, schema: { tags, security, summary: 'One import and its progress (rows read, accepted, rejected by reason)', params: ImportParams, response: withErrors({ 200: Type.Ref('ListImport') }) } },
      async (request) => importView(await imports.get(scope(request.params.id), request.params.importId)),
    );

    app.get<{ Params: { id: string; importId: string } }>(
      '/campaigns/:id/imports/:importId/rejects',
      {
        onRequest: supervisor,
        schema: { tags, security, summary: 'The rejected rows as CSV: line, reason, detail, raw', params: ImportParams, produces: ['text/csv'], response: withErrors({ 200: Type.String({ description: 'text/csv' }) }) },
      },
      (request, reply) => sendRejects(imports, scope(request.params.id), request.params.importId, reply),
    );

    app.get<{ Params: { id: string }; Querystring: ContactQueryT }>(
      '/campaigns/:id/contacts',
      { onRequest: supervisor, schema: { tags, security, summary: "The campaign's contacts, newest first, optionally in one state", params: CampaignIdParams, querystring: ContactQuery, response: withErrors({ 200: PageOf(Type.Ref('Contact')) }) } },
      async (request) => {
        const q = request.query;
        await imports.campaign(request.params.id);
        const after = q.cursor ? decodeCursor(q.cursor) : null;
        const rows = await listContacts(deps.db, request.params.id, (q.state ?? null) as CampaignContactRow['state'] | null, q.limit + 1, after);
        return pageOf(rows, q.limit, (r) => ({ at: r.cursor_at, id: r.id }), contactView);
      },
    );
  };
}
