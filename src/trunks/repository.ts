/**
 * Trunks and routing in Postgres. Plain functions over a connection or transaction. The loaders
 * at the bottom are what the call core uses to route calls.
 */
import type { Db, DbOrTx } from '../db/database.js';
import type { OutboundRoute } from '../routing/outbound.js';
import type { InboundRule, Target } from '../routing/inbound.js';
import { isDialOutNumber } from '../routing/outbound.js';
import { trunkEndpointId } from './realtime.js';
import type { InboundRouteRow, InboundRouteView, NewTrunk, OutboundRouteRow, TrunkRow, TrunkTable } from './tables.js';
import type { Updateable } from 'kysely';

// ---------------------------------------------------------------- trunks

export async function listTrunks(db: DbOrTx): Promise<TrunkRow[]> {
  return db.selectFrom('trunks').selectAll().orderBy('name').execute();
}

export async function findTrunk(db: DbOrTx, id: string, forUpdate = false): Promise<TrunkRow | undefined> {
  let q = db.selectFrom('trunks').selectAll().where('id', '=', id);
  if (forUpdate) q = q.forUpdate();
  return q.executeTakeFirst();
}

export async function findTrunkByName(db: DbOrTx, name: string): Promise<TrunkRow | undefined> {
  return db.selectFrom('trunks').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function insertTrunk(db: DbOrTx, row: NewTrunk): Promise<TrunkRow> {
  return db.insertInto('trunks').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function updateTrunk(db: DbOrTx, id: string, patch: Updateable<TrunkTable>): Promise<TrunkRow> {
  return db.updateTable('trunks').set({ ...patch, updated_at: new Date() }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
}

export async function deleteTrunk(db: DbOrTx, id: string): Promise<void> {
  await db.deleteFrom('trunks').where('id', '=', id).execute();
}

/** The outbound routes that send calls to a trunk. */
export async function routesUsingTrunk(db: DbOrTx, trunkId: string): Promise<{ id: string; name: string }[]> {
  return db.selectFrom('outbound_routes').select(['id', 'name']).where('trunk_id', '=', trunkId).orderBy('id').execute();
}

// ---------------------------------------------------------------- outbound routes

export type OutboundRouteWithTrunk = OutboundRouteRow & { trunk_name: string };

const outboundWithTrunk = (db: DbOrTx) =>
  db.selectFrom('outbound_routes as r').innerJoin('trunks as t', 't.id', 'r.trunk_id').selectAll('r').select('t.name as trunk_name');

export async function listOutboundRoutes(db: DbOrTx): Promise<OutboundRouteWithTrunk[]> {
  return outboundWithTrunk(db).orderBy('r.priority').orderBy('r.id').execute();
}

export async function findOutboundRoute(db: DbOrTx, id: string): Promise<OutboundRouteWithTrunk | undefined> {
  return outboundWithTrunk(db).where('r.id', '=', id).executeTakeFirst();
}

// ---------------------------------------------------------------- inbound routes

/** Inbound routes with the name of their target flow or queue (the row holds its id). */
const inboundWithFlow = (db: DbOrTx) =>
  db
    .selectFrom('inbound_routes as r')
    .leftJoin('flows as f', 'f.id', 'r.target_flow')
    .leftJoin('queues as q', 'q.id', 'r.target_queue')
    .selectAll('r')
    .select(['f.name as target_flow_name', 'q.name as target_queue_name']);

export async function listInboundRoutes(db: DbOrTx): Promise<InboundRouteView[]> {
  return inboundWithFlow(db).orderBy('r.priority').orderBy('r.id').execute();
}

export async function findInboundRoute(db: DbOrTx, id: string): Promise<InboundRouteView | undefined> {
  return inboundWithFlow(db).where('r.id', '=', id).executeTakeFirst();
}

export async function findDefaultInboundRoute(db: DbOrTx): Promise<InboundRouteView | undefined> {
  return inboundWithFlow(db).where('r.did_pattern', 'is', null).where('r.caller_pattern', 'is', null).executeTakeFirst();
}

export async function extensionExists(db: DbOrTx, number: string): Promise<boolean> {
  return (await db.selectFrom('extensions').select('id').where('number', '=', number).executeTakeFirst()) !== undefined;
}

/** A flow by name, as an inbound route target needs it (id, and whether it has a published version). */
export async function findFlowForRoute(db: DbOrTx, name: string, forShare = false): Promise<{ id: string; published_version: number | null } | undefined> {
  let q = db.selectFrom('flows').select(['id', 'published_version']).where('name', '=', name);
  // Held until the route is written, so the flow cannot be deleted in between.
  if (forShare) q = q.forShare();
  return q.executeTakeFirst();
}

/** A queue by name, as an inbound route target needs it (its id). */
export async function findQueueForRoute(db: DbOrTx, name: string, forShare = false): Promise<{ id: string } | undefined> {
  let q = db.selectFrom('queues').select(['id']).where('name', '=', name);
  // Held until the route is written, so the queue cannot be deleted in between.
  if (forShare) q = q.forShare();
  return q.executeTakeFirst();
}

type TargetRow = Pick<InboundRouteView, 'target_kind' | 'target_extension' | 'target_flow_name' | 'target_queue_name'>;

/** Row -> routing Target. One case per target kind. */
export function targetOf(row: TargetRow): Target {
  switch (row.target_kind) {
    case 'extension':
      return { kind: 'extension', number: row.target_extension ?? '' };
    case 'hangup':
      return { kind: 'hangup' };
    case 'flow':
      return { kind: 'flow', flow: row.target_flow_name ?? '' };
    case 'queue':
      return { kind: 'queue', queue: row.target_queue_name ?? '' };
    default:
      throw new Error(`unknown inbound target kind ${row.target_kind}`);
  }
}

/**
 * Target -> row columns. One case per target kind. Flow and queue targets are stored by id:
 * `refId` is the id of the flow / queue the target names (looked up by the caller).
 */
export function targetColumns(t: Target, refId: string | null = null): Pick<InboundRouteRow, 'target_kind' | 'target_extension' | 'target_flow' | 'target_queue'> {
  const none = { target_extension: null, target_flow: null, target_queue: null };
  switch (t.kind) {
    case 'extension':
      return { ...none, target_kind: 'extension', target_extension: t.number };
    case 'hangup':
      return { ...none, target_kind: 'hangup' };
    case 'flow':
      if (refId === null) throw new Error(`flow target ${t.flow} without its id`);
      return { ...none, target_kind: 'flow', target_flow: refId };
    case 'queue':
      if (refId === null) throw new Error(`queue target ${t.queue} without its id`);
      return { ...none, target_kind: 'queue', target_queue: refId };
  }
}

/**
 * For ExtensionService's `usages`: the inbound routes that send calls to extension `number`, so
 * deleting it is refused (extension-in-use) instead of hitting the foreign key.
 */
export async function inboundRoutesUsingExtension(db: DbOrTx, number: string): Promise<string[]> {
  const rows = await db.selectFrom('inbound_routes').select('name').where('target_extension', '=', number).orderBy('id').execute();
  return rows.map((r) => `inbound route ${r.name}`);
}

// ---------------------------------------------------------------- emergency numbers

export async function listEmergencyNumbers(db: DbOrTx): Promise<string[]> {
  return (await db.selectFrom('emergency_numbers').select('number').orderBy('number').execute()).map((r) => r.number);
}

export async function replaceEmergencyNumbers(db: DbOrTx, numbers: readonly string[]): Promise<void> {
  await db.deleteFrom('emergency_numbers').execute();
  if (numbers.length) await db.insertInto('emergency_numbers').values(numbers.map((number) => ({ number }))).execute();
}

// ---------------------------------------------------------------- for the call core

export type LoadedOutboundRoute = OutboundRoute & { readonly trunkName: string; readonly maxChannels: number; readonly recordingPolicy: string | null };

/** Outbound routes whose trunk is enabled, as planOutbound takes them (plus the trunk's name). */
export async function loadOutboundRoutes(db: Db | DbOrTx): Promise<LoadedOutboundRoute[]> {
  const rows = await db
    .selectFrom('outbound_routes as r')
    .innerJoin('trunks as t', 't.id', 'r.trunk_id')
    .selectAll('r')
    .select(['t.name as trunk_name', 't.max_channels'])
    .where('t.enabled', '=', true)
    .orderBy('r.priority')
    .orderBy('r.id')
    .execute();
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    pattern: r.pattern,
    strip: r.strip,
    prepend: r.prepend,
    trunkId: r.trunk_id,
    priority: r.priority,
    requiredClass: r.required_class,
    recordingPolicy: r.recording_policy,
    trunkName: r.trunk_name,
    maxChannels: r.max_channels,
  }));
}

