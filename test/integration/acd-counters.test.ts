/**
 * A queue's figures for today count at the right moment (issue #19, finding 3), through the ACD
 * engine and its Postgres store: a call is offered when the caller joins (while the agent's phone
 * rings, before any answer), answered when the agent answers, abandoned when the caller hangs up
 * while waiting. The live view (callers waiting), today's figures and the agent's figures agree.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sql } from 'kysely';
import { pino } from 'pino';
import { AcdEngine, type OfferedAgent, type QueueCallPort } from '../../src/acd/engine.js';
import { PgAcdStore } from '../../src/acd/store.js';
import { AcdService } from '../../src/acd/service.js';
import { insertAgent, insertQueue, setQueueMember } from '../../src/acd/admin-repository.js';
import { applyAgentEvent } from '../../src/acd/call-repository.js';
import type { Db } from '../../src/db/database.js';
import { eventually } from '../support/wait.js';
import { openDb } from '../support/db.js';

// Numbers and names no other integration file uses (they share the run's database).
const EXT = '5731';
const QUEUE = 'it-counters-q';
const AGENT = '7301';
const log = pino({ level: 'silent' });

let db: Db;
let store: PgAcdStore;
let engine: AcdEngine;
let service: AcdService;
let agentId: string;
const offers: { callId: string; agents: string[] }[] = [];

const caller = (callId: string) => ({ callId, queueName: QUEUE, channelId: `ch-${callId}`, callerNumber: '4930555', callerName: null, priority: 0, requiredSkills: null });
const port = (callId: string): QueueCallPort => ({
  offer: (agents: readonly OfferedAgent[]) => void offers.push({ callId, agents: agents.map((a) => a.id) }),
  withdraw: () => undefined,
  leave: () => undefined,
  announce: () => undefined,
});

const live = () => service.queueLive(QUEUE);
const agentLive = async () => (await service.agentsLive()).find((a) => a.number === AGENT)!;
/**
 * GET /agents/live's read is shared for AGENTS_LIVE_SHARED_MS (docs/api.md#live-views); this test's
 * engine is another daemon to `service`, so its changes show within that time, not at once.
 */
const agentLiveShows = (state: string, callsHandledToday: number) =>
  eventually(async () => {
    const a = await agentLive();
    return a.state === state && a.callsHandledToday === callsHandledToday ? true : undefined;
  }, 5_000, `the agents' live view shows ${AGENT} ${state} with ${callsHandledToday} handled today`);

beforeAll(async () => {
  db = openDb(inject('db'));
  await sql`insert into extensions (number, display_name) values (${EXT}, 'Counters Desk') on conflict do nothing`.execute(db);
  const queue = await insertQueue(db, { name: QUEUE, wrap_up_seconds: 600, required_skills: JSON.stringify([]), widening: JSON.stringify([]) });
  agentId = (await insertAgent(db, { number: AGENT, name: 'Counting Agent', pin_hash: 'x' })).id;
  await setQueueMember(db, queue.id, agentId, 0);
  expect((await applyAgentEvent(db, agentId, { type: 'login' }, { fields: { extension: EXT } }))?.ok).toBe(true);
  store = new PgAcdStore(db, { timezone: 'UTC', log });
  engine = new AcdEngine({ store, log });
  service = new AcdService(db, { flowsUsingQueue: () => Promise.resolve([]), timezone: 'UTC' });
});

afterAll(async () => {
  engine?.stop();
  await store?.stop();
  await db?.destroy();
});

