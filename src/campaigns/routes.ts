/**
 * /campaigns (docs/campaigns.md): the campaign itself (admin writes it, supervisors read it), its
 * lifecycle (supervisor: start, pause, resume, stop), its attempts and their dispositions
 * (supervisor: the API has no agent tokens; agents key the disposition on the handset), and the
 * outbound reports (report-routes.ts). Handlers map JSON <-> CampaignService / setDisposition.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { actorFor } from '../audit/actor.js';
import { requireRole } from '../http/auth.js';
import { decodeCursor, PageOf, pageOf } from '../http/paging.js';
import { withErrors } from '../http/schemas.js';
import { API_EVENTS } from './campaign-state.js';
import type { SettingsInput } from './campaign-settings.js';
import { setDisposition } from './dispositions.js';
import { reportRoutes } from './report-routes.js';
import * as repo from './repository.js';
import type { CampaignState } from './tables.js';
import type { CampaignRouteDeps } from './route-deps.js';
import {
  Attempt, AttemptListQuery, AttemptParams, Campaign, CampaignListQuery, CampaignParams, CreateCampaign, DispositionResult, SetDisposition, UpdateCampaign,
  type AttemptListQuery as AttemptListQueryT, type CampaignListQuery as CampaignListQueryT, type CreateCampaignBody, type SetDispositionBody, type UpdateCampaignBody,
} from './schemas.js';
import { CampaignService, viewOf, type CampaignView } from './service.js';

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());
const json = (v: CampaignView & { warnings?: string[] }) => ({ ...v, createdAt: v.createdAt.toISOString(), updatedAt: v.updatedAt.toISOString() });
const attemptJson = (a: repo.AttemptWithAgent) => ({
  id: a.id, contactId: a.contact_id, number: a.number, state: a.state, outcome: a.outcome, hangupCause: a.hangup_cause, amdStatus: a.amd_status,
  amdCause: a.amd_cause, agent: a.agent_number, channelId: a.channel_id, disposition: a.disposition, createdAt: a.created_at.toISOString(),
  dialedAt: iso(a.dialed_at), answeredAt: iso(a.answered_at), connectedAt: iso(a.connected_at), endedAt: iso(a.ended_at), ringMs: a.ring_ms,
});
const isAttemptId = (id: string): boolean => /^[0-9]{1,18}-[0-9]{1,4}$/.test(id);

export function campaignRoutes(deps: CampaignRouteDeps) {
  const admin = requireRole(deps.auth, 'admin');
  const supervisor = requireRole(deps.auth, 'supervisor');
  const security = [{ bearer: [] }];
  const tags = ['campaigns'];
  const ref = Type.Ref('Campaign');
  const campaigns = new CampaignService({ db: deps.db, events: deps.events, log: deps.log, timezone: deps.timezone });
  type Id = { Params: { id: string } };
  return async (app: FastifyInstance): Promise<void> => {
    app.addSchema(Campaign);
    app.addSchema(Attempt);
    app.post<{ Body: CreateCampaignBody }>(
      '/campaigns',
      { onRequest: admin, schema: { tags, security, summary: 'Create a campaign (a draft); queue, trunk, flow and prompts by name; defaults in docs/campaigns.md#settings', body: CreateCampaign, response: withErrors({ 201: ref, 409: Type.Ref('ErrorResponse') }) } },
      async (request, reply) => {
        const { name, ...settings } = request.body;
        return reply.code(201).send(json(await campaigns.create(name, settings as SettingsInput, actorFor(request))));
      },
    );
    app.get<{ Querystring: CampaignListQueryT }>(
      '/campaigns',
      { onRequest: supervisor, schema: { tags, security, summary: 'The campaigns, newest first (paged)', querystring: CampaignListQuery, response: withErrors({ 200: PageOf(ref) }) } },
      async (request) => {
        const q = request.query;
        const rows = await campaigns.list({ limit: q.limit, after: q.cursor ? decodeCursor(q.cursor) : undefined, state: q.state as CampaignState | undefined });
        return pageOf(rows, q.limit, (r) => ({ at: r.cursor_at, id: r.id }), (r) => json(viewOf(r)));
      },
    );
    app.get<Id>('/campaigns/:id', { onRequest: supervisor, schema: { tags, security, summary: 'One campaign', params: CampaignParams, response: withErrors({ 200: ref }) } }, async (request) =>
      json(await campaigns.get(request.params.id)),
    );
    app.patch<Id & { Body: UpdateCampaignBody }>(
      '/campaigns/:id',
      { onRequest: admin, schema: { tags, security, summary: 'Change a draft, paused or finished campaign (retryRules and window merge per key)', params: CampaignParams, body: UpdateCampaign, response: withErrors({ 200: ref, 409: Type.Ref('ErrorResponse') }) } },
      async (request) => json(await campaigns.update(request.params.id, request.body as Partial<SettingsInput>, actorFor(request))),
    );
    app.delete<Id>(
      '/campaigns/:id',
      { onRequest: admin, schema: { tags, security, summary: 'Delete a draft or stopped campaign with no attempt in progress, with its contacts, attempts and figures', params: CampaignParams, response: withErrors({ 204: Type.Null(), 409: Type.Ref('ErrorResponse') }) } },
      async (request, reply) => {
        await campaigns.remove(request.params.id, actorFor(request));
        return reply.code(204).send();
      },
    );
    for (const event of API_EVENTS) {
      app.post<Id>(
        `/campaigns/:id/${event}`,
        { onRequest: supervisor, schema: { tags, security, summary: `${event[0]!.toUpperCase()}${event.slice(1)} the campaign (docs/campaigns.md#lifecycle)`, params: CampaignParams, response: withErrors({ 200: ref, 409: Type.Ref('ErrorResponse') }) } },
        async (request) => json(await campaigns.apply(request.params.id, event, actorFor(request))),
      );
    }
    app.get<Id & { Querystring: AttemptListQueryT }>(
      '/campaigns/:id/attempts',
      { onRequest: supervisor, schema: { tags, security, summary: "The campaign's attempts, newest first (paged)", params: CampaignParams, querystring: AttemptListQuery, response: withErrors({ 200: PageOf(Type.Ref('CampaignAttempt')) }) } },
      async (request) => {
        const q = request.query;
        await campaigns.get(request.params.id);
        const rows = await repo.listAttempts(deps.db, {
          campaignId: request.params.id, limit: q.limit, after: q.cursor ? decodeCursor(q.cursor, isAttemptId) : undefined, state: q.state, outcome: q.outcome,
        });
        return pageOf(rows, q.limit, (r) => ({ at: r.cursor_at, id: r.id }), attemptJson);
      },
    );
    app.post<{ Params: { id: string; attemptId: string }; Body: SetDispositionBody }>(
      '/campaigns/:id/attempts/:attemptId/disposition',
      { onRequest: supervisor, schema: { tags, security, summary: "Set a connected attempt's disposition and apply its action (docs/campaigns.md#dispositions)", params: AttemptParams, body: SetDisposition, response: withErrors({ 200: DispositionResult, 409: Type.Ref('ErrorResponse') }) } },
      async (request) => {
        const { id, attemptId } = request.params;
        const { code, callbackAt } = request.body;
        const r = await setDisposition(deps.db, { attemptId, campaignId: id }, code, { callbackAt: callbackAt === undefined ? undefined : new Date(callbackAt), actor: actorFor(request) });
        if (!r.ok) throw r.error;
        const { ok: _ok, ...result } = r;
        return { ...result, nextAttemptAt: iso(result.nextAttemptAt) };
      },
    );
    await app.register(reportRoutes(deps));
  };
}
