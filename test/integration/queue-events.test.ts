/**
 * Queue events against real Postgres (docs/queue-events.md): each writer writes exactly its event,
 * with the right fields, in the same transaction (or statement) as the state it describes; and a
 * writer that fails after its state write (an error injected by a trigger on queue_events, or its
 * connection killed before the commit) leaves neither the state nor the event.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { sql } from 'kysely';
import type { App } from '../../src/app.js';
import { createDb, createPool, type Db } from '../../src/db/database.js';
import { insertAgent, insertQueue, setQueueMember } from '../../src/acd/admin-repository.js';
import {
  applyAgentEvent, applyAgentEventAt, findAgentById, queueCallJoined, queueCallLeft, saveCallback, type AgentView,
} from '../../src/acd/call-repository.js';
import type { QueueEventRow } from '../../src/acd/tables.js';
import { startTestApp } from '../support/app.js';

let app: App;
let queueId: string;
let otherQueueId: string;
// Numbers, names and call ids no other integration file uses (they share the run's database).
const run = `it-qe-${Date.now().toString(36)}`;
const callId = (n: string) => `${run}-${n}`;

const dbSettings = () => {
  const s = inject('db');
  return { host: s.host, port: s.port, user: s.user, password: s.password, name: s.name };
};

async function newAgent(number: string): Promise<AgentView> {
  await sql`delete from agents where number = ${number}`.execute(app.db);
  const a = await insertAgent(app.db, { number, name: `Agent ${number}`, pin_hash: 'x' });
  await setQueueMember(app.db, queueId, a.id, 0);
  return (await applyAgentEvent(app.db, a.id, { type: 'login' }))!.agent;
}

const eventsOf = async (call: string): Promise<QueueEventRow[]> =>
  app.db.selectFrom('queue_events').selectAll().where('call_id', '=', call).orderBy('at').orderBy(sql`type <> 'join'`).orderBy('id').execute();
const count = async (table: 'queue_calls' | 'queue_call_log' | 'callbacks', call: string) =>
  Number((await app.db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as('n')).where('call_id', '=', call).executeTakeFirstOrThrow()).n);
const stateLogRows = async (agentId: string) =>
  Number((await sql<{ n: string }>`select count(*) as n from agent_state_log where agent_id = ${agentId}`.execute(app.db)).rows[0]!.n);

beforeAll(async () => {
  app = await startTestApp();
  const q = (name: string) => insertQueue(app.db, { name: `${name}-${Date.now().toString(36)}`, required_skills: JSON.stringify([]), widening: JSON.stringify([]) });
  queueId = (await q('it-qe-sales')).id;
  otherQueueId = (await q('it-qe-support')).id;
});

afterAll(async () => {
  await sql`drop trigger if exists it_qe_fail on queue_events`.execute(app.db).catch(() => undefined);
  await app?.stop();
});

describe('join (queueCallJoined)', () => {
  it('writes join at the join time with the caller number; a rejoin writes none; a move to another queue joins there', async () => {
    const id = callId('join');
    const enqueuedAt = new Date(Date.now() - 1_500);
    await queueCallJoined(app.db, { callId: id, queueId, callerNumber: '+4930123456', callerName: 'Ann', priority: 3, enqueuedAt });
    await queueCallJoined(app.db, { callId: id, queueId, callerNumber: '+4930123456', enqueuedAt }); // picked up again after a restart
    let events = await eventsOf(id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'join', queue_id: queueId, caller_number: '+4930123456', agent_id: null, wait_ms: null, details: { priority: 3 } });
    expect(events[0]!.at.getTime()).toBe(enqueuedAt.getTime());
    expect(await count('queue_calls', id)).toBe(1);

    await queueCallJoined(app.db, { callId: id, queueId: otherQueueId, callerNumber: '+4930123456', enqueuedAt: new Date() });
    events = await eventsOf(id);
    expect(events.map((e) => [e.type, e.queue_id])).toEqual([['join', queueId], ['join', otherQueueId]]);
  });
});

describe('leaving the queue (queueCallLeft)', () => {
  it('abandon, overflow, timeout with the wait in ms and details; answered writes no event here', async () => {
    const cases = [
      { outcome: 'abandoned', type: 'abandon', details: null },
      { outcome: 'overflow', type: 'overflow', details: { target: { kind: 'queue', queue: 'it-qe-support' }, why: 'no-agents' } },
      { outcome: 'timeout', type: 'timeout', details: { target: null, why: 'max-wait' } },
    ] as const;
    for (const c of cases) {
      const id = callId(`left-${c.outcome}`);
      const enqueuedAt = new Date(Date.now() - 42_000);
      await queueCallJoined(app.db, { callId: id, queueId, enqueuedAt });
      const endedAt = new Date(enqueuedAt.getTime() + 41_234);
      await queueCallLeft(app.db, { queueId, callId: id, enqueuedAt, endedAt, outcome: c.outcome, ...(c.details ? { details: c.details } : {}) });
      const events = await eventsOf(id);
      expect(events.map((e) => e.type)).toEqual(['join', c.type]);
      expect(events[1]).toMatchObject({ queue_id: queueId, wait_ms: 41_234, agent_id: null, details: c.details });
      expect(events[1]!.at.getTime()).toBe(endedAt.getTime());
      expect(await count('queue_calls', id)).toBe(0);
      expect(await count('queue_call_log', id)).toBe(1);
    }
    const answered = callId('left-answered');
    await queueCallJoined(app.db, { callId: answered, queueId, enqueuedAt: new Date() });
    await queueCallLeft(app.db, { queueId, callId: answered, enqueuedAt: new Date(), answeredAt: new Date(), outcome: 'answered', agentId: null });
    expect((await eventsOf(answered)).map((e) => e.type)).toEqual(['join']);
  });
});

describe('agent steps (applyAgentEventAt: one statement; applyAgentEvent: under the row lock)', () => {
  it('offer, answer (wait), wrap-up kept on the row, end with talk, hold and the real wrap-up', async () => {
    const id = callId('answered');
    const agent = await newAgent('7401');
    const enqueuedAt = Date.now() - 10_000;
    const t = Date.now();
    const offered = await applyAgentEventAt(app.db, agent, { type: 'offer', callId: id, queueId }, { at: t });
    if (offered === 'stale') throw new Error('stale');
    const answered = await applyAgentEventAt(app.db, offered.agent, { type: 'answer', callId: id }, { at: t + 3_000, queueCall: { enqueuedAt } });
    if (answered === 'stale') throw new Error('stale');
    const ended = await applyAgentEventAt(app.db, answered.agent, { type: 'call-ended', callId: id, wrapUpSeconds: 30 }, { at: t + 63_000, queueCall: { holdMs: 7_000 } });
    if (ended === 'stale') throw new Error('stale');
    expect(await findAgentById(app.db, agent.id)).toMatchObject({ state: 'wrap-up', call_talk_ms: 53_000, call_hold_ms: 7_000 }); // 60 s connected, 7 on hold
    expect((await eventsOf(id)).map((e) => e.type)).toEqual(['offer', 'answer']);
    // Wrap-up ends (here through the row lock, as after a stale view): the end event.
    const done = await applyAgentEvent(app.db, agent.id, { type: 'wrap-up-done', callId: id }, { at: t + 81_500 });
    expect(done?.ok).toBe(true);
    const events = await eventsOf(id);
    expect(events.map((e) => e.type)).toEqual(['offer', 'answer', 'end']);
    for (const e of events) expect(e).toMatchObject({ queue_id: queueId, agent_id: agent.id });
    expect(events[1]).toMatchObject({ wait_ms: 3_000 + (t - enqueuedAt) });
    expect(events[2]).toMatchObject({ talk_ms: 53_000, hold_ms: 7_000, wrap_up_ms: 18_500, wait_ms: null, details: { endedBy: 'wrap-up-done' } });
    expect(events.map((e) => e.at.getTime())).toEqual([t, t + 3_000, t + 81_500]);
    expect(await findAgentById(app.db, agent.id)).toMatchObject({ state: 'ready', call_talk_ms: null, call_hold_ms: null });
  });

  it('a transfer by the agent with no wrap-up: transfer and end, both in the one statement', async () => {
    const id = callId('transfer');
    const agent = await newAgent('7404');
    const offered = await applyAgentEventAt(app.db, agent, { type: 'offer', callId: id, queueId });
    if (offered === 'stale') throw new Error('stale');
    const answered = await applyAgentEventAt(app.db, offered.agent, { type: 'answer', callId: id }, { queueCall: { enqueuedAt: Date.now() - 5_000 } });
    if (answered === 'stale') throw new Error('stale');
    const ended = await applyAgentEventAt(app.db, answered.agent, { type: 'call-ended', callId: id, wrapUpSeconds: 0 }, { queueCall: { holdMs: 0, transferTo: '1003' } });
    expect(ended).not.toBe('stale');
    const events = await eventsOf(id);
    expect(events.map((e) => e.type)).toEqual(['offer', 'answer', 'transfer', 'end']);
    expect(events[2]).toMatchObject({ agent_id: agent.id, details: { target: '1003', kind: 'blind' } });
    expect(events[3]).toMatchObject({ agent_id: agent.id, wrap_up_ms: 0, details: { endedBy: 'call-ended', transferred: true } });
  });

  it('ring-no-answer for a reject and a ring timeout (with the cause); a stale write writes no event', async () => {
    const agent = await newAgent('7402');
    let held = agent;
    for (const cause of ['reject', 'ring-timeout'] as const) {
      const id = callId(`rona-${cause}`);
      const offered = await applyAgentEventAt(app.db, held, { type: 'offer', callId: id, queueId });
      if (offered === 'stale') throw new Error('stale');
      const missed = await applyAgentEventAt(app.db, offered.agent, { type: cause, callId: id, maxMissedOffers: 0 });
      if (missed === 'stale') throw new Error('stale');
      held = missed.agent;
      const events = await eventsOf(id);
      expect(events.map((e) => e.type)).toEqual(['offer', 'ring-no-answer']);
      expect(events[1]).toMatchObject({ agent_id: agent.id, details: { cause } });
    }
    const id = callId('stale');
    expect(await applyAgentEventAt(app.db, agent, { type: 'offer', callId: id, queueId })).toBe('stale'); // `agent` is two versions old
    expect(await eventsOf(id)).toEqual([]);
  });
});

describe('callbacks (saveCallback)', () => {
  it('the first save is callback-requested on the caller\'s call (wait, out of the queue); done or failed is callback-done once', async () => {
    const caller = callId('cb');
    const cbId = `${caller}-cb`;
    const enqueuedAt = new Date(Date.now() - 65_000);
    await queueCallJoined(app.db, { callId: caller, queueId, callerNumber: '+4930555', enqueuedAt });
    const save = (state: 'waiting' | 'dialing' | 'done' | 'failed', attempts: number, result: string | null) =>
      saveCallback(app.db, { id: cbId, queueId, callerCallId: caller, callerNumber: '+4930555', enqueuedAt, state, attempts, result });
    await save('waiting', 0, null);
    const requested = await eventsOf(caller);
    expect(requested.map((e) => e.type)).toEqual(['join', 'callback-requested']);
    expect(requested[1]!.wait_ms).toBeGreaterThanOrEqual(65_000);
    expect(requested[1]).toMatchObject({ details: { callbackId: cbId } });
    expect(await count('queue_calls', caller)).toBe(0);
    await save('dialing', 0, null);
    await save('waiting', 1, 'not reached');
    await save('done', 2, 'answered');
    await save('done', 2, 'answered'); // saved again: no second event
    const done = await eventsOf(cbId);
    expect(done).toHaveLength(1);
    expect(done[0]).toMatchObject({ type: 'callback-done', queue_id: queueId, details: { result: 'done', attempts: 2, lastResult: 'answered' } });
  });
});

describe('no half rows: the writer fails after its state write', () => {
  // A trigger that fails the queue_events insert of this file's "fail" calls: the state was written
  // first in the same transaction (statement), so it must be gone too.
  beforeAll(async () => {
    await sql`
      create or replace function it_qe_fail() returns trigger language plpgsql as $$
      begin
        if new.call_id like '%-fail%' then raise exception 'injected failure'; end if;
        return new;
      end $$`.execute(app.db);
    await sql`drop trigger if exists it_qe_fail on queue_events`.execute(app.db);
    await sql`create trigger it_qe_fail before insert on queue_events for each row execute function it_qe_fail()`.execute(app.db);
  });
  afterAll(async () => {
    await sql`drop trigger if exists it_qe_fail on queue_events`.execute(app.db);
  });

  it('join: no waiting-call row', async () => {
    const id = callId('fail-join');
    await expect(queueCallJoined(app.db, { callId: id, queueId, enqueuedAt: new Date() })).rejects.toThrow(/injected failure/);
    expect(await count('queue_calls', id)).toBe(0);
  });

  it('leaving: the waiting-call row stays, no call-log row', async () => {
    const id = callId('fail-left');
    await app.db.insertInto('queue_calls').values({ call_id: id, queue_id: queueId }).execute(); // joined before the trigger
    await expect(queueCallLeft(app.db, { queueId, callId: id, enqueuedAt: new Date(), outcome: 'abandoned' })).rejects.toThrow(/injected failure/);
    expect(await count('queue_calls', id)).toBe(1);
    expect(await count('queue_call_log', id)).toBe(0);
  });

  it('an agent step, in one statement and under the lock: the agent row and its state log unchanged', async () => {
    const agent = await newAgent('7403');
    const logBefore = await stateLogRows(agent.id);
    const id = callId('fail-offer');
    await expect(applyAgentEventAt(app.db, agent, { type: 'offer', callId: id, queueId })).rejects.toThrow(/injected failure/);
    await expect(applyAgentEvent(app.db, agent.id, { type: 'offer', callId: id, queueId })).rejects.toThrow(/injected failure/);
    expect(await findAgentById(app.db, agent.id)).toMatchObject({ state: 'ready', call_id: null, version: agent.version });
    expect(await stateLogRows(agent.id)).toBe(logBefore);
  });

  it('a callback: no callbacks row, the caller still waiting', async () => {
    const caller = callId('fail-cb');
    await app.db.insertInto('queue_calls').values({ call_id: caller, queue_id: queueId }).execute();
    await expect(
      saveCallback(app.db, { id: `${caller}-cb`, queueId, callerCallId: caller, callerNumber: '+4930555', enqueuedAt: new Date(), state: 'waiting', attempts: 0, result: null }),
    ).rejects.toThrow(/injected failure/);
    expect(await count('callbacks', `${caller}-cb`)).toBe(0);
    expect(await count('queue_calls', caller)).toBe(1);
    expect(await count('queue_call_log', caller)).toBe(0);
  });

  it('the writer\'s connection is killed mid-transaction (state and event written, not committed): nothing stays', async () => {
    const pool = createPool(dbSettings(), 1);
    // The killed connection's client reports it as an error while checked out: expected here.
    pool.on('connect', (client) => client.on('error', () => undefined));
    const db: Db = createDb(pool);
    const id = callId('killed');
    try {
      await app.db.insertInto('queue_calls').values({ call_id: id, queue_id: queueId }).execute();
      const outcome = db.transaction().execute(async (tx) => {
        await queueCallLeft(tx, { queueId, callId: id, enqueuedAt: new Date(), outcome: 'abandoned' });
        // Both rows are written in this transaction; now its backend is killed before the commit.
        const pid = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(tx)).rows[0]!.pid;
        await sql`select pg_terminate_backend(${pid})`.execute(app.db);
      });
      await expect(outcome).rejects.toThrow();
    } finally {
      await db.destroy().catch(() => undefined);
    }
    expect(await count('queue_calls', id)).toBe(1);
    expect(await count('queue_call_log', id)).toBe(0);
    expect(await eventsOf(id)).toEqual([]);
  });
});
