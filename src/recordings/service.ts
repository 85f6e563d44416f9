/**
 * Call recordings once their file exists: register, compress, keep, find, hand out, erase
 * (docs/recording.md). The call side (src/calls) starts and stops them and uses:
 *
 *   recordings.canStartRecording(): Promise<DiskCheck>
 *       free space on the recordings disk; { ok: false } -> do not start (the call goes on); logs why.
 *   recordings.begin(r: BeginRecording): Promise<{ row: RecordingRow; file: string; asteriskFile: string }>
 *       inserts the row (state 'recording', path YYYY/MM/DD/<call id>-<id>.wav) and makes its day
 *       folder; `asteriskFile` is the path to give Asterisk (MixMonitor), `file` the host's.
 *       (Inserting the row yourself is fine too: then make the folder with prepareFolder(path).)
 *   recordings.finalize(id: string, path?: string): Promise<RecordingRow>
 *       the original file is final: sha256 + bytes (+ duration from sox when the row has none),
 *       retain_until, state 'stored', compression enqueued. Idempotent: a second call (after a
 *       restart) changes nothing and only makes sure the compression job exists. `path` (relative
 *       to PBX_RECORDINGS_DIR) replaces the row's path when the file ended up elsewhere.
 *
 * States (src/recordings/tables.ts): recording -> stored -> compressed; stored -> failed (after the
 * last compression attempt; the original is kept); -> deleting -> (row gone). A deletion marks the
 * row 'deleting', removes the file(s), then the row: after a crash in between, the next retention
 * run finishes it, so a row never stays without its file and a file never without its row.
 */
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import type { Db } from '../db/database.js';
import type { Logger } from '../logger.js';
import { AppError, notFound } from '../errors.js';
import { recordAudit, type Actor } from '../audit/repository.js';
import {
  allPaths, deleteMarked, dueForRetention, getRecording, idsInState, insertRecording, markDeleting, queueRetentionDays, searchRecordings, type RecordingSearch,
} from './repository.js';
import type { RecordingPart, RecordingRow } from './tables.js';
import { audioDurationMs, encodeMp3, fileExists, freeBytes, hashFile, hashMp3, makeFolders, removeFile, replaceFile, walkFiles, wavFileDurationMs } from './disk.js';
import { INCOMING, idOfFile, incomingId, recordingPath, resolveInside, withExtension } from './layout.js';

export type RecordingSettings = Config['recordings'];

/** Where compression jobs go (src/recordings/jobs.ts: BullMQ). */
export interface CompressionQueue {
  enqueueCompress(id: string): Promise<void>;
}

export interface BeginRecording {
  readonly callId: string;
  readonly linkedId?: string | null;
  readonly agent?: string | null;
  readonly queue?: string | null;
  readonly caller?: string | null;
  readonly called?: string | null;
  readonly parts?: readonly RecordingPart[];
  readonly channels?: 1 | 2;
  readonly startedAt?: Date;
}

export interface DiskCheck {
  readonly ok: boolean;
  readonly dir: string;
  readonly freeBytes: number | null;
  readonly minFreeBytes: number;
  readonly error?: string;
}

export interface OrphanReport {
  /** Files under PBX_RECORDINGS_DIR that no row names (relative paths). */
  readonly filesWithoutRows: string[];
  /** Rows (not still recording) whose file is missing; state 'deleting' = a deletion the next retention run finishes. */
  readonly rowsWithoutFiles: { id: string; path: string; state: string }[];
  /** Files of a known recording that are not its current file: an interrupted compression's copy or original. */
  readonly leftovers: string[];
}

export interface ErasureResult {
  readonly erased: string[];
  readonly legalHold: string[];
  readonly inProgress: string[];
  readonly cdrsMarked: number;
}

export type AudioAccess = 'listen' | 'download';

const ENQUEUE_TIMEOUT_MS = 3_000;
/** A stored recording whose compression job got lost (Redis down at finalize) is enqueued again by the retention run after this long. */
const REQUEUE_AFTER_MS = 10 * 60_000;
const RETENTION_BATCH = 500;

