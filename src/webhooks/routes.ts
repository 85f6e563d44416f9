/**
 * /webhooks (docs/webhooks.md): an admin registers, lists, changes and removes webhooks, rotates a
 * secret, reads a webhook's delivery log, redelivers one, pings. Handlers map JSON <-> WebhookService.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { AuthService } from '../auth/service.js';
import { actorFor } from '../audit/actor.js';
import { requireRole } from '../http/auth.js';
import { withErrors } from '../http/schemas.js';
import { ListOf, list } from '../http/paging.js';
import type { WebhookService, WebhookView } from './service.js';
import type { WebhookDeliveryRow } from './tables.js';
import { probeReach } from './reach.js';
import { CreateWebhook, DeliveryParams, PingResult, UpdateWebhook, WebhookParams, type CreateWebhookBody, type UpdateWebhookBody } from './schemas.js';

/** The creation's reachability probe is cut after this (docs/webhooks.md#urls). */
const REACH_TIMEOUT_MS = 2_000;

export interface WebhookRouteDeps {
  auth: AuthService;
  webhooks: WebhookService;
}

const json = (v: WebhookView, secret?: string) => ({ ...v, createdAt: v.createdAt.toISOString(), updatedAt: v.updatedAt.toISOString(), ...(secret ? { secret } : {}) });
const deliveryJson = (d: WebhookDeliveryRow) => ({
  id: d.id, eventId: Number(d.event_id), eventType: d.event_type, state: d.state, attempts: d.attempts, responseCode: d.response_code,
  durationMs: d.duration_ms, lastError: d.last_error, createdAt: d.created_at.toISOString(), updatedAt: d.updated_at.toISOString(),
});

export function webhookRoutes(deps: WebhookRouteDeps) {
  const admin = requireRole(deps.auth, 'admin');
  const security = [{ bearer: [] }];
  const ref = Type.Ref('Webhook');
  const tags = ['webhooks'];
  const { webhooks } = deps;
  type Id = { Params: { id: string } };
  return async (app: FastifyInstance): Promise<void> => {
    app.post<{ Body: CreateWebhookBody }>(
      '/webhooks',
      { onRequest: admin, schema: { tags, summary: 'Register a webhook; the answer shows its signing secret, once, and warns when nothing accepts a connection at the URL', security, body: CreateWebhook, response: withErrors({ 201: ref }) } },
      async (request, reply) => {
        const { webhook, secret } = await webhooks.create(request.body, actorFor(request));
        const unreachable = await probeReach(webhook.url, REACH_TIMEOUT_MS);
        const warnings = unreachable === null ? {} : { warnings: [{ code: 'webhook-unreachable' as const, message: `the URL did not accept a connection: ${unreachable}; registered all the same (POST /webhooks/{id}/ping once the receiver is up)` }] };
        return reply.code(201).send({ ...json(webhook, secret), ...warnings });
      },
    );
    app.get('/webhooks', { onRequest: admin, schema: { tags, summary: 'The webhooks', security, response: withErrors({ 200: ListOf(ref) }) } }, async () =>
      list((await webhooks.list()).map((w) => json(w))),
    );
    app.get<Id>('/webhooks/:id', { onRequest: admin, schema: { tags, summary: 'One webhook', security, params: WebhookParams, response: withErrors({ 200: ref }) } }, async (request) =>
      json(await webhooks.get(request.params.id)),
    );
    app.patch<Id & { Body: UpdateWebhookBody }>(
      '/webhooks/:id',
      { onRequest: admin, schema: { tags, summary: 'Change a webhook (active: true re-enables one the daemon disabled)', security, params: WebhookParams, body: UpdateWebhook, response: withErrors({ 200: ref }) } },
      async (request) => json(await webhooks.update(request.params.id, request.body, actorFor(request))),
    );
    app.delete<Id>(
      '/webhooks/:id',
      { onRequest: admin, schema: { tags, summary: 'Remove a webhook and its delivery log', security, params: WebhookParams, response: withErrors({ 204: Type.Null() }) } },
      async (request, reply) => {
        await webhooks.remove(request.params.id, actorFor(request));
        return reply.code(204).send();
      },
    );
    app.post<Id>(
      '/webhooks/:id/rotate-secret',
      { onRequest: admin, schema: { tags, summary: 'A new signing secret, shown once in this answer; the old one stops at once', security, params: WebhookParams, response: withErrors({ 200: ref }) } },
      async (request) => {
        const { webhook, secret } = await webhooks.rotateSecret(request.params.id, actorFor(request));
        return json(webhook, secret);
      },
    );
    app.get<Id>(
      '/webhooks/:id/deliveries',
      { onRequest: admin, schema: { tags, summary: 'The webhook\'s last 100 deliveries, newest first', security, params: WebhookParams, response: withErrors({ 200: ListOf(Type.Ref('WebhookDelivery')) }) } },
      async (request) => list((await webhooks.deliveries(request.params.id)).map(deliveryJson)),
    );
    app.post<{ Params: { id: string; deliveryId: string } }>(
      '/webhooks/:id/deliveries/:deliveryId/redeliver',
      { onRequest: admin, schema: { tags, summary: 'Send a delivery again (same delivery id and body, signed now)', security, params: DeliveryParams, response: withErrors({ 202: Type.Ref('WebhookDelivery') }) } },
      async (request, reply) => reply.code(202).send(deliveryJson(await webhooks.redeliver(request.params.id, request.params.deliveryId, actorFor(request)))),
    );
    app.post<Id>(
      '/webhooks/:id/ping',
      { onRequest: admin, schema: { tags, summary: 'Send a signed ping event now (not queued, not retried) and tell how the receiver answered', security, params: WebhookParams, response: withErrors({ 200: PingResult }) } },
      async (request) => {
        const o = await webhooks.ping(request.params.id);
        return { outcome: o.kind, responseCode: o.status, durationMs: o.durationMs, error: o.kind === 'failed' ? o.error : null };
      },
    );
  };
}
