/**
 * Voicemail: which mailboxes take messages, keeping recordings (Asterisk -> the daemon's data
 * folder + a row), the phone menu's reads and writes, the API's, and the phone lamp (MWI) after
 * every change. Call logic lives in the pure machines (deposit.ts, menu.ts); this is the I/O.
 *
 * A mailbox takes messages when its extension has voicemail enabled AND a PIN: without a PIN the
 * owner could not listen from the phone, so an unconfigured mailbox never swallows calls.
 */
import { createHash } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Db, DbOrTx } from '../db/database.js';
import type { Logger } from '../logger.js';
import type { CallControl } from '../telephony/ari-types.js';
import { AppError, notFound } from '../errors.js';
import { recordAudit, type Actor } from '../audit/repository.js';
import { findExtension } from '../extensions/repository.js';
import { verifyPin } from '../extensions/rules.js';
import * as repo from './repository.js';
import type { VoicemailMessageRow } from './tables.js';
import { isKeepableMessage, wavDurationMs } from './audio.js';
import { mwiAction, type AmiActions, type MailboxCounts } from './mwi.js';
import type { MenuMessage } from './menu.js';
import { takesMessages } from './deposit.js';

export interface VoicemailDeps {
  readonly db: Db;
  readonly recordings: Pick<CallControl, 'storedRecordingFile' | 'deleteStoredRecording'>;
  /** AMI for the MWI NOTIFY; null: no lamp updates (logged once). */
  readonly mwi: AmiActions | null;
  /** Where message and greeting files are kept: <dataDir>/<mailbox>/<recording name>.wav */
  readonly dataDir: string;
  readonly log: Logger;
}

/** A PIN entered at the phone: right, wrong (`failures` in a row now), or the mailbox is locked. */
export interface PinCheck {
  readonly outcome: 'ok' | 'wrong' | 'locked';
  readonly failures: number;
  readonly lockedUntil: Date | null;
}

export interface DepositMeta {
  readonly mailbox: string;
  readonly callId: string;
  readonly callerNumber: string | null;
  readonly callerName: string | null;
}

/** Recording names the daemon gives: vm-<mailbox>-<random> and vmg-<mailbox>-<random>. */
export const VOICEMAIL_RECORDING = /^vmg?-[0-9]{2,16}-[A-Za-z0-9]{6,40}$/;
/** How long to wait for Asterisk to finish a recording (caller hung up mid-message) before reading it. */
const FINISH_WAIT_MS = 3_000;

export class VoicemailService {
  private readonly ended = new Map<string, { done: boolean; waiters: (() => void)[] }>();
  private warnedNoMwi = false;

  constructor(private readonly deps: VoicemailDeps) {}

  // ------------------------------------------------------------------ the call side

  /** The mailbox to leave a message in, with its greeting media; null when it takes none. */
  async mailboxFor(number: string): Promise<{ greeting: string | null } | null> {
    const ext = await findExtension(this.deps.db, number);
    if (!ext || !takesMessages(ext)) return null;
    const greeting = await repo.findGreeting(this.deps.db, number);
    return { greeting: greeting ? `recording:${greeting.recording_name}` : null };
  }

  /**
   * A PIN entered at the phone. A locked mailbox (VOICEMAIL_PIN_MAX_FAILURES wrong PINs in a row)
   * is refused without looking at the PIN; a wrong PIN counts, a right one starts the count over.
   * The count and the lock are in PostgreSQL, so they outlast the call and a daemon restart.
   */
  async checkPin(mailbox: string, pin: string): Promise<PinCheck> {
    const db = this.deps.db;
    const ext = await findExtension(db, mailbox);
    const hash = ext?.voicemail_pin_hash;
    if (!ext || !hash) return { outcome: 'wrong', failures: 0, lockedUntil: null };
    const locked = await repo.pinLockedUntil(db, mailbox, hash);
    if (locked) return { outcome: 'locked', failures: repo.VOICEMAIL_PIN_MAX_FAILURES, lockedUntil: locked };
    if (/^[0-9]{1,10}$/.test(pin) && (await verifyPin(pin, hash))) {
      await repo.resetPinFailures(db, mailbox);
      return { outcome: 'ok', failures: 0, lockedUntil: null };
    }
    const r = await repo.recordPinFailure(db, mailbox, hash);
    // The fifth wrong PIN: the lock starts now (and the count over), and this attempt says so.
    return r.lockedUntil && r.lockedUntil.getTime() > Date.now() ? { outcome: 'locked', failures: repo.VOICEMAIL_PIN_MAX_FAILURES, lockedUntil: r.lockedUntil } : { outcome: 'wrong', failures: r.failures, lockedUntil: null };
  }

  async menuMessages(mailbox: string): Promise<MenuMessage[]> {
    return (await repo.listMessages(this.deps.db, mailbox)).map((m) => ({ id: m.id, media: `recording:${m.recording_name}`, heard: m.heard }));
  }

