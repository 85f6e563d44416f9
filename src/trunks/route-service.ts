/**
 * Outbound routes, inbound routes and emergency numbers: validate (dial patterns compile, the
 * trunk and the target extension exist, a target flow exists and is published, a target queue
 * exists) -> write + audit row in one transaction.
 */
import type { Db, DbOrTx } from '../db/database.js';
import { AppError, invalid, notFound } from '../errors.js';
import { recordAudit, type Actor } from '../audit/repository.js';
import type { Target } from '../routing/inbound.js';
import { FOREIGN_KEY_VIOLATION, pgCode, UNIQUE_VIOLATION } from '../shared/pg-errors.js';
import { checkPattern } from './errors.js';
import type { InboundRouteView, OutboundRouteTable } from './tables.js';
import type {
  CreateInboundRouteBody, CreateOutboundRouteBody, UpdateInboundRouteBody, UpdateOutboundRouteBody,
} from './schemas.js';
import * as repo from './repository.js';

/** The columns a route write sets (the table's, without id and timestamps). */
type OutboundValues = Omit<OutboundRouteTable, 'id' | 'created_at' | 'updated_at' | 'recording_policy'> & { recording_policy: RecordingPolicy | null };

/** A route's call recording policy (docs/recording.md#policy); null: not set here. */
type RecordingPolicy = 'always' | 'never' | 'on-demand';

interface InboundValues {
  name: string;
  did_pattern: string | null;
  caller_pattern: string | null;
  priority: number;
  target: Target;
  recording_policy: RecordingPolicy | null;
}

export class RouteService {
  constructor(
    private readonly db: Db,
    /** Told the emergency numbers once a change is committed (overload control keeps them in memory). */
    private readonly emergencyNumbersChanged: (numbers: readonly string[]) => void = () => undefined,
  ) {}

  // ---------------------------------------------------------------- outbound

  async createOutbound(actor: Actor, b: CreateOutboundRouteBody): Promise<repo.OutboundRouteWithTrunk> {
    const values: OutboundValues = {
      name: b.name,
      pattern: b.pattern,
      strip: b.strip ?? 0,
      prepend: b.prepend ?? '',
      trunk_id: b.trunkId,
      priority: b.priority ?? 100,
      required_class: b.requiredClass ?? 'national',
      recording_policy: b.recordingPolicy ?? null,
    };
    return this.writeOutbound(actor, null, values);
  }

  async updateOutbound(actor: Actor, id: string, b: UpdateOutboundRouteBody): Promise<repo.OutboundRouteWithTrunk> {
    const old = await repo.findOutboundRoute(this.db, id);
    if (!old) throw notFound('outbound-route-not-found', 'outbound route', id);
    const values: OutboundValues = {
      name: b.name ?? old.name,
      pattern: b.pattern ?? old.pattern,
      strip: b.strip ?? old.strip,
      prepend: b.prepend ?? old.prepend,
      trunk_id: b.trunkId ?? old.trunk_id,
      priority: b.priority ?? old.priority,
      required_class: b.requiredClass ?? old.required_class,
      recording_policy: b.recordingPolicy !== undefined ? b.recordingPolicy : (old.recording_policy as RecordingPolicy | null),
    };
    return this.writeOutbound(actor, id, values);
  }

  private async writeOutbound(actor: Actor, id: string | null, v: OutboundValues): Promise<repo.OutboundRouteWithTrunk> {
    const { pattern } = checkPattern('body.pattern', v.pattern);
    if (pattern.wildcard === null && v.strip >= pattern.minLength && v.prepend === '') {
      throw invalid('body.strip', `strips ${v.strip} characters, but every number the pattern matches has ${pattern.minLength}: nothing would be left to dial`);
    }
    return this.db
      .transaction()
      .execute(async (tx) => {
        if (!(await repo.findTrunk(tx, v.trunk_id))) throw noTrunk(v.trunk_id);
        let routeId = id;
        if (routeId === null) {
          routeId = (await tx.insertInto('outbound_routes').values(v).returning('id').executeTakeFirstOrThrow()).id;
        } else {
          const done = await tx.updateTable('outbound_routes').set({ ...v, updated_at: new Date() }).where('id', '=', routeId).executeTakeFirst();
          if (done.numUpdatedRows === 0n) throw notFound('outbound-route-not-found', 'outbound route', routeId);
        }
        await audit(tx, actor, id === null ? 'outbound-route.create' : 'outbound-route.update', 'outbound_route', routeId, { ...v });
        return (await repo.findOutboundRoute(tx, routeId))!;
      })
      .catch((err: unknown) => {
        if (pgCode(err) === UNIQUE_VIOLATION) throw new AppError('outbound-route-exists', 409, `an outbound route named ${v.name} already exists`, { field: 'body.name' });
        if (pgCode(err) === FOREIGN_KEY_VIOLATION) throw noTrunk(v.trunk_id);
        throw err;
      });
  }

