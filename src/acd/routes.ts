/**
 * /agents, /queues, /pause-reasons: the ACD's administration and supervision. Viewer reads; a
 * supervisor runs the contact center day to day, so creates, changes and deletes agents, queues,
 * members and pause reasons and forces an agent's state (each write audited). What callers reach a
 * queue by (inbound routes, flows) stays admin's. Handlers only map JSON <-> AcdService.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { AuthService } from '../auth/service.js';
import { actorFor } from '../audit/actor.js';
import { requireRole } from '../http/auth.js';
import { withErrors } from '../http/schemas.js';
import { ListOf, PageOf, decodeCursor, list, pageOf } from '../http/paging.js';
import type { QueueMemberView } from './admin-repository.js';
import { queueSettingsOf, type AgentView } from './call-repository.js';
import type { AcdService, AgentDetail } from './service.js';
import type { AgentStateLogRow, PauseReasonRow, QueueRow } from './tables.js';
import {
  Agent, AgentLive, AgentParams, CreateAgent, CreatePauseReason, CreateQueue, ForceState, LogQuery, Member, MemberParams, PauseReason,
  PauseReasonParams, Queue, QueueLive, QueueParams, SetMember, StateLogEntry, UpdateAgent, UpdateQueue,
  type CreateAgentBody, type CreatePauseReasonBody, type CreateQueueBody, type ForceStateBody, type SetMemberBody, type UpdateAgentBody,
  type UpdateQueueBody,
} from './schemas.js';

export interface AcdRouteDeps {
  auth: AuthService;
  acd: AcdService;
}

const iso = (d: Date | null) => d?.toISOString() ?? null;

const agentJson = (d: AgentDetail, now = new Date()) => {
  const a: AgentView = d.agent;
  return {
    number: a.number,
    name: a.name,
    skills: d.skills,
    autoAnswer: a.auto_answer,
    queues: d.queues.map((m) => ({ queue: m.queue, penalty: m.penalty })),
    state: a.state,
    stateSince: a.state_since.toISOString(),
    pauseCode: a.pause_code,
    pauseReason: a.pause_name,
    pending: a.pending ? { kind: a.pending, pauseCode: a.pending_pause_code, pauseReason: a.pending_pause_name } : null,
    extension: a.extension,
    callId: a.call_id,
    missedOffers: a.missed_offers,
    locked: a.locked_until !== null && a.locked_until.getTime() > now.getTime(),
    lockedUntil: iso(a.locked_until),
    createdAt: a.created_at.toISOString(),
    updatedAt: a.updated_at.toISOString(),
  };
};

const queueJson = (q: QueueRow & { survey_flow: string | null }) => {
  const { id: _id, name: _name, ...settings } = queueSettingsOf(q);
  return { id: q.id, name: q.name, ...settings, surveyFlow: q.survey_flow, createdAt: q.created_at.toISOString(), updatedAt: q.updated_at.toISOString() };
};

const memberJson = (m: QueueMemberView) => ({ agent: m.number, name: m.name, penalty: m.penalty, state: m.state });

const reasonJson = (r: PauseReasonRow) => ({ code: r.code, name: r.name, system: r.system });

const logJson = (l: AgentStateLogRow & { queue_name: string | null; pause_name: string | null }) => ({
  at: l.at.toISOString(),
  from: l.from_state,
  to: l.to_state,
  cause: l.cause,
  pauseCode: l.pause_code,
  pauseReason: l.pause_name,
  callId: l.call_id,
  queue: l.queue_name,
  by: l.by_actor,
  details: l.details,
});

export function acdRoutes(deps: AcdRouteDeps) {
  const viewer = requireRole(deps.auth, 'viewer');
  const supervisor = requireRole(deps.auth, 'supervisor');
  const security = [{ bearer: [] }];
  const err = Type.Ref('ErrorResponse');
  const { acd } = deps;
  type ByNumber = { Params: AgentParams };
  type ByName = { Params: QueueParams };

  return async (app: FastifyInstance): Promise<void> => {
    // ------------------------------------------------------------ agents
    const atags = ['agents'];
    app.get(
      '/agents',
      { onRequest: viewer, schema: { tags: atags, summary: 'List agents with skills, queues and state', security, response: withErrors({ 200: ListOf(Agent) }) } },
      async () => list((await acd.listAgents()).map((d) => agentJson(d))),
    );

    // Before /agents/:number, so "live" is never taken for a number (numbers are digits anyway).
    app.get(
      '/agents/live',
      { onRequest: viewer, schema: { tags: atags, summary: 'Every agent now: state, pause reason, seconds in state, phone, calls handled today', security, response: withErrors({ 200: ListOf(AgentLive) }) } },
      async () => list(await acd.agentsLive()),
    );

    app.post<{ Body: CreateAgentBody }>(
      '/agents',
      { onRequest: supervisor, schema: { tags: atags, summary: 'Create an agent (number + PIN to log in at a phone; skills {name: level 1-5})', security, body: CreateAgent, response: withErrors({ 201: Agent, 409: err }) } },
      async (request, reply) => reply.status(201).send(agentJson(await acd.createAgent(actorFor(request), request.body))),
    );

    app.get<ByNumber>(
      '/agents/:number',
      { onRequest: viewer, schema: { tags: atags, summary: 'One agent', security, params: AgentParams, response: withErrors({ 200: Agent }) } },
      async (request) => agentJson(await acd.getAgent(request.params.number)),
    );

    app.patch<ByNumber & { Body: UpdateAgentBody }>(
      '/agents/:number',
      { onRequest: supervisor, schema: { tags: atags, summary: 'Change name, PIN (also lifts a PIN lock) or skills (replaced as a whole)', security, params: AgentParams, body: UpdateAgent, response: withErrors({ 200: Agent }) } },
      async (request) => agentJson(await acd.updateAgent(actorFor(request), request.params.number, request.body)),
    );

    app.delete<ByNumber>(
      '/agents/:number',
      { onRequest: supervisor, schema: { tags: atags, summary: 'Delete an agent; refused (409 agent-busy) unless logged out', security, params: AgentParams, response: withErrors({ 204: Type.Null(), 409: err }) } },
      async (request, reply) => {
        await acd.deleteAgent(actorFor(request), request.params.number);
        return reply.status(204).send();
      },
    );

    app.post<ByNumber & { Body: ForceStateBody }>(
      '/agents/:number/state',
      {
        onRequest: supervisor,
        schema: {
          tags: atags,
          summary: "Force an agent's state (ready, paused with pauseCode, logged-out). A ringing offer is taken back; a call in progress is never cut (the pause / logout waits for its end). 409 invalid-agent-transition when the state machine refuses",
          security,
          params: AgentParams,
          body: ForceState,
          response: withErrors({ 200: Agent, 409: err }),
        },
      },
      async (request) => agentJson(await acd.forceState(actorFor(request), request.params.number, request.body)),
    );

    app.get<ByNumber & { Querystring: LogQuery }>(
      '/agents/:number/log',
      {
        onRequest: viewer,
        schema: { tags: atags, summary: "The agent's state changes, newest first (from <= at < to)", security, params: AgentParams, querystring: LogQuery, response: withErrors({ 200: PageOf(StateLogEntry) }) },
      },
      async (request) => {
        const q = request.query;
        const rows = await acd.agentLog(request.params.number, {
          ...(q.from ? { from: new Date(q.from) } : {}),
          ...(q.to ? { to: new Date(q.to) } : {}),
          ...(q.cursor ? { after: decodeCursor(q.cursor) } : {}),
          limit: q.limit + 1,
        });
        return pageOf(rows, q.limit, (r) => ({ at: r.cursor_at, id: r.id }), logJson);
      },
    );

    // ------------------------------------------------------------ queues
    const qtags = ['queues'];
    app.get(
      '/queues',
      { onRequest: viewer, schema: { tags: qtags, summary: 'List queues', security, response: withErrors({ 200: ListOf(Queue) }) } },
      async () => list((await acd.listQueues()).map(queueJson)),
    );

    app.post<{ Body: CreateQueueBody }>(
      '/queues',
      { onRequest: supervisor, schema: { tags: qtags, summary: 'Create a queue; impossible settings are refused naming the field', security, body: CreateQueue, response: withErrors({ 201: Queue, 409: err }) } },
      async (request, reply) => reply.status(201).send(queueJson(await acd.createQueue(actorFor(request), request.body))),
    );

    app.get<ByName>(
      '/queues/:name',
      { onRequest: viewer, schema: { tags: qtags, summary: 'One queue', security, params: QueueParams, response: withErrors({ 200: Queue }) } },
      async (request) => queueJson(await acd.getQueue(request.params.name)),
    );

    app.patch<ByName & { Body: UpdateQueueBody }>(
      '/queues/:name',
      { onRequest: supervisor, schema: { tags: qtags, summary: 'Change settings (checked as a whole with the ones kept)', security, params: QueueParams, body: UpdateQueue, response: withErrors({ 200: Queue }) } },
      async (request) => queueJson(await acd.updateQueue(actorFor(request), request.params.name, request.body)),
    );

    app.delete<ByName>(
      '/queues/:name',
      {
        onRequest: supervisor,
        schema: { tags: qtags, summary: 'Delete a queue; refused (409 queue-in-use) while an inbound route, a published flow or an overflow uses it, or callers are in it', security, params: QueueParams, response: withErrors({ 204: Type.Null(), 409: err }) },
      },
      async (request, reply) => {
        await acd.deleteQueue(actorFor(request), request.params.name);
        return reply.status(204).send();
      },
    );

    app.get<ByName>(
      '/queues/:name/live',
      { onRequest: viewer, schema: { tags: qtags, summary: 'Callers waiting, agents by state, and today so far (offered, answered, abandoned, service level)', security, params: QueueParams, response: withErrors({ 200: QueueLive }) } },
      async (request) => acd.queueLive(request.params.name),
    );

    app.get<ByName>(
      '/queues/:name/members',
      { onRequest: viewer, schema: { tags: qtags, summary: 'Agents answering the queue, lowest penalty first', security, params: QueueParams, response: withErrors({ 200: ListOf(Member) }) } },
      async (request) => list((await acd.members(request.params.name)).map(memberJson)),
    );

    app.put<ByName & { Body: SetMemberBody }>(
      '/queues/:name/members',
      { onRequest: supervisor, schema: { tags: qtags, summary: 'Add an agent to the queue, or change its penalty', security, params: QueueParams, body: SetMember, response: withErrors({ 200: Member }) } },
      async (request) => memberJson(await acd.setMember(actorFor(request), request.params.name, request.body.agent, request.body.penalty ?? 0)),
    );

    app.delete<{ Params: { name: string; agent: string } }>(
      '/queues/:name/members/:agent',
      { onRequest: supervisor, schema: { tags: qtags, summary: 'Take an agent out of the queue', security, params: MemberParams, response: withErrors({ 204: Type.Null() }) } },
      async (request, reply) => {
        await acd.removeMember(actorFor(request), request.params.name, request.params.agent);
        return reply.status(204).send();
      },
    );

    // ------------------------------------------------------------ pause reasons
    const ptags = ['pause reasons'];
    app.get(
      '/pause-reasons',
      { onRequest: viewer, schema: { tags: ptags, summary: 'Pause reasons (0 missed is the system\'s own)', security, response: withErrors({ 200: ListOf(PauseReason) }) } },
      async () => list((await acd.pauseReasons()).map(reasonJson)),
    );

    app.post<{ Body: CreatePauseReasonBody }>(
      '/pause-reasons',
      { onRequest: supervisor, schema: { tags: ptags, summary: 'Add a pause reason (code 1-99)', security, body: CreatePauseReason, response: withErrors({ 201: PauseReason, 409: err }) } },
      async (request, reply) => reply.status(201).send(reasonJson(await acd.createPauseReason(actorFor(request), request.body.code, request.body.name))),
    );

    app.delete<{ Params: { code: number } }>(
      '/pause-reasons/:code',
      {
        onRequest: supervisor,
        schema: { tags: ptags, summary: 'Delete a pause reason; refused (409 pause-reason-in-use) for built-in ones and while an agent is paused with it', security, params: PauseReasonParams, response: withErrors({ 204: Type.Null(), 409: err }) },
      },
      async (request, reply) => {
        await acd.deletePauseReason(actorFor(request), request.params.code);
        return reply.status(204).send();
      },
    );
  };
}
