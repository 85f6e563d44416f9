/**
 * Webhooks (docs/webhooks.md): the admin's registrations and the deliveries. The service is a
 * subscriber of the event bus: each event an active webhook wants (its types, its queue filter)
 * becomes a delivery row (its body fixed then) and a BullMQ job of the same id, enqueued in the
 * order the events came. An attempt (the worker) sends the stored body signed with the webhook's
 * current secret and records the outcome: 2xx delivered; 410 gone and the webhook disabled; any
 * other answer, a timeout or a connection error is retried until the retry window is over, then
 * the delivery is dead ('failed') and the webhook disabled, each disabling audited.
 * The delivery rows are the outbox: a job that could not be added (Redis down) leaves its row
 * 'pending', and sweep() queues pending rows when Redis is back and every SWEEP_MS. An event whose
 * rows cannot be written (Postgres unreachable) waits in memory, in order (src/shared/waiting-writes.ts), and is
 * written when Postgres answers again.
 */
import { randomUUID } from 'node:crypto';
import type { Actor } from '../audit/repository.js';
import { recordAudit } from '../audit/repository.js';
import type { Db } from '../db/database.js';
import { AppError, invalid, notFound } from '../errors.js';
import { isPgUnreachable } from '../shared/pg-errors.js';
import type { PbxEvent } from '../events/model.js';
import type { Subscriber } from '../events/bus.js';
import type { Logger } from '../logger.js';
import type { SecretBox } from '../shared/secret-box.js';
import type { DeliveryJob, DeliveryQueue } from './jobs.js';
import * as repo from './repository.js';
import { send, type SendOutcome } from './sender.js';
import { newSecret } from './signing.js';
import type { WebhookDeliveryRow, WebhookRow } from './tables.js';
import { checkTarget } from './target.js';
import { WaitingWrites, type WaitingTexts } from '../shared/waiting-writes.js';

export const SYSTEM_ACTOR: Actor = { userId: null, tokenId: null, label: 'system:webhooks', requestId: null };
const DELIVERY_LOG_LIMIT = 100;
const CACHE_MS = 5_000;
/** A pending row untouched this long is queued (again) by the sweep; adding an existing job is a no-op. */
const PENDING_GRACE_MS = 2_000;
const SWEEP_BATCH = 500;
const SWEEP_EVERY_MS = 30_000;
/** The delivery log keeps delivered / gone deliveries this long, dead ones longer; pruned hourly. */
export const KEEP_DONE_DAYS = 7;
export const KEEP_DEAD_DAYS = 30;
const PRUNE_EVERY_MS = 3_600_000;

export interface WebhookView {
  readonly id: string;
  readonly url: string;
  readonly eventTypes: string[];
  readonly queue: string | null;
  readonly active: boolean;
  readonly disabledReason: string | null;
  readonly description: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface WebhookInput {
  readonly url: string;
  readonly eventTypes: readonly string[];
  readonly queue?: string | null;
  readonly active?: boolean;
  readonly description?: string | null;
}

export const viewOf = (r: WebhookRow): WebhookView => ({
  id: r.id, url: r.url, eventTypes: r.event_types as string[], queue: r.queue, active: r.active,
  disabledReason: r.disabled_reason, description: r.description, createdAt: r.created_at, updatedAt: r.updated_at,
});

/** Does a webhook want this event: its type listed (or `*`), and its queue when it has a filter. */
export function wants(hook: { eventTypes: readonly string[]; queue: string | null }, event: PbxEvent): boolean {
  if (!hook.eventTypes.includes('*') && !hook.eventTypes.includes(event.type)) return false;
  if (hook.queue === null) return true;
  const e = event as { queue?: string | null; queues?: string[] };
  return e.queue === hook.queue || (e.queues?.includes(hook.queue) ?? false);
}

export const deliveryIdOf = (webhookId: string, eventId: number): string => `${webhookId}-${eventId}`;
const secretContext = (id: string) => `webhook-secret:${id}`;

export interface WebhookServiceDeps {
  readonly db: Db;
  readonly secrets: SecretBox;
  readonly queue: DeliveryQueue;
  readonly timeoutMs: number;
  readonly log: Logger;
  /** Told each attempt's outcome (metrics: webhook deliveries by outcome); must not throw. */
  readonly observe?: (outcome: 'delivered' | 'gone' | 'retrying' | 'failed', durationMs: number) => void;
}

/** The log lines of events waiting for Postgres (docs/webhooks.md#postgres-down). */
export const WEBHOOK_WAITING_TEXTS: WaitingTexts = {
  waiting: 'webhook deliveries wait in memory: Postgres unreachable',
  back: 'webhook deliveries that waited for Postgres are in the outbox',
  dropped: 'webhook events dropped: too many waiting for Postgres',
  skipped: 'webhook deliveries not enqueued',
  atStop: 'webhook events still waiting for Postgres at stop: not delivered',
};

export class WebhookService implements Subscriber {
  private cache: { at: number; hooks: WebhookView[] } | null = null;
  /** Events whose delivery rows are not written yet, in order (Postgres down: they wait there). */
  private readonly waiting: WaitingWrites<PbxEvent>;

