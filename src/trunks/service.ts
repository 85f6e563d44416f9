/**
 * Trunks: load -> check preconditions (typed errors) -> trunk row + its PJSIP realtime rows +
 * audit row in one transaction -> tell Asterisk about registration changes (best-effort, after
 * commit; an unregistration goes before the rows disappear, see registrar.ts).
 */
import type { Db, DbOrTx } from '../db/database.js';
import { AppError, invalid, notFound } from '../errors.js';
import { recordAudit, type Actor } from '../audit/repository.js';
import { registers, trunkEndpointId, writeTrunkRealtime, removeTrunkRealtime, type TrunkSpec } from './realtime.js';
import type { Registrar, RegistrarOutcome } from './registrar.js';
import { NO_SIP_CACHE, type SipObjectCache } from '../telephony/pjsip-cache.js';
import { FOREIGN_KEY_VIOLATION, pgCode, UNIQUE_VIOLATION } from '../shared/pg-errors.js';
import type { TrunkRow } from './tables.js';
import type { CreateTrunkBody, UpdateTrunkBody } from './schemas.js';
import * as repo from './repository.js';

export type AsteriskSync = RegistrarOutcome | 'not-needed';
export interface TrunkChange {
  trunk: TrunkRow;
  asteriskSync: AsteriskSync;
}

/** Fields whose change means the registration must be redone. */
const REGISTRATION_FIELDS = ['kind', 'host', 'port', 'transport', 'username', 'password', 'from_domain', 'enabled'] as const;

export class TrunkService {
  constructor(
    private readonly db: Db,
    private readonly registrar: Registrar,
    /** Asterisk's cached copy of the endpoint, auth and AOR: expired after each committed change,
     * before the registrar acts (a registration reads the trunk's auth through that cache) */
    private readonly sipCache: SipObjectCache = NO_SIP_CACHE,
  ) {}

  async create(actor: Actor, body: CreateTrunkBody): Promise<TrunkChange> {
    const spec: TrunkSpec = {
      name: body.name,
      kind: body.kind,
      host: body.host,
      port: body.port ?? 5060,
      transport: body.transport ?? 'udp',
      username: body.username ?? null,
      password: body.password ?? null,
      from_user: body.fromUser ?? null,
      from_domain: body.fromDomain ?? null,
      codecs: body.codecs ?? ['ulaw', 'alaw'],
      max_channels: body.maxChannels ?? 30,
      enabled: body.enabled ?? true,
    };
    checkCredentials(spec);
    const trunk = await this.db
      .transaction()
      .execute(async (tx) => {
        if (await repo.findTrunkByName(tx, spec.name)) throw exists(spec.name);
        const row = await repo.insertTrunk(tx, spec);
        await writeTrunkRealtime(tx, row);
        await audit(tx, actor, 'trunk.create', row, { ...describe(row) });
        return row;
      })
      .catch((err: unknown) => {
        throw pgCode(err) === UNIQUE_VIOLATION ? exists(spec.name) : err;
      });
    await this.sipCache.changed(trunkEndpointId(trunk.name));
    const asteriskSync = registers(trunk) ? await this.registrar.started(trunk.name, false) : 'not-needed';
    return { trunk, asteriskSync };
  }