export class RecordingStore {
  private queue: CompressionQueue | null = null;

  constructor(
    private readonly deps: { readonly db: Db; readonly settings: RecordingSettings; readonly log: Logger },
  ) {}

  get settings(): RecordingSettings {
    return this.deps.settings;
  }

  useQueue(queue: CompressionQueue): void {
    this.queue = queue;
  }

  /** Host path of a stored relative path. */
  file(relative: string): string {
    return resolveInside(this.deps.settings.dir, relative);
  }

  // ------------------------------------------------------------------------- the call side

  async canStartRecording(): Promise<DiskCheck> {
    const check = await this.diskCheck();
    if (!check.ok) {
      this.deps.log.warn(
        { dir: check.dir, freeBytes: check.freeBytes, minFreeBytes: check.minFreeBytes, err: check.error },
        'recording not started: the recordings disk is below PBX_RECORDINGS_MIN_FREE_MB (or unreadable); the call goes on unrecorded',
      );
    }
    return check;
  }

  async diskCheck(): Promise<DiskCheck> {
    const { dir, minFreeBytes } = this.deps.settings;
    try {
      const free = await freeBytes(dir);
      return { ok: free >= minFreeBytes, dir, freeBytes: free, minFreeBytes, ...(free >= minFreeBytes ? {} : { error: `${Math.floor(free / 1048576)} MB free, below ${Math.floor(minFreeBytes / 1048576)} MB` }) };
    } catch (err) {
      return { ok: false, dir, freeBytes: null, minFreeBytes, error: (err as Error).message };
    }
  }

  /** The recordings folder itself (make setup makes it with its owner and mode; a missing one is made here). */
  async ensureFolder(): Promise<void> {
    await mkdir(this.deps.settings.dir, { recursive: true }).catch((err: Error) =>
      this.deps.log.warn({ dir: this.deps.settings.dir, err: err.message }, 'recordings folder cannot be made; recordings will not start'));
    // Where Asterisk writes the two directions of a call in progress (the call side merges them).
    await makeFolders(this.deps.settings.dir, INCOMING).catch((err: Error) =>
      this.deps.log.warn({ dir: this.deps.settings.dir, err: err.message }, `recordings folder ${INCOMING}/ cannot be made`));
  }

  /** Make a recording's day folder (group-writable, so Asterisk writes there and the daemon deletes). */
  async prepareFolder(relative: string): Promise<void> {
    await makeFolders(this.deps.settings.dir, path.posix.dirname(relative));
  }

  async begin(r: BeginRecording): Promise<{ row: RecordingRow; file: string; asteriskFile: string }> {
    const id = randomUUID();
    const startedAt = r.startedAt ?? new Date();
    const relative = recordingPath(startedAt, r.callId, id, 'wav');
    await this.prepareFolder(relative);
    const row = await insertRecording(this.deps.db, {
      id,
      call_id: r.callId,
      linked_id: r.linkedId ?? null,
      agent: r.agent ?? null,
      queue: r.queue ?? null,
      caller: r.caller ?? null,
      called: r.called ?? null,
      parts: JSON.stringify(r.parts ?? []),
      channels: r.channels ?? 2,
      path: relative,
      format: 'wav',
      started_at: startedAt,
    });
    return { row, file: this.file(relative), asteriskFile: `${this.deps.settings.asteriskDir}/${relative}` };
  }

  async finalize(id: string, relative?: string): Promise<RecordingRow> {
    const row = await getRecording(this.deps.db, id);
    if (!row) throw notFound('recording-not-found', 'recording', id);
    if (row.state !== 'recording') {
      if (row.state === 'stored') await this.enqueue(id);
      return row;
    }
    const rel = relative ?? row.path;
    const file = this.file(rel);
    if (!(await fileExists(file))) throw new AppError('recording-file-missing', 404, `recording ${id}: no file at ${rel}`, { id, path: rel });
    const { sha256, bytes } = await hashFile(file);
    const durationMs = row.duration_ms ?? (await audioDurationMs(file).catch(() => null));
    const endedAt = row.ended_at ?? (durationMs !== null ? new Date(row.started_at.getTime() + durationMs) : new Date());
    const days = (await queueRetentionDays(this.deps.db, row.queue)) ?? this.deps.settings.retentionDays;
    const updated = await this.deps.db
      .updateTable('recordings')
      .set({
        path: rel,
        sha256,
        bytes,
        duration_ms: durationMs,
        ended_at: endedAt,
        retain_until: new Date(endedAt.getTime() + days * 86_400_000),
        state: 'stored',
        updated_at: new Date(),
      })
      .where('id', '=', id)
      .where('state', '=', 'recording')
      .returningAll()
      .executeTakeFirst();
    // Another finalize got there first: its outcome stands.
    if (!updated) return this.finalize(id, relative);
    await this.enqueue(id);
    return updated;
  }

