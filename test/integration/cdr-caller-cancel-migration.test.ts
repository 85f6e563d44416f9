/**
 * Migration 2026-12-05T00-00-00_cdr_caller_cancel: CDRs of callers who hung up while the call
 * rang were written FAILED with cause 127; it makes them NO ANSWER with cause 16, and touches
 * nothing else (docs/calls-and-routing.md#dispositions).
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import { sql } from 'kysely';
import { dropTestDatabase } from '../support/db.js';
import { runId } from '../support/env.js';
import { databaseBefore } from '../support/migrations.js';

const MIGRATION = '2026-12-05T00-00-00_cdr_caller_cancel';
const settings = { ...inject('db'), name: `pbx_it_cdrmig_${runId()}` };

afterAll(async () => {
  await dropTestDatabase(settings);
});

describe(`migration ${MIGRATION}`, () => {
  it('corrects the caller cancels (never answered, ended by the caller) and only those', async () => {
    const { db, migrator } = await databaseBefore(settings, MIGRATION);
    try {
      const row = (callId: string, answered: boolean, endedBy: string, disposition: string, cause: number | null, text: string | null) =>
        sql`insert into cdrs (call_id, direction, started_at, answered_at, ended_at, duration_seconds, billable_seconds, hangup_cause, hangup_cause_text, disposition, ended_by, digits, reconciled)
            values (${callId}, 'internal', now(), ${answered ? sql`now()` : null}, now(), 3, 0, ${cause}, ${text}, ${disposition}, ${endedBy}, '', false)`.execute(db);
      await row('cancelled', false, 'caller', 'FAILED', 127, 'Interworking, unspecified');
      await row('cancelled-no-cause', false, 'caller', 'NO ANSWER', null, null);
      await row('answered', true, 'caller', 'ANSWERED', 16, 'Normal Clearing');
      await row('busy', false, 'system', 'BUSY', 17, 'User busy');
      await row('no-route', false, 'system', 'FAILED', 1, 'Unallocated (unassigned) number');

      expect((await migrator.migrateTo(MIGRATION)).error).toBeUndefined();
      const rows = await db.selectFrom('cdrs').select(['call_id', 'disposition', 'hangup_cause', 'hangup_cause_text']).orderBy('id').execute();
      expect(rows).toEqual([
        { call_id: 'cancelled', disposition: 'NO ANSWER', hangup_cause: 16, hangup_cause_text: 'Normal Clearing' },
        { call_id: 'cancelled-no-cause', disposition: 'NO ANSWER', hangup_cause: 16, hangup_cause_text: 'Normal Clearing' },
        { call_id: 'answered', disposition: 'ANSWERED', hangup_cause: 16, hangup_cause_text: 'Normal Clearing' },
        { call_id: 'busy', disposition: 'BUSY', hangup_cause: 17, hangup_cause_text: 'User busy' },
        { call_id: 'no-route', disposition: 'FAILED', hangup_cause: 1, hangup_cause_text: 'Unallocated (unassigned) number' },
      ]);
    } finally {
      await db.destroy();
    }
  });
});
