/** The event id blocks (ids.ts): one sequence, no table (migration 2026-12-08T08-00-00_event_ids). */
import { sql } from 'kysely';
import type { Db } from '../db/database.js';

export async function reserveIdBlock(db: Db): Promise<number> {
  const { rows } = await sql<{ block: string }>`select nextval('event_id_blocks') as block`.execute(db);
  return Number(rows[0]!.block);
}