  private async enqueue(id: string): Promise<void> {
    if (this.deps.settings.format === 'wav' || !this.queue) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.queue.enqueueCompress(id),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`Redis did not take the job within ${ENQUEUE_TIMEOUT_MS} ms`)), ENQUEUE_TIMEOUT_MS);
        }),
      ]);
    } catch (err) {
      // The row stays 'stored'; the retention run enqueues it again later.
      this.deps.log.warn({ recording: id, err: (err as Error).message }, 'compression not enqueued yet; the retention run retries');
    } finally {
      clearTimeout(timer);
    }
  }

  // ------------------------------------------------------------------------- compression

  /**
   * One compression attempt (the BullMQ job's body): encode to MP3 beside the original, check that
   * the play time matches (the WAV's header against the MP3's frames), put it in place, update the row, then remove the original.
   * A failure keeps the original and records the attempt; the last one marks the row 'failed'.
   */
  async compress(id: string, attempt: number, lastAttempt: boolean): Promise<'compressed' | 'skipped'> {
    const row = await getRecording(this.deps.db, id);
    if (!row || (row.state !== 'stored' && row.state !== 'failed') || row.format === 'mp3') return 'skipped';
    const original = this.file(row.path);
    const targetRel = withExtension(row.path, 'mp3');
    const target = this.file(targetRel);
    const partial = this.file(withExtension(row.path, 'part.mp3'));
    try {
      if (!(await fileExists(original))) throw new Error(`original ${row.path} is missing`);
      // Play times read here, not by sox runs (audio-length.ts): the WAV's header, the MP3's frames.
      const originalMs = (await wavFileDurationMs(original)) ?? (await audioDurationMs(original));
      await encodeMp3(original, partial, this.deps.settings.mp3Kbps);
      const { sha256, bytes, durationMs: encodedMs } = await hashMp3(partial);
      // MP3 pads the end to whole frames, after the encoder's delay: measured 76-212 ms longer at
      // 8 kHz (0.5 s to 60 s). Allow 500 ms or 1 %; a cut or broken encode is off by far more.
      if (Math.abs(encodedMs - originalMs) > Math.max(500, originalMs / 100)) {
        throw new Error(`compressed play time ${encodedMs} ms differs from the original's ${originalMs} ms`);
      }
      await replaceFile(partial, target);
      const done = await this.deps.db
        .updateTable('recordings')
        .set({ path: targetRel, format: 'mp3', sha256, bytes, state: 'compressed', attempts: attempt, last_error: null, updated_at: new Date() })
        .where('id', '=', id)
        .where('path', '=', row.path)
        .where('state', 'in', ['stored', 'failed'])
        .executeTakeFirst();
      if (done.numUpdatedRows === 0n) {
        await removeFile(target); // deleted or changed meanwhile: the compressed copy is not its file
        return 'skipped';
      }
      await removeFile(original);
      this.deps.log.info({ recording: id, attempt, path: targetRel, bytes, originalMs, encodedMs }, 'recording compressed');
      return 'compressed';
    } catch (err) {
      await removeFile(partial).catch(() => undefined);
      const message = (err as Error).message.slice(0, 2000);
      await this.deps.db
        .updateTable('recordings')
        .set({ attempts: attempt, last_error: message, ...(lastAttempt ? { state: 'failed' as const } : {}), updated_at: new Date() })
        .where('id', '=', id)
        .where('state', 'in', ['stored', 'failed'])
        .execute();
      this.deps.log.warn({ recording: id, attempt, lastAttempt, err: message }, lastAttempt ? 'recording compression failed for good; the original is kept' : 'recording compression failed; retrying');
      throw err;
    }
  }

  // ------------------------------------------------------------------------- deletion

  /** Delete one recording (not under legal hold): mark, files, row. False when it was not deleted. */
  private async deleteOne(id: string): Promise<boolean> {
    const rel = await markDeleting(this.deps.db, id);
    if (rel === undefined) return false;
    // The file, and what an interrupted compression may have left beside it.
    for (const p of new Set([rel, withExtension(rel, 'wav'), withExtension(rel, 'mp3'), withExtension(rel, 'part.mp3')])) await removeFile(this.file(p));
    return deleteMarked(this.deps.db, id);
  }

  /** The scheduled job: finish interrupted deletions, delete what is past retain_until (not held), re-enqueue lost compressions. */
  async runRetention(now = new Date()): Promise<{ deleted: number; finished: number; requeued: number }> {
    let finished = 0;
    for (const id of await idsInState(this.deps.db, 'deleting')) if (await this.deleteOne(id)) finished += 1;
    let deleted = 0;
    for (;;) {
      const due = await dueForRetention(this.deps.db, now, RETENTION_BATCH);
      let n = 0;
      for (const id of due) if (await this.deleteOne(id)) n += 1;
      deleted += n;
      if (due.length < RETENTION_BATCH || n === 0) break;
    }
    let requeued = 0;
    if (this.deps.settings.format === 'mp3') {
      for (const id of await idsInState(this.deps.db, 'stored', new Date(now.getTime() - REQUEUE_AFTER_MS))) {
        await this.enqueue(id);
        requeued += 1;
      }
    }
    if (deleted + finished > 0) this.deps.log.info({ deleted, finished, requeued }, 'recording retention run');
    return { deleted, finished, requeued };
  }

  /**
   * A data-subject request: every recording of calls from `callerNumber` (the recording's caller, or
   * its CDR's) is deleted, except those under legal hold and those still being recorded, which the
   * answer lists. The CDRs stay, marked recording_erased; one audit row names who asked.
   */
  async eraseByCaller(actor: Actor, callerNumber: string): Promise<ErasureResult> {
    const { erased, legalHold, inProgress, cdrsMarked } = await this.deps.db.transaction().execute(async (tx) => {
      const rows = await tx
        .selectFrom('recordings')
        .select(['id', 'call_id', 'legal_hold', 'state'])
        .where((eb) => eb.or([eb('caller', '=', callerNumber), eb('call_id', 'in', eb.selectFrom('cdrs').select('call_id').where('caller_number', '=', callerNumber))]))
        .orderBy('started_at')
        .forUpdate()
        .execute();
      const held = rows.filter((r) => r.legal_hold);
      const live = rows.filter((r) => !r.legal_hold && r.state === 'recording');
      const gone = rows.filter((r) => !r.legal_hold && r.state !== 'recording');
      if (gone.length > 0) {
        await tx.updateTable('recordings').set({ state: 'deleting', updated_at: new Date() }).where('id', 'in', gone.map((r) => r.id)).execute();
      }
      const marked = gone.length === 0 ? 0 : Number(
        (await tx.updateTable('cdrs').set({ recording_erased: true }).where('call_id', 'in', [...new Set(gone.map((r) => r.call_id))]).executeTakeFirst()).numUpdatedRows,
      );
      const result = { erased: gone.map((r) => r.id), legalHold: held.map((r) => r.id), inProgress: live.map((r) => r.id), cdrsMarked: marked };
      await recordAudit(tx, actor, { action: 'recordings.erase', entity: 'recording', entityId: null, details: { callerNumber, ...result } });
      return result;
    });
    for (const id of erased) await this.deleteOne(id);
    return { erased, legalHold, inProgress, cdrsMarked };
  }

  // ------------------------------------------------------------------------- the API

  async get(id: string): Promise<RecordingRow> {
    const row = await getRecording(this.deps.db, id);
    if (!row || row.state === 'deleting') throw notFound('recording-not-found', 'recording', id);
    return row;
  }

  search(q: RecordingSearch) {
    return searchRecordings(this.deps.db, q);
  }

  /**
   * Compression again, for a recording whose compression failed for good (`failed`), once its
   * cause is fixed (sox installed, the disk freed): the row goes back to `stored` with its attempts
   * counted from 0, and its job is queued again (audited, with the error it had). 409
   * recording-not-failed in any other state; 404 when there is no such recording.
   */
  async retryCompression(actor: Actor, id: string): Promise<RecordingRow> {
    const row = await this.deps.db.transaction().execute(async (tx) => {
      const current = await tx.selectFrom('recordings').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
      if (!current || current.state === 'deleting') throw notFound('recording-not-found', 'recording', id);
      if (current.state !== 'failed') {
        throw new AppError('recording-not-failed', 409, `recording ${id} is ${current.state}: only a failed compression is retried`, { id, state: current.state });
      }
      const updated = await tx
        .updateTable('recordings')
        .set({ state: 'stored', attempts: 0, last_error: null, updated_at: new Date() })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      await recordAudit(tx, actor, { action: 'recording.compress-retry', entity: 'recording', entityId: id, details: { callId: current.call_id, attempts: current.attempts, lastError: current.last_error } });
      return updated;
    });
    this.deps.log.info({ recording: id }, 'recording compression retried');
    await this.enqueue(id);
    return row;
  }

  async setLegalHold(actor: Actor, id: string, on: boolean): Promise<RecordingRow> {
    return this.deps.db.transaction().execute(async (tx) => {
      const row = await tx
        .updateTable('recordings')
        .set({ legal_hold: on, updated_at: new Date() })
        .where('id', '=', id)
        .where('state', '!=', 'deleting')
        .returningAll()
        .executeTakeFirst();
      if (!row) throw notFound('recording-not-found', 'recording', id);
      await recordAudit(tx, actor, { action: on ? 'recording.legal-hold.on' : 'recording.legal-hold.off', entity: 'recording', entityId: id, details: { callId: row.call_id } });
      return row;
    });
  }

  /**
   * The file to send for a listen or download, after its audit row is written (who, which, what
   * range). 409 while still being recorded; 404 when the file is gone.
   */
  async openAudio(actor: Actor, id: string, access: AudioAccess, range: string | null): Promise<{ row: RecordingRow; file: string }> {
    const row = await this.get(id);
    if (row.state === 'recording') throw new AppError('recording-not-ready', 409, `recording ${id} is still being recorded`, { id });
    const file = this.file(row.path);
    if (!(await fileExists(file))) throw new AppError('recording-file-missing', 404, `recording ${id}: its file is missing (pbx doctor reports it)`, { id });
    await recordAudit(this.deps.db, actor, { action: `recording.${access}`, entity: 'recording', entityId: id, details: { callId: row.call_id, format: row.format, range } });
    return { row, file };
  }

  // ------------------------------------------------------------------------- checks

  /** Files without rows and rows without files, both ways (`pbx doctor`). */
  async orphans(): Promise<OrphanReport> {
    const [files, rows] = await Promise.all([walkFiles(this.deps.settings.dir), allPaths(this.deps.db)]);
    const byId = new Map(rows.map((r) => [r.id, r]));
    const fileSet = new Set(files);
    const filesWithoutRows: string[] = [];
    const leftovers: string[] = [];
    for (const f of files) {
      const part = incomingId(f);
      const id = part ?? idOfFile(f);
      const row = id ? byId.get(id) : undefined;
      if (!row) filesWithoutRows.push(f);
      else if (part && row.state === 'recording') continue; // a direction of a call in progress
      else if (row.path !== f) leftovers.push(f);
    }
    const rowsWithoutFiles = rows.filter((r) => r.state !== 'recording' && !fileSet.has(r.path)).map((r) => ({ id: r.id, path: r.path, state: r.state }));
    return { filesWithoutRows, rowsWithoutFiles, leftovers };
  }
}