  async deleteOutbound(actor: Actor, id: string): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      const old = await repo.findOutboundRoute(tx, id);
      if (!old) throw notFound('outbound-route-not-found', 'outbound route', id);
      await tx.deleteFrom('outbound_routes').where('id', '=', id).execute();
      await audit(tx, actor, 'outbound-route.delete', 'outbound_route', id, { name: old.name, pattern: old.pattern, trunk_id: old.trunk_id });
    });
  }

  // ---------------------------------------------------------------- inbound

  async createInbound(actor: Actor, b: CreateInboundRouteBody): Promise<InboundRouteView> {
    return this.writeInbound(actor, null, {
      name: b.name,
      did_pattern: b.didPattern ?? null,
      caller_pattern: b.callerPattern ?? null,
      priority: b.priority ?? 100,
      target: b.target,
      recording_policy: b.recordingPolicy ?? null,
    });
  }

  async updateInbound(actor: Actor, id: string, b: UpdateInboundRouteBody): Promise<InboundRouteView> {
    const old = await repo.findInboundRoute(this.db, id);
    if (!old) throw notFound('inbound-route-not-found', 'inbound route', id);
    return this.writeInbound(actor, id, {
      name: b.name ?? old.name,
      did_pattern: b.didPattern !== undefined ? b.didPattern : old.did_pattern,
      caller_pattern: b.callerPattern !== undefined ? b.callerPattern : old.caller_pattern,
      priority: b.priority ?? old.priority,
      target: b.target ?? repo.targetOf(old),
      recording_policy: b.recordingPolicy !== undefined ? b.recordingPolicy : (old.recording_policy as RecordingPolicy | null),
    });
  }

  private async writeInbound(actor: Actor, id: string | null, v: InboundValues): Promise<InboundRouteView> {
    if (v.did_pattern !== null) checkPattern('body.didPattern', v.did_pattern);
    if (v.caller_pattern !== null) checkPattern('body.callerPattern', v.caller_pattern);
    const isDefault = v.did_pattern === null && v.caller_pattern === null;
    const { target, ...rest } = v;
    return this.db
      .transaction()
      .execute(async (tx) => {
        if (target.kind === 'extension' && !(await repo.extensionExists(tx, target.number))) throw noExtension(target.number);
        let refId: string | null = null;
        if (target.kind === 'flow') {
          const flow = await repo.findFlowForRoute(tx, target.flow, true);
          if (!flow) throw noFlow(target.flow);
          if (flow.published_version === null) throw unpublishedFlow(target.flow);
          refId = flow.id;
        }
        if (target.kind === 'queue') {
          const queue = await repo.findQueueForRoute(tx, target.queue, true);
          if (!queue) throw noQueue(target.queue);
          refId = queue.id;
        }
        const row = { ...rest, ...repo.targetColumns(target, refId) };
        if (isDefault) {
          const current = await repo.findDefaultInboundRoute(tx);
          if (current && current.id !== id) throw defaultExists(current);
        }
        let savedId: string;
        if (id === null) {
          savedId = (await tx.insertInto('inbound_routes').values(row).returning('id').executeTakeFirstOrThrow()).id;
        } else {
          const saved = await tx.updateTable('inbound_routes').set({ ...row, updated_at: new Date() }).where('id', '=', id).returning('id').executeTakeFirst();
          if (!saved) throw notFound('inbound-route-not-found', 'inbound route', id);
          savedId = saved.id;
        }
        await audit(tx, actor, id === null ? 'inbound-route.create' : 'inbound-route.update', 'inbound_route', savedId, { ...rest, target });
        return (await repo.findInboundRoute(tx, savedId))!;
      })
      .catch(async (err: unknown) => {
        if (pgCode(err) === FOREIGN_KEY_VIOLATION && target.kind === 'extension') throw noExtension(target.number);
        if (pgCode(err) === FOREIGN_KEY_VIOLATION && target.kind === 'flow') throw noFlow(target.flow);
        if (pgCode(err) === FOREIGN_KEY_VIOLATION && target.kind === 'queue') throw noQueue(target.queue);
        if (pgCode(err) === UNIQUE_VIOLATION) {
          const current = isDefault ? await repo.findDefaultInboundRoute(this.db) : undefined;
          if (current && current.id !== id) throw defaultExists(current);
          throw new AppError('inbound-route-exists', 409, `an inbound route named ${v.name} already exists`, { field: 'body.name' });
        }
        throw err;
      });
  }

  async deleteInbound(actor: Actor, id: string): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      const old = await repo.findInboundRoute(tx, id);
      if (!old) throw notFound('inbound-route-not-found', 'inbound route', id);
      await tx.deleteFrom('inbound_routes').where('id', '=', id).execute();
      await audit(tx, actor, 'inbound-route.delete', 'inbound_route', id, { name: old.name, did_pattern: old.did_pattern, caller_pattern: old.caller_pattern });
    });
  }

  // ---------------------------------------------------------------- emergency numbers

  async setEmergencyNumbers(actor: Actor, numbers: readonly string[]): Promise<string[]> {
    const stored = await this.db.transaction().execute(async (tx) => {
      const before = await repo.listEmergencyNumbers(tx);
      await repo.replaceEmergencyNumbers(tx, numbers);
      const after = await repo.listEmergencyNumbers(tx);
      await audit(tx, actor, 'emergency-numbers.update', 'emergency_numbers', null, { before, after });
      return after;
    });
    this.emergencyNumbersChanged(stored);
    return stored;
  }
}

const noTrunk = (id: string) => invalid('body.trunkId', `trunk ${id} does not exist`);
const noExtension = (n: string) => invalid('body.target.number', `extension ${n} does not exist`);
const noFlow = (name: string) => invalid('body.target.flow', `flow ${name} does not exist`);
const noQueue = (name: string) => invalid('body.target.queue', `queue ${name} does not exist`);
const unpublishedFlow = (name: string) => invalid('body.target.flow', `flow ${name} has no published version; publish it first`);
const defaultExists = (r: InboundRouteView) =>
  new AppError('inbound-route-exists', 409, `the default inbound route already exists: ${r.name} (id ${r.id}); give this one a didPattern or callerPattern, or change that one`, {
    field: 'body.didPattern',
    id: r.id,
  });

async function audit(tx: DbOrTx, actor: Actor, action: string, entity: string, entityId: string | null, details: Record<string, unknown>): Promise<void> {
  await recordAudit(tx, actor, { action, entity, entityId, details });
}
