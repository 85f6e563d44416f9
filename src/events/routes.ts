/**
 * /events: the live event stream over Server-Sent Events (docs/events.md), and the one-time
 * tickets a browser connects with. The stream is the Fastify reply hijacked: the response stays
 * open, frames are written by the client's queue (client.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import { Type } from '@sinclair/typebox';
import type { AuthService } from '../auth/service.js';
import type { Role } from '../auth/tables.js';
import { AppError, invalid } from '../errors.js';
import { requireRole, type BearerAuth, type Principal } from '../http/auth.js';
import { withErrors } from '../http/schemas.js';
import type { StreamSink } from './client.js';
import { parseFilter } from './filter.js';
import type { StreamRole } from './model.js';
import { StreamQuery } from './schemas.js';
import type { EventStream } from './service.js';

export interface EventRouteDeps {
  auth: AuthService;
  events: EventStream;
}

const TICKET_PREFIX = 'Ticket ';
/** A dropped client's last frame gets this long to leave; then the connection is cut, read or not. */
const END_GRACE_MS = 5_000;

/** The bearer token, or a ticket from ?ticket= (an EventSource cannot send headers). */
function streamAuth(auth: AuthService, events: EventStream): BearerAuth<Role> {
  return {
    authenticate: async (credential) => {
      if (!credential?.startsWith(TICKET_PREFIX)) return auth.authenticate(credential);
      const principal = events.tickets.redeem(credential.slice(TICKET_PREFIX.length));
      if (!principal) throw new AppError('token-invalid', 401, 'event ticket is not valid: unknown, used or expired (POST /api/v1/events/tickets)');
      return principal;
    },
    requireRole: (principal, need) => auth.requireRole(principal as Principal & { role: Role }, need),
  };
}

function credentialOf(request: FastifyRequest): string | undefined {
  const ticket = (request.query as { ticket?: unknown } | undefined)?.ticket;
  return typeof ticket === 'string' ? `${TICKET_PREFIX}${ticket}` : request.headers.authorization;
}

/** Last-Event-ID (an EventSource reconnecting) or ?lastEventId= (a new EventSource resuming). */
function lastIdOf(request: FastifyRequest<{ Querystring: StreamQuery }>): number | null {
  const header = request.headers['last-event-id'];
  if (typeof header === 'string' && header !== '') {
    if (!/^[0-9]{1,16}$/.test(header)) throw invalid('headers.last-event-id', 'must be an event id (digits)');
    return Number(header);
  }
  return request.query.lastEventId === undefined ? null : Number(request.query.lastEventId);
}

function sinkOf(res: ServerResponse): StreamSink {
  // Held here: once the response has ended, res lets go of its (keep-alive) socket.
  const socket = res.socket;
  return {
    write: (chunk) => void res.write(chunk),
    buffered: () => res.writableLength,
    end: (last) => {
      res.end(last, () => socket?.end());
      setTimeout(() => socket?.destroy(), END_GRACE_MS).unref();
    },
  };
}

export function eventRoutes(deps: EventRouteDeps) {
  const security = [{ bearer: [] }];
  const viewer = requireRole(deps.auth, 'viewer');
  const streamViewer = requireRole(streamAuth(deps.auth, deps.events), 'viewer', credentialOf);
  return async (app: FastifyInstance): Promise<void> => {
    app.post(
      '/events/tickets',
      {
        onRequest: viewer,
        schema: {
          tags: ['events'],
          summary: 'A one-time ticket (not a resource: 200) for GET /events (30 s, one connection, same role as the token): for browsers, whose EventSource cannot send the Authorization header',
          security,
          response: withErrors({ 200: Type.Ref('EventTicket') }),
        },
      },
      async (request) => {
        const issued = deps.events.tickets.issue(request.principal!);
        return { ticket: issued.ticket, expiresAt: issued.expiresAt.toISOString() };
      },
    );

    app.get<{ Querystring: StreamQuery }>(
      '/events',
      {
        onRequest: streamViewer,
        schema: {
          tags: ['events'],
          summary:
            'Live events as Server-Sent Events (text/event-stream; docs/events.md). Token in the Authorization header, or ?ticket= from POST /events/tickets. ' +
            'Viewers get agent.state and queue.* with caller numbers withheld; the rest needs a supervisor. Resume with Last-Event-ID (5 min / 10,000 events), else a resync event comes first',
          security,
          querystring: StreamQuery,
          response: withErrors({ 200: Type.String({ description: 'text/event-stream: frames `id`, `event` (the type), `data` (the event as JSON: PbxEvent)' }) }),
        },
      },
      async (request, reply) => {
        const role = request.principal!.role as StreamRole;
        const filter = parseFilter(request.query, role);
        const lastId = lastIdOf(request);
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-store',
          'x-accel-buffering': 'no',
          'x-request-id': String(request.id),
        });
        res.socket?.setNoDelay(true);
        const disconnect = deps.events.connect(sinkOf(res), role, filter, lastId);
        res.on('close', disconnect);
        request.log.info({ role, lastId, types: request.query.types ?? null }, 'event stream connected');
      },
    );
  };
}
