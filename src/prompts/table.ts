import type { Generated, Insertable, Kysely, Selectable, Transaction } from 'kysely';
import type { Database, DbOrTx } from '../db/database.js';

export type PromptSource = 'upload' | 'tts';

export interface PromptTable {
  /** uuid: the public id and the file name (<id>.wav, <id>.sln16). */
  id: string;
  name: string;
  source: PromptSource;
  text: string | null;
  language: string | null;
  voice: string | null;
  /** sha256 of text, language and voice (text-to-speech only): the cache key. */
  tts_key: string | null;
  /** sha256 hex of the 8 kHz WAV. */
  checksum: string;
  duration_ms: number;
  /** Size of the 8 kHz WAV. */
  bytes: number;
  created_at: Generated<Date>;
}
export type PromptRow = Selectable<PromptTable>;
export type NewPrompt = Insertable<PromptTable>;

/** Until this table is listed in src/db/database.ts's Database, view the handle with it added. */
export type PromptDatabase = Database & { prompts: PromptTable };
export type PromptDb = Kysely<PromptDatabase> | Transaction<PromptDatabase>;
export const pdb = (db: DbOrTx): PromptDb => db as unknown as PromptDb;
