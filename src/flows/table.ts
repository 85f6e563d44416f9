/**
 * Table types of IVR flows (migration 2026-11-24T01-00-00_flows). Until these tables are listed
 * in src/db/database.ts's Database, `fdb` views the shared handle with them added (same pool,
 * same transactions), together with the other tables flow management reads.
 */
import type { ColumnType, Generated, Insertable, Kysely, Selectable, Transaction } from 'kysely';
import type { Database, DbOrTx } from '../db/database.js';
import type { FlowDefinition } from '../ivr/model.js';
import type { PromptTable } from '../prompts/table.js';
import type { InboundRouteTable } from '../trunks/tables.js';

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
  /** Written as JSON text (a JS array would go to pg as a Postgres array), read back parsed. */
  definition: ColumnType<FlowDefinition, string, string>;
  state: FlowVersionState;
  created_at: Generated<Date>;
  published_at: Date | null;
  /** The actor's label (user or CLI) who created the version. */
  created_by: string | null;
}
export type FlowVersionRow = Selectable<FlowVersionTable>;
export type NewFlowVersion = Insertable<FlowVersionTable>;

export type FlowDatabase = Database & {
  flows: FlowTable;
  flow_versions: FlowVersionTable;
  prompts: PromptTable;
  inbound_routes: InboundRouteTable;
};
export type FlowDb = Kysely<FlowDatabase> | Transaction<FlowDatabase>;
export const fdb = (db: DbOrTx): FlowDb => db as unknown as FlowDb;
