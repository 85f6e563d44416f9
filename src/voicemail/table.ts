import type { Generated, Insertable, Kysely, Selectable, Transaction } from 'kysely';
import type { Database, DbOrTx } from '../db/database.js';

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

/** Until these tables are listed in src/db/database.ts's Database, view the handle with them added. */
export type VoicemailDatabase = Database & {
  voicemail_messages: VoicemailMessageTable;
  voicemail_greetings: VoicemailGreetingTable;
};
export type VmDb = Kysely<VoicemailDatabase> | Transaction<VoicemailDatabase>;
export const vm = (db: DbOrTx): VmDb => db as unknown as VmDb;
