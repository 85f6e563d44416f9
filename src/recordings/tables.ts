/** Table types of call recordings (migration 2026-12-06T04-30-00_recordings; docs/recording.md). */
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/**
 * recording -> stored (original final, sha256 + bytes known) -> compressed;
 * stored -> failed (compression gave up; original kept); any -> deleting (file then row go).
 */
export type RecordingState = 'recording' | 'stored' | 'compressed' | 'failed' | 'deleting';
/** The parts of a call a recording covers. */
export type RecordingPart = 'ivr' | 'queue' | 'talk' | 'transfer';
/** A PCI pause stretch: `to` null while still paused. */
export interface RecordingPause {
  from: string;
  to: string | null;
  by: 'api' | 'ivr' | 'dtmf';
}

type Json<T> = ColumnType<T, string | undefined, string>;
type Instant = ColumnType<Date, Date | string, Date | string>;
type NullableInstant = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export interface RecordingTable {
  id: Generated<string>;
  /** The CDR's call_id (a CDR may have several recordings). */
  call_id: string;
  linked_id: ColumnType<string | null, string | null | undefined, string | null>;
  agent: ColumnType<string | null, string | null | undefined, string | null>;
  queue: ColumnType<string | null, string | null | undefined, string | null>;
  caller: ColumnType<string | null, string | null | undefined, string | null>;
  called: ColumnType<string | null, string | null | undefined, string | null>;
  /** The caller's channel the recording runs on (Asterisk's MixMonitor): a restarted daemon looks for it. */
  channel_id: ColumnType<string | null, string | null | undefined, string | null>;
  parts: Json<RecordingPart[]>;
  state: ColumnType<RecordingState, RecordingState | undefined, RecordingState>;
  /** Relative to PBX_RECORDINGS_DIR: YYYY/MM/DD/<call_id>-<id>.<ext>. */
  path: string;
  /** File format: 'wav' (original) or the compressed one ('mp3'). */
  format: ColumnType<string, string | undefined, string>;
  channels: ColumnType<number, number | undefined, number>;
  sha256: ColumnType<string | null, string | null | undefined, string | null>;
  /** bigint: comes back as a string. */
  bytes: ColumnType<string | null, number | string | null | undefined, number | string | null>;
  started_at: Instant;
  ended_at: NullableInstant;
  duration_ms: ColumnType<number | null, number | null | undefined, number | null>;
  pauses: Json<RecordingPause[]>;
  legal_hold: ColumnType<boolean, boolean | undefined, boolean>;
  retain_until: NullableInstant;
  last_error: ColumnType<string | null, string | null | undefined, string | null>;
  attempts: ColumnType<number, number | undefined, number>;
  created_at: Generated<Date>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}
export type RecordingRow = Selectable<RecordingTable>;
export type NewRecording = Insertable<RecordingTable>;
export type RecordingUpdate = Updateable<RecordingTable>;