  constructor(private readonly deps: WebhookServiceDeps) {
    this.waiting = new WaitingWrites<PbxEvent>({
      write: (e) => this.enqueueFor(e), retryable: isPgUnreachable, log: deps.log, texts: WEBHOOK_WAITING_TEXTS, describe: (e) => ({ eventId: e.id, type: e.type }),
    });
  }

  // --- registrations ---

  async create(input: WebhookInput, actor: Actor): Promise<{ webhook: WebhookView; secret: string }> {
    const url = this.url(input.url);
    const id = `wh-${randomUUID()}`;
    const secret = newSecret();
    const row = await this.deps.db.transaction().execute(async (tx) => {
      const r = await repo.insertWebhook(tx, {
        id, url, eventTypes: [...new Set(input.eventTypes)], queue: input.queue ?? null, active: input.active ?? true,
        description: input.description ?? null, secretSealed: this.deps.secrets.seal(secret, secretContext(id)),
      });
      await recordAudit(tx, actor, { action: 'webhook.create', entity: 'webhook', entityId: id, details: { url, eventTypes: input.eventTypes, queue: input.queue ?? null } });
      return r;
    });
    this.cache = null;
    return { webhook: viewOf(row), secret };
  }

  async list(): Promise<WebhookView[]> {
    return (await repo.listWebhooks(this.deps.db)).map(viewOf);
  }

  async get(id: string): Promise<WebhookView> {
    return viewOf(await this.row(id));
  }

  async update(id: string, patch: Partial<WebhookInput>, actor: Actor): Promise<WebhookView> {
    const url = patch.url === undefined ? undefined : this.url(patch.url);
    const row = await this.deps.db.transaction().execute(async (tx) => {
      const r = await repo.updateWebhook(tx, id, {
        ...(url !== undefined ? { url } : {}),
        ...(patch.eventTypes !== undefined ? { eventTypes: [...new Set(patch.eventTypes)] } : {}),
        ...(patch.queue !== undefined ? { queue: patch.queue } : {}),
        ...(patch.description !== undefined ? { description: patch.description } : {}),
        ...(patch.active !== undefined ? { active: patch.active, disabledReason: null } : {}),
      });
      if (!r) throw notFound('webhook-not-found', 'webhook', id);
      await recordAudit(tx, actor, { action: 'webhook.update', entity: 'webhook', entityId: id, details: { ...patch } });
      return r;
    });
    this.cache = null;
    return viewOf(row);
  }

  async remove(id: string, actor: Actor): Promise<void> {
    await this.deps.db.transaction().execute(async (tx) => {
      if (!(await repo.deleteWebhook(tx, id))) throw notFound('webhook-not-found', 'webhook', id);
      await recordAudit(tx, actor, { action: 'webhook.delete', entity: 'webhook', entityId: id });
    });
    this.cache = null;
  }

  /** A new secret, shown once; deliveries from now on (retries included) are signed with it. */
  async rotateSecret(id: string, actor: Actor): Promise<{ webhook: WebhookView; secret: string }> {
    const secret = newSecret();
    const row = await this.deps.db.transaction().execute(async (tx) => {
      const r = await repo.updateWebhook(tx, id, { secretSealed: this.deps.secrets.seal(secret, secretContext(id)) });
      if (!r) throw notFound('webhook-not-found', 'webhook', id);
      await recordAudit(tx, actor, { action: 'webhook.rotate-secret', entity: 'webhook', entityId: id });
      return r;
    });
    return { webhook: viewOf(row), secret };
  }

