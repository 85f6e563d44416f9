/** webhooks and webhook_deliveries (docs/webhooks.md). */
import { sql } from 'kysely';
import type { DbOrTx } from '../db/database.js';
import type { DeliveryState, WebhookDeliveryRow, WebhookRow } from './tables.js';

export interface NewWebhook {
  readonly id: string;
  readonly url: string;
  readonly eventTypes: readonly string[];
  readonly queue: string | null;
  readonly active: boolean;
  readonly description: string | null;
  readonly secretSealed: string;
}

export async function insertWebhook(db: DbOrTx, w: NewWebhook): Promise<WebhookRow> {
  return db
    .insertInto('webhooks')
    .values({ id: w.id, url: w.url, event_types: JSON.stringify(w.eventTypes), queue: w.queue, active: w.active, description: w.description, secret_sealed: w.secretSealed, disabled_reason: null })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export const listWebhooks = (db: DbOrTx): Promise<WebhookRow[]> => db.selectFrom('webhooks').selectAll().orderBy('created_at').orderBy('id').execute();

export const activeWebhooks = (db: DbOrTx): Promise<WebhookRow[]> => db.selectFrom('webhooks').selectAll().where('active', '=', true).execute();

export const findWebhook = (db: DbOrTx, id: string): Promise<WebhookRow | undefined> => db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();

export interface WebhookPatch {
  readonly url?: string;
  readonly eventTypes?: readonly string[];
  readonly queue?: string | null;
  readonly active?: boolean;
  readonly description?: string | null;
  readonly secretSealed?: string;
  readonly disabledReason?: string | null;
}

export async function updateWebhook(db: DbOrTx, id: string, p: WebhookPatch): Promise<WebhookRow | undefined> {
  return db
    .updateTable('webhooks')
    .set({
      ...(p.url !== undefined ? { url: p.url } : {}),
      ...(p.eventTypes !== undefined ? { event_types: JSON.stringify(p.eventTypes) } : {}),
      ...(p.queue !== undefined ? { queue: p.queue } : {}),
      ...(p.active !== undefined ? { active: p.active } : {}),
      ...(p.description !== undefined ? { description: p.description } : {}),
      ...(p.secretSealed !== undefined ? { secret_sealed: p.secretSealed } : {}),
      ...(p.disabledReason !== undefined ? { disabled_reason: p.disabledReason } : {}),
      updated_at: new Date(),
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

export async function deleteWebhook(db: DbOrTx, id: string): Promise<boolean> {
  const r = await db.deleteFrom('webhooks').where('id', '=', id).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** The delivery's row, once (a second enqueue of the same delivery leaves it as it is). */
export async function insertDelivery(db: DbOrTx, d: { id: string; webhookId: string; eventId: number; eventType: string; body: string }): Promise<void> {
  await db
    .insertInto('webhook_deliveries')
    .values({ id: d.id, webhook_id: d.webhookId, event_id: d.eventId, event_type: d.eventType, body: d.body, state: 'pending', attempts: 0, response_code: null, duration_ms: null, last_error: null })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}

export interface AttemptOutcome {
  readonly state: DeliveryState;
  readonly responseCode: number | null;
  readonly durationMs: number;
  readonly error: string | null;
}

export async function recordAttempt(db: DbOrTx, id: string, o: AttemptOutcome): Promise<void> {
  await db
    .updateTable('webhook_deliveries')
    .set({ state: o.state, attempts: sql`attempts + 1`, response_code: o.responseCode, duration_ms: o.durationMs, last_error: o.error?.slice(0, 500) ?? null, updated_at: new Date() })
    .where('id', '=', id)
    .execute();
}

/** The newest deliveries of a webhook first. */
export const listDeliveries = (db: DbOrTx, webhookId: string, limit: number): Promise<WebhookDeliveryRow[]> =>
  db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', webhookId).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();

export const findDelivery = (db: DbOrTx, webhookId: string, id: string): Promise<WebhookDeliveryRow | undefined> =>
  db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', webhookId).where('id', '=', id).executeTakeFirst();

/** Back to pending for a redelivery (the attempts count on). */
export async function resetDelivery(db: DbOrTx, id: string): Promise<void> {
  await db.updateTable('webhook_deliveries').set({ state: 'pending', updated_at: new Date() }).where('id', '=', id).execute();
}

/** The outbox: deliveries written but (maybe) never queued, oldest first, untouched for `olderThanMs`. */
export const pendingDeliveries = (db: DbOrTx, olderThanMs: number, limit: number): Promise<Pick<WebhookDeliveryRow, 'id' | 'webhook_id'>[]> =>
  db
    .selectFrom('webhook_deliveries')
    .select(['id', 'webhook_id'])
    .where('state', '=', 'pending')
    .where('updated_at', '<', new Date(Date.now() - olderThanMs))
    .orderBy('created_at')
    .limit(limit)
    .execute();

/** A pending row just queued: not swept again for a while. */
export async function touchDelivery(db: DbOrTx, id: string): Promise<void> {
  await db.updateTable('webhook_deliveries').set({ updated_at: new Date() }).where('id', '=', id).where('state', '=', 'pending').execute();
}

/** Forget finished deliveries: delivered or gone ones older than `doneDays`, dead ones older than `deadDays`. */
export async function pruneDeliveries(db: DbOrTx, doneDays: number, deadDays: number): Promise<number> {
  const day = 86_400_000;
  const r = await db
    .deleteFrom('webhook_deliveries')
    .where((eb) =>
      eb.or([
        eb.and([eb('state', 'in', ['delivered', 'gone']), eb('updated_at', '<', new Date(Date.now() - doneDays * day))]),
        eb.and([eb('state', '=', 'failed'), eb('updated_at', '<', new Date(Date.now() - deadDays * day))]),
      ]),
    )
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}
