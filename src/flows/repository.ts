/**
 * IVR flows in Postgres: plain functions over a connection or transaction. The functions at the
 * bottom are what other parts use: the call runtime (loadPublishedFlow, flowNameById) and the
 * prompts service (flowsUsingPrompt).
 */
import { sql } from 'kysely';
import type { Db, DbOrTx } from '../db/database.js';
import type { FlowDefinition } from '../ivr/model.js';
import { takesMessages } from '../voicemail/deposit.js';
import type { FlowRow, FlowVersionRow, FlowVersionState } from './tables.js';

// ---------------------------------------------------------------- flows

/** A flow with whether it has a draft (and that draft's version). */
export type FlowSummary = FlowRow & { draft_version: number | null };

const withDraft = (db: DbOrTx) =>
  db
    .selectFrom('flows as f')
    .leftJoin('flow_versions as d', (j) => j.onRef('d.flow_id', '=', 'f.id').on('d.state', '=', 'draft'))
    .selectAll('f')
    .select('d.version as draft_version');

export async function listFlows(db: DbOrTx): Promise<FlowSummary[]> {
  return withDraft(db).orderBy('f.name').execute();
}

export async function findFlow(db: DbOrTx, name: string): Promise<FlowSummary | undefined> {
  return withDraft(db).where('f.name', '=', name).executeTakeFirst();
}

/** The flow row, locked until the transaction ends: changes to one flow run one at a time. */
export async function lockFlow(db: DbOrTx, name: string): Promise<FlowRow | undefined> {
  return db.selectFrom('flows').selectAll().where('name', '=', name).forUpdate().executeTakeFirst();
}

export async function insertFlow(db: DbOrTx, name: string, description: string | null): Promise<FlowRow> {
  return db.insertInto('flows').values({ name, description }).returningAll().executeTakeFirstOrThrow();
}

export async function touchFlow(db: DbOrTx, id: string, publishedVersion?: number): Promise<void> {
  await db
    .updateTable('flows')
    .set({ updated_at: new Date(), ...(publishedVersion === undefined ? {} : { published_version: publishedVersion }) })
    .where('id', '=', id)
    .execute();
}

export async function deleteFlowRow(db: DbOrTx, id: string): Promise<void> {
  await db.deleteFrom('flows').where('id', '=', id).execute();
}

// ---------------------------------------------------------------- versions

export type VersionInfo = Omit<FlowVersionRow, 'definition'>;

/** Newest first, without definitions. */
export async function listVersions(db: DbOrTx, flowId: string): Promise<VersionInfo[]> {
  return db
    .selectFrom('flow_versions')
    .select(['flow_id', 'version', 'state', 'created_at', 'published_at', 'created_by'])
    .where('flow_id', '=', flowId)
    .orderBy('version', 'desc')
    .execute();
}

export async function findVersion(db: DbOrTx, flowId: string, version: number): Promise<FlowVersionRow | undefined> {
  return db.selectFrom('flow_versions').selectAll().where('flow_id', '=', flowId).where('version', '=', version).executeTakeFirst();
}

export async function findVersionInState(db: DbOrTx, flowId: string, state: 'draft' | 'published'): Promise<FlowVersionRow | undefined> {
  return db.selectFrom('flow_versions').selectAll().where('flow_id', '=', flowId).where('state', '=', state).executeTakeFirst();
}

export async function nextVersion(db: DbOrTx, flowId: string): Promise<number> {
  const r = await db.selectFrom('flow_versions').select((eb) => eb.fn.max('version').as('max')).where('flow_id', '=', flowId).executeTakeFirst();
  return (r?.max ?? 0) + 1;
}

export async function insertDraft(db: DbOrTx, flowId: string, version: number, definition: unknown, createdBy: string): Promise<void> {
  await db
    .insertInto('flow_versions')
    .values({ flow_id: flowId, version, definition: JSON.stringify(definition), state: 'draft', created_by: createdBy })
    .execute();
}

export async function replaceDraftDefinition(db: DbOrTx, flowId: string, version: number, definition: unknown): Promise<void> {
  await db
    .updateTable('flow_versions')
    .set({ definition: JSON.stringify(definition) })
    .where('flow_id', '=', flowId)
    .where('version', '=', version)
    .where('state', '=', 'draft')
    .execute();
}

/**
 * Make `version` the published one: the version published now (if another) becomes retired. The
 * caller sets flows.published_version in the same transaction.
 */
export async function markPublished(db: DbOrTx, flowId: string, version: number): Promise<void> {
  await db
    .updateTable('flow_versions')
    .set({ state: 'retired' })
    .where('flow_id', '=', flowId)
    .where('state', '=', 'published')
    .where('version', '<>', version)
    .execute();
  await db
    .updateTable('flow_versions')
    .set({ state: 'published', published_at: new Date() })
    .where('flow_id', '=', flowId)
    .where('version', '=', version)
    .execute();
}

// ---------------------------------------------------------------- what uses a flow

/** Inbound routes that send calls to the flow, by name. */
export async function inboundRoutesUsingFlow(db: DbOrTx, flowId: string): Promise<string[]> {
  const rows = await db.selectFrom('inbound_routes').select('name').where('target_flow', '=', flowId).orderBy('id').execute();
  return rows.map((r) => r.name);
}

