/** Table types of calls: the calls in progress, their CDRs, and the calls Asterisk served while no daemon was connected. */
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

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
  /** The queue joined and the party that answered (cdr.ts CallFacts), kept so a restarted daemon's CDR still has them. */
  queue: ColumnType<string | null, string | null | undefined, string | null>;
  answered_by: ColumnType<string | null, string | null | undefined, string | null>;
  agent: ColumnType<string | null, string | null | undefined, string | null>;
  connected_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
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
  /** Set by a trigger when the cause is written without it (from Asterisk); from the spool file's line otherwise. */
  ended_at: ColumnType<Date | null, never, Date>;
}
export type UnservedCallRow = Selectable<UnservedCallTable>;

/** How far the daemons have read a spool file of unserved calls (src/calls/unserved-file.ts). */
export interface UnservedFileReadTable {
  file: string;
  /** The file's inode when read: another inode is another file, read from its start. */
  inode: string;
  offset_bytes: ColumnType<string, string | number, string | number>;
  updated_at: ColumnType<Date, never, Date>;
}

export type Disposition = 'ANSWERED' | 'NO ANSWER' | 'BUSY' | 'FAILED';
export type Direction = 'inbound' | 'outbound' | 'internal';

/** Call detail record: exactly one per call part (unique call_id); a transfer starts a new part, linked by linked_id. */
export interface CdrTable {
  id: Generated<string>;
  call_id: string;
  direction: Direction;
  caller_number: string | null;
  caller_name: string | null;
  dialed_number: string | null;
  started_at: ColumnType<Date, Date | string, never>;
  answered_at: ColumnType<Date | null, Date | string | null, never>;
  ended_at: ColumnType<Date, Date | string, never>;
  duration_seconds: number;
  billable_seconds: number;
  hangup_cause: number | null;
  hangup_cause_text: string | null;
  disposition: Disposition;
  ended_by: string;
  digits: string;
  reconciled: boolean;
  /** The call_id of the first part of a transferred call; a call never transferred links to itself. */
  linked_id: string | null;
  /** IVR flows (name, version) the caller went through and the path taken (JSON). */
  ivr_path: ColumnType<unknown, string | null | undefined, never>;
  /** The extension or number that answered (after forwards; the agent's extension in a queue); null: nobody or the system. */
  answered_by: ColumnType<string | null, string | null | undefined, never>;
  /** The agent's number, for a queue call an agent answered. */
  agent: ColumnType<string | null, string | null | undefined, never>;
  /** The queue the caller joined. */
  queue: ColumnType<string | null, string | null | undefined, never>;
  /** Seconds before the answering party answered (all of them if nobody did); null on rows written before 2026-12-06 where unknown. */
  wait_seconds: ColumnType<number | null, number | null | undefined, never>;
  /** Seconds from the answering party's answer to the end (= billable_seconds); null where unknown (old rows). */
  talk_seconds: ColumnType<number | null, number | null | undefined, never>;
  /** Its recordings were erased (a data-subject request; src/recordings). */
  recording_erased: ColumnType<boolean, never, boolean>;
  /** A supervisor listened, whispered or barged in on the call (docs/supervision.md). */
  monitored: ColumnType<boolean, boolean | undefined, never>;
  created_at: Generated<Date>;
}
export type CdrRow = Selectable<CdrTable>;
export type NewCdr = Insertable<CdrTable>;
