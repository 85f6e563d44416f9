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
import { findRecording, updateCallRecording } from './recording-repository.js';

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
}

/** How long Asterisk gets to close the files after the call's channel is gone. */
const CLOSE_WAIT_MS = 10_000;
const POLL_MS = 100;

export class RecordingFinisher {
  private readonly busy = new Map<string, Promise<void>>();

  constructor(private readonly deps: FinisherDeps) {}

  /**
   * Finish recording `id` (one run per id at a time); never throws. `endedAt` null: the call ended
   * while no daemon watched, so its end is the recording's start plus the file's length.
   */
  finish(id: string, endedAt: Date | null, pauses?: readonly RecordingPause[]): Promise<void> {
    const running = this.busy.get(id);
    if (running) return running;
    const task = this.finishOnce(id, endedAt, pauses)
      .catch((err: Error) => {
        this.deps.log.error({ recording: id, err: err.message }, 'recording not finished; the next daemon start tries again');
        logRejection(updateCallRecording(this.deps.db, id, { lastError: err.message.slice(0, 500) }), this.deps.log, 'recording error not saved');
      })
      .finally(() => this.busy.delete(id));
    this.busy.set(id, task);
    return task;
  }

  private async finishOnce(id: string, knownEnd: Date | null, pauses: readonly RecordingPause[] | undefined): Promise<void> {
    const { db, dir, log } = this.deps;
    const row = await findRecording(db, id);
    if (!row || row.state !== 'recording') return;
    const target = `${dir}/${row.path}`;
    const state = await this.closedFiles(id);
    let durationMs = row.duration_ms ?? 0;
    if (state.kind === 'closed') {
      await this.deps.sink.prepare(row.path);
      durationMs = await mergeDirections(state.files, target, this.deps.mono);
    } else if (!(await fileExists(target))) {
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
    if (state.kind === 'closed') await removeFiles(state.files);
    log.info({ recording: id, callId: row.call_id, durationMs, path: row.path }, 'recording finished');
  }

  private async closedFiles(id: string): Promise<Awaited<ReturnType<typeof directionFilesState>>> {
    const until = Date.now() + CLOSE_WAIT_MS;
    for (;;) {
      const state = await directionFilesState(this.deps.dir, id);
      if (state.kind !== 'open' || Date.now() >= until) return state;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}