/** Other flows whose published definition has a transfer to {kind: 'flow', flow: name}. */
export async function flowsTransferringTo(db: DbOrTx, name: string): Promise<string[]> {
  const rows = await db
    .selectFrom('flows as f')
    .innerJoin('flow_versions as v', (j) => j.onRef('v.flow_id', '=', 'f.id').on('v.state', '=', 'published'))
    .select('f.name')
    .where('f.name', '<>', name)
    .where(sql<boolean>`jsonb_path_exists(v.definition, '$.nodes.* ? (@.kind == "transfer" && @.target.kind == "flow" && @.target.flow == $name)', jsonb_build_object('name', ${name}::text))`)
    .orderBy('f.name')
    .execute();
  return rows.map((r) => r.name);
}

// ---------------------------------------------------------------- validation catalog

/** What a flow is checked against, as loaded from the database (see FlowService.catalog). */
export interface CatalogData {
  readonly extensions: string[];
  readonly mailboxes: string[];
  /** Flows with a published version. */
  readonly publishedFlows: string[];
  readonly prompts: string[];
}

export async function loadCatalogData(db: DbOrTx): Promise<CatalogData> {
  const [extensions, flows, prompts] = await Promise.all([
    db.selectFrom('extensions').select(['number', 'voicemail_enabled', 'voicemail_pin_hash']).execute(),
    db.selectFrom('flows').select('name').where('published_version', 'is not', null).execute(),
    db.selectFrom('prompts').select('id').execute(),
  ]);
  return {
    extensions: extensions.map((e) => e.number),
    mailboxes: extensions.filter(takesMessages).map((e) => e.number),
    publishedFlows: flows.map((f) => f.name),
    prompts: prompts.map((p) => p.id),
  };
}

// ---------------------------------------------------------------- for the call runtime and prompts

export interface PublishedFlow {
  readonly name: string;
  readonly version: number;
  readonly definition: FlowDefinition;
}

/** The published version of a flow, or null when there is no such flow or it was never published. */
export async function loadPublishedFlow(db: Db | DbOrTx, name: string): Promise<PublishedFlow | null> {
  const row = await db
    .selectFrom('flows as f')
    .innerJoin('flow_versions as v', (j) => j.onRef('v.flow_id', '=', 'f.id').onRef('v.version', '=', 'f.published_version'))
    .select(['f.name', 'v.version', 'v.definition'])
    .where('f.name', '=', name)
    .executeTakeFirst();
  // Published versions were checked (checkFlow) before they were saved.
  return row ? { name: row.name, version: row.version, definition: row.definition as FlowDefinition } : null;
}

/** A flow's name by its id (inbound_routes.target_flow), or null. */
export async function flowNameById(db: Db | DbOrTx, id: string): Promise<string | null> {
  if (!/^[0-9]{1,18}$/.test(id)) return null;
  const row = await db.selectFrom('flows').select('name').where('id', '=', id).executeTakeFirst();
  return row?.name ?? null;
}

/**
 * Names of the flows whose version in one of `states` matches a SQL/JSON path (with `$v` bound to
 * `value`): the "in use" checks before a prompt, an extension or a queue is deleted.
 */
export async function flowsWhoseDefinition(
  db: Db | DbOrTx,
  jsonPath: string,
  value: string,
  states: readonly FlowVersionState[] = ['published', 'draft'],
): Promise<string[]> {
  const rows = await db
    .selectFrom('flows as f')
    .innerJoin('flow_versions as v', 'v.flow_id', 'f.id')
    .select('f.name')
    .distinct()
    .where('v.state', 'in', states)
    .where(sql<boolean>`jsonb_path_exists(v.definition, ${jsonPath}::jsonpath, jsonb_build_object('v', ${value}::text))`)
    .orderBy('f.name')
    .execute();
  return rows.map((r) => r.name);
}

/** Flows that play prompt `promptId` (an object `{prompt: id}` anywhere): the prompt cannot be deleted. */
export function flowsUsingPrompt(db: Db | DbOrTx, promptId: string): Promise<string[]> {
  return flowsWhoseDefinition(db, 'strict $.** ? (@.type() == "object" && @.prompt == $v)', promptId);
}

/** For AcdService's "in use" check: flows whose published version transfers to queue `name` (lax path search over the nodes' targets). */
export function flowsUsingQueue(db: DbOrTx, name: string): Promise<string[]> {
  return flowsWhoseDefinition(db, 'lax $.nodes.*.target ? (@.kind == "queue" && @.queue == $v)', name, ['published']);
}

/**
 * For ExtensionService's "in use" check: flows whose published version or draft sends callers to
 * extension `number` (as an extension or its mailbox), as "IVR flow <name>".
 */
export async function flowsUsingExtension(db: DbOrTx, number: string): Promise<string[]> {
  const names = await flowsWhoseDefinition(db, 'lax $.nodes.*.target ? ((@.kind == "extension" && @.number == $v) || (@.kind == "voicemail" && @.mailbox == $v))', number);
  return names.map((name) => `IVR flow ${name}`);
}