describe("a queue's figures for today", () => {
  it('count a call as offered while the agent rings, answered at the answer, abandoned at the hang-up while waiting', async () => {
    const before = await live();
    expect(before.today).toMatchObject({ offered: 0, answered: 0, abandoned: 0 });

    // The caller joins; the agent's phone rings (the agent is reserved): offered, not answered.
    await engine.join(caller('it-count-1'), port('it-count-1'));
    await eventually(async () => (offers.some((o) => o.callId === 'it-count-1') ? true : undefined), 10_000, 'the agent is offered the call');
    await engine.settled();
    await eventually(async () => ((await live()).waiting.length === 1 ? true : undefined), 10_000, 'the caller is listed as waiting');
    let now = await live();
    expect(now.agents).toMatchObject({ reserved: 1 });
    expect(now.waiting).toEqual([expect.objectContaining({ callId: 'it-count-1', state: 'ringing', agents: [AGENT] })]);
    expect(now.today).toMatchObject({ offered: 1, answered: 0, abandoned: 0 });
    await agentLiveShows('reserved', 0);

    // The agent answers: answered, for the queue and the agent alike; nobody waits.
    expect(await engine.offerAnswered('it-count-1', agentId)).toBe(true);
    await eventually(async () => ((await live()).today.answered === 1 ? true : undefined), 10_000, 'answered counted');
    now = await live();
    expect(now.waiting).toEqual([]);
    expect(now.today).toMatchObject({ offered: 1, answered: 1, abandoned: 0, answeredWithinSl: 1, serviceLevelPercent: 100 });
    await agentLiveShows('on-call', 1);

    // The call ends; the agent is in a long wrap-up. A second caller joins and waits (nobody free):
    // offered at once; abandoned when they hang up.
    await engine.callEnded('it-count-1');
    await engine.join(caller('it-count-2'), port('it-count-2'));
    await eventually(async () => ((await live()).waiting.length === 1 ? true : undefined), 10_000, 'the second caller is listed as waiting');
    now = await live();
    expect(now.today).toMatchObject({ offered: 2, answered: 1, abandoned: 0 });
    await engine.callerLeft('it-count-2');
    now = await live();
    expect(now.waiting).toEqual([]);
    expect(now.today).toMatchObject({ offered: 2, answered: 1, abandoned: 1, answeredWithinSl: 1, serviceLevelPercent: 50 });
    await agentLiveShows('wrap-up', 1);
    expect(offers.map((o) => o.callId)).toEqual(['it-count-1']);
  });
});

describe('a caller whose agent rings, in the live view', () => {
  it('is listed as ringing, naming the agent offered; back to waiting when the offer fails', async () => {
    // One missed offer pauses the agent: the caller then waits with nobody to ring.
    const queue = await insertQueue(db, { name: `${QUEUE}-ring`, wrap_up_seconds: 0, missed_offers_pause: 1, required_skills: JSON.stringify([]), widening: JSON.stringify([]) });
    const ringer = (await insertAgent(db, { number: '7302', name: 'Ringing Agent', pin_hash: 'x' })).id;
    await sql`insert into extensions (number, display_name) values ('5732', 'Ring Desk') on conflict do nothing`.execute(db);
    await setQueueMember(db, queue.id, ringer, 0);
    expect((await applyAgentEvent(db, ringer, { type: 'login' }, { fields: { extension: '5732' } }))?.ok).toBe(true);
    const ringLive = () => service.queueLive(`${QUEUE}-ring`);
    // A store and engine that load the routing view with this queue and agent in it.
    const ringStore = new PgAcdStore(db, { timezone: 'UTC', log });
    const engine = new AcdEngine({ store: ringStore, log });

    await engine.join({ ...caller('it-ring-1'), queueName: `${QUEUE}-ring` }, port('it-ring-1'));
    await engine.settled();
    await eventually(async () => ((await ringLive()).waiting.length === 1 ? true : undefined), 10_000, 'the caller is listed');
    expect((await ringLive()).waiting).toEqual([expect.objectContaining({ callId: 'it-ring-1', state: 'ringing', agents: ['7302'] })]);

    // The agent lets it ring out and is paused for it: the caller waits again, nobody rings.
    await engine.offerFailed('it-ring-1', ringer, 'no-answer');
    await engine.settled();
    expect((await ringLive()).waiting).toEqual([expect.objectContaining({ callId: 'it-ring-1', state: 'waiting', agents: [] })]);
    await engine.callerLeft('it-ring-1');
    expect((await ringLive()).waiting).toEqual([]);
    engine.stop();
    await ringStore.stop();
  });
});

