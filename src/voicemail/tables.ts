/** Table types of voicemail (migration 2026-11-23T04-00-00_voicemail). */
import type { Generated, Insertable, Selectable } from 'kysely';

export interface VoicemailMessageTable {
  id: Generated<string>;
  mailbox: string;
  caller_number: string | null;
  caller_name: string | null;
  call_id: string;
  duration_ms: number;
  heard: Generated<boolean>;
  recording_name: string;
  file_path: string;
  size_bytes: number;
  sha256: string;
  created_at: Generated<Date>;
}
export type VoicemailMessageRow = Selectable<VoicemailMessageTable>;
export type NewVoicemailMessage = Insertable<VoicemailMessageTable>;

export interface VoicemailGreetingTable {
  mailbox: string;
  recording_name: string;
  file_path: string;
  duration_ms: number;
  size_bytes: number;
  sha256: string;
  created_at: Generated<Date>;
}
export type VoicemailGreetingRow = Selectable<VoicemailGreetingTable>;
export type NewVoicemailGreeting = Insertable<VoicemailGreetingTable>;

/** Wrong PINs in a row per mailbox and the lock (migration 2026-12-04T00-00-00_voicemail_pin_lockout). */
export interface VoicemailPinFailureTable {
  mailbox: string;
  /** the PIN hash the failures were counted against; another PIN starts over */
  pin_hash: string;
  failures: number;
  locked_until: Date | null;
}
