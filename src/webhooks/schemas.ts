/** Request and response schemas of /webhooks (TypeBox; also the OpenAPI document). */
import { Type, type Static } from '@sinclair/typebox';
import { NullableTimestamp, Timestamp } from '../http/schemas.js';
import { EVENT_TYPES } from '../events/model.js';

const EventTypeName = Type.Union([...EVENT_TYPES.map((t) => Type.Literal(t)), Type.Literal('*')], { description: 'an event type of docs/events.md, or * for all' });
const Url = Type.String({ minLength: 1, maxLength: 2048, description: 'http:// or https:// URL the deliveries are POSTed to (private addresses allowed)' });
const QueueName = Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()], { description: 'only events of this queue (its name; agent.state: an agent of this queue); null: all' });
const Description = Type.Union([Type.String({ maxLength: 200 }), Type.Null()]);

export const CreateWebhook = Type.Object(
  {
    url: Url,
    eventTypes: Type.Array(EventTypeName, { minItems: 1, maxItems: 32 }),
    queue: Type.Optional(QueueName),
    active: Type.Optional(Type.Boolean({ default: true })),
    description: Type.Optional(Description),
  },
  { additionalProperties: false },
);
export type CreateWebhookBody = Static<typeof CreateWebhook>;

export const UpdateWebhook = Type.Object(
  {
    url: Type.Optional(Url),
    eventTypes: Type.Optional(Type.Array(EventTypeName, { minItems: 1, maxItems: 32 })),
    queue: Type.Optional(QueueName),
    active: Type.Optional(Type.Boolean({ description: 'true re-enables a webhook the daemon disabled' })),
    description: Type.Optional(Description),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateWebhookBody = Static<typeof UpdateWebhook>;

export const WebhookParams = Type.Object({ id: Type.String({ pattern: '^wh-[0-9a-f-]{36}$' }) }, { additionalProperties: false });
export const DeliveryParams = Type.Object(
  { id: Type.String({ pattern: '^wh-[0-9a-f-]{36}$' }), deliveryId: Type.String({ pattern: '^wh-[0-9a-f-]{36}-[0-9]{1,18}$' }) },
  { additionalProperties: false },
);

export const Webhook = Type.Object(
  {
    id: Type.String(),
    url: Type.String(),
    eventTypes: Type.Array(Type.String()),
    queue: Type.Union([Type.String(), Type.Null()]),
    active: Type.Boolean(),
    disabledReason: Type.Union([Type.String(), Type.Null()], { description: 'why the daemon disabled it (410, failing for the whole retry window)' }),
    description: Type.Union([Type.String(), Type.Null()]),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    secret: Type.Optional(Type.String({ description: 'the signing secret, only in the answers of create and rotate-secret: store it now' })),
    warnings: Type.Optional(Type.Array(
      Type.Object({ code: Type.Literal('webhook-unreachable'), message: Type.String() }),
      { description: 'only in the answer of create: the URL\'s host and port did not accept a connection within 2 s (the webhook is registered all the same)' },
    )),
  },
  { $id: 'Webhook' },
);

export const WebhookDelivery = Type.Object(
  {
    id: Type.String({ description: 'the delivery id, <webhook id>-<event id>: the Pbx-Delivery header, the same at every attempt' }),
    eventId: Type.Integer(),
    eventType: Type.String(),
    state: Type.Union(['pending', 'retrying', 'delivered', 'failed', 'gone'].map((s) => Type.Literal(s)), { description: 'failed: dead after the last attempt' }),
    attempts: Type.Integer(),
    responseCode: Type.Union([Type.Integer(), Type.Null()]),
    durationMs: Type.Union([Type.Integer(), Type.Null()]),
    lastError: Type.Union([Type.String(), Type.Null()]),
    createdAt: Timestamp,
    updatedAt: NullableTimestamp,
  },
  { $id: 'WebhookDelivery' },
);

export const PingResult = Type.Object({
  outcome: Type.Union([Type.Literal('delivered'), Type.Literal('gone'), Type.Literal('failed')]),
  responseCode: Type.Union([Type.Integer(), Type.Null()]),
  durationMs: Type.Integer(),
  error: Type.Union([Type.String(), Type.Null()]),
});
