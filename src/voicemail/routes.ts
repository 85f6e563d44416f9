/**
 * Voicemail API under /api/v1: list a mailbox (viewer: the same facts a CDR shows), download a
 * message as WAV (supervisor: what the caller said is not a viewer's to hear), mark heard / new or
 * delete (admin, audited; the phone's lamp follows). API users are not linked to extensions yet, so
 * a mailbox's owner has no right of its own here; that comes with a user-to-extension mapping.
 */
import { Type } from '@sinclair/typebox';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { AuthService } from '../auth/service.js';
import { actorFor } from '../audit/actor.js';
import { requireRole } from '../http/auth.js';
import { withErrors } from '../http/schemas.js';
import { PageOf, decodeCursor, pageOf } from '../http/paging.js';
import { notFound } from '../errors.js';
import type { VoicemailMessageRow } from './tables.js';
import type { VoicemailService } from './service.js';
import { MailboxParams, MessageParams, MessageQuery, UpdateMessage } from './schemas.js';

export interface VoicemailRouteDeps {
  auth: AuthService;
  voicemail: VoicemailService;
}

export function voicemailView(m: VoicemailMessageRow) {
  return {
    id: m.id,
    mailbox: m.mailbox,
    callerNumber: m.caller_number,
    callerName: m.caller_name,
    callId: m.call_id,
    durationMs: m.duration_ms,
    heard: m.heard,
    sizeBytes: m.size_bytes,
    sha256: m.sha256,
    createdAt: m.created_at.toISOString(),
  };
}

export function voicemailRoutes(deps: VoicemailRouteDeps) {
  const viewer = requireRole(deps.auth, 'viewer');
  const supervisor = requireRole(deps.auth, 'supervisor');
  const admin = requireRole(deps.auth, 'admin');
  const sec = [{ bearer: [] }];
  const tags = ['voicemail'];
  const Msg = Type.Ref('VoicemailMessage');

  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Params: { number: string }; Querystring: MessageQuery }>(
      '/extensions/:number/voicemail',
      {
        onRequest: viewer,
        schema: { tags, summary: 'Messages in an extension\'s mailbox, newest first, a page at a time', security: sec, params: MailboxParams, querystring: MessageQuery, response: withErrors({ 200: PageOf(Msg) }) },
      },
      async (request) => {
        const { limit, cursor } = request.query;
        const rows = await deps.voicemail.list(request.params.number, { limit: limit + 1, ...(cursor ? { after: decodeCursor(cursor) } : {}) });
        return pageOf(rows, limit, (r) => ({ at: r.cursor_at, id: r.id }), voicemailView);
      },
    );

    app.get<{ Params: MessageParams }>(
      '/extensions/:number/voicemail/:id',
      { onRequest: viewer, schema: { tags, summary: 'One message', security: sec, params: MessageParams, response: withErrors({ 200: Msg }) } },
      async (request) => voicemailView(await deps.voicemail.get(request.params.number, request.params.id)),
    );

    app.get<{ Params: MessageParams }>(
      '/extensions/:number/voicemail/:id/audio',
      {
        onRequest: supervisor,
        schema: { tags, summary: 'The message as WAV (8 kHz, 16-bit mono); supervisor or admin', security: sec, params: MessageParams, produces: ['audio/wav'], response: withErrors({ 200: Type.Unknown({ description: 'audio/wav' }) }) },
      },
      async (request, reply) => {
        const row = await deps.voicemail.get(request.params.number, request.params.id);
        const info = await stat(row.file_path).catch(() => null);
        if (!info?.isFile()) throw notFound('voicemail-not-found', 'audio of voicemail message', row.id);
        return reply
          .header('content-type', 'audio/wav')
          .header('content-length', String(info.size))
          .header('content-disposition', `attachment; filename="voicemail-${row.mailbox}-${row.id}.wav"`)
          .send(createReadStream(row.file_path));
      },
    );

    app.patch<{ Params: MessageParams; Body: UpdateMessage }>(
      '/extensions/:number/voicemail/:id',
      { onRequest: admin, schema: { tags, summary: 'Mark a message heard or new', security: sec, params: MessageParams, body: UpdateMessage, response: withErrors({ 200: Msg }) } },
      async (request) =>
        voicemailView(await deps.voicemail.setHeard(actorFor(request), request.params.number, request.params.id, request.body.heard)),
    );

    app.delete<{ Params: MessageParams }>(
      '/extensions/:number/voicemail/:id',
      { onRequest: admin, schema: { tags, summary: 'Delete a message (row and audio)', security: sec, params: MessageParams, response: withErrors({ 204: Type.Null() }) } },
      async (request, reply) => {
        await deps.voicemail.remove(actorFor(request), request.params.number, request.params.id);
        return reply.status(204).send();
      },
    );
  };
}
