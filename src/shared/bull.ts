/**
 * The two Redis connections a BullMQ queue of this daemon uses (keys under `<PBX_REDIS_PREFIX>:bull:`):
 * - `worker`: blocking commands, retried for ever (BullMQ's requirement: maxRetriesPerRequest null);
 * - `adds`: for adding jobs, failing at once while Redis is unreachable (no offline queue), so the
 *   caller knows the job was not added and keeps the work in Postgres instead of waiting.
 * Both connect in the background: the daemon starts while Redis is down. Until `adds` has
 * connected once, BullMQ waits for it instead of failing: bound such a wait with `addWithin`.
 */
import { Redis } from 'ioredis';

/** What a connection logs its errors with (a pino logger is one). */
export interface DebugLog {
  debug(fields: Record<string, unknown>, message: string): void;
}

export interface BullRedisOptions {
  readonly url: string;
  readonly prefix: string;
  readonly password: string | null;
}

export interface BullConnections {
  readonly worker: Redis;
  readonly adds: Redis;
  /** BullMQ's `prefix` option. */
  readonly prefix: string;
  close(): void;
}

export function bullConnections(redis: BullRedisOptions, log: DebugLog, what: string): BullConnections {
  const auth = redis.password === null ? {} : { password: redis.password };
  const worker = new Redis(redis.url, { ...auth, maxRetriesPerRequest: null });
  worker.on('error', (err: Error) => log.debug({ err: err.message }, `redis error (${what} worker)`));
  const adds = new Redis(redis.url, { ...auth, maxRetriesPerRequest: 1, enableOfflineQueue: false });
  adds.on('error', (err: Error) => log.debug({ err: err.message }, `redis error (${what} queue)`));
  return {
    worker,
    adds,
    prefix: `${redis.prefix}:bull`,
    close: () => {
      adds.disconnect();
      worker.disconnect();
    },
  };
}

/** Adding a job waits this long at most (see addWithin). */
export const ADD_WAIT_MS = 2_000;

/**
 * `adding`, or a rejection after `ms`: a queue whose connection never came up (Redis down when the
 * daemon started) waits instead of failing. The add may still happen later; callers keep the work
 * in Postgres so that a late job finds it already done or gone and does nothing.
 */
export async function addWithin<T>(adding: Promise<T>, ms = ADD_WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not take the job within ${ms} ms`)), ms);
  });
  adding.catch(() => undefined);
  try {
    return await Promise.race([adding, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Something BullMQ closes: a Queue or a Worker. */
interface BullClosable {
  close(force?: boolean): Promise<void>;
}

interface Emitter {
  on(event: string, fn: () => void): unknown;
  removeAllListeners(event?: string): unknown;
}

const quiet = (): void => undefined;

/**
 * Close a BullMQ Queue or Worker so that its Redis connections keep a quiet 'error' listener.
 * BullMQ (5.81) removes every listener of a connection as it closes it (removeAllListeners); a
 * connection still starting (Redis refusing our password, or down) fails later, when its ioredis
 * client ends, and BullMQ then emits 'error' with no listener: an unhandled rejection (two
 * clean-clone test runs failed on one, in redis-password.test.ts). Adding the listener after the
 * close was not enough (the failure can come in between), so the connections' own
 * removeAllListeners puts it back at once. The connections are BullMQ's fields `connection` and,
 * for a Worker, `blockingConnection`.
 */
export async function closeBull(what: BullClosable | null | undefined, force?: boolean): Promise<void> {
  if (!what) return;
  const fields = what as unknown as Record<string, Emitter | undefined>;
  for (const name of ['connection', 'blockingConnection']) {
    const conn = fields[name];
    if (!conn || typeof conn.removeAllListeners !== 'function') continue;
    const removeAll = conn.removeAllListeners.bind(conn);
    conn.removeAllListeners = (event?: string) => {
      const result = event === undefined ? removeAll() : removeAll(event);
      conn.on('error', quiet);
      return result;
    };
    conn.on('error', quiet);
  }
  await (force === undefined ? what.close() : what.close(force));
}

/** BullMQ's Worker as far as boundRetriesOnClose uses it (a method and a field of its own). */
interface RetryingWorker {
  retryIfFailed(fn: () => Promise<unknown>, opts: unknown): Promise<unknown>;
  closing?: unknown;
}

/**
 * Call on a Worker as it is made. BullMQ (5.81) retries a Redis call that failed with a connection
 * error for ever, and once the worker is closing without its delay: a call that fails at once
 * ("Connection is closed") then loops on microtasks and holds the event loop for good. An
 * integration run hung on it (the recordings worker took its retention job-scheduler job as it
 * closed: the next iteration's upsert spun). With this, an attempt after a failed one, once the
 * worker is closing, fails as a plain error, which ends BullMQ's loop (logged at debug by the
 * worker's error listener, or swallowed while closing); a job left active is taken again as
 * stalled by the next worker.
 */
export function boundRetriesOnClose(worker: object): void {
  const w = worker as RetryingWorker;
  const retry = w.retryIfFailed.bind(worker);
  w.retryIfFailed = (fn, opts) => {
    let tried = false;
    return retry(async () => {
      if (tried && w.closing) throw new Error('BullMQ worker closing: a failed Redis call is not retried');
      tried = true;
      return fn();
    }, opts);
  };
}