  /** RecordingFinished / RecordingFailed for one of our recordings (from the dispatcher). */
  recordingEnded(name: string): void {
    const entry = this.ended.get(name) ?? { done: false, waiters: [] };
    entry.done = true;
    for (const w of entry.waiters.splice(0)) w();
    this.ended.set(name, entry);
    // Nobody asked for it within a minute (e.g. an empty greeting): forget it.
    setTimeout(() => this.ended.delete(name), 60_000).unref();
  }

  /** Keep a message: Asterisk's recording -> file + row, then the lamp. Empty recordings are dropped. */
  async saveMessage(name: string, meta: DepositMeta): Promise<VoicemailMessageRow | null> {
    const log = this.deps.log.child({ mailbox: meta.mailbox, recording: name, callId: meta.callId });
    const audio = await this.finishedRecording(name);
    const durationMs = audio ? wavDurationMs(audio) : null;
    if (!audio || !isKeepableMessage(durationMs)) {
      log.info({ bytes: audio?.length ?? 0, durationMs }, 'voicemail recording empty or missing; discarded');
      await this.deps.recordings.deleteStoredRecording(name).catch(() => undefined);
      return null;
    }
    if (await repo.findMessageByRecording(this.deps.db, name)) return null; // saved already
    const file = await this.writeFile(meta.mailbox, name, audio);
    const row = await repo.insertMessage(this.deps.db, {
      mailbox: meta.mailbox,
      caller_number: meta.callerNumber,
      caller_name: meta.callerName,
      call_id: meta.callId,
      duration_ms: durationMs,
      recording_name: name,
      file_path: file.path,
      size_bytes: audio.length,
      sha256: file.sha256,
    });
    log.info({ messageId: row.id, durationMs, bytes: audio.length }, 'voicemail message saved');
    await this.updateMwi(meta.mailbox);
    return row;
  }

  /** A greeting recorded from the phone becomes the mailbox's greeting. */
  async saveGreeting(mailbox: string, name: string): Promise<boolean> {
    const audio = await this.finishedRecording(name);
    const durationMs = audio ? wavDurationMs(audio) : null;
    if (!audio || !isKeepableMessage(durationMs)) {
      this.deps.log.info({ mailbox, recording: name, durationMs }, 'greeting recording empty; the old greeting stays');
      await this.deps.recordings.deleteStoredRecording(name).catch(() => undefined);
      return false;
    }
    const file = await this.writeFile(mailbox, name, audio);
    const old = await this.deps.db.transaction().execute(async (tx) => {
      const replaced = await repo.upsertGreeting(tx, {
        mailbox, recording_name: name, file_path: file.path, duration_ms: durationMs, size_bytes: audio.length, sha256: file.sha256,
      });
      await recordAudit(tx, phoneActor(mailbox), { action: 'voicemail.greeting', entity: 'extension', entityId: mailbox, details: { durationMs } });
      return replaced;
    });
    if (old && old.recording_name !== name) await this.dropAudio(old.recording_name, old.file_path);
    this.deps.log.info({ mailbox, durationMs }, 'voicemail greeting saved');
    return true;
  }

  // ------------------------------------------------------------------ reads and changes (API and phone)

  /** One page of the mailbox, newest first (src/http/paging.ts). */
  async list(mailbox: string, page: { limit: number; after?: { at: string; id: string } }): Promise<(VoicemailMessageRow & { cursor_at: string })[]> {
    await this.requireMailbox(mailbox);
    return repo.pageMessages(this.deps.db, mailbox, page);
  }

  async get(mailbox: string, id: string): Promise<VoicemailMessageRow> {
    await this.requireMailbox(mailbox);
    const row = await repo.findMessage(this.deps.db, mailbox, id);
    if (!row) throw notFound('voicemail-not-found', 'voicemail message', id);
    return row;
  }

  async remove(actor: Actor, mailbox: string, id: string): Promise<void> {
    await this.requireMailbox(mailbox);
    const row = await this.deps.db.transaction().execute(async (tx) => {
      const deleted = await repo.deleteMessageRow(tx, mailbox, id);
      if (!deleted) throw notFound('voicemail-not-found', 'voicemail message', id);
      await recordAudit(tx, actor, { action: 'voicemail.delete', entity: 'voicemail-message', entityId: id, details: { mailbox } });
      return deleted;
    });
    await this.dropAudio(row.recording_name, row.file_path);
    await this.updateMwi(mailbox);
  }

  async setHeard(actor: Actor, mailbox: string, id: string, heard: boolean): Promise<VoicemailMessageRow> {
    await this.requireMailbox(mailbox);
    const row = await this.deps.db.transaction().execute(async (tx) => {
      const updated = await repo.setHeard(tx, mailbox, id, heard);
      if (!updated) throw notFound('voicemail-not-found', 'voicemail message', id);
      await recordAudit(tx, actor, { action: 'voicemail.update', entity: 'voicemail-message', entityId: id, details: { mailbox, heard } });
      return updated;
    });
    await this.updateMwi(mailbox);
    return row;
  }

