/**
 * Calls the dialplan fallback served while Postgres refused their unserved_calls row (Postgres
 * down as well as the daemon): Asterisk appends them to a spool file instead
 * (asterisk/extensions.conf, FILE() into ${ASTSPOOLDIR}/pbx-unserved.log), a line when the
 * fallback starts and one from the hangup handler:
 *
 *   start|<unix seconds.ms>|<uniqueid>|<channel>|<caller>|<dialed>
 *   end|<unix seconds.ms>|<uniqueid>|<hangup cause>
 *
 *   parseUnservedLines(text)     pure: the lines, and how many were not ours (skipped)
 *   importUnservedFile(db, file) reads what was appended since the last read into unserved_calls
 *                                (collectUnservedCalls then makes the CDRs). How far the file was
 *                                read is kept in unserved_file_reads and moved in the same
 *                                transaction as the rows (the row lock also keeps two daemons from
 *                                reading the same lines), so each line becomes a row once.
 *
 * The daemon only reads the file (it may run with no write access to Asterisk's spool); the file
 * grows by a line or two per call nobody could serve. Another inode, or a file shorter than what
 * was read, is another file: read from its start.
 */
import { open, stat } from 'node:fs/promises';
import type { Db } from '../db/database.js';

export type UnservedLine =
  | { readonly kind: 'start'; readonly at: Date; readonly uniqueid: string; readonly channel: string; readonly caller: string; readonly dialed: string }
  | { readonly kind: 'end'; readonly at: Date; readonly uniqueid: string; readonly cause: string };

/** At most this much is read in one pass (the rest in the next). */
export const READ_LIMIT_BYTES = 1024 * 1024;

const TIME = /^[0-9]{9,11}(\.[0-9]{1,6})?$/;
const UNIQUEID = /^[A-Za-z0-9._-]{1,150}$/;
const CHANNEL = /^[^|\s]{1,200}$/;
const NUMBER = /^[0-9a-zA-Z+*#]{0,80}$/;
const CAUSE = /^[0-9]{0,3}$/;

const timeOf = (s: string): Date => new Date(Math.round(Number(s) * 1000));

/** The well-formed lines of `text` in order; anything else is counted, not guessed at. */
export function parseUnservedLines(text: string): { lines: UnservedLine[]; skipped: number } {
  const lines: UnservedLine[] = [];
  let skipped = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const f = line.split('|');
    if (f[0] === 'start' && f.length === 6 && TIME.test(f[1]!) && UNIQUEID.test(f[2]!) && CHANNEL.test(f[3]!) && NUMBER.test(f[4]!) && NUMBER.test(f[5]!)) {
      lines.push({ kind: 'start', at: timeOf(f[1]!), uniqueid: f[2]!, channel: f[3]!, caller: f[4]!, dialed: f[5]! });
    } else if (f[0] === 'end' && f.length === 4 && TIME.test(f[1]!) && UNIQUEID.test(f[2]!) && CAUSE.test(f[3]!)) {
      lines.push({ kind: 'end', at: timeOf(f[1]!), uniqueid: f[2]!, cause: f[3]! });
    } else skipped++;
  }
  return { lines, skipped };
}

/** The bytes of `file` from `from`, up to `limit`, cut after the last whole line. */
async function readLines(file: string, from: number, size: number, limit: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const length = Math.min(size - from, limit);
    const buf = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buf, 0, length, from);
    const whole = buf.subarray(0, bytesRead).lastIndexOf(0x0a) + 1; // a line being written waits
    // No line end in a whole read: not a line of ours; taken (and skipped) so reading goes on.
    return whole === 0 && bytesRead === limit ? buf : buf.subarray(0, whole);
  } finally {
    await handle.close();
  }
}

/**
 * Read the lines appended to `file` since the last read into unserved_calls; returns how many
 * lines were taken and skipped. A missing file is nothing to read (no call needed it yet).
 */
export async function importUnservedFile(db: Db, file: string, limit = READ_LIMIT_BYTES): Promise<{ taken: number; skipped: number }> {
  const info = await stat(file, { bigint: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (!info) return { taken: 0, skipped: 0 };
  const inode = String(info.ino);
  const size = Number(info.size);
  return db.transaction().execute(async (tx) => {
    await tx.insertInto('unserved_file_reads').values({ file, inode, offset_bytes: 0 }).onConflict((oc) => oc.column('file').doNothing()).execute();
    const read = await tx.selectFrom('unserved_file_reads').selectAll().where('file', '=', file).forUpdate().executeTakeFirstOrThrow();
    const from = read.inode === inode && Number(read.offset_bytes) <= size ? Number(read.offset_bytes) : 0;
    if (from === size && read.inode === inode) return { taken: 0, skipped: 0 };
    const bytes = from < size ? await readLines(file, from, size, limit) : Buffer.alloc(0);
    const { lines, skipped } = parseUnservedLines(bytes.toString('utf8'));
    // Starts a thousand to a statement, then the ends (a call's end line always follows its start).
    const starts = lines.flatMap((l) => (l.kind === 'start' ? [{ uniqueid: l.uniqueid, channel: l.channel, caller: l.caller, dialed: l.dialed, started_at: l.at }] : []));
    for (let i = 0; i < starts.length; i += 1000) {
      // 1,000 rows (5,000 parameters) a statement: a full read can hold more than Postgres's 65,535 parameters.
      await tx.insertInto('unserved_calls').values(starts.slice(i, i + 1000)).onConflict((oc) => oc.column('uniqueid').doNothing()).execute();
    }
    for (const l of lines) {
      if (l.kind === 'end') await tx.updateTable('unserved_calls').set({ cause: l.cause, ended_at: l.at }).where('uniqueid', '=', l.uniqueid).where('cause', 'is', null).execute();
    }
    await tx.updateTable('unserved_file_reads').set({ inode, offset_bytes: from + bytes.length, updated_at: new Date() }).where('file', '=', file).execute();
    return { taken: lines.length, skipped };
  });
}
