import type { ColumnType, Selectable } from 'kysely';

/** A supervision session ringing (an API request) or in progress; the row goes when it ends. */
export interface SupervisionSessionTable {
  id: string;
  state: 'ringing' | 'active';
  supervisor_extension: string;
  /** The SupervisionTarget as JSON. */
  target: unknown;
  mode: string;
  /** The audit Actor as JSON. */
  actor: unknown;
  ring_until: Date | null;
  call_id: string | null;
  channel_id: string | null;
  extension: string | null;
  agent: string | null;
  started_at: Date | null;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}
export type SupervisionSessionRow = Selectable<SupervisionSessionTable>;
