/**
 * /trunks, /outbound-routes, /inbound-routes, /emergency-numbers. Viewer reads, admin writes.
 * Handlers only map JSON <-> services; passwords are never returned (masked).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.js';
import type { AuthService } from '../auth/service.js';
import { actorFor } from '../audit/actor.js';
import { requireRole } from '../http/auth.js';
import { withErrors } from '../http/schemas.js';
import { ListOf, list } from '../http/paging.js';
import { notFound } from '../errors.js';
import type { TrunkService } from './service.js';
import type { RouteService } from './route-service.js';
import type { InboundRouteView, TrunkRow } from './tables.js';
import { trunkEndpointId } from './realtime.js';
import * as repo from './repository.js';
import {
  CreateInboundRoute, CreateOutboundRoute, CreateTrunk, EmergencyNumbers, IdParams, InboundRoute, OutboundRoute, Trunk,
  UpdateInboundRoute, UpdateOutboundRoute, UpdateTrunk,
  type CreateInboundRouteBody, type CreateOutboundRouteBody, type CreateTrunkBody, type EmergencyNumbersBody,
  type UpdateInboundRouteBody, type UpdateOutboundRouteBody, type UpdateTrunkBody,
} from './schemas.js';

export interface TrunkRouteDeps {
  db: Db;
  auth: AuthService;
  trunks: TrunkService;
  routing: RouteService;
}

export const PASSWORD_MASK = '********';

const trunkJson = (t: TrunkRow) => ({
  id: t.id,
  name: t.name,
  endpoint: trunkEndpointId(t.name),
  kind: t.kind,
  host: t.host,
  port: t.port,
  transport: t.transport,
  username: t.username,
  password: t.password === null ? null : PASSWORD_MASK,
  fromUser: t.from_user,
  fromDomain: t.from_domain,
  codecs: t.codecs,
  maxChannels: t.max_channels,
  enabled: t.enabled,
  recordingPolicy: policyOf(t.recording_policy),
  createdAt: t.created_at.toISOString(),
  updatedAt: t.updated_at.toISOString(),
});

/** The stored column (checked by the database) as the API types it. */
const policyOf = (v: string | null): 'always' | 'never' | 'on-demand' | null => (v ?? null) as 'always' | 'never' | 'on-demand' | null;

