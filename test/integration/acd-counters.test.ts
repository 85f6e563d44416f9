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
    expect(now.today).toMatchObject({ offered: 1, answered: 0, abandoned: 0 });
    expect(await agentLive()).toMatchObject({ state: 'reserved', callsHandledToday: 0 });

    // The agent answers: answered, for the queue and the agent alike; nobody waits.
    expect(await engine.offerAnswered('it-count-1', agentId)).toBe(true);
    await eventually(async () => ((await live()).today.answered === 1 ? true : undefined), 10_000, 'answered counted');
    now = await live();
    expect(now.waiting).toEqual([]);
    expect(now.today).toMatchObject({ offered: 1, answered: 1, abandoned: 0, answeredWithinSl: 1, serviceLevelPercent: 100 });
    expect(await agentLive()).toMatchObject({ state: 'on-call', callsHandledToday: 1 });

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
    expect(await agentLive()).toMatchObject({ state: 'wrap-up', callsHandledToday: 1 });
    expect(offers.map((o) => o.callId)).toEqual(['it-count-1']);
  });
});
