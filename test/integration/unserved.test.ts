/**
 * Calls served by the dialplan fallback while no daemon was connected: rows written the way
 * Asterisk writes them (res_config_pgsql: an INSERT of the four fields, then an UPDATE of the
 * cause from the hangup handler) become exactly one CDR each.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { sql } from 'kysely';
import { STALE_MS, collectUnservedCalls } from '../../src/calls/unserved.js';
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
beforeEach(async () => {
  await sql`delete from unserved_calls`.execute(db);
  await sql`delete from cdrs where call_id like 'unserved-test-%'`.execute(db);
});

async function arrives(uniqueid: string, dialed: string, channel = 'PJSIP/trunk-carrier-0000002a'): Promise<void> {
  await sql`insert into unserved_calls (uniqueid, channel, caller, dialed) values (${uniqueid}, ${channel}, '+4930123456', ${dialed})`.execute(db);
}
async function hangsUp(uniqueid: string, cause: string): Promise<void> {
  await sql`update unserved_calls set cause = ${cause} where uniqueid = ${uniqueid}`.execute(db);
}
/** Until Postgres' clock is a millisecond (what a CDR's times keep) past the call's start, so its end is later. */
const clockPast = (uniqueid: string) =>
  eventually(async () => {
    const { rows } = await sql<{ past: boolean }>`select date_trunc('milliseconds', clock_timestamp()) > date_trunc('milliseconds', started_at) as past from unserved_calls where uniqueid = ${uniqueid}`.execute(db);
    return rows[0]?.past ? true : undefined;
  }, 5_000, `Postgres' clock past the start of ${uniqueid}`, 1);
const cdrsOf = (callId: string) => db.selectFrom('cdrs').selectAll().where('call_id', '=', callId).execute();

describe('unserved calls -> CDRs', () => {
  it('a finished call becomes one CDR (times from Postgres); a call still up waits', async () => {
    await arrives('unserved-test-1', '4930555100');
    await arrives('unserved-test-2', '4930555101');
    await clockPast('unserved-test-1');
    await hangsUp('unserved-test-1', '41');

    expect(await collectUnservedCalls(db)).toBe(1);
    const [cdr] = await cdrsOf('unserved-test-1');
    expect(cdr).toMatchObject({ direction: 'inbound', dialed_number: '4930555100', caller_number: '+4930123456', disposition: 'FAILED', hangup_cause: 41, ended_by: 'system', reconciled: true, answered_at: null });
    expect(cdr!.ended_at.getTime()).toBeGreaterThan(cdr!.started_at.getTime());
    expect(await cdrsOf('unserved-test-2')).toHaveLength(0);
    const left = await db.selectFrom('unserved_calls').select('uniqueid').execute();
    expect(left.map((r) => r.uniqueid)).toEqual(['unserved-test-2']);

    await hangsUp('unserved-test-2', '16');
    expect(await collectUnservedCalls(db)).toBe(1);
    expect(await cdrsOf('unserved-test-2')).toMatchObject([{ ended_by: 'caller', hangup_cause: 16 }]);
    expect(await collectUnservedCalls(db)).toBe(0);
  });

  it('a row left open (Asterisk stopped before the hangup handler) is closed after STALE_MS', async () => {
    await arrives('unserved-test-3', '500');
    expect(await collectUnservedCalls(db, new Date(Date.now() + STALE_MS - 60_000))).toBe(0);
    expect(await collectUnservedCalls(db, new Date(Date.now() + STALE_MS + 1_000))).toBe(1);
    expect(await cdrsOf('unserved-test-3')).toMatchObject([{ ended_by: 'unknown', hangup_cause: null, duration_seconds: 0 }]);
  });

  it('two daemons collecting at once write each CDR once', async () => {
    for (let i = 0; i < 20; i++) {
      await arrives(`unserved-test-c${i}`, '500');
      await hangsUp(`unserved-test-c${i}`, '41');
    }
    const [a, b] = await Promise.all([collectUnservedCalls(db), collectUnservedCalls(db)]);
    expect(a + b).toBe(20);
    const n = await db.selectFrom('cdrs').select(sql<string>`count(*)`.as('n')).where('call_id', 'like', 'unserved-test-c%').executeTakeFirstOrThrow();
    expect(Number(n.n)).toBe(20);
    expect(await db.selectFrom('unserved_calls').selectAll().execute()).toHaveLength(0);
  });

  it('a CDR already written for the call is kept, not doubled', async () => {
    await arrives('unserved-test-4', '500');
    await hangsUp('unserved-test-4', '41');
    expect(await collectUnservedCalls(db)).toBe(1);
    await arrives('unserved-test-4', '500'); // the same channel written again (a replayed insert)
    await hangsUp('unserved-test-4', '41');
    expect(await collectUnservedCalls(db)).toBe(0);
    expect(await cdrsOf('unserved-test-4')).toHaveLength(1);
    expect(await db.selectFrom('unserved_calls').selectAll().execute()).toHaveLength(0);
  });

  it('a call from one of our extensions is internal', async () => {
    await sql`insert into extensions (number, display_name) values ('2971', 'Unserved Test') on conflict do nothing`.execute(db);
    await arrives('unserved-test-5', '2972', 'PJSIP/2971-0000000b');
    await arrives('unserved-test-6', '2972', 'PJSIP/2970-0000000c'); // an endpoint, not an extension
    await hangsUp('unserved-test-5', '41');
    await hangsUp('unserved-test-6', '41');
    expect(await collectUnservedCalls(db)).toBe(2);
    expect(await cdrsOf('unserved-test-5')).toMatchObject([{ direction: 'internal' }]);
    expect(await cdrsOf('unserved-test-6')).toMatchObject([{ direction: 'inbound' }]);
    await sql`delete from extensions where number = '2971'`.execute(db);
  });
});
