/**
 * Webhook deliveries as BullMQ jobs (queue `webhooks`, keys under `<PBX_REDIS_PREFIX>:bull:`, the
 * connection set up as src/recordings/jobs.ts does). One job per (webhook, event): its job id is
 * the delivery id `<webhook id>-<event id>`, so enqueueing it again does nothing and a retry is the
 * same delivery. Exponential backoff from `firstRetryMs`, as many attempts as cover `retryForMs`
 * (signing.ts attemptsFor). What an attempt does is WebhookService.attempt.
 * Adding a job fails at once while Redis is unreachable (its own connection, no offline queue): the
 * delivery row waits in Postgres as 'pending' and WebhookService.sweep queues it once Redis is back
 * (`onReady`).
 */
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { addWithin, closeBull, boundRetriesOnClose } from '../shared/bull.js';

export const WEBHOOKS_QUEUE = 'webhooks';

export interface DeliveryJob {
  readonly webhookId: string;
  readonly deliveryId: string;
}

/** What the worker calls: throws to have BullMQ retry. `last`: no retry follows a failure. */
export type Attempt = (job: DeliveryJob, attempt: number, last: boolean) => Promise<void>;

export interface DeliveryQueue {
  enqueue(job: DeliveryJob): Promise<void>;
}

export interface WebhookJobOptions {
  readonly redis: { readonly url: string; readonly prefix: string; readonly password: string | null };
  readonly attempts: number;
  readonly firstRetryMs: number;
  readonly concurrency?: number;
}

export class WebhookJobs implements DeliveryQueue {
  private readonly connection: Redis;
  private readonly adds: Redis;
  private readonly queue: Queue<DeliveryJob>;
  private worker: Worker<DeliveryJob> | null = null;
  private readonly prefix: string;

  constructor(
    private readonly opts: WebhookJobOptions,
    private readonly log: Logger,
  ) {
    this.prefix = `${opts.redis.prefix}:bull`;
    this.connection = new Redis(opts.redis.url, {
      ...(opts.redis.password === null ? {} : { password: opts.redis.password }),
      maxRetriesPerRequest: null,
    });
    this.connection.on('error', (err: Error) => log.debug({ err: err.message }, 'redis error (webhook jobs)'));
    this.adds = new Redis(opts.redis.url, {
      ...(opts.redis.password === null ? {} : { password: opts.redis.password }),
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
    });
    this.adds.on('error', (err: Error) => log.debug({ err: err.message }, 'redis error (webhook queue)'));
    this.queue = new Queue<DeliveryJob>(WEBHOOKS_QUEUE, { connection: this.adds, prefix: this.prefix });
    this.queue.on('error', (err: Error) => log.debug({ err: err.message }, 'webhook queue error'));
  }

  /** A finished job of the same id (a redelivery) is removed first, so that the add takes effect. */
  async enqueue(job: DeliveryJob): Promise<void> {
    // Bounded: until the connection has come up once (Redis down at start) BullMQ waits instead
    // of failing; the delivery row stays 'pending' in Postgres and the sweep queues it later.
    await addWithin((async () => {
      const old = await this.queue.getJob(job.deliveryId);
      if (old && ((await old.isFailed()) || (await old.isCompleted()))) await old.remove();
      await this.queue.add('deliver', job, {
        jobId: job.deliveryId,
        attempts: this.opts.attempts,
        backoff: { type: 'exponential', delay: this.opts.firstRetryMs },
        removeOnComplete: true,
        removeOnFail: { count: 1_000 },
      });
    })());
  }

  /** Jobs by state (the metrics' pbx_jobs{queue="webhooks"}); fails at once while Redis is unreachable. */
  async counts(): Promise<Record<string, number>> {
    return this.queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed');
  }

  /** Called each time the queue's connection to Redis is (re)established. */
  onReady(fn: () => void): void {
    this.adds.on('ready', fn);
  }

  start(attempt: Attempt): void {
    this.worker = new Worker<DeliveryJob>(
      WEBHOOKS_QUEUE,
      async (job: Job<DeliveryJob>) => {
        const n = job.attemptsMade + 1;
        await attempt(job.data, n, n >= (job.opts.attempts ?? 1));
      },
      { connection: this.connection, prefix: this.prefix, concurrency: this.opts.concurrency ?? 10 },
    );
    boundRetriesOnClose(this.worker);
    this.worker.on('error', (err: Error) => this.log.debug({ err: err.message }, 'webhook worker error'));
  }

  async stop(): Promise<void> {
    await closeBull(this.worker, true);
    await closeBull(this.queue);
    this.adds.disconnect();
    this.connection.disconnect();
  }
}
