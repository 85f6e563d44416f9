import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { sql } from 'kysely';
import { pino } from 'pino';
import { CdrWriter } from '../../src/calls/cdr-writer.js';
import { buildCdr } from '../../src/calls/cdr.js';
import { insertLiveCall } from '../../src/calls/repository.js';
import type { Db } from '../../src/db/database.js';
import { openDb } from '../support/db.js';
import { eventually } from '../support/wait.js';

let db: Db;
beforeAll(() => {
  db = openDb(inject('db'));
});
afterAll(async () => {
  await db.destroy();
});

describe('CdrWriter', () => {
  it('writes a CDR queued while another is being written at once, not when a later CDR comes', async () => {
    const writer = new CdrWriter(db, { baseMs: 50, maxMs: 200 }, pino({ level: 'silent' }));
    const startedAt = new Date();
    const ids = ['drain-1', 'drain-2'];
    for (const id of ids) {
      await insertLiveCall(db, {
        call_id: id, channel_id: id, direction: 'internal', caller_number: '1001', caller_name: null,
        dialed_number: '1002', state: 'answered', digits: '', started_at: startedAt, answered_at: startedAt,
      });
    }
    const cdr = (id: string) =>
      buildCdr(
        { callId: id, direction: 'internal', callerNumber: '1001', callerName: null, dialedNumber: '1002', startedAt, answeredAt: startedAt, digits: '' },
        { endedAt: new Date(startedAt.getTime() + 2000), cause: 16, causeText: null, endedBy: 'caller', reconciled: false },
      );
    writer.write(cdr('drain-1'));
    writer.write(cdr('drain-2')); // queued while drain-1's write is under way
    await eventually(async () => (writer.pendingCount === 0 ? true : undefined), 5_000, 'both CDRs written', 10);
    const rows = await db.selectFrom('cdrs').select('call_id').where('call_id', 'in', ids).execute();
    expect(rows.map((r) => r.call_id).sort()).toEqual(ids);
    writer.stop();
  });

  it('keeps a CDR whose write failed and lands it once Postgres accepts writes again', async () => {
    const failures: unknown[] = [];
    const log = pino({ level: 'error' }, { write: (line: string) => void failures.push(JSON.parse(line)) });
    const writer = new CdrWriter(db, { baseMs: 50, maxMs: 200 }, log);
    const startedAt = new Date();
    await insertLiveCall(db, {
      call_id: 'fault-1', channel_id: 'fault-1', direction: 'inbound', caller_number: '1001', caller_name: null,
      dialed_number: '500', state: 'answered', digits: '', started_at: startedAt, answered_at: startedAt,
    });
    // A real Postgres failure: the table is gone while the call ends.
    await sql`ALTER TABLE cdrs RENAME TO cdrs_away`.execute(db);
    try {
      writer.write(
        buildCdr(
          { callId: 'fault-1', direction: 'inbound', callerNumber: '1001', callerName: null, dialedNumber: '500', startedAt, answeredAt: startedAt, digits: '' },
          { endedAt: new Date(startedAt.getTime() + 3000), cause: 16, causeText: null, endedBy: 'caller', reconciled: false },
        ),
      );
      // The write fails, and so does its first retry: the CDR is still queued after both.
      await eventually(async () => (failures.length >= 2 ? true : undefined), 10_000, 'a failed write and a failed retry', 10);
      expect(failures.slice(0, 2)).toEqual([
        expect.objectContaining({ callId: 'fault-1', msg: 'CDR write failed; will retry' }),
        expect.objectContaining({ callId: 'fault-1', msg: 'CDR write failed; will retry' }),
      ]);
      expect(writer.pendingCount).toBe(1);
    } finally {
      await sql`ALTER TABLE cdrs_away RENAME TO cdrs`.execute(db);
    }
    expect(await writer.flush(5_000)).toBe(true);
    writer.stop();
    const rows = await db.selectFrom('cdrs').selectAll().where('call_id', '=', 'fault-1').execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ billable_seconds: 3, disposition: 'ANSWERED' });
    const live = await db.selectFrom('live_calls').select('call_id').where('call_id', '=', 'fault-1').execute();
    expect(live).toHaveLength(0);
  });
});
