import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.js';
import type { ExtensionRow } from './tables.js';
import type { AuthService } from '../auth/service.js';
import { actorFor } from '../audit/actor.js';
import { requireRole } from '../http/auth.js';
import { withErrors } from '../http/schemas.js';
import { ListOf, list } from '../http/paging.js';
import { notFound } from '../errors.js';
import { contactsByEndpoint, findExtension, listExtensions, type ContactRow } from './repository.js';
import type { RegistrationTracker } from './registrations.js';
import type { ExtensionService } from './service.js';
import { CreateExtension, NumberParams, UpdateExtension } from './schemas.js';

export interface ExtensionRouteDeps {
  db: Db;
  auth: AuthService;
  extensions: ExtensionService;
  registrations: RegistrationTracker;
}

export function extensionRoutes(deps: ExtensionRouteDeps) {
  const viewer = requireRole(deps.auth, 'viewer');
  const admin = requireRole(deps.auth, 'admin');
  const sec = [{ bearer: [] }];
  const Ext = Type.Ref('Extension');

  const view = (row: ExtensionRow, contacts: ContactRow[]) => {
    const health = deps.registrations.health(row.number);
    return {
      number: row.number,
      displayName: row.display_name,
      callerIdNumber: row.caller_id_number,
      permissionClass: row.permission_class,
      dnd: row.dnd,
      forwardAlways: row.forward_always,
      forwardBusy: row.forward_busy,
      forwardNoAnswer: row.forward_no_answer,
      ringTimeoutSeconds: row.ring_timeout_seconds,
      voicemailEnabled: row.voicemail_enabled,
      canSupervise: row.can_supervise,
      recordingPolicy: (row.recording_policy ?? null) as 'always' | 'never' | 'on-demand' | null,
      voicemailPinSet: row.voicemail_pin_hash !== null,
      sipSecurity: row.sip_security,
      registration: {
        registered: contacts.length > 0,
        contacts: contacts.map((c) => ({
          uri: c.uri,
          userAgent: c.userAgent,
          address: c.viaAddr ? `${c.viaAddr}${c.viaPort ? `:${c.viaPort}` : ''}` : null,
          expiresAt: c.expiresAt?.toISOString() ?? null,
        })),
        status: contacts.length > 0 ? (health?.status ?? null) : null,
        rttMs: contacts.length > 0 ? (health?.rttMs ?? null) : null,
      },
      createdAt: row.created_at.toISOString(),
      updatedAt: row.updated_at.toISOString(),
    };
  };
  const one = async (row: ExtensionRow) => view(row, (await contactsByEndpoint(deps.db, [row.number])).get(row.number) ?? []);

  return async (app: FastifyInstance): Promise<void> => {
    app.get(
      '/extensions',
      { onRequest: viewer, schema: { tags: ['extensions'], summary: 'List extensions with live registration state', security: sec, response: withErrors({ 200: ListOf(Ext) }) } },
      async () => {
        const [rows, contacts] = await Promise.all([listExtensions(deps.db), contactsByEndpoint(deps.db)]);
        return list(rows.map((r) => view(r, contacts.get(r.number) ?? [])));
      },
    );

    app.post<{ Body: CreateExtension }>(
      '/extensions',
      {
        onRequest: admin,
        schema: { tags: ['extensions'], summary: 'Create an extension and its SIP account (the SIP password is in `secret`, shown once)', security: sec, body: CreateExtension, response: withErrors({ 201: Ext, 409: Type.Ref('ErrorResponse') }) },
      },
      async (request, reply) => {
        const { extension, sipPassword } = await deps.extensions.create(actorFor(request), request.body);
        return reply.status(201).send({ ...(await one(extension)), secret: sipPassword });
      },
    );

    app.get<{ Params: { number: string } }>(
      '/extensions/:number',
      { onRequest: viewer, schema: { tags: ['extensions'], summary: 'One extension', security: sec, params: NumberParams, response: withErrors({ 200: Ext }) } },
      async (request) => {
        const row = await findExtension(deps.db, request.params.number);
        if (!row) throw notFound('extension-not-found', 'extension', request.params.number);
        return one(row);
      },
    );

    app.patch<{ Params: { number: string }; Body: UpdateExtension }>(
      '/extensions/:number',
      { onRequest: admin, schema: { tags: ['extensions'], summary: 'Change an extension (name, caller id, class, DND, forwards, voicemail)', security: sec, params: NumberParams, body: UpdateExtension, response: withErrors({ 200: Ext }) } },
      async (request) => one(await deps.extensions.update(actorFor(request), request.params.number, request.body)),
    );

    app.post<{ Params: { number: string } }>(
      '/extensions/:number/rotate-password',
      { onRequest: admin, schema: { tags: ['extensions'], summary: 'New SIP password: the extension, with the password in `secret` (shown once); the phone must be updated', security: sec, params: NumberParams, response: withErrors({ 200: Ext }) } },
      async (request) => {
        const secret = await deps.extensions.rotatePassword(actorFor(request), request.params.number);
        const row = await findExtension(deps.db, request.params.number);
        if (!row) throw notFound('extension-not-found', 'extension', request.params.number);
        return { ...(await one(row)), secret };
      },
    );

    app.delete<{ Params: { number: string } }>(
      '/extensions/:number',
      { onRequest: admin, schema: { tags: ['extensions'], summary: 'Delete an extension and its SIP account; refused while something uses it', security: sec, params: NumberParams, response: withErrors({ 204: Type.Null(), 409: Type.Ref('ErrorResponse') }) } },
      async (request, reply) => {
        await deps.extensions.remove(actorFor(request), request.params.number);
        return reply.status(204).send();
      },
    );
  };
}
