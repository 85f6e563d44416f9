/**
 * List imports as BullMQ jobs (queue `campaign-imports`, keys under `<PBX_REDIS_PREFIX>:bull:`, the
 * connections set up as src/webhooks/jobs.ts does). One job per import, its job id the import id:
 * adding it again while it waits or runs does nothing. A job that fails (Postgres unreachable) is
 * retried with backoff and resumes where the import's counters say (importer.ts); one whose worker
 * died is run again by BullMQ (stalled) the same way. Imports still queued or running in Postgres
 * are queued again on start and whenever Redis comes back (ImportService.sweep), so an upload made
 * while Redis was down is not lost.
 */
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';

export const CAMPAIGN_IMPORTS_QUEUE = 'campaign-imports';

export interface ImportQueue {
  enqueue(importId: string): Promise<void>;
}

interface JobData {
  readonly importId: string;
}

export interface ImportJobOptions {
  readonly redis: { readonly url: string; readonly prefix: string; readonly password: string | null };
  readonly attempts?: number;
  readonly backoffMs?: number;
}

export class ImportJobs implements ImportQueue {
  private readonly connection: Redis;
  private readonly adds: Redis;
  private readonly queue: Queue<JobData>;
  private worker: Worker<JobData> | null = null;
  private readonly prefix: string;
  private readonly stopping = new AbortController();

  constructor(
    private readonly opts: ImportJobOptions,
    private readonly log: Logger,
  ) {
    this.prefix = `${opts.redis.prefix}:bull`;
    const password = opts.redis.password === null ? {} : { password: opts.redis.password };
    this.connection = new Redis(opts.redis.url, { ...password, maxRetriesPerRequest: null });
    this.connection.on('error', (err: Error) => log.debug({ err: err.message }, 'redis error (import jobs)'));
    this.adds = new Redis(opts.redis.url, { ...password, maxRetriesPerRequest: 1, enableOfflineQueue: false });
    this.adds.on('error', (err: Error) => log.debug({ err: err.message }, 'redis error (import queue)'));
    this.queue = new Queue<JobData>(CAMPAIGN_IMPORTS_QUEUE, { connection: this.adds, prefix: this.prefix });
    this.queue.on('error', (err: Error) => log.debug({ err: err.message }, 'import queue error'));
  }

  /** A job of the same id that BullMQ gave up on (or finished) is removed first, so that the add takes effect. */
  async enqueue(importId: string): Promise<void> {
    const old = await this.queue.getJob(importId);
    if (old && ((await old.isFailed()) || (await old.isCompleted()))) await old.remove();
    await this.queue.add('import', { importId }, {
      jobId: importId,
      attempts: this.opts.attempts ?? 8,
      backoff: { type: 'exponential', delay: this.opts.backoffMs ?? 2_000 },
      removeOnComplete: true,
      removeOnFail: { count: 1_000 },
    });
  }

  /** Called each time the queue's connection to Redis is (re)established. */
  onReady(fn: () => void): void {
    this.adds.on('ready', fn);
  }

  /** One import at a time per daemon (parsing takes a core). `run` is told to stop (between batches) by stop(). */
  start(run: (importId: string, signal: AbortSignal) => Promise<void>): void {
    this.worker = new Worker<JobData>(CAMPAIGN_IMPORTS_QUEUE, (job: Job<JobData>) => run(job.data.importId, this.stopping.signal), {
      connection: this.connection, prefix: this.prefix, concurrency: 1,
    });
    this.worker.on('error', (err: Error) => this.log.debug({ err: err.message }, 'import worker error'));
    this.worker.on('failed', (job, err) => this.log.warn({ importId: job?.data.importId, err: err.message }, 'list import job failed; retried'));
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.worker?.close();
    await this.queue.close();
    this.adds.disconnect();
    this.connection.disconnect();
  }
}
