/** Table types of IVR prompts (migration 2026-11-24T00-00-00_prompts). */
import type { Generated, Insertable, Selectable } from 'kysely';

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
