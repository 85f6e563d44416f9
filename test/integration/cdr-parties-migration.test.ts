/**
 * Migration 2026-12-06T00-00-00_cdr_parties: CDRs get answered_by, agent, queue, wait_seconds and
 * talk_seconds; existing rows get what can be told truthfully, the rest stays null
 * (docs/calls-and-routing.md#who-answered-and-where-the-time-went).
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import { sql } from 'kysely';
import { dropTestDatabase } from '../support/db.js';
import { runId } from '../support/env.js';
import { databaseBefore } from '../support/migrations.js';

const MIGRATION = '2026-12-06T00-00-00_cdr_parties';
const settings = { ...inject('db'), name: `pbx_it_cdrparties_${runId()}` };

afterAll(async () => {
  await dropTestDatabase(settings);
});

describe(`migration ${MIGRATION}`, () => {
  it('fills wait and talk where the rows tell them: unanswered calls, queue calls from the ACD log, plain answered calls', async () => {
    const { db, migrator } = await databaseBefore(settings, MIGRATION);
    try {
      const t0 = '2026-12-01T10:00:00Z';
      const at = (s: number) => new Date(Date.parse(t0) + s * 1000).toISOString();
      // Started at t0; answered at `answered` s (or never), ended at `ended` s; billable as the old rule had it (from the answer).
      const row = (callId: string, answered: number | null, ended: number, ivr: boolean, disposition = answered === null ? 'NO ANSWER' : 'ANSWERED') =>
        sql`insert into cdrs (call_id, direction, started_at, answered_at, ended_at, duration_seconds, billable_seconds, hangup_cause, hangup_cause_text, disposition, ended_by, digits, reconciled, ivr_path)
            values (${callId}, 'inbound', ${t0}, ${answered === null ? null : at(answered)}, ${at(ended)}, ${ended}, ${answered === null ? 0 : ended - Math.ceil(answered)},
                    16, 'Normal Clearing', ${disposition}, 'system', '', false, ${ivr ? '{"flows":[],"path":[]}' : null})`.execute(db);
      await row('unanswered', null, 7, false);
      await row('plain', 4, 14, false);
      await row('ivr-to-extension', 0.1, 20, true);
      await row('queued', 0.056, 15, false);
      await row('queue-abandoned', 0.05, 12, false);
      const queue = await sql<{ id: string }>`insert into queues (name) values ('support') returning id`.execute(db);
      const agent = await sql<{ id: string }>`insert into agents (number, name, pin_hash) values ('7001', 'Ada', 'x') returning id`.execute(db);
      const q = queue.rows[0]!.id;
      const a = agent.rows[0]!.id;
      await sql`insert into queue_call_log (queue_id, call_id, enqueued_at, answered_at, ended_at, outcome, wait_seconds, talk_seconds, agent_id)
                values (${q}, 'queued', ${t0}, ${at(9)}, ${at(15)}, 'answered', 9, 6, ${a}),
                       (${q}, 'queue-abandoned', ${t0}, null, ${at(12)}, 'abandoned', 12, null, null)`.execute(db);

      expect((await migrator.migrateTo(MIGRATION)).error).toBeUndefined();
      const rows = await db
        .selectFrom('cdrs')
        .select(['call_id', 'answered_by', 'agent', 'queue', 'wait_seconds', 'talk_seconds', 'billable_seconds', 'ended_by'])
        .orderBy('id')
        .execute();
      expect(rows).toEqual([
        { call_id: 'unanswered', answered_by: null, agent: null, queue: null, wait_seconds: 7, talk_seconds: 0, billable_seconds: 0, ended_by: 'system' },
        { call_id: 'plain', answered_by: null, agent: null, queue: null, wait_seconds: 4, talk_seconds: 10, billable_seconds: 10, ended_by: 'system' },
        // The callee's answer after the flow is not known: stays unknown, billable as it was.
        { call_id: 'ivr-to-extension', answered_by: null, agent: null, queue: null, wait_seconds: null, talk_seconds: null, billable_seconds: 19, ended_by: 'system' },
        // The 9 s in the queue are wait now, not billed.
        { call_id: 'queued', answered_by: null, agent: '7001', queue: 'support', wait_seconds: 9, talk_seconds: 6, billable_seconds: 6, ended_by: 'system' },
        { call_id: 'queue-abandoned', answered_by: null, agent: null, queue: 'support', wait_seconds: 12, talk_seconds: 0, billable_seconds: 0, ended_by: 'system' },
      ]);
      expect((await migrator.migrateDown()).error).toBeUndefined();
    } finally {
      await db.destroy();
    }
  });
});