describe('a callback', () => {
  it('counts once in offered (at the join); the callback the agent takes counts as a callback, for the queue and the agent alike', async () => {
    const name = `${QUEUE}-cb`;
    const queue = await insertQueue(db, { name, wrap_up_seconds: 0, callback_after_seconds: 10, required_skills: JSON.stringify([]), widening: JSON.stringify([]) });
    const cbAgent = (await insertAgent(db, { number: '7303', name: 'Callback Agent', pin_hash: 'x' })).id;
    await sql`insert into extensions (number, display_name) values ('5733', 'Callback Desk') on conflict do nothing`.execute(db);
    await setQueueMember(db, queue.id, cbAgent, 0);
    expect((await applyAgentEvent(db, cbAgent, { type: 'login' }, { fields: { extension: '5733' } }))?.ok).toBe(true);
    let shift = 0;
    const rung: string[] = [];
    const cbStore = new PgAcdStore(db, { timezone: 'UTC', log });
    const cbEngine = new AcdEngine({ store: cbStore, log, now: () => Date.now() + shift, callbacks: { ring: (id) => void rung.push(id) } });
    try {
      expect(await cbEngine.pause('5733', 1)).toBe('ok'); // busy elsewhere: the caller waits
      const cbLive = () => service.queueLive(name);
      const agentFigures = async () => (await service.agentsLive()).find((a) => a.number === '7303');

      await cbEngine.join({ ...caller('it-cb-1'), queueName: name }, port('it-cb-1'));
      await eventually(async () => ((await cbLive()).waiting.length === 1 ? true : undefined), 10_000, 'the caller is listed as waiting');
      expect((await cbLive()).today).toMatchObject({ offered: 1, answered: 0, abandoned: 0, callbacksRequested: 0, callbacksAnswered: 0 });

      shift = 11_000; // waited past callbackAfterSeconds: the caller presses *
      expect(await cbEngine.requestCallback('it-cb-1')).toBe('it-cb-1-cb');
      let now = await cbLive();
      expect(now.waiting).toEqual([]);
      expect(now.callbacksWaiting).toBe(1);
      expect(now.today).toMatchObject({ offered: 1, answered: 0, abandoned: 0, callbacksRequested: 1, callbacksAnswered: 0 });

      // The agent comes back: rung for the callback, answers; then the customer is dialed and answers.
      expect(await cbEngine.unpause('5733')).toBe(true);
      await cbEngine.settled();
      expect(rung).toEqual(['it-cb-1-cb']);
      expect(await cbEngine.offerAnswered('it-cb-1-cb', cbAgent)).toBe(true);
      await cbEngine.callbackResult('it-cb-1-cb', true);
      await cbEngine.callEnded('it-cb-1-cb');
      await eventually(async () => ((await cbLive()).today.callbacksAnswered === 1 ? true : undefined), 10_000, 'callback counted');
      now = await cbLive();
      // One caller offered, who left the queue asking for a callback: neither answered nor abandoned.
      expect(now.today).toMatchObject({ offered: 1, answered: 0, abandoned: 0, callbacksRequested: 1, callbacksAnswered: 1 });
      expect(now.callbacksWaiting).toBe(0);
      // The agent handled one call: the callback (answered + callbacksAnswered over the queue's agents).
      // The agents' view is one read shared for up to 250 ms (docs/api.md#live-views): an earlier
      // test's read may still be served (a CI run got one without this agent, made by SQL here).
      await eventually(async () => ((await agentFigures())?.callsHandledToday === 1 ? true : undefined), 5_000, 'the agent counts the callback');
      expect(await agentFigures()).toMatchObject({ callsHandledToday: 1 });
    } finally {
      cbEngine.stop();
      await cbStore.stop();
    }
  });
});
