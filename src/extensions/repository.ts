import type { DbOrTx } from '../db/database.js';
import type { ExtensionPatch, ExtensionRow, NewExtension } from './tables.js';
import { callerIdString } from './rules.js';
import { decodeRealtime, realtimeRow } from '../shared/realtime.js';
import { SIP_REALM, type SipCredentials } from './sip-credentials.js';
import { sipSecurityColumns } from './sip-security.js';

export async function findExtension(db: DbOrTx, number: string): Promise<ExtensionRow | undefined> {
  return db.selectFrom('extensions').selectAll().where('number', '=', number).executeTakeFirst();
}

/** Whether extension `number` may supervise (its canSupervise flag); null when there is no such extension. */
export async function supervisionAllowed(db: DbOrTx, number: string): Promise<boolean | null> {
  const row = await db.selectFrom('extensions').select('can_supervise').where('number', '=', number).executeTakeFirst();
  return row ? row.can_supervise : null;
}

export async function listExtensions(db: DbOrTx): Promise<ExtensionRow[]> {
  return db.selectFrom('extensions').selectAll().orderBy('number').execute();
}

export async function insertExtension(db: DbOrTx, row: NewExtension): Promise<ExtensionRow> {
  return db.insertInto('extensions').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function updateExtension(db: DbOrTx, number: string, patch: ExtensionPatch): Promise<ExtensionRow> {
  return db
    .updateTable('extensions')
    .set({ ...patch, updated_at: new Date() })
    .where('number', '=', number)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function deleteExtensionRow(db: DbOrTx, number: string): Promise<void> {
  await db.deleteFrom('extensions').where('number', '=', number).execute();
}

/** Other extensions whose forwards point at `number`. */
export async function forwardsTo(db: DbOrTx, number: string): Promise<string[]> {
  const rows = await db
    .selectFrom('extensions')
    .select('number')
    .where((eb) => eb.or([eb('forward_always', '=', number), eb('forward_busy', '=', number), eb('forward_no_answer', '=', number)]))
    .execute();
  return rows.map((r) => r.number);
}

/**
 * The SIP account of an extension as PJSIP realtime rows (id = extension number). Asterisk reads
 * them on the next REGISTER or INVITE: no reload. Every value is realtime-encoded (a `;` or `^` in
 * the display name reaches Asterisk as itself: src/shared/realtime.ts). With `credentials` (a new
 * password), ps_auths gets its digest and sip_secrets the sealed password (sip-credentials.ts);
 * without, the auth is left as it is.
 */
export async function writeSipAccount(db: DbOrTx, ext: ExtensionRow, credentials: SipCredentials | null): Promise<void> {
  // Inside the PBX an extension shows its own number; caller_id_number is presented on outside calls.
  const endpoint = realtimeRow({
    id: ext.number,
    // transport and media encryption follow the extension's sipSecurity (sip-security.ts)
    ...sipSecurityColumns(ext.sip_security),
    aors: ext.number,
    auth: ext.number,
    context: 'pbx-inbound',
    disallow: 'all',
    allow: 'g722,ulaw,alaw',
    direct_media: 'no',
    dtmf_mode: 'rfc4733',
    force_rport: 'yes',
    rewrite_contact: 'yes',
    rtp_symmetric: 'yes',
    callerid: callerIdString(ext.display_name, ext.number),
    mailboxes: null,
    send_pai: 'yes',
    trust_id_inbound: 'no',
    // 0: off. With 1, Asterisk 22 reports the phone BUSY as soon as it has one channel, ringing
    // included, so a BLF key could not blink for a ringing colleague (src/extensions/lamps.ts).
    device_state_busy_at: 0,
    allow_subscribe: 'yes',
    language: null,
  });
  await db
    .insertInto('ps_endpoints')
    .values(endpoint)
    .onConflict((oc) =>
      oc.column('id').doUpdateSet({
        callerid: endpoint.callerid,
        transport: endpoint.transport,
        media_encryption: endpoint.media_encryption,
        media_encryption_optimistic: endpoint.media_encryption_optimistic,
      }),
    )
    .execute();
  await db
    .insertInto('ps_aors')
    .values(realtimeRow({ id: ext.number, max_contacts: 1, remove_existing: 'yes', qualify_frequency: 30, mailboxes: null }))
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
  if (credentials !== null) {
    // No plaintext for Asterisk: the digest for SIP_REALM (password NULL: a row from before the
    // digests keeps none either, migration 2026-12-07T03-00-00_sip_password_digest).
    const auth = realtimeRow({ id: ext.number, auth_type: 'digest', username: ext.number, realm: SIP_REALM, password_digest: credentials.digest, password: null });
    await db
      .insertInto('ps_auths')
      .values(auth)
      .onConflict((oc) => oc.column('id').doUpdateSet({ auth_type: auth.auth_type, username: auth.username, realm: auth.realm, password_digest: auth.password_digest, password: null }))
      .execute();
    await db
      .insertInto('sip_secrets')
      .values({ extension_number: ext.number, sealed_password: credentials.sealed })
      .onConflict((oc) => oc.column('extension_number').doUpdateSet({ sealed_password: credentials.sealed, updated_at: new Date() }))
      .execute();
  }
}

export async function deleteSipAccount(db: DbOrTx, number: string): Promise<void> {
  await db.deleteFrom('sip_secrets').where('extension_number', '=', number).execute();
  await db.deleteFrom('ps_endpoints').where('id', '=', number).execute();
  await db.deleteFrom('ps_auths').where('id', '=', number).execute();
  await db.deleteFrom('ps_aors').where('id', '=', number).execute();
  await db.deleteFrom('ps_contacts').where('endpoint', '=', number).execute();
}

export interface ContactRow {
  endpoint: string;
  uri: string | null;
  userAgent: string | null;
  viaAddr: string | null;
  viaPort: number | null;
  expiresAt: Date | null;
}

/**
 * Each extension (or each number given: one deleted since has no contacts left) with whether a phone
 * is registered to it now.
 */
export async function registeredExtensions(db: DbOrTx, numbers?: readonly string[]): Promise<Map<string, boolean>> {
  const asked = numbers ?? (await db.selectFrom('extensions').select('number').execute()).map((r) => r.number);
  const contacts = await contactsByEndpoint(db, asked);
  return new Map(asked.map((n) => [n, (contacts.get(n)?.length ?? 0) > 0]));
}

/** Asterisk writes ps_contacts realtime-encoded too (a URI's `;transport=udp` as `^3Btransport=udp`). */
const decoded = (text: string | null): string | null => (text === null ? null : decodeRealtime(text));

/** Registered contacts, as Asterisk itself writes them to ps_contacts (realtime). */
export async function contactsByEndpoint(db: DbOrTx, endpoints?: readonly string[]): Promise<Map<string, ContactRow[]>> {
  let q = db.selectFrom('ps_contacts').select(['endpoint', 'uri', 'user_agent', 'via_addr', 'via_port', 'expiration_time']);
  if (endpoints) {
    if (endpoints.length === 0) return new Map();
    q = q.where('endpoint', 'in', endpoints);
  }
  const nowSec = Math.floor(Date.now() / 1000);
  const out = new Map<string, ContactRow[]>();
  for (const r of await q.execute()) {
    const exp = r.expiration_time === null ? null : Number(r.expiration_time);
    if (exp !== null && exp < nowSec) continue; // expired, not yet pruned
    const list = out.get(r.endpoint ?? '') ?? [];
    list.push({ endpoint: r.endpoint ?? '', uri: decoded(r.uri), userAgent: decoded(r.user_agent), viaAddr: r.via_addr, viaPort: r.via_port, expiresAt: exp === null ? null : new Date(exp * 1000) });
    out.set(r.endpoint ?? '', list);
  }
  return out;
}
