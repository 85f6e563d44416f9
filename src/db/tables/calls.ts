import type { ColumnType, Insertable, Selectable } from 'kysely';

/** A call in progress: one row per call the daemon is handling, removed when its CDR is written. */
export interface LiveCallTable {
  call_id: string;
  channel_id: string;
  direction: string;
  caller_number: string | null;
  caller_name: string | null;
  dialed_number: string | null;
  state: string;
  digits: string;
  mode: ColumnType<string, string | undefined, string>;
  peer_channel_id: string | null;
  bridge_id: string | null;
  /** The first part's call id when this call is a later part of a transferred call. */
  linked_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** The voicemail message being recorded (a restarted daemon keeps it). */
  recording_name: ColumnType<string | null, string | null | undefined, string | null>;
  started_at: ColumnType<Date, Date | string, Date | string>;
  answered_at: ColumnType<Date | null, Date | string | null, Date | string | null>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}
export type LiveCallRow = Selectable<LiveCallTable>;
export type NewLiveCall = Insertable<LiveCallTable>;

/**
 * A call Asterisk served with its fallback prompt while no daemon was connected, as the dialplan
 * wrote it (realtime family unserved_calls; migration 2026-11-30). Text as Asterisk wrote it.
 */
export interface UnservedCallTable {
  uniqueid: string;
  channel: string | null;
  caller: string | null;
  dialed: string | null;
  /** The hangup cause (empty when Asterisk had none); null while the call is still up. */
  cause: string | null;
  started_at: ColumnType<Date, Date | string | undefined, never>;
  /** Set by a trigger when the cause is written. */
  ended_at: ColumnType<Date | null, never, never>;
}
export type UnservedCallRow = Selectable<UnservedCallTable>;
