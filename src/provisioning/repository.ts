import type { Insertable, Updateable } from 'kysely';
import type { DbOrTx } from '../db/database.js';
import type { DeviceRow, DeviceTable } from './tables.js';
import type { SecretBox } from '../shared/secret-box.js';
import { sipSecretContext } from '../extensions/sip-credentials.js';
import type { SipSecurity } from '../extensions/tables.js';

export async function listDevices(db: DbOrTx): Promise<DeviceRow[]> {
  return db.selectFrom('devices').selectAll().orderBy('id').execute();
}

export async function findDevice(db: DbOrTx, id: string): Promise<DeviceRow | undefined> {
  return db.selectFrom('devices').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findDeviceByMac(db: DbOrTx, mac: string): Promise<DeviceRow | undefined> {
  return db.selectFrom('devices').selectAll().where('mac', '=', mac).executeTakeFirst();
}

export async function insertDevice(db: DbOrTx, row: Insertable<DeviceTable>): Promise<DeviceRow> {
  return db.insertInto('devices').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function updateDevice(db: DbOrTx, id: string, changes: Updateable<DeviceTable>): Promise<DeviceRow | undefined> {
  return db.updateTable('devices').set(changes).where('id', '=', id).returningAll().executeTakeFirst();
}

export async function deleteDevice(db: DbOrTx, id: string): Promise<DeviceRow | undefined> {
  return db.deleteFrom('devices').where('id', '=', id).returningAll().executeTakeFirst();
}

export async function markProvisioned(db: DbOrTx, id: string, at: Date, ip: string): Promise<void> {
  await db.updateTable('devices').set({ last_provisioned_at: at, last_provisioned_ip: ip }).where('id', '=', id).execute();
}

/** Which of these extension numbers exist (with their display names). */
export async function findExtensions(db: DbOrTx, numbers: readonly string[]): Promise<Map<string, string>> {
  if (numbers.length === 0) return new Map();
  const rows = await db.selectFrom('extensions').select(['number', 'display_name']).where('number', 'in', [...numbers]).execute();
  return new Map(rows.map((r) => [r.number, r.display_name]));
}

/**
 * The SIP password of an extension, for its phone's file: sealed in sip_secrets (Asterisk's
 * ps_auths holds only its digest: src/extensions/sip-credentials.ts), opened with `box`;
 * undefined = the extension has no SIP password. Throws when it does not open (PBX_SECRET_KEY
 * changed since it was sealed).
 */
export async function sipPassword(db: DbOrTx, box: SecretBox, number: string): Promise<string | undefined> {
  const row = await db.selectFrom('sip_secrets').select('sealed_password').where('extension_number', '=', number).executeTakeFirst();
  return row ? box.open(row.sealed_password, sipSecretContext(number)) : undefined;
}

/** The extension's sipSecurity (issue #21: TLS transport and SRTP in its phone's file); 'none' when there is no such extension. */
export async function sipSecurity(db: DbOrTx, number: string): Promise<SipSecurity> {
  const row = await db.selectFrom('extensions').select('sip_security').where('number', '=', number).executeTakeFirst();
  return row?.sip_security ?? 'none';
}

/** The queues that ring agents with an Alert-Info (distinctive ring), by name. */
export async function queueAlertInfos(db: DbOrTx): Promise<{ name: string; alertInfo: string }[]> {
  const rows = await db.selectFrom('queues').select(['name', 'alert_info']).where('alert_info', 'is not', null).orderBy('name').execute();
  return rows.map((r) => ({ name: r.name, alertInfo: r.alert_info! }));
}

/** Does any agent work with auto-answer (an agent may log in at any phone). */
export async function someAgentAutoAnswers(db: DbOrTx): Promise<boolean> {
  const row = await db.selectFrom('agents').select('id').where('auto_answer', '=', true).limit(1).executeTakeFirst();
  return row !== undefined;
}
