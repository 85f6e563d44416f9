import type { DbOrTx } from '../db/database.js';
import type { NewVoicemailGreeting, NewVoicemailMessage, VoicemailGreetingRow, VoicemailMessageRow } from './tables.js';
import type { MailboxCounts } from './mwi.js';

export async function insertMessage(db: DbOrTx, row: NewVoicemailMessage): Promise<VoicemailMessageRow> {
  return db.insertInto('voicemail_messages').values(row).returningAll().executeTakeFirstOrThrow();
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