  /** The phone menu's 7 (delete) and 9 (save): audited as the extension's own phone. */
  async removeFromPhone(mailbox: string, id: string, callId: string): Promise<void> {
    await this.remove(phoneActor(mailbox, callId), mailbox, id);
  }

  async markHeardFromPhone(mailbox: string, id: string, callId: string): Promise<void> {
    await this.setHeard(phoneActor(mailbox, callId), mailbox, id, true);
  }

  /**
   * A phone (re-)registered to `mailbox`: its lamp is set again when messages wait (a phone that
   * rebooted starts with the lamp off, which is right when none wait; so no NOTIFY then).
   */
  async phoneRegistered(mailbox: string): Promise<void> {
    await this.sendMwi(mailbox, (counts) => counts.fresh > 0);
  }

  /** Light or clear the lamp of every phone registered to the mailbox. Never throws. */
  async updateMwi(mailbox: string): Promise<void> {
    await this.sendMwi(mailbox, () => true);
  }

  /** The mailbox's MWI NOTIFY, when `wanted` for its counts. Never throws. */
  private async sendMwi(mailbox: string, wanted: (counts: MailboxCounts) => boolean): Promise<void> {
    if (!this.deps.mwi) {
      if (!this.warnedNoMwi) this.deps.log.warn('no AMI connection given to voicemail: phone lamps (MWI) are not updated');
      this.warnedNoMwi = true;
      return;
    }
    try {
      const counts = await repo.countMessages(this.deps.db, mailbox);
      if (!wanted(counts)) return;
      const res = await this.deps.mwi.action(mwiAction(mailbox, counts));
      this.deps.log.debug({ mailbox, ...counts, response: res['response'] }, 'MWI sent');
    } catch (err) {
      // e.g. no phone registered: Asterisk answers "Unable to ... endpoint" — the next change retries.
      this.deps.log.info({ mailbox, err: (err as Error).message }, 'MWI not sent');
    }
  }

  // ------------------------------------------------------------------ helpers

  private async requireMailbox(mailbox: string): Promise<void> {
    if (!(await findExtension(this.deps.db, mailbox))) throw notFound('extension-not-found', 'extension', mailbox);
  }

  private async finishedRecording(name: string): Promise<Buffer | null> {
    if (!VOICEMAIL_RECORDING.test(name)) throw new AppError('validation-failed', 400, `not a voicemail recording: ${name}`);
    await this.waitEnded(name, FINISH_WAIT_MS);
    this.ended.delete(name);
    return this.deps.recordings.storedRecordingFile(name);
  }

  private waitEnded(name: string, ms: number): Promise<void> {
    const entry = this.ended.get(name) ?? { done: false, waiters: [] };
    this.ended.set(name, entry);
    if (entry.done) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      entry.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private async writeFile(mailbox: string, name: string, audio: Buffer): Promise<{ path: string; sha256: string }> {
    const dir = path.join(this.deps.dataDir, mailbox);
    await mkdir(dir, { recursive: true, mode: 0o750 });
    const file = path.join(dir, `${name}.wav`);
    await writeFile(`${file}.part`, audio, { mode: 0o640 });
    await rename(`${file}.part`, file);
    return { path: file, sha256: createHash('sha256').update(audio).digest('hex') };
  }

  /**
   * The mailbox's extension is being deleted (inside that transaction): its rows go with it
   * (foreign keys cascade); the returned cleanup removes the audio files and Asterisk's copies.
   */
  async forgetMailbox(tx: DbOrTx, mailbox: string): Promise<() => Promise<void>> {
    const [messages, greeting] = await Promise.all([repo.listMessages(tx, mailbox), repo.findGreeting(tx, mailbox)]);
    const audio = [...messages, ...(greeting ? [greeting] : [])];
    return async () => {
      for (const a of audio) await this.dropAudio(a.recording_name, a.file_path);
      await rm(path.join(this.deps.dataDir, mailbox), { recursive: true, force: true }).catch(() => undefined);
      if (audio.length > 0) this.deps.log.info({ mailbox, files: audio.length }, 'voicemail of a deleted extension removed');
    };
  }

  private async dropAudio(recordingName: string, filePath: string): Promise<void> {
    await rm(filePath, { force: true }).catch((err: Error) => this.deps.log.warn({ err: err.message, filePath }, 'voicemail file not removed'));
    await this.deps.recordings.deleteStoredRecording(recordingName).catch((err: Error) =>
      this.deps.log.warn({ err: err.message, recordingName }, 'Asterisk copy of the recording not removed'),
    );
  }
}

export function phoneActor(mailbox: string, callId: string | null = null): Actor {
  return { userId: null, tokenId: null, label: `phone:${mailbox}`, requestId: callId };
}
