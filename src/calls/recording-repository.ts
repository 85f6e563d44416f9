/**
 * The call side's writes to the recordings table (its owner is src/recordings): the row made when
 * a recording starts, its pauses and parts while it runs, its end. The store takes over from
 * 'recording' -> 'stored' (recording-finisher.ts hands it the final file).
 */
import type { Db } from '../db/database.js';
import type { RecordingPart, RecordingPause, RecordingRow } from '../recordings/tables.js';

export interface NewCallRecording {
  readonly callId: string;
  readonly linkedId: string | null;
  readonly channelId: string;
  readonly agent: string | null;
  readonly queue: string | null;
  readonly caller: string | null;
  readonly called: string | null;
  readonly parts: readonly RecordingPart[];
  readonly startedAt: Date;
  readonly channels: 1 | 2;
}

/** YYYY/MM/DD/<call id>-<recording id>.wav (UTC date of the start; docs/recording.md#files). */
export function recordingPath(callId: string, id: string, startedAt: Date): string {
  const day = startedAt.toISOString().slice(0, 10).replaceAll('-', '/');
  return `${day}/${callId.replace(/[^A-Za-z0-9._-]/g, '_')}-${id}.wav`;
}

export async function insertCallRecording(db: Db, id: string, r: NewCallRecording): Promise<void> {
  await db
    .insertInto('recordings')
    .values({
      id,
      call_id: r.callId,
      linked_id: r.linkedId,
      channel_id: r.channelId,
      agent: r.agent,
      queue: r.queue,
      caller: r.caller,
      called: r.called,
      parts: JSON.stringify(r.parts),
      state: 'recording',
      path: recordingPath(r.callId, id, r.startedAt),
      format: 'wav',
      channels: r.channels,
      started_at: r.startedAt,
    })
    .execute();
}

export interface CallRecordingPatch {
  readonly pauses?: readonly RecordingPause[];
  readonly parts?: readonly RecordingPart[];
  readonly agent?: string | null;
  readonly queue?: string | null;
  readonly endedAt?: Date;
  readonly durationMs?: number;
  readonly lastError?: string | null;
}

export async function updateCallRecording(db: Db, id: string, p: CallRecordingPatch): Promise<void> {
  await db
    .updateTable('recordings')
    .set({
      ...(p.pauses ? { pauses: JSON.stringify(p.pauses) } : {}),
      ...(p.parts ? { parts: JSON.stringify(p.parts) } : {}),
      ...(p.agent !== undefined ? { agent: p.agent } : {}),
      ...(p.queue !== undefined ? { queue: p.queue } : {}),
      ...(p.endedAt ? { ended_at: p.endedAt } : {}),
      ...(p.durationMs !== undefined ? { duration_ms: p.durationMs } : {}),
      ...(p.lastError !== undefined ? { last_error: p.lastError } : {}),
      updated_at: new Date(),
    })
    .where('id', '=', id)
    .where('state', '=', 'recording')
    .execute();
}

/** Recordings still running as far as the table knows (a restarted daemon looks for their calls). */
export async function runningRecordings(db: Db): Promise<RecordingRow[]> {
  return db.selectFrom('recordings').selectAll().where('state', '=', 'recording').orderBy('started_at').execute();
}

/** The recording still running on a channel (a restarted daemon adopting its call). */
export async function findRecordingOnChannel(db: Db, channelId: string): Promise<RecordingRow | undefined> {
  return db.selectFrom('recordings').selectAll().where('channel_id', '=', channelId).where('state', '=', 'recording').orderBy('started_at', 'desc').executeTakeFirst();
}

/** A recording Asterisk could not start: nothing was recorded. */
export async function removeCallRecording(db: Db, id: string): Promise<void> {
  await db.deleteFrom('recordings').where('id', '=', id).where('state', '=', 'recording').execute();
}

export async function findRecording(db: Db, id: string): Promise<RecordingRow | undefined> {
  return db.selectFrom('recordings').selectAll().where('id', '=', id).executeTakeFirst();
}
