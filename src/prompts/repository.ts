import type { DbOrTx } from '../db/database.js';
import type { NewPrompt, PromptRow } from './tables.js';

export async function insertPrompt(db: DbOrTx, row: NewPrompt): Promise<PromptRow> {
  return db.insertInto('prompts').values(row).returningAll().executeTakeFirstOrThrow();
}

/** By name. */
export async function listPrompts(db: DbOrTx): Promise<PromptRow[]> {
  return db.selectFrom('prompts').selectAll().orderBy('name').execute();
}

export async function findPrompt(db: DbOrTx, id: string): Promise<PromptRow | undefined> {
  return db.selectFrom('prompts').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findPromptByName(db: DbOrTx, name: string): Promise<PromptRow | undefined> {
  return db.selectFrom('prompts').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function findPromptByTtsKey(db: DbOrTx, key: string): Promise<PromptRow | undefined> {
  return db.selectFrom('prompts').selectAll().where('tts_key', '=', key).executeTakeFirst();
}

export async function deletePromptRow(db: DbOrTx, id: string): Promise<PromptRow | undefined> {
  return db.deleteFrom('prompts').where('id', '=', id).returningAll().executeTakeFirst();
}
