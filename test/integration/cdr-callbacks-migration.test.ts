/**
 * Migration 2026-12-07T06-00-00_cdr_callbacks: queue callback CDRs written before it get the agent
 * and the queue from the ACD's call log, and `agent` for the agent's hang-up
 * (docs/calls-and-routing.md#who-answered-and-where-the-time-went); other rows are untouched.
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import { sql } from 'kysely';
import { dropTestDatabase } from '../support/db.js';
import { runId } from '../support/env.js';
import { databaseBefore } from '../support/migrations.js';

const MIGRATION = '2026-12-07T06-00-00_cdr_callbacks';
const settings = { ...inject('db'), name: `pbx_it_cdrcallbacks_${runId()}` };

afterAll(async () => {
  await dropTestDatabase(settings);
});

describe(`migration ${MIGRATION}`, () => {
  it('names the agent and the queue of callback CDRs, and the agent as the side that hung up', async () => {
    const { db, migrator } = await databaseBefore(settings, MIGRATION);
    try {
      const at = (s: number) => new Date(Date.parse('2026-12-01T10:00:00Z') + s * 1000).toISOString();
      const row = (callId: string, linkedId: string, direction: string, started: number, endedBy: string) =>
        sql`insert into cdrs (call_id, linked_id, direction, started_at, answered_at, ended_at, duration_seconds, billable_seconds, hangup_cause, hangup_cause_text, disposition, ended_by, digits, reconciled)
            values (${callId}, ${linkedId}, ${direction}, ${at(started)}, ${at(started)}, ${at(started + 30)}, 30, 30, 16, 'Normal Clearing', 'ANSWERED', ${endedBy}, '', false)`.execute(db);
      // The caller q1 asked for a callback; two tries were taken: by Ada at 100 s (customer busy),
      // by Bo at 200 s (talked; Bo hung up). A blind-transfer part and a plain outbound call stay.
      await row('q1', 'q1', 'inbound', 0, 'callback');
      await row('agent-chan-1', 'q1', 'outbound', 100, 'system');
      await row('agent-chan-2', 'q1', 'outbound', 200, 'caller');
      await row('x-t1', 'x', 'outbound', 300, 'caller');
      await row('plain', 'plain', 'outbound', 400, 'caller');
      const q = (await sql<{ id: string }>`insert into queues (name) values ('support') returning id`.execute(db)).rows[0]!.id;
      const ada = (await sql<{ id: string }>`insert into agents (number, name, pin_hash) values ('7001', 'Ada', 'x') returning id`.execute(db)).rows[0]!.id;
      const bo = (await sql<{ id: string }>`insert into agents (number, name, pin_hash) values ('7002', 'Bo', 'x') returning id`.execute(db)).rows[0]!.id;
      await sql`insert into queue_call_log (queue_id, call_id, enqueued_at, answered_at, ended_at, outcome, wait_seconds, talk_seconds, agent_id)
                values (${q}, 'q1', ${at(0)}, null, ${at(30)}, 'callback', 30, null, null),
                       (${q}, 'q1-cb', ${at(0)}, ${at(100)}, ${at(130)}, 'answered', 100, 30, ${ada}),
                       (${q}, 'q1-cb', ${at(0)}, ${at(200)}, ${at(230)}, 'answered', 200, 30, ${bo})`.execute(db);

      expect((await migrator.migrateTo(MIGRATION)).error).toBeUndefined();
      const rows = await db.selectFrom('cdrs').select(['call_id', 'agent', 'queue', 'ended_by']).orderBy('id').execute();
      expect(rows).toEqual([
        { call_id: 'q1', agent: null, queue: null, ended_by: 'callback' },
        { call_id: 'agent-chan-1', agent: '7001', queue: 'support', ended_by: 'system' },
        { call_id: 'agent-chan-2', agent: '7002', queue: 'support', ended_by: 'agent' },
        { call_id: 'x-t1', agent: null, queue: null, ended_by: 'caller' },
        { call_id: 'plain', agent: null, queue: null, ended_by: 'caller' },
      ]);
      expect((await migrator.migrateDown()).error).toBeUndefined();
    } finally {
      await db.destroy();
    }
  });
});
