/**
 * For ExtensionService's "in use" check (src/extensions/service.ts, ExtensionUsage): an extension
 * a desk phone is bound to, or that a phone shows on a BLF key, is refused deletion with 409
 * extension-in-use instead of failing on the devices foreign key (or leaving a dead BLF key).
 */
import { sql } from 'kysely';
import type { DbOrTx } from '../db/database.js';
import { formatMac } from './mac.js';

export async function deviceUsages(db: DbOrTx, number: string): Promise<string[]> {
  const rows = await db
    .selectFrom('devices')
    .select(['mac', 'extension_number'])
    .where((eb) => eb.or([eb('extension_number', '=', number), eb(sql<boolean>`blf_keys @> ${JSON.stringify([number])}::jsonb`, '=', true)]))
    .orderBy('id')
    .execute();
  return rows.map((r) => (r.extension_number === number ? `desk phone ${formatMac(r.mac)}` : `BLF key on desk phone ${formatMac(r.mac)}`));
}
