/**
 * The recordings' BullMQ jobs (queue `recordings`, keys under `<PBX_REDIS_PREFIX>:bull:`):
 * - `compress` (one per recording, job id compress-<id>): RecordingStore.compress, retried with
 *   exponential backoff (PBX_RECORDING_COMPRESS_ATTEMPTS attempts); one at a time per daemon, as
 *   sox takes a core.
 * - `retention` (a job scheduler, every PBX_RECORDING_RETENTION_CHECK_MINUTES; one run at a time
 *   across daemons): RecordingStore.runRetention.
 * BullMQ needs its own connections (blocking commands, no ioredis keyPrefix); they connect in the
 * background, so the daemon starts while Redis is down.
 */
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { CompressionQueue, RecordingStore } from './service.js';
import { closeBull, boundRetriesOnClose } from '../shared/bull.js';

export const RECORDINGS_QUEUE = 'recordings';
const RETENTION_SCHEDULER = 'recordings-retention';

export interface RecordingJobOptions {
  readonly redis: { readonly url: string; readonly prefix: string; readonly password: string | null };
  readonly attempts: number;
  readonly retentionEveryMs: number;
  /** First retry delay; doubles each attempt. */
  readonly backoffMs?: number;
}

interface JobData {
  readonly id?: string;
}

export class RecordingJobs implements CompressionQueue {
  private readonly connection: Redis;
  private readonly queue: Queue<JobData>;
  private worker: Worker<JobData> | null = null;
  private readonly prefix: string;

  constructor(
    private readonly store: RecordingStore,
    private readonly opts: RecordingJobOptions,
    private readonly log: Logger,
  ) {
    this.prefix = `${opts.redis.prefix}:bull`;
    this.connection = new Redis(opts.redis.url, {
      ...(opts.redis.password === null ? {} : { password: opts.redis.password }),
      maxRetriesPerRequest: null, // BullMQ's requirement for workers
    });
    this.connection.on('error', (err: Error) => log.debug({ err: err.message }, 'redis error (recording jobs)'));
    this.queue = new Queue<JobData>(RECORDINGS_QUEUE, { connection: this.connection, prefix: this.prefix });
    this.queue.on('error', (err: Error) => log.debug({ err: err.message }, 'recording queue error'));
  }

  /**
   * One job per recording (its id names it: adding it again while it waits or runs does nothing).
   * A job BullMQ gave up on (a worker killed in the middle too often) while the row still says
   * 'stored' is removed first, so that the retention run's re-enqueue takes effect.
   */
  async enqueueCompress(id: string): Promise<void> {
    const old = await this.queue.getJob(`compress-${id}`);
    if (old && (await old.isFailed())) await old.remove();
    await this.queue.add('compress', { id }, {
      jobId: `compress-${id}`,
      attempts: this.opts.attempts,
      backoff: { type: 'exponential', delay: this.opts.backoffMs ?? 5_000 },
      removeOnComplete: true,
      removeOnFail: { count: 1_000 },
    });
  }

  /** Jobs by state (the metrics' pbx_jobs{queue="recordings"}); waits for Redis, so callers bound it. */
  async counts(): Promise<Record<string, number>> {
    return this.queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed');
  }

  /** Start the worker and the retention schedule (resolves once Redis has the schedule). */
  async start(): Promise<void> {
    this.worker = new Worker<JobData>(RECORDINGS_QUEUE, (job) => this.process(job), { connection: this.connection, prefix: this.prefix, concurrency: 1 });
    boundRetriesOnClose(this.worker);
    this.worker.on('error', (err: Error) => this.log.debug({ err: err.message }, 'recording worker error'));
    await this.queue.upsertJobScheduler(RETENTION_SCHEDULER, { every: this.opts.retentionEveryMs }, { name: 'retention', data: {}, opts: { removeOnComplete: true, removeOnFail: { count: 100 } } });
  }

  private async process(job: Job<JobData>): Promise<unknown> {
    if (job.name === 'compress' && job.data.id) {
      const attempt = job.attemptsMade + 1;
      return this.store.compress(job.data.id, attempt, attempt >= (job.opts.attempts ?? 1));
    }
    if (job.name === 'retention') return this.store.runRetention();
    return undefined;
  }

  /** The compression job of a recording, if BullMQ still has it (completed jobs are removed). */
  async compressJob(id: string): Promise<Job<JobData> | undefined> {
    return this.queue.getJob(`compress-${id}`);
  }

  /** A compression in progress is not waited for: BullMQ hands it to a worker again once its lock lapses. */
  async stop(): Promise<void> {
    await closeBull(this.worker, true);
    await closeBull(this.queue);
    this.connection.disconnect();
  }
}
