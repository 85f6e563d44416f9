/**
 * Calls that arrived while no daemon was connected to ARI (a restart, a lost socket): the dialplan
 * fallback played the unavailable prompt and hung up, and Asterisk wrote each one to
 * `unserved_calls` itself (asterisk/extensions.conf, "unavailable"). Here they become CDRs, so a
 * supervisor sees every call, served or not.
 *
 *   unservedCdr(row, ...)      pure: one row -> one CDR (disposition FAILED, never answered: the
 *                              caller reached nobody; reconciled: the daemon did not see it)
 *   collectUnservedCalls(db)   moves the finished rows (and rows left open for STALE_MS: Asterisk
 *                              stopped before the hangup handler ran) into cdrs in one
 *                              transaction; rows another daemon is moving are skipped, and a CDR
 *                              already there (same call id) is not written twice
 *
 * When Postgres refused the row too (down as well), Asterisk wrote the call to a spool file;
 * unserved-file.ts reads it into unserved_calls first, on the same passes.
 */
import type { Db } from '../db/database.js';
import type { Logger } from '../logger.js';
import type { Direction, NewCdr, UnservedCallRow } from './tables.js';
import { buildCdr, cleanCallerText } from './cdr.js';
import { endpointOfChannel } from './router.js';
import { importUnservedFile } from './unserved-file.js';

/** A row without an end after this long is closed anyway (its end time unknown: the start). */
export const STALE_MS = 10 * 60_000;
/** Cause the fallback hangs up with (Hangup(41), temporary failure). */
const FALLBACK_CAUSE = 41;
/** hangup_cause_text of these CDRs (the column holds 80). */
export const UNSERVED_TEXT = 'unserved: no daemon connected, caller heard the unavailable prompt';

/** The endpoint of the channel Asterisk wrote (`PJSIP/<endpoint>-<8 hex>`), or null. */
const endpointOf = (channel: string | null): string | null => (channel ? endpointOfChannel(channel) : null);

function causeOf(text: string | null): number | null {
  return text !== null && /^[0-9]{1,3}$/.test(text.trim()) ? Number(text.trim()) : null;
}

/**
 * `fromExtension`: the channel's endpoint is one of our extensions (an internal call); anything
 * else is inbound, as the daemon's router says of such a call (directory.ts).
 */
export function unservedCdr(row: UnservedCallRow, fromExtension: boolean): NewCdr {
  const cause = causeOf(row.cause);
  const ended = row.ended_at !== null;
  const cdr = buildCdr(
    {
      callId: row.uniqueid.slice(0, 64), // cdrs.call_id holds 64; Asterisk's ids are far shorter
      direction: (fromExtension ? 'internal' : 'inbound') satisfies Direction,
      callerNumber: cleanCallerText(row.caller),
      callerName: null,
      dialedNumber: cleanCallerText(row.dialed),
      startedAt: row.started_at,
      answeredAt: null,
      digits: '',
    },
    {
      endedAt: row.ended_at ?? row.started_at,
      cause,
      causeText: UNSERVED_TEXT,
      endedBy: !ended || cause === null ? 'unknown' : cause === FALLBACK_CAUSE ? 'system' : 'caller',
      reconciled: true,
    },
  );
  // Nobody took the call, whatever the cause (a caller hanging up during the prompt is 16).
  return { ...cdr, disposition: 'FAILED' };
}

/** Move finished (or stale) unserved calls into cdrs; returns how many CDRs were written. */
export async function collectUnservedCalls(db: Db, now: Date = new Date()): Promise<number> {
  return db.transaction().execute(async (tx) => {
    const rows = await tx
      .selectFrom('unserved_calls')
      .selectAll()
      .where((eb) => eb.or([eb('ended_at', 'is not', null), eb('started_at', '<', new Date(now.getTime() - STALE_MS))]))
      .orderBy('started_at')
      .limit(500)
      .forUpdate()
      .skipLocked()
      .execute();
    if (rows.length === 0) return 0;
    const endpoints = rows.map((r) => endpointOf(r.channel));
    const asked = [...new Set(endpoints.filter((e): e is string => e !== null))];
    const extensions = new Set(
      asked.length === 0 ? [] : (await tx.selectFrom('extensions').select('number').where('number', 'in', asked).execute()).map((e) => e.number),
    );
    const cdrs = rows.map((r, i) => unservedCdr(r, extensions.has(endpoints[i] ?? '')));
    const written = await tx
      .insertInto('cdrs')
      .values(cdrs)
      .onConflict((oc) => oc.column('call_id').doNothing())
      .returning('id')
      .execute();
    await tx
      .deleteFrom('unserved_calls')
      .where('uniqueid', 'in', rows.map((r) => r.uniqueid))
      .execute();
    return written.length;
  });
}

/** How often a running daemon looks for unserved calls (its own ARI socket may have dropped). */
export const COLLECT_EVERY_MS = 15_000;

/** Collects on start, on every ARI (re)connect (collectNow) and every COLLECT_EVERY_MS; never throws. */
export class UnservedCollector {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly deps: {
      readonly db: Db;
      readonly log: Logger;
      /** Asterisk's spool file of calls Postgres refused (config.unservedFile); null: none. */
      readonly file?: string | null;
      readonly everyMs?: number;
    },
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.collectNow(), this.deps.everyMs ?? COLLECT_EVERY_MS);
    this.timer.unref();
    this.collectNow();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  collectNow(): void {
    this.running ??= this.importFile()
      .then(() => collectUnservedCalls(this.deps.db))
      .then(
        (n) => {
          if (n > 0) this.deps.log.info({ cdrs: n }, 'CDRs written for calls that arrived while no daemon was connected');
        },
        (err: Error) => this.deps.log.warn({ err: err.message }, 'calls served by the fallback not collected yet; trying again later'),
      )
      .finally(() => (this.running = null));
  }

  /** The spool file's new lines into unserved_calls; a failure is logged and retried next pass. */
  private async importFile(): Promise<void> {
    const file = this.deps.file;
    if (!file) return;
    try {
      const { taken, skipped } = await importUnservedFile(this.deps.db, file);
      if (taken > 0) this.deps.log.info({ file, lines: taken }, 'calls Postgres refused while no daemon was connected read from the spool file');
      if (skipped > 0) this.deps.log.warn({ file, skipped }, 'lines of the unserved-calls spool file not understood; skipped');
    } catch (err) {
      this.deps.log.warn({ file, err: (err as Error).message }, 'unserved-calls spool file not read yet; trying again later');
    }
  }
}
