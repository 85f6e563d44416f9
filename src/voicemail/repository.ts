import { sql } from 'kysely';
import type { DbOrTx } from '../db/database.js';
import { cursorAt, olderThan } from '../db/keyset.js';
import type { NewVoicemailGreeting, NewVoicemailMessage, VoicemailGreetingRow, VoicemailMessageRow } from './tables.js';
import type { MailboxCounts } from './mwi.js';

export async function insertMessage(db: DbOrTx, row: NewVoicemailMessage): Promise<VoicemailMessageRow> {
  return db.insertInto('voicemail_messages').values(row).returningAll().executeTakeFirstOrThrow();
}

/** One page, newest first by (created_at, id), older than `after` when given; each row with `cursor_at`, its exact time. */
export async function pageMessages(
  db: DbOrTx, mailbox: string, page: { limit: number; after?: { at: string; id: string } },
): Promise<(VoicemailMessageRow & { cursor_at: string })[]> {
  let q = db.selectFrom('voicemail_messages').selectAll().select(cursorAt('created_at').as('cursor_at')).where('mailbox', '=', mailbox);
  if (page.after) q = q.where(olderThan('created_at', 'id', page.after));
  return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(page.limit).execute();
}

/** Newest first. */
export async function listMessages(db: DbOrTx, mailbox: string): Promise<VoicemailMessageRow[]> {
  return db.selectFrom('voicemail_messages').selectAll().where('mailbox', '=', mailbox).orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
}

export async function findMessage(db: DbOrTx, mailbox: string, id: string): Promise<VoicemailMessageRow | undefined> {
  return db.selectFrom('voicemail_messages').selectAll().where('mailbox', '=', mailbox).where('id', '=', id).executeTakeFirst();
}

export async function findMessageByRecording(db: DbOrTx, name: string): Promise<VoicemailMessageRow | undefined> {
  return db.selectFrom('voicemail_messages').selectAll().where('recording_name', '=', name).executeTakeFirst();
}

export async function deleteMessageRow(db: DbOrTx, mailbox: string, id: string): Promise<VoicemailMessageRow | undefined> {
  return db.deleteFrom('voicemail_messages').where('mailbox', '=', mailbox).where('id', '=', id).returningAll().executeTakeFirst();
}

export async function setHeard(db: DbOrTx, mailbox: string, id: string, heard: boolean): Promise<VoicemailMessageRow | undefined> {
  return db.updateTable('voicemail_messages').set({ heard }).where('mailbox', '=', mailbox).where('id', '=', id).returningAll().executeTakeFirst();
}

export async function countMessages(db: DbOrTx, mailbox: string): Promise<MailboxCounts> {
  const rows = await db
    .selectFrom('voicemail_messages')
    .select(['heard', (eb) => eb.fn.countAll<string>().as('n')])
    .where('mailbox', '=', mailbox)
    .groupBy('heard')
    .execute();
  const count = (heard: boolean) => Number(rows.find((r) => r.heard === heard)?.n ?? 0);
  return { fresh: count(false), heard: count(true) };
}

export async function findGreeting(db: DbOrTx, mailbox: string): Promise<VoicemailGreetingRow | undefined> {
  return db.selectFrom('voicemail_greetings').selectAll().where('mailbox', '=', mailbox).executeTakeFirst();
}

/** Replace the mailbox's greeting; returns the one it replaced, if any. */
export async function upsertGreeting(db: DbOrTx, row: NewVoicemailGreeting): Promise<VoicemailGreetingRow | undefined> {
  const old = await db.selectFrom('voicemail_greetings').selectAll().where('mailbox', '=', row.mailbox).forUpdate().executeTakeFirst();
  await db
    .insertInto('voicemail_greetings')
    .values(row)
    .onConflict((oc) =>
      oc.column('mailbox').doUpdateSet({
        recording_name: row.recording_name, file_path: row.file_path, duration_ms: row.duration_ms, size_bytes: row.size_bytes, sha256: row.sha256, created_at: new Date(),
      }),
    )
    .execute();
  return old;
}

// ---------------------------------------------------------------- PIN failures (as agents' PINs: acd/call-repository.ts)

/** Wrong voicemail PINs in a row that lock a mailbox, and for how long (the agents' settings). */
export const VOICEMAIL_PIN_MAX_FAILURES = 5;
export const VOICEMAIL_PIN_LOCK_SECONDS = 300;

/** The mailbox's lock, if any is running, for its current PIN (failures counted against an older PIN do not count). */
export async function pinLockedUntil(db: DbOrTx, mailbox: string, pinHash: string, now = new Date()): Promise<Date | null> {
  const row = await db.selectFrom('voicemail_pin_failures').select(['pin_hash', 'locked_until']).where('mailbox', '=', mailbox).executeTakeFirst();
  if (!row || row.pin_hash !== pinHash || row.locked_until === null) return null;
  return row.locked_until.getTime() > now.getTime() ? row.locked_until : null;
}

/**
 * One more wrong PIN. The fifth in a row (for the same PIN) locks the mailbox for 5 minutes and
 * starts the count over. Returns the count now and the lock, if any.
 */
export async function recordPinFailure(db: DbOrTx, mailbox: string, pinHash: string): Promise<{ failures: number; lockedUntil: Date | null }> {
  const max = VOICEMAIL_PIN_MAX_FAILURES;
  const r = await sql<{ failures: number; locked_until: Date | null }>`
    insert into voicemail_pin_failures as f (mailbox, pin_hash, failures, locked_until) values (${mailbox}, ${pinHash}, 1, null)
    on conflict (mailbox) do update set
      failures = case when f.pin_hash <> excluded.pin_hash then 1 when f.failures + 1 >= ${max} then 0 else f.failures + 1 end,
      locked_until = case when f.pin_hash <> excluded.pin_hash then null
                          when f.failures + 1 >= ${max} then now() + make_interval(secs => ${VOICEMAIL_PIN_LOCK_SECONDS})
                          else f.locked_until end,
      pin_hash = excluded.pin_hash
    returning failures, locked_until`.execute(db);
  const row = r.rows[0];
  return row ? { failures: row.failures, lockedUntil: row.locked_until } : { failures: 0, lockedUntil: null };
}

/** A right PIN: the count starts over and a lock that ran out is cleared. */
export async function resetPinFailures(db: DbOrTx, mailbox: string): Promise<void> {
  await db.deleteFrom('voicemail_pin_failures').where('mailbox', '=', mailbox).execute();
}