export async function loadEmergencyNumbers(db: Db | DbOrTx): Promise<string[]> {
  return listEmergencyNumbers(db);
}

/**
 * Inbound rules and the default target, as resolveInbound takes them; with each route's recording
 * policy (by rule id; the default route's apart) for the call's recording (docs/recording.md#policy).
 */
export async function loadInboundRules(
  db: Db | DbOrTx,
): Promise<{ rules: InboundRule[]; defaultTarget: Target | null; recordingPolicies: ReadonlyMap<string, string | null>; defaultRecordingPolicy: string | null }> {
  const rows = await listInboundRoutes(db);
  const rules: InboundRule[] = [];
  const recordingPolicies = new Map<string, string | null>();
  let defaultTarget: Target | null = null;
  let defaultRecordingPolicy: string | null = null;
  for (const r of rows) {
    if (r.did_pattern === null && r.caller_pattern === null) {
      defaultTarget = targetOf(r);
      defaultRecordingPolicy = r.recording_policy;
    } else {
      rules.push({ id: r.id, priority: r.priority, didPattern: r.did_pattern, callerPattern: r.caller_pattern, target: targetOf(r) });
      recordingPolicies.set(r.id, r.recording_policy);
    }
  }
  return { rules, defaultTarget, recordingPolicies, defaultRecordingPolicy };
}

/** An enabled trunk by id (for the dial target of a planned route), or undefined. */
export async function loadTrunk(db: Db | DbOrTx, id: string): Promise<TrunkRow | undefined> {
  const t = await findTrunk(db, id);
  return t?.enabled ? t : undefined;
}

const TRUNK_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

/**
 * The ARI endpoint for `number` on a trunk: `PJSIP/<number>@trunk-<name>`. Both parts are checked
 * again here, because this string is a dial string: anything else throws.
 */
export function trunkDialTarget(trunk: { readonly name: string }, number: string): string {
  if (!TRUNK_NAME.test(trunk.name)) throw new Error(`invalid trunk name ${JSON.stringify(trunk.name)}`);
  if (!isDialOutNumber(number)) throw new Error(`invalid number for a dial string ${JSON.stringify(number)}`);
  return `PJSIP/${number}@${trunkEndpointId(trunk.name)}`;
}
