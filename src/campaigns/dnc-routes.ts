/**
 * Do-not-call lists (docs/campaigns.md "Do-not-call lists"), supervisor and up: entries one by one,
 * and CSV imports (site-wide, or `?campaignId=` for one campaign's list) with the same progress and
 * reject report as contact lists (list-routes.ts).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { requireRole } from '../http/auth.js';
import { decodeCursor, PageOf, pageOf } from '../http/paging.js';
import { withErrors } from '../http/schemas.js';
import { DncService, dncView } from './dnc.js';
import { importView } from './import-service.js';
import type { ImportScope } from './import-store.js';
import { acceptUpload, csvUpload, sendRejects } from './list-routes.js';
import {
  AddDnc, CsvBody, DncEntry, DncImport, DncImportParams, DncParams, DncQuery, DncUploadQuery,
  type AddDnc as AddDncT, type DncQuery as DncQueryT, type DncUploadQuery as DncUploadQueryT,
} from './list-schemas.js';
import type { CampaignRouteDeps } from './route-deps.js';

export function dncRoutes(deps: CampaignRouteDeps) {
  const supervisor = requireRole(deps.auth, 'supervisor');
  const security = [{ bearer: [] }];
  const tags = ['campaigns'];
  const { imports } = deps;
  const dnc = new DncService(deps.db);
  const err = Type.Ref('ErrorResponse');
  return async (app: FastifyInstance): Promise<void> => {
    app.addSchema(DncEntry);
    app.addSchema(DncImport);
    const gate = csvUpload(app, imports);

    app.post<{ Body: AddDncT }>(
      '/dnc',
      { onRequest: supervisor, schema: { tags, security, summary: "Put a number on the site-wide list, or a campaign's (campaignId); its contacts still to be dialed become dnc", body: AddDnc, response: withErrors({ 200: Type.Ref('DncEntry'), 201: Type.Ref('DncEntry') }) } },
      async (request, reply) => {
        const b = request.body;
        const { row, created } = await dnc.add({ number: b.number, campaignId: b.campaignId ?? null, note: b.note ?? null });
        return reply.status(created ? 201 : 200).send(dncView(row));
      },
    );

    app.delete<{ Params: { id: string } }>(
      '/dnc/:id',
      { onRequest: supervisor, schema: { tags, security, summary: 'Take an entry off its list', params: DncParams, response: withErrors({ 204: Type.Null() }) } },
      async (request, reply) => {
        await dnc.remove(request.params.id);
        return reply.status(204).send();
      },
    );

    app.get<{ Querystring: DncQueryT }>(
      '/dnc',
      { onRequest: supervisor, schema: { tags, security, summary: 'Do-not-call entries, newest first; number: one number on any list; campaignId: one campaign\'s list', querystring: DncQuery, response: withErrors({ 200: PageOf(Type.Ref('DncEntry')) }) } },
      async (request) => {
        const q = request.query;
        const rows = await dnc.list({ number: q.number ?? null, campaignId: q.campaignId ?? null }, q.limit, q.cursor ? decodeCursor(q.cursor) : null);
        return pageOf(rows, q.limit, (r) => ({ at: r.cursor_at, id: r.id }), dncView);
      },
    );

    app.post<{ Querystring: DncUploadQueryT }>(
      '/dnc/imports',
      {
        onRequest: [supervisor, gate],
        schema: {
          tags, security, consumes: ['text/csv'], querystring: DncUploadQuery, body: CsvBody,
          summary: 'Import do-not-call numbers from CSV (number column, optional note); site-wide, or one campaign\'s with campaignId; 202',
          response: withErrors({ 202: Type.Ref('DncImport'), 413: err, 415: err }),
        },
      },
      async (request, reply) => {
        const scope: ImportScope = { kind: 'dnc', campaignId: request.query.campaignId ?? null };
        return acceptUpload(imports, scope, request, reply, request.query.fileName);
      },
    );

    const scopeOf = (importId: string): Promise<ImportScope> => imports.dncScope(importId);

    app.get<{ Params: { importId: string } }>(
      '/dnc/imports/:importId',
      { onRequest: supervisor, schema: { tags, security, summary: 'One do-not-call import and its progress', params: DncImportParams, response: withErrors({ 200: Type.Ref('DncImport') }) } },
      async (request) => importView(await imports.get(await scopeOf(request.params.importId), request.params.importId)),
    );

    app.get<{ Params: { importId: string } }>(
      '/dnc/imports/:importId/rejects',
      {
        onRequest: supervisor,
        schema: { tags, security, summary: 'The rejected rows of a do-not-call import as CSV: line, reason, detail, raw', params: DncImportParams, produces: ['text/csv'], response: withErrors({ 200: Type.String({ description: 'text/csv' }) }) },
      },
      async (request, reply) => sendRejects(imports, await scopeOf(request.params.importId), request.params.importId, reply),
    );
  };
}
