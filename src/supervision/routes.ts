/**
 * /supervision: live supervision by API (docs/supervision.md). A supervisor (role supervisor or
 * admin) asks the daemon to ring an extension and, when it answers, join an agent's, extension's or
 * call's conversation in a mode; lists the sessions, switches a session's mode, ends one. Handlers
 * only map JSON <-> SupervisionService; every session is audited there.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { AuthService } from '../auth/service.js';
import { actorFor } from '../audit/actor.js';
import { AppError } from '../errors.js';
import { requireRole } from '../http/auth.js';
import { withErrors } from '../http/schemas.js';
import { ListOf, list } from '../http/paging.js';
import type { SupervisionTarget } from './model.js';
import type { SupervisionService, SupervisionView } from './service.js';
import { ChangeSupervision, StartSupervision, SupervisionParams, type ChangeSupervisionBody, type StartSupervisionBody } from './schemas.js';

export interface SupervisionRouteDeps {
  auth: AuthService;
  supervision: SupervisionService;
}

const json = (v: SupervisionView) => ({ ...v, startedAt: v.startedAt?.toISOString() ?? null });

/** Exactly one of agent, extension, callId: the first one set, or 400 naming the fields. */
function targetOf(body: StartSupervisionBody): SupervisionTarget {
  const given = (['agent', 'extension', 'callId'] as const).filter((k) => body[k] !== undefined);
  if (given.length !== 1) {
    throw new AppError('validation-failed', 400, 'body must have exactly one of agent, extension, callId', { field: given.length ? given.join(',') : 'agent' });
  }
  if (body.agent !== undefined) return { kind: 'agent', number: body.agent };
  if (body.extension !== undefined) return { kind: 'extension', number: body.extension };
  return { kind: 'call', callId: body.callId! };
}

export function supervisionRoutes(deps: SupervisionRouteDeps) {
  const supervisor = requireRole(deps.auth, 'supervisor');
  const security = [{ bearer: [] }];
  const ref = Type.Ref('Supervision');
  const err = Type.Ref('ErrorResponse');
  const { supervision } = deps;
  return async (app: FastifyInstance): Promise<void> => {
    app.post<{ Body: StartSupervisionBody }>(
      '/supervision',
      {
        onRequest: supervisor,
        schema: {
          tags: ['supervision'],
          summary: "Ring a supervisor's extension; when answered it joins the agent's, extension's or call's conversation (listen, whisper, barge)",
          security, body: StartSupervision, response: withErrors({ 202: ref, 409: err }),
        },
      },
      async (request, reply) => {
        const view = await supervision.request({ supervisorExtension: request.body.supervisorExtension, target: targetOf(request.body), mode: request.body.mode }, actorFor(request));
        return reply.code(202).send(json(view));
      },
    );
    app.get(
      '/supervision',
      { onRequest: supervisor, schema: { tags: ['supervision'], summary: 'Supervision sessions ringing or in progress', security, response: withErrors({ 200: ListOf(ref) }) } },
      async () => list(supervision.list().map(json)),
    );
    app.get<{ Params: { id: string } }>(
      '/supervision/:id',
      { onRequest: supervisor, schema: { tags: ['supervision'], summary: 'One supervision session', security, params: SupervisionParams, response: withErrors({ 200: ref }) } },
      async (request) => json(supervision.get(request.params.id)),
    );
    app.patch<{ Params: { id: string }; Body: ChangeSupervisionBody }>(
      '/supervision/:id',
      {
        onRequest: supervisor,
        schema: { tags: ['supervision'], summary: "Switch an active session's mode (as DTMF 4/5/6 do)", security, params: SupervisionParams, body: ChangeSupervision, response: withErrors({ 200: ref }) },
      },
      async (request) => json(supervision.changeMode(request.params.id, request.body.mode, actorFor(request))),
    );
    app.delete<{ Params: { id: string } }>(
      '/supervision/:id',
      {
        onRequest: supervisor,
        schema: { tags: ['supervision'], summary: "End a session (hangs up the supervisor's phone; the call goes on)", security, params: SupervisionParams, response: withErrors({ 204: Type.Null() }) },
      },
      async (request, reply) => {
        await supervision.end(request.params.id, actorFor(request));
        return reply.code(204).send();
      },
    );
  };
}
