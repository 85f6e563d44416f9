/** Table types of IVR flows (migration 2026-11-24T01-00-00_flows). */
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

export type FlowVersionState = 'draft' | 'published' | 'retired';

export interface FlowTable {
  id: Generated<string>;
  /** Lower-case letters, digits and -, up to 64 (FLOW_NAME): the name routes and transfers use. */
  name: string;
  description: string | null;
  /** The version calls run; null until the first publish. */
  published_version: number | null;
  created_at: Generated<Date>;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}
export type FlowRow = Selectable<FlowTable>;
export type NewFlow = Insertable<FlowTable>;

export interface FlowVersionTable {
  flow_id: string;
  version: number;
  /**
   * A flow definition (src/ivr/model.ts FlowDefinition, checked before it is saved), written as
   * JSON text (a JS array would go to pg as a Postgres array), read back parsed.
   */
  definition: ColumnType<unknown, string, string>;
  state: FlowVersionState;
  created_at: Generated<Date>;
  published_at: Date | null;
  /** The actor's label (user or CLI) who created the version. */
  created_by: string | null;
}
export type FlowVersionRow = Selectable<FlowVersionTable>;
export type NewFlowVersion = Insertable<FlowVersionTable>;
