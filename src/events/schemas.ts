/** Request and response schemas of /events (TypeBox; also the OpenAPI document). */
import { Type, type Static } from '@sinclair/typebox';
import { Timestamp } from '../http/schemas.js';

const List = (pattern: string, description: string) =>
  Type.Optional(Type.Array(Type.String({ pattern, maxLength: 400 }), { maxItems: 50, description: `${description}; repeat the parameter or separate by commas` }));

export const StreamQuery = Type.Object(
  {
    types: List('^[a-z.,]+$', 'event types to receive (default: all the role may see)'),
    queue: List('^[a-z0-9,-]+$', 'only events naming one of these queues (agent.state: the agent is a member)'),
    agent: List('^[0-9,]+$', 'only events naming one of these agents (their numbers)'),
    ticket: Type.Optional(Type.String({ maxLength: 100, description: 'a one-time ticket from POST /events/tickets, instead of the Authorization header (browsers\' EventSource)' })),
    lastEventId: Type.Optional(Type.String({ pattern: '^[0-9]{1,16}$', description: 'resume after this event id (as the Last-Event-ID header, for a new EventSource)' })),
  },
  { additionalProperties: false },
);
export type StreamQuery = Static<typeof StreamQuery>;

export const EventTicket = Type.Object(
  {
    ticket: Type.String({ description: 'pass as ?ticket= to GET /events within 30 s; good for one connection' }),
    expiresAt: Timestamp,
  },
  { $id: 'EventTicket' },
);
