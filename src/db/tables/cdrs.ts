import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

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
  created_at: Generated<Date>;
}
export type CdrRow = Selectable<CdrTable>;
export type NewCdr = Insertable<CdrTable>;