const outboundJson = (r: repo.OutboundRouteWithTrunk) => ({
  id: r.id,
  name: r.name,
  pattern: r.pattern,
  strip: r.strip,
  prepend: r.prepend,
  trunkId: r.trunk_id,
  trunkName: r.trunk_name,
  priority: r.priority,
  requiredClass: r.required_class,
  recordingPolicy: policyOf(r.recording_policy),
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

const inboundJson = (r: InboundRouteView) => ({
  id: r.id,
  name: r.name,
  didPattern: r.did_pattern,
  callerPattern: r.caller_pattern,
  priority: r.priority,
  target: repo.targetOf(r),
  isDefault: r.did_pattern === null && r.caller_pattern === null,
  recordingPolicy: policyOf(r.recording_policy),
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

export function trunkRoutes(deps: TrunkRouteDeps) {
  const viewer = requireRole(deps.auth, 'viewer');
  const admin = requireRole(deps.auth, 'admin');
  const security = [{ bearer: [] }];
  const db = deps.db;
  const conflict = Type.Ref('ErrorResponse');
  type Id = { Params: { id: string } };

  return async (app: FastifyInstance): Promise<void> => {
    // ------------------------------------------------------------ trunks
    const tags = ['trunks'];
    app.get('/trunks', { onRequest: viewer, schema: { tags, summary: 'List trunks', security, response: withErrors({ 200: ListOf(Trunk) }) } }, async () => list((await repo.listTrunks(db)).map(trunkJson)));

    app.post<{ Body: CreateTrunkBody }>(
      '/trunks',
      { onRequest: admin, schema: { tags, summary: 'Create a trunk and its PJSIP realtime rows; a registration trunk starts registering (asteriskSync says whether Asterisk was told)', security, body: CreateTrunk, response: withErrors({ 201: Trunk, 409: conflict }) } },
      async (request, reply) => {
        const { trunk, asteriskSync } = await deps.trunks.create(actorFor(request), request.body);
        return reply.status(201).send({ ...trunkJson(trunk), asteriskSync });
      },
    );

    app.get<Id>('/trunks/:id', { onRequest: viewer, schema: { tags, summary: 'One trunk', security, params: IdParams, response: withErrors({ 200: Trunk }) } }, async (request) => {
      const t = await repo.findTrunk(db, request.params.id);
      if (!t) throw notFound('trunk-not-found', 'trunk', request.params.id);
      return trunkJson(t);
    });

    app.patch<Id & { Body: UpdateTrunkBody }>(
      '/trunks/:id',
      { onRequest: admin, schema: { tags, summary: 'Change a trunk (not its name); its realtime rows are rewritten (asteriskSync says whether Asterisk was told)', security, params: IdParams, body: UpdateTrunk, response: withErrors({ 200: Trunk, 409: conflict }) } },
      async (request) => {
        const { trunk, asteriskSync } = await deps.trunks.update(actorFor(request), request.params.id, request.body);
        return { ...trunkJson(trunk), asteriskSync };
      },
    );

    app.delete<Id>(
      '/trunks/:id',
      { onRequest: admin, schema: { tags, summary: 'Delete a trunk; refused (trunk-in-use) while outbound routes use it', security, params: IdParams, response: withErrors({ 204: Type.Null(), 409: conflict }) } },
      async (request, reply) => {
        await deps.trunks.delete(actorFor(request), request.params.id);
        return reply.status(204).send();
      },
    );

    // ------------------------------------------------------------ outbound routes
    const otags = ['outbound routes'];
    app.get('/outbound-routes', { onRequest: viewer, schema: { tags: otags, summary: 'List outbound routes in the order they are tried', security, response: withErrors({ 200: ListOf(OutboundRoute) }) } }, async () => list((await repo.listOutboundRoutes(db)).map(outboundJson)));

    app.post<{ Body: CreateOutboundRouteBody }>(
      '/outbound-routes',
      { onRequest: admin, schema: { tags: otags, summary: 'Create an outbound route', security, body: CreateOutboundRoute, response: withErrors({ 201: OutboundRoute, 409: conflict }) } },
      async (request, reply) => reply.status(201).send(outboundJson(await deps.routing.createOutbound(actorFor(request), request.body))),
    );

    app.get<Id>('/outbound-routes/:id', { onRequest: viewer, schema: { tags: otags, summary: 'One outbound route', security, params: IdParams, response: withErrors({ 200: OutboundRoute }) } }, async (request) => {
      const r = await repo.findOutboundRoute(db, request.params.id);
      if (!r) throw notFound('outbound-route-not-found', 'outbound route', request.params.id);
      return outboundJson(r);
    });

    app.patch<Id & { Body: UpdateOutboundRouteBody }>(
      '/outbound-routes/:id',
      { onRequest: admin, schema: { tags: otags, summary: 'Change an outbound route', security, params: IdParams, body: UpdateOutboundRoute, response: withErrors({ 200: OutboundRoute, 409: conflict }) } },
      async (request) => outboundJson(await deps.routing.updateOutbound(actorFor(request), request.params.id, request.body)),
    );

    app.delete<Id>(
      '/outbound-routes/:id',
      { onRequest: admin, schema: { tags: otags, summary: 'Delete an outbound route', security, params: IdParams, response: withErrors({ 204: Type.Null() }) } },
      async (request, reply) => {
        await deps.routing.deleteOutbound(actorFor(request), request.params.id);
        return reply.status(204).send();
      },
    );

    // ------------------------------------------------------------ inbound routes
    const itags = ['inbound routes'];
    app.get('/inbound-routes', { onRequest: viewer, schema: { tags: itags, summary: 'List inbound routes', security, response: withErrors({ 200: ListOf(InboundRoute) }) } }, async () => list((await repo.listInboundRoutes(db)).map(inboundJson)));

    app.post<{ Body: CreateInboundRouteBody }>(
      '/inbound-routes',
      { onRequest: admin, schema: { tags: itags, summary: 'Create an inbound route (caller rules first, then exact DIDs, then DID patterns, then the default)', security, body: CreateInboundRoute, response: withErrors({ 201: InboundRoute, 409: conflict }) } },
      async (request, reply) => reply.status(201).send(inboundJson(await deps.routing.createInbound(actorFor(request), request.body))),
    );

    app.get<Id>('/inbound-routes/:id', { onRequest: viewer, schema: { tags: itags, summary: 'One inbound route', security, params: IdParams, response: withErrors({ 200: InboundRoute }) } }, async (request) => {
      const r = await repo.findInboundRoute(db, request.params.id);
      if (!r) throw notFound('inbound-route-not-found', 'inbound route', request.params.id);
      return inboundJson(r);
    });

    app.patch<Id & { Body: UpdateInboundRouteBody }>(
      '/inbound-routes/:id',
      { onRequest: admin, schema: { tags: itags, summary: 'Change an inbound route', security, params: IdParams, body: UpdateInboundRoute, response: withErrors({ 200: InboundRoute, 409: conflict }) } },
      async (request) => inboundJson(await deps.routing.updateInbound(actorFor(request), request.params.id, request.body)),
    );

    app.delete<Id>(
      '/inbound-routes/:id',
      { onRequest: admin, schema: { tags: itags, summary: 'Delete an inbound route', security, params: IdParams, response: withErrors({ 204: Type.Null() }) } },
      async (request, reply) => {
        await deps.routing.deleteInbound(actorFor(request), request.params.id);
        return reply.status(204).send();
      },
    );

    // ------------------------------------------------------------ emergency numbers
    const etags = ['emergency numbers'];
    app.get('/emergency-numbers', { onRequest: viewer, schema: { tags: etags, summary: 'Numbers that always route, whatever the caller may dial', security, response: withErrors({ 200: EmergencyNumbers }) } }, async () => ({
      numbers: await repo.listEmergencyNumbers(db),
    }));

    app.put<{ Body: EmergencyNumbersBody }>(
      '/emergency-numbers',
      { onRequest: admin, schema: { tags: etags, summary: 'Replace the emergency numbers', security, body: EmergencyNumbers, response: withErrors({ 200: EmergencyNumbers }) } },
      async (request) => ({ numbers: await deps.routing.setEmergencyNumbers(actorFor(request), request.body.numbers) }),
    );
  };
}
