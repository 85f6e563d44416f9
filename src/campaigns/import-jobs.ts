/**
 * List imports as BullMQ jobs (queue `campaign-imports`, keys under `<PBX_REDIS_PREFIX>:bull:`, the
 * connections of src/shared/bull.ts). One job per import, its job id the import id:
 * adding it again while it waits or runs does nothing. A job that fails (Postgres unreachable) is
 * retried with backoff and resumes where the import's counters say (importer.ts); one whose worker
 * died is run again by BullMQ (stalled) the same way. Imports still queued or running in Postgres
 * are queued again on start and whenever Redis comes back (ImportService.sweep), so an upload made
 * while Redis was down is not lost.
 */
import { Queue, Worker, type Job } from 'bullmq';
import type { Logger } from '../logger.js';
import { addWithin, bullConnections, type BullConnections, type BullRedisOptions, closeBull, boundRetriesOnClose } from '../shared/bull.js';

export const CAMPAIGN_IMPORTS_QUEUE = 'campaign-imports';

export interface ImportQueue {
  /** Fails at once (or within a short wait) while Redis is unreachable. */
  enqueue(importId: string): Promise<void>;
}

interface JobData {
  readonly importId: string;
}

export interface ImportJobOptions {
  readonly redis: BullRedisOptions;
  readonly attempts?: number;
  readonly backoffMs?: number;
}

export class ImportJobs implements ImportQueue {
  private readonly redis: BullConnections;
  private readonly queue: Queue<JobData>;
  private worker: Worker<JobData> | null = null;
  private readonly stopping = new AbortController();

  constructor(
    private readonly opts: ImportJobOptions,
    private readonly log: Logger,
  ) {
    this.redis = bullConnections(opts.redis, log, 'list imports');
    this.queue = new Queue<JobData>(CAMPAIGN_IMPORTS_QUEUE, { connection: this.redis.adds, prefix: this.redis.prefix });
    this.queue.on('error', (err: Error) => log.debug({ err: err.message }, 'import queue error'));
  }

  /**
   * A job of the same id that BullMQ gave up on (or finished) is removed first, so that the add
   * takes effect. A late add (Redis back after the wait) is harmless: a job finds the import done
   * or resumes it.
   */
  async enqueue(importId: string): Promise<void> {
    const old = await addWithin(this.queue.getJob(importId));
    if (old && ((await old.isFailed()) || (await old.isCompleted()))) await old.remove();
    await addWithin(this.queue.add('import', { importId }, {
      jobId: importId,
      attempts: this.opts.attempts ?? 8,
      backoff: { type: 'exponential', delay: this.opts.backoffMs ?? 2_000 },
      removeOnComplete: true,
      removeOnFail: { count: 1_000 },
    }));
  }

  /** Called each time the queue's connection to Redis is (re)established. */
  onReady(fn: () => void): void {
    this.redis.adds.on('ready', fn);
  }

  /** One import at a time per daemon (parsing takes a core). `run` is told to stop (between batches) by stop(). */
  start(run: (importId: string, signal: AbortSignal) => Promise<void>): void {
    this.worker = new Worker<JobData>(CAMPAIGN_IMPORTS_QUEUE, (job: Job<JobData>) => run(job.data.importId, this.stopping.signal), {
      connection: this.redis.worker, prefix: this.redis.prefix, concurrency: 1,
    });
    boundRetriesOnClose(this.worker);
    this.worker.on('error', (err: Error) => this.log.debug({ err: err.message }, 'import worker error'));
    this.worker.on('failed', (job, err) => this.log.warn({ importId: job?.data.importId, err: err.message }, 'list import job failed; retried'));
  }

  /**
   * The import in progress stops at its next batch (the signal) and is queued again by the next
   * daemon's sweep. Forced: a graceful close sends QUIT on the worker's blocking connection and
   * waits for Redis to answer it, for ever while Redis is down (a daemon stopped then hung).
   */
  async stop(): Promise<void> {
    this.stopping.abort();
    await closeBull(this.worker, true);
    await closeBull(this.queue);
    this.redis.close();
  }
}
