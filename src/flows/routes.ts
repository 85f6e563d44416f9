/**
 * /flows: IVR flows and their versions. Viewer reads, admin writes (each write audited).
 * Handlers only map JSON <-> FlowService.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { AuthService } from '../auth/service.js';
import { actorFor } from '../audit/actor.js';
import { requireRole } from '../http/auth.js';
import { withErrors } from '../http/schemas.js';
import { ListOf, list } from '../http/paging.js';
import type { FlowSummary as FlowSummaryRow, VersionInfo } from './repository.js';
import { MAX_DEFINITION_BYTES, type FlowDetail as FlowDetailData, type FlowService } from './service.js';
import type { FlowVersionRow } from './tables.js';
import {
  CreateFlow, FlowDetail, FlowParams, FlowSummary, FlowVersion, FlowVersionInfo, Rollback, SaveDraft, VersionParams,
  type CreateFlowBody, type RollbackBody, type SaveDraftBody,
} from './schemas.js';

export interface FlowRouteDeps {
  auth: AuthService;
  flows: FlowService;
}

/** Room for the definition plus the rest of the body. */
const BODY_LIMIT = MAX_DEFINITION_BYTES + 4096;

const versionInfoJson = (v: VersionInfo) => ({
  version: v.version,
  state: v.state,
  createdAt: v.created_at.toISOString(),
  publishedAt: v.published_at?.toISOString() ?? null,
  createdBy: v.created_by,
});

const versionJson = (v: FlowVersionRow) => ({ ...versionInfoJson(v), definition: v.definition });

const summaryJson = (f: FlowSummaryRow) => ({
  name: f.name,
  description: f.description,
  publishedVersion: f.published_version,
  draftVersion: f.draft_version,
  hasDraft: f.draft_version !== null,
  createdAt: f.created_at.toISOString(),
  updatedAt: f.updated_at.toISOString(),
});

const detailJson = (d: FlowDetailData) => ({
  ...summaryJson(d.flow),
  published: d.published ? versionJson(d.published) : null,
  draft: d.draft ? versionJson(d.draft) : null,
});

export function flowRoutes(deps: FlowRouteDeps) {
  const viewer = requireRole(deps.auth, 'viewer');
  const admin = requireRole(deps.auth, 'admin');
  const security = [{ bearer: [] }];
  const tags = ['flows'];
  const err = Type.Ref('ErrorResponse');
  type Named = { Params: FlowParams };

  return async (app: FastifyInstance): Promise<void> => {
    app.get(
      '/flows',
      { onRequest: viewer, schema: { tags, summary: 'List IVR flows with their published version and whether a draft exists', security, response: withErrors({ 200: ListOf(FlowSummary) }) } },
      async () => list((await deps.flows.list()).map(summaryJson)),
    );

    app.post<{ Body: CreateFlowBody }>(
      '/flows',
      {
        onRequest: admin,
        bodyLimit: BODY_LIMIT,
        schema: {
          tags,
          summary: 'Create a flow; a definition given is checked and saved as draft version 1 (422 flow-invalid naming node and field of each problem)',
          security,
          body: CreateFlow,
          response: withErrors({ 201: FlowDetail, 409: err, 413: err, 422: err }),
        },
      },
      async (request, reply) => reply.status(201).send(detailJson(await deps.flows.create(actorFor(request), request.body))),
    );

    app.get<Named>(
      '/flows/:name',
      { onRequest: viewer, schema: { tags, summary: 'One flow with its published and draft definitions', security, params: FlowParams, response: withErrors({ 200: FlowDetail }) } },
      async (request) => detailJson(await deps.flows.get(request.params.name)),
    );

    app.put<Named & { Body: SaveDraftBody }>(
      '/flows/:name/draft',
      {
        onRequest: admin,
        bodyLimit: BODY_LIMIT,
        schema: {
          tags,
          summary: 'Save the draft: replaces the draft, or starts a new version when there is none; checked first (422 flow-invalid)',
          security,
          params: FlowParams,
          body: SaveDraft,
          response: withErrors({ 200: FlowDetail, 413: err, 422: err }),
        },
      },
      async (request) => detailJson(await deps.flows.saveDraft(actorFor(request), request.params.name, request.body.definition)),
    );

    app.post<Named>(
      '/flows/:name/publish',
      {
        onRequest: admin,
        schema: {
          tags,
          summary: 'Publish the draft (checked again); the version published before is retired. 409 flow-no-draft without a draft',
          security,
          params: FlowParams,
          response: withErrors({ 200: FlowDetail, 409: err, 422: err }),
        },
      },
      async (request) => detailJson(await deps.flows.publish(actorFor(request), request.params.name)),
    );

    app.post<Named & { Body: RollbackBody }>(
      '/flows/:name/rollback',
      {
        onRequest: admin,
        schema: {
          tags,
          summary: 'Publish an earlier version again (checked again); the draft is kept',
          security,
          params: FlowParams,
          body: Rollback,
          response: withErrors({ 200: FlowDetail, 422: err }),
        },
      },
      async (request) => detailJson(await deps.flows.rollback(actorFor(request), request.params.name, request.body.version)),
    );

    app.get<Named>(
      '/flows/:name/versions',
      { onRequest: viewer, schema: { tags, summary: 'Versions of a flow, newest first', security, params: FlowParams, response: withErrors({ 200: ListOf(FlowVersionInfo) }) } },
      async (request) => list((await deps.flows.versions(request.params.name)).map(versionInfoJson)),
    );

    app.get<{ Params: { name: string; version: number } }>(
      '/flows/:name/versions/:version',
      { onRequest: viewer, schema: { tags, summary: 'One version with its definition', security, params: VersionParams, response: withErrors({ 200: FlowVersion }) } },
      async (request) => versionJson(await deps.flows.version(request.params.name, request.params.version)),
    );

    app.delete<Named>(
      '/flows/:name',
      {
        onRequest: admin,
        schema: { tags, summary: 'Delete a flow and its versions; refused (flow-in-use) while an inbound route or another published flow uses it', security, params: FlowParams, response: withErrors({ 204: Type.Null(), 409: err }) },
      },
      async (request, reply) => {
        await deps.flows.remove(actorFor(request), request.params.name);
        return reply.status(204).send();
      },
    );
  };
}
