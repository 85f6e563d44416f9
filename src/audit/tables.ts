import type { Generated, Insertable, Selectable } from 'kysely';

/** One row for every change made through the API or the CLI. */
export interface AuditLogTable {
  id: Generated<string>;
  at: Generated<Date>;
  actor_user_id: string | null;
  actor_token_id: string | null;
  actor_label: string;
  action: string;
  entity: string;
  entity_id: string | null;
  details: unknown;
  request_id: string | null;
}
export type AuditLogRow = Selectable<AuditLogTable>;
export type NewAuditLog = Insertable<AuditLogTable>;
