/**
 * Campaign attempts as BullMQ jobs (queue `campaign-attempts`, keys under `<PBX_REDIS_PREFIX>:bull:`):
 * one job per attempt, its job id the attempt id `<contact id>-<n>`, so adding it again (a
 * reconciliation after a restart) does nothing while it waits, and the worker's dial step
 * (dialer.ts dial) refuses an attempt that is not 'queued' any more: a stalled job run again never
 * dials twice. A job is tried once: an attempt that cannot be placed is finished as 'failed' and
 * the contact's retry rule decides, which keeps the retry's timing in one place (outcomes.ts).
 */
import { Queue, Worker, type Job } from 'bullmq';
import type { Logger } from '../logger.js';
import { addWithin, bullConnections, type BullConnections, type BullRedisOptions, closeBull, boundRetriesOnClose } from '../shared/bull.js';

export const ATTEMPTS_QUEUE = 'campaign-attempts';

interface AttemptJob {
  readonly attemptId: string;
}

export interface AttemptQueue {
  /** Fails at once while Redis is unreachable. */
  enqueue(attemptId: string): Promise<void>;
}

export class AttemptJobs implements AttemptQueue {
  private readonly redis: BullConnections;
  private readonly queue: Queue<AttemptJob>;
  private worker: Worker<AttemptJob> | null = null;

  constructor(redis: BullRedisOptions, private readonly log: Logger) {
    this.redis = bullConnections(redis, log, 'campaign attempts');
    this.queue = new Queue<AttemptJob>(ATTEMPTS_QUEUE, { connection: this.redis.adds, prefix: this.redis.prefix });
    this.queue.on('error', (err: Error) => log.debug({ err: err.message }, 'campaign attempt queue error'));
  }

  async enqueue(attemptId: string): Promise<void> {
    // A late add (Redis back after the wait) is harmless: the claim was given back, and dial()
    // does nothing for an attempt that is not queued.
    await addWithin(this.queue.add('dial', { attemptId }, { jobId: attemptId, attempts: 1, removeOnComplete: true, removeOnFail: { count: 1_000 } }));
  }

  /** Jobs by state (metrics: pbx_jobs{queue="campaign-attempts"}). */
  async counts(): Promise<Record<string, number>> {
    return this.queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed');
  }

  /** Called each time the queue's connection to Redis is (re)established. */
  onReady(fn: () => void): void {
    this.redis.adds.on('ready', fn);
  }

  start(dial: (attemptId: string) => Promise<void>, concurrency = 20): void {
    this.worker = new Worker<AttemptJob>(ATTEMPTS_QUEUE, (job: Job<AttemptJob>) => dial(job.data.attemptId), {
      connection: this.redis.worker,
      prefix: this.redis.prefix,
      concurrency,
    });
    boundRetriesOnClose(this.worker);
    this.worker.on('error', (err: Error) => this.log.debug({ err: err.message }, 'campaign attempt worker error'));
    this.worker.on('failed', (job, err: Error) => this.log.warn({ attempt: job?.data.attemptId, err: err.message }, 'campaign attempt job failed'));
  }

  async stop(): Promise<void> {
    await closeBull(this.worker, true);
    await closeBull(this.queue);
    this.redis.close();
  }
}
