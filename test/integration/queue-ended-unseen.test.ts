/**
 * A queue call that ended while no daemon watched it (src/acd/ended-unseen.ts,
 * docs/queue-events.md#after-a-restart): the restarted daemon's reconciliation writes the caller's
 * leaving as the daemon would have, exactly once, against real Postgres.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { App } from '../../src/app.js';
import { insertAgent, insertQueue, setQueueMember } from '../../src/acd/admin-repository.js';
import { applyAgentEvent, applyAgentEventAt, queueCallJoined } from '../../src/acd/call-repository.js';
import { queueCallEndedUnseen } from '../../src/acd/ended-unseen.js';
import type { QueueEventRow } from '../../src/acd/tables.js';
import { startTestApp } from '../support/app.js';

let app: App;
let queueId: string;
// Call ids and an agent number no other integration file uses (they share the run's database).
const run = `it-qu-${Date.now().toString(36)}`;
const callId = (n: string) => `${run}-${n}`;

const eventsOf = async (call: string): Promise<QueueEventRow[]> =>
  app.db.selectFrom('queue_events').selectAll().where('call_id', '=', call).orderBy('at').orderBy(sql`type <> 'join'`).orderBy('id').execute();
const rows = async (table: 'queue_calls' | 'queue_call_log', call: string) => app.db.selectFrom(table).selectAll().where('call_id', '=', call).execute();

beforeAll(async () => {
  app = await startTestApp();
  queueId = (await insertQueue(app.db, { name: `it-qu-${Date.now().toString(36)}`, required_skills: JSON.stringify([]), widening: JSON.stringify([]) })).id;
});

afterAll(async () => {
  await app?.stop();
});

describe('queueCallEndedUnseen', () => {
  it('a caller still waiting (an offer ringing) left then: abandon at the end with the wait, the log row, the waiting row gone; once, however often it runs', async () => {
    const id = callId('waiting');
    const enqueuedAt = new Date(Date.now() - 20_000);
    await queueCallJoined(app.db, { callId: id, queueId, callerNumber: '+4930555000', enqueuedAt });
    const endedAt = new Date(enqueuedAt.getTime() + 12_345);
    // Two reconciliations at once (two restarts, or two daemons) and one after: one abandon.
    const outcomes = await Promise.all([queueCallEndedUnseen(app.db, id, endedAt), queueCallEndedUnseen(app.db, id, endedAt)]);
    expect(outcomes.sort()).toEqual(['abandoned', null]);
    expect(await queueCallEndedUnseen(app.db, id, endedAt)).toBeNull();
    const events = await eventsOf(id);
    expect(events.map((e) => e.type)).toEqual(['join', 'abandon']);
    expect(events[1]).toMatchObject({ queue_id: queueId, wait_ms: 12_345, agent_id: null });
    expect(events[1]!.at.getTime()).toBe(endedAt.getTime());
    expect(await rows('queue_calls', id)).toEqual([]);
    expect(await rows('queue_call_log', id)).toMatchObject([{ outcome: 'abandoned', wait_seconds: 12 }]);
  });

  it('never ends before the join: a live row last written before the waiting row', async () => {
    const id = callId('early');
    const enqueuedAt = new Date(Date.now() - 5_000);
    await queueCallJoined(app.db, { callId: id, queueId, enqueuedAt });
    expect(await queueCallEndedUnseen(app.db, id, new Date(enqueuedAt.getTime() - 300))).toBe('abandoned');
    const events = await eventsOf(id);
    expect(events[1]).toMatchObject({ type: 'abandon', wait_ms: 0 });
    expect(events[1]!.at.getTime()).toBe(enqueuedAt.getTime());
  });

  it('an answer stored for the stay: logged answered, no abandon (the agent\'s end comes from the ended-call check)', async () => {
    const id = callId('answered');
    await sql`delete from agents where number = '7491'`.execute(app.db);
    const a = await insertAgent(app.db, { number: '7491', name: 'Agent 7491', pin_hash: 'x' });
    await setQueueMember(app.db, queueId, a.id, 0);
    const agent = (await applyAgentEvent(app.db, a.id, { type: 'login' }))!.agent;
    const enqueuedAt = new Date(Date.now() - 30_000);
    await queueCallJoined(app.db, { callId: id, queueId, enqueuedAt });
    const offered = await applyAgentEventAt(app.db, agent, { type: 'offer', callId: id, queueId }, { at: enqueuedAt.getTime() + 1_000 });
    if (offered === 'stale') throw new Error('stale');
    const answered = await applyAgentEventAt(app.db, offered.agent, { type: 'answer', callId: id }, { at: enqueuedAt.getTime() + 4_000, queueCall: { enqueuedAt: enqueuedAt.getTime() } });
    if (answered === 'stale') throw new Error('stale');
    expect(await queueCallEndedUnseen(app.db, id, new Date(enqueuedAt.getTime() + 25_000))).toBe('answered');
    expect((await eventsOf(id)).map((e) => e.type)).toEqual(['join', 'offer', 'answer']);
    expect(await rows('queue_call_log', id)).toMatchObject([{ outcome: 'answered', agent_id: agent.id, wait_seconds: 4 }]);
    expect(await rows('queue_calls', id)).toEqual([]);
  });

  it('nothing for a call that is not waiting in a queue', async () => {
    expect(await queueCallEndedUnseen(app.db, callId('never-queued'), new Date())).toBeNull();
  });
});