  async deliveries(id: string, limit = DELIVERY_LOG_LIMIT): Promise<WebhookDeliveryRow[]> {
    await this.row(id);
    return repo.listDeliveries(this.deps.db, id, limit);
  }

  /** Send a delivery again (a new job of the same id: the receiver sees the same Pbx-Delivery). */
  async redeliver(id: string, deliveryId: string, actor: Actor): Promise<WebhookDeliveryRow> {
    const d = await repo.findDelivery(this.deps.db, id, deliveryId);
    if (!d) throw notFound('webhook-delivery-not-found', 'delivery', deliveryId);
    await repo.resetDelivery(this.deps.db, deliveryId);
    await this.deps.queue.enqueue({ webhookId: id, deliveryId });
    await recordAudit(this.deps.db, actor, { action: 'webhook.redeliver', entity: 'webhook', entityId: id, details: { deliveryId } });
    return { ...d, state: 'pending' };
  }

  /** A signed `ping` sent now, not queued nor retried: tells an admin whether the receiver answers. */
  async ping(id: string): Promise<SendOutcome> {
    const row = await this.row(id);
    const body = JSON.stringify({ type: 'ping', webhookId: id, at: new Date().toISOString() });
    return send({ url: row.url, secret: this.secretOf(row), body, deliveryId: `${id}-ping-${Date.now()}`, eventType: 'ping', timeoutMs: this.deps.timeoutMs });
  }

  // --- deliveries ---

  /** Events waiting for Postgres now, and those dropped since start because too many waited (metrics). */
  get outbox(): { readonly waiting: number; readonly dropped: number } {
    return this.waiting.stats;
  }

  /** The bus hands every event here; never blocks, never throws. */
  deliver(event: PbxEvent): void {
    this.waiting.push(event);
  }

  /** Rows first (the outbox, in event order), then the jobs; a job not added waits for sweep(). */
  private async enqueueFor(event: PbxEvent): Promise<void> {
    const hooks = (await this.active()).filter((h) => wants(h, event));
    if (!hooks.length) return;
    const body = JSON.stringify(event);
    const jobs = hooks.map((h) => ({ webhookId: h.id, deliveryId: deliveryIdOf(h.id, event.id) }));
    for (const j of jobs) await repo.insertDelivery(this.deps.db, { id: j.deliveryId, webhookId: j.webhookId, eventId: event.id, eventType: event.type, body });
    for (const j of jobs) {
      try {
        await this.deps.queue.enqueue(j);
      } catch (err) {
        this.deps.log.debug({ err: (err as Error).message, deliveryId: j.deliveryId }, 'webhook delivery not queued (Redis?); kept pending in Postgres');
      }
    }
  }

  private sweeping = false;
  private sweepTimer: NodeJS.Timeout | null = null;
  private prunedAt = 0;

  /** The periodic outbox pass (the Redis-back pass is wired to the queue's connection in src/app.ts). */
  start(): void {
    this.waiting.start();
    this.sweepTimer ??= setInterval(() => {
      this.sweep().catch(() => undefined);
      if (Date.now() - this.prunedAt >= PRUNE_EVERY_MS) {
        this.prunedAt = Date.now();
        repo.pruneDeliveries(this.deps.db, KEEP_DONE_DAYS, KEEP_DEAD_DAYS).catch((err: Error) => this.deps.log.debug({ err: err.message }, 'webhook delivery log not pruned'));
      }
    }, SWEEP_EVERY_MS).unref();
  }

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    this.waiting.stop();
  }

