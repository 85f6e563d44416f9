/**
 * Finishes a recording once its call is over (or, after a restart, once the daemon finds its call
 * gone): waits for Asterisk to close the two direction files, merges them (recording-files.ts),
 * notes the end, duration and pauses on the row, hands the file to the store (sha256, size,
 * compression: src/recordings) and removes the two originals. Every step can be done again: a
 * daemon dying midway leaves the row in 'recording', and the next one finishes it.
 */
import type { Db } from '../db/database.js';
import type { Logger } from '../logger.js';
import type { RecordingPause } from '../recordings/tables.js';
import { logRejection } from '../shared/log-rejection.js';
import { closePauses } from './recording-machine.js';
import { directionFilesState, fileExists, mergeDirections, removeFiles } from './recording-files.js';
import { findRecording, removeCallRecording, updateCallRecording } from './recording-repository.js';

/** The store's side (src/recordings): the final file is in place; it records sha256 and size and compresses. */
export interface RecordingSink {
  finalize(id: string): Promise<void>;
  /** Make the folder of a recording's file (relative to the recordings folder), writable by Asterisk and the daemon. */
  prepare(relative: string): Promise<void>;
}

export interface FinisherDeps {
  readonly db: Db;
  /** The recordings folder (host path). */
  readonly dir: string;
  readonly mono: boolean;
  readonly sink: RecordingSink;
  readonly log: Logger;
  /** The first retry's delay (tests); RETRY_FIRST_MS otherwise. */
  readonly retryFirstMs?: number;
}

/** How long Asterisk gets to close the files after the call's channel is gone. */
const CLOSE_WAIT_MS = 10_000;
const POLL_MS = 100;
/** A finish that failed (the disk full, sox missing) is tried again after 5 s, then 10, 20, 40, 60, 60... while this daemon runs. */
const RETRY_FIRST_MS = 5_000;
const RETRY_MAX_MS = 60_000;

export class RecordingFinisher {
  private readonly busy = new Map<string, Promise<void>>();
  private readonly retries = new Map<string, { timer: NodeJS.Timeout; delayMs: number }>();

  constructor(private readonly deps: FinisherDeps) {}

  /**
   * Finish recording `id` (one run per id at a time); never throws. `endedAt` null: the call ended
   * while no daemon watched, so its end is the recording's start plus the file's length. A failure
   * is logged, kept on the row (`lastError`) and tried again later (and at the next daemon start);
   * the direction files stay until a finish succeeds.
   */
  finish(id: string, endedAt: Date | null, pauses?: readonly RecordingPause[]): Promise<void> {
    const running = this.busy.get(id);
    if (running) return running;
    const task = this.finishOnce(id, endedAt, pauses)
      .then(() => this.forgetRetry(id))
      .catch((err: Error) => {
        const retryInMs = this.retryLater(id, endedAt, pauses);
        this.deps.log.error({ recording: id, err: err.message, retryInMs }, 'recording not finished; trying again later');
        logRejection(updateCallRecording(this.deps.db, id, { lastError: err.message.slice(0, 500) }), this.deps.log, 'recording error not saved');
      })
      .finally(() => this.busy.delete(id));
    this.busy.set(id, task);
    return task;
  }

  private retryLater(id: string, endedAt: Date | null, pauses: readonly RecordingPause[] | undefined): number {
    const before = this.retries.get(id);
    if (before) clearTimeout(before.timer);
    const delayMs = before ? Math.min(before.delayMs * 2, RETRY_MAX_MS) : (this.deps.retryFirstMs ?? RETRY_FIRST_MS);
    const timer = setTimeout(() => logRejection(this.finish(id, endedAt, pauses), this.deps.log, 'recording not finished'), delayMs);
    timer.unref(); // a daemon shutting down does not wait for it: the next start finishes the recording
    this.retries.set(id, { timer, delayMs });
    return delayMs;
  }

  private forgetRetry(id: string): void {
    clearTimeout(this.retries.get(id)?.timer);
    this.retries.delete(id);
  }

  private async finishOnce(id: string, knownEnd: Date | null, pauses: readonly RecordingPause[] | undefined): Promise<void> {
    const { db, dir, log } = this.deps;
    const row = await findRecording(db, id);
    if (!row || row.state !== 'recording') return;
    const target = `${dir}/${row.path}`;
    const state = await this.closedFiles(id);
    let durationMs = row.duration_ms ?? 0;
    // Files nobody writes any more but never closed: Asterisk died during the call (SIGKILL, a crash).
    const unclosed = state.kind === 'open' && state.files.length > 0 && Date.now() - state.lastWriteAt >= CLOSE_WAIT_MS;
    if (unclosed) log.warn({ recording: id, files: state.files }, 'recording files never closed by Asterisk (it stopped during the call): merged as they are');
    const files = state.kind === 'closed' || (state.kind === 'open' && unclosed) ? state.files : null;
    if (files) {
      await this.deps.sink.prepare(row.path);
      durationMs = await mergeDirections(files, target, this.deps.mono, { unclosed });
    } else if (!(await fileExists(target))) {
      if (state.kind === 'missing' && this.retries.has(id)) {
        // Still no file at a retry, the call over: Asterisk never recorded it (the caller hung up
        // before MixMonitor began, or a daemon died between the row and the AMI action). No file
        // will come; as for a start Asterisk refused, the call has no recording.
        await removeCallRecording(db, id);
        log.warn({ recording: id, callId: row.call_id }, 'recording dropped: Asterisk wrote no file for it (the call ended before the recording began); the call has no recording');
        return;
      }
      throw new Error(state.kind === 'open' ? 'Asterisk has not closed the recording files' : 'Asterisk wrote no recording file');
    }
    const endedAt = knownEnd ?? new Date(row.started_at.getTime() + durationMs);
    await updateCallRecording(db, id, {
      endedAt,
      durationMs,
      pauses: closePauses(pauses ?? row.pauses, endedAt),
      lastError: null,
    });
    await this.deps.sink.finalize(id);
    if (files) await removeFiles(files);
    log.info({ recording: id, callId: row.call_id, durationMs, path: row.path }, 'recording finished');
  }

  /** The files once closed; or open after CLOSE_WAIT_MS, or already unwritten for that long. */
  private async closedFiles(id: string): Promise<Awaited<ReturnType<typeof directionFilesState>>> {
    const until = Date.now() + CLOSE_WAIT_MS;
    for (;;) {
      const state = await directionFilesState(this.deps.dir, id);
      if (state.kind !== 'open' || Date.now() >= until || Date.now() - state.lastWriteAt >= CLOSE_WAIT_MS) return state;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}
