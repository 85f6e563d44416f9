/** supervision_sessions: the sessions ringing or in progress, for a restarted daemon to find (service.ts). */
import type { DbOrTx } from '../db/database.js';
import type { Actor } from '../audit/repository.js';
import type { SupervisionMode, SupervisionTarget } from './model.js';
import type { PendingSupervision, SupervisionInfo } from './port.js';

/** A row as the service reads it back. */
export type StoredSupervision =
  | { readonly state: 'ringing'; readonly request: PendingSupervision; readonly ringUntil: Date }
  | { readonly state: 'active'; readonly info: Omit<SupervisionInfo, 'channelId'> & { readonly channelId: string | null } };

/** The rows the service keeps (db below; a unit test may hold them in memory). */
export interface SupervisionStore {
  insertRinging(request: PendingSupervision, ringUntil: Date): Promise<void>;
  upsertActive(info: SupervisionInfo): Promise<void>;
  updateMode(id: string, mode: SupervisionMode): Promise<void>;
  delete(id: string): Promise<void>;
  list(): Promise<StoredSupervision[]>;
}

export function supervisionStore(db: DbOrTx): SupervisionStore {
  return {
    insertRinging: (request, ringUntil) => insertRinging(db, request, ringUntil),
    upsertActive: (info) => upsertActive(db, info),
    updateMode: (id, mode) => updateMode(db, id, mode),
    delete: (id) => deleteSession(db, id),
    list: () => listStored(db),
  };
}

async function insertRinging(db: DbOrTx, request: PendingSupervision, ringUntil: Date): Promise<void> {
  await db
    .insertInto('supervision_sessions')
    .values({
      id: request.id, state: 'ringing', supervisor_extension: request.supervisorExtension, target: JSON.stringify(request.target),
      mode: request.mode, actor: JSON.stringify(request.actor), ring_until: ringUntil,
      call_id: null, channel_id: null, extension: null, agent: null, started_at: null,
    })
    .execute();
}

/** The session began (from a request's row, or a desk phone's *55 with none). */
async function upsertActive(db: DbOrTx, info: SupervisionInfo): Promise<void> {
  const active = {
    state: 'active' as const, mode: info.mode, call_id: info.callId, channel_id: info.channelId, extension: info.extension, agent: info.agent,
    started_at: info.startedAt, ring_until: null, updated_at: new Date(),
  };
  await db
    .insertInto('supervision_sessions')
    .values({ id: info.id, supervisor_extension: info.supervisorExtension, target: JSON.stringify(info.target), actor: JSON.stringify(info.actor), ...active })
    .onConflict((oc) => oc.column('id').doUpdateSet(active))
    .execute();
}

async function updateMode(db: DbOrTx, id: string, mode: SupervisionMode): Promise<void> {
  await db.updateTable('supervision_sessions').set({ mode, updated_at: new Date() }).where('id', '=', id).execute();
}

async function deleteSession(db: DbOrTx, id: string): Promise<void> {
  await db.deleteFrom('supervision_sessions').where('id', '=', id).execute();
}

async function listStored(db: DbOrTx): Promise<StoredSupervision[]> {
  const rows = await db.selectFrom('supervision_sessions').selectAll().orderBy('id').execute();
  return rows.map((r) => {
    const common = { id: r.id, supervisorExtension: r.supervisor_extension, target: r.target as SupervisionTarget, mode: r.mode as SupervisionMode, actor: r.actor as Actor };
    if (r.state === 'ringing') return { state: 'ringing', request: common, ringUntil: r.ring_until ?? r.updated_at };
    return {
      state: 'active',
      info: { ...common, callId: r.call_id ?? '', channelId: r.channel_id, extension: r.extension, agent: r.agent, startedAt: r.started_at ?? r.updated_at },
    };
  });
}