  /**
   * Queue the outbox's pending rows untouched for `graceMs` (Redis back: 0; the periodic pass: a
   * grace so that rows being queued right now are left alone); returns how many were queued.
   */
  async sweep(graceMs = PENDING_GRACE_MS): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    let queued = 0;
    try {
      for (;;) {
        const rows = await repo.pendingDeliveries(this.deps.db, graceMs, SWEEP_BATCH);
        for (const r of rows) {
          await this.deps.queue.enqueue({ webhookId: r.webhook_id, deliveryId: r.id });
          await repo.touchDelivery(this.deps.db, r.id);
          queued++;
        }
        if (rows.length < SWEEP_BATCH) break;
      }
    } catch (err) {
      this.deps.log.debug({ err: (err as Error).message }, 'webhook outbox sweep stopped (Redis?)');
    } finally {
      this.sweeping = false;
    }
    if (queued) this.deps.log.info({ queued }, 'webhook deliveries queued from the outbox');
    return queued;
  }

  /** One attempt (the worker's): throws when BullMQ should retry. */
  async attempt(job: DeliveryJob, attempt: number, last: boolean): Promise<void> {
    const { db, log } = this.deps;
    const [hook, delivery] = await Promise.all([repo.findWebhook(db, job.webhookId), repo.findDelivery(db, job.webhookId, job.deliveryId)]);
    if (!hook || !delivery) return; // deleted meanwhile
    if (!hook.active) {
      await repo.recordAttempt(db, job.deliveryId, { state: 'failed', responseCode: null, durationMs: 0, error: 'webhook disabled' });
      return;
    }
    const outcome = await send({ url: hook.url, secret: this.secretOf(hook), body: delivery.body, deliveryId: job.deliveryId, eventType: delivery.event_type, timeoutMs: this.deps.timeoutMs });
    this.deps.observe?.(outcome.kind === 'failed' ? (last ? 'failed' : 'retrying') : outcome.kind, outcome.durationMs);
    if (outcome.kind === 'delivered') {
      await repo.recordAttempt(db, job.deliveryId, { state: 'delivered', responseCode: outcome.status, durationMs: outcome.durationMs, error: null });
      return;
    }
    if (outcome.kind === 'gone') {
      await repo.recordAttempt(db, job.deliveryId, { state: 'gone', responseCode: 410, durationMs: outcome.durationMs, error: 'HTTP 410 Gone' });
      await this.disable(hook.id, 'the receiver answered 410 Gone', job.deliveryId);
      return;
    }
    await repo.recordAttempt(db, job.deliveryId, { state: last ? 'failed' : 'retrying', responseCode: outcome.status, durationMs: outcome.durationMs, error: outcome.error });
    log.info({ webhookId: hook.id, deliveryId: job.deliveryId, attempt, error: outcome.error }, last ? 'webhook delivery dead after its last attempt' : 'webhook delivery failed; retried');
    if (last) {
      await this.disable(hook.id, 'deliveries failed for the whole retry window', job.deliveryId);
      return;
    }
    throw new Error(outcome.error);
  }

  private async disable(id: string, reason: string, deliveryId: string): Promise<void> {
    await this.deps.db.transaction().execute(async (tx) => {
      const r = await repo.updateWebhook(tx, id, { active: false, disabledReason: reason });
      if (r) await recordAudit(tx, SYSTEM_ACTOR, { action: 'webhook.disable', entity: 'webhook', entityId: id, details: { reason, deliveryId } });
    });
    this.cache = null;
    this.deps.log.warn({ webhookId: id, reason }, 'webhook disabled');
  }

  private async active(): Promise<WebhookView[]> {
    const now = Date.now();
    if (!this.cache || now - this.cache.at > CACHE_MS) this.cache = { at: now, hooks: (await repo.activeWebhooks(this.deps.db)).map(viewOf) };
    return this.cache.hooks;
  }

  private async row(id: string): Promise<WebhookRow> {
    const r = await repo.findWebhook(this.deps.db, id);
    if (!r) throw notFound('webhook-not-found', 'webhook', id);
    return r;
  }

  private secretOf(row: WebhookRow): string {
    try {
      return this.deps.secrets.open(row.secret_sealed, secretContext(row.id));
    } catch {
      throw new AppError('internal-error', 500, `webhook ${row.id}: its secret does not open under PBX_SECRET_KEY (rotate it)`);
    }
  }

  private url(raw: string): string {
    const c = checkTarget(raw);
    if (!c.ok) throw invalid('url', c.problem);
    return c.url;
  }
}