  async update(actor: Actor, id: string, body: UpdateTrunkBody): Promise<TrunkChange> {
    let old: TrunkRow | undefined;
    let unregistered = false;
    let trunk: TrunkRow;
    try {
      trunk = await this.db.transaction().execute(async (tx) => {
        old = await repo.findTrunk(tx, id, true);
        if (!old) throw notFound('trunk-not-found', 'trunk', id);
        const next: TrunkSpec = {
          ...specOf(old),
          ...defined({
            kind: body.kind,
            host: body.host,
            port: body.port,
            transport: body.transport,
            username: body.username,
            password: body.password,
            from_user: body.fromUser,
            from_domain: body.fromDomain,
            codecs: body.codecs,
            max_channels: body.maxChannels,
            enabled: body.enabled,
          }),
        };
        checkCredentials(next);
        if (registers(old) && !registers(next)) unregistered = (await this.registrar.stopping(old.name)) === 'done';
        const { name: _name, ...patch } = next;
        // Not part of the trunk's Asterisk side (realtime): the call core reads it (docs/recording.md#policy).
        if (body.recordingPolicy !== undefined) await tx.updateTable('trunks').set({ recording_policy: body.recordingPolicy }).where('id', '=', id).execute();
        const row = await repo.updateTrunk(tx, id, patch);
        await writeTrunkRealtime(tx, row);
        await audit(tx, actor, 'trunk.update', row, { changed: changedFields(old, row), ...describe(row) });
        return row;
      });
    } catch (err) {
      if (unregistered && old) await this.registrar.restore(old.name);
      throw err;
    }
    const before = old!;
    await this.sipCache.changed(trunkEndpointId(trunk.name));
    let asteriskSync: AsteriskSync = 'not-needed';
    if (registers(trunk)) {
      const changed = REGISTRATION_FIELDS.some((f) => before[f] !== trunk[f]);
      if (changed || !registers(before)) asteriskSync = await this.registrar.started(trunk.name, registers(before));
    } else if (registers(before)) {
      asteriskSync = await this.registrar.stopped(trunk.name);
    }
    return { trunk, asteriskSync };
  }

  async delete(actor: Actor, id: string): Promise<AsteriskSync> {
    let old: TrunkRow | undefined;
    let unregistered = false;
    try {
      await this.db.transaction().execute(async (tx) => {
        old = await repo.findTrunk(tx, id, true);
        if (!old) throw notFound('trunk-not-found', 'trunk', id);
        const routes = await repo.routesUsingTrunk(tx, id);
        if (routes.length > 0) throw inUse(old.name, routes);
        if (registers(old)) unregistered = (await this.registrar.stopping(old.name)) === 'done';
        await removeTrunkRealtime(tx, old.name);
        await repo.deleteTrunk(tx, id);
        await audit(tx, actor, 'trunk.delete', old, { ...describe(old) });
      });
    } catch (err) {
      if (unregistered && old) await this.registrar.restore(old.name);
      if (pgCode(err) === FOREIGN_KEY_VIOLATION && old) throw inUse(old.name, await repo.routesUsingTrunk(this.db, id));
      throw err;
    }
    await this.sipCache.changed(trunkEndpointId(old!.name));
    return registers(old!) ? this.registrar.stopped(old!.name) : 'not-needed';
  }
}

function specOf(t: TrunkRow): TrunkSpec {
  const { name, kind, host, port, transport, username, password, from_user, from_domain, codecs, max_channels, enabled } = t;
  return { name, kind, host, port, transport, username, password, from_user, from_domain, codecs, max_channels, enabled };
}

function checkCredentials(t: TrunkSpec): void {
  if (t.kind === 'registration' && t.username === null) throw invalid('body.username', 'is required for a registration trunk');
  if (t.kind === 'registration' && t.password === null) throw invalid('body.password', 'is required for a registration trunk');
  if (t.password !== null && t.username === null) throw invalid('body.username', 'is required when a password is set');
}

const exists = (name: string) => new AppError('trunk-exists', 409, `a trunk named ${name} already exists`, { field: 'body.name' });

function inUse(name: string, routes: { id: string; name: string }[]): AppError {
  const list = routes.map((r) => `${r.name} (id ${r.id})`).join(', ');
  return new AppError('trunk-in-use', 409, `trunk ${name} is used by outbound routes: ${list}; change or delete them first`, { routes });
}

/** What the audit log keeps of a trunk: everything but the password. */
function describe(t: TrunkRow): Record<string, unknown> {
  const { password, created_at: _c, updated_at: _u, ...rest } = t;
  return { ...rest, hasPassword: password !== null };
}

function changedFields(a: TrunkRow, b: TrunkRow): string[] {
  return (Object.keys(b) as (keyof TrunkRow)[]).filter((k) => k !== 'updated_at' && JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

async function audit(tx: DbOrTx, actor: Actor, action: string, t: TrunkRow, details: Record<string, unknown>): Promise<void> {
  await recordAudit(tx, actor, { action, entity: 'trunk', entityId: t.id, details });
}

/** Drop undefined values, so a PATCH changes only what it names (null still clears). */
function defined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
