import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.js';
import { requireRole, type BearerAuth } from '../http/auth.js';
import { Timestamp, withErrors } from '../http/schemas.js';
import { PageOf, decodeCursor, pageOf, pageQueryFields } from '../http/paging.js';
import { listAudit } from './repository.js';

const Query = Type.Object(pageQueryFields, { additionalProperties: false });
const Entry = Type.Object({
  id: Type.String(),
  at: Timestamp,
  actor: Type.String(),
  action: Type.String(),
  entity: Type.String(),
  entityId: Type.Union([Type.String(), Type.Null()]),
  details: Type.Unknown(),
  requestId: Type.Union([Type.String(), Type.Null()]),
});

/** `auth` need only check the admin role (src/auth/service.ts does; audit does not import auth, which writes audit rows). */
export interface AuditRouteDeps {
  db: Db;
  auth: BearerAuth<'admin'>;
}

export function auditRoutes(deps: AuditRouteDeps) {
  const admin = requireRole(deps.auth, 'admin');
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Querystring: Static<typeof Query> }>(
      '/audit',
      {
        onRequest: admin,
        schema: { tags: ['audit'], summary: 'Audit log of changes, newest first', security: [{ bearer: [] }], querystring: Query, response: withErrors({ 200: PageOf(Entry) }) },
      },
      async (request) => {
        const { limit, cursor } = request.query;
        const rows = await listAudit(deps.db, limit + 1, cursor ? decodeCursor(cursor) : undefined);
        return pageOf(rows, limit, (r) => ({ at: r.cursor_at, id: r.id }), (r) => ({
          id: r.id,
          at: r.at.toISOString(),
          actor: r.actor_label,
          action: r.action,
          entity: r.entity,
          entityId: r.entity_id,
          details: r.details,
          requestId: r.request_id,
        }));
      },
    );
  };
}
