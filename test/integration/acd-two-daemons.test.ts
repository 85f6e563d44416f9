/**
 * Two daemons share one agent through one database: each has its own ACD engine, its own warm
 * routing view (PgAcdStore with its own pool and LISTEN connection) and its own caller. Round
 * after round both callers join at the same moment: exactly one is offered the agent, the other
 * waits; when the first call ends the agent is ready again, the other daemon hears of it (NOTIFY)
 * and offers its caller. Never two offers at once.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sql } from 'kysely';
import { pino } from 'pino';
import { AcdEngine, type OfferedAgent, type QueueCallPort } from '../../src/acd/engine.js';
import { PgAcdStore } from '../../src/acd/store.js';
import { insertAgent, insertQueue, setQueueMember } from '../../src/acd/admin-repository.js';
import { applyAgentEvent, findAgentById } from '../../src/acd/call-repository.js';
import { createDb, createPool, type Db } from '../../src/db/database.js';
import { eventually, holdFor } from '../support/wait.js';
import { openDb } from '../support/db.js';

// Numbers and names no other integration file uses (they share the run's database).
const EXT = '5721';
const QUEUE = 'it-two-daemons-q';
const ROUNDS = 5;
const log = pino({ level: 'silent' });

interface Daemon {
  readonly name: string;
  readonly db: Db;
  readonly store: PgAcdStore;
  readonly engine: AcdEngine;
}

/** Every offer either daemon made, in the order made. */
const offers: { daemon: Daemon; callId: string; agents: string[] }[] = [];

let db: Db;
let agentId: string;
const daemons: Daemon[] = [];

function startDaemon(name: string): Daemon {
  const s = inject('db');
  const settings = { host: s.host, port: s.port, user: s.user, password: s.password, name: s.name };
  const own = createDb(createPool(settings, 4));
  const store = new PgAcdStore(own, { timezone: 'UTC', log, listen: { db: settings, backoff: { baseMs: 50, maxMs: 500 } } });
  const engine = new AcdEngine({ store, log });
  store.start();
  engine.start();
  return { name, db: own, store, engine };
}

function port(d: Daemon, callId: string): QueueCallPort {
  return {
    offer: (agents: readonly OfferedAgent[]) => void offers.push({ daemon: d, callId, agents: agents.map((a) => a.id) }),
    withdraw: () => undefined,
    leave: () => undefined,
    announce: () => undefined,
  };
}

/** Both daemons' views show the agent in `state` and neither engine is still deciding. */
async function bothSettled(state: string, what: string): Promise<void> {
  for (const d of daemons) {
    await eventually(async () => ((await d.store.agents()).find((a) => a.id === agentId)?.state === state ? true : undefined), 10_000, `${what}: ${d.name} sees the agent ${state}`);
    await d.engine.settled();
  }
}

const caller = (callId: string) => ({ callId, queueName: QUEUE, channelId: `ch-${callId}`, callerNumber: '4930555', callerName: null, priority: 0, requiredSkills: null });
const allOffers = () => offers;

beforeAll(async () => {
  db = openDb(inject('db'));
  await sql`insert into extensions (number, display_name) values (${EXT}, 'Two Daemons Desk') on conflict do nothing`.execute(db);
  const queue = await insertQueue(db, { name: QUEUE, wrap_up_seconds: 0, required_skills: JSON.stringify([]), widening: JSON.stringify([]) });
  agentId = (await insertAgent(db, { number: '7201', name: 'Shared Agent', pin_hash: 'x' })).id;
  await setQueueMember(db, queue.id, agentId, 0);
  expect((await applyAgentEvent(db, agentId, { type: 'login' }, { fields: { extension: EXT } }))?.ok).toBe(true);
  daemons.push(startDaemon('A'), startDaemon('B'));
  // Both views loaded and listening before the first round.
  for (const d of daemons) {
    await eventually(async () => ((await d.store.agents()).find((a) => a.id === agentId)?.state === 'ready' ? true : undefined), 10_000, `daemon ${d.name} sees the agent`);
  }
});

afterAll(async () => {
  for (const d of daemons) {
    d.engine.stop();
    await d.store.stop();
    await d.db.destroy();
  }
  await db?.destroy();
});

describe('two daemons, one agent', () => {
  it(`never offers the agent two calls at once; the waiting call is served next (${ROUNDS} rounds)`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const [a, b] = daemons as [Daemon, Daemon];
      const ids = [`it-two-${round}-A`, `it-two-${round}-B`];
      const seen = allOffers().length;
      // Both callers join at the same moment, one per daemon.
      await Promise.all([a.engine.join(caller(ids[0]!), port(a, ids[0]!)), b.engine.join(caller(ids[1]!), port(b, ids[1]!))]);
      await eventually(async () => (allOffers().length > seen ? true : undefined), 10_000, `round ${round}: an offer`);
      await bothSettled('reserved', `round ${round}`);
      await holdFor(300, 'room for a wrong second offer to show');
      const first = allOffers().slice(seen);
      expect(first, `round ${round}: ${JSON.stringify(allOffers().map((o) => [o.daemon.name, o.callId]))}`).toHaveLength(1);
      expect(first[0]!.agents).toEqual([agentId]);
      expect((await findAgentById(db, agentId)), JSON.stringify(allOffers().map((o) => [o.daemon.name, o.callId]))).toMatchObject({ state: 'reserved', call_id: first[0]!.callId });

      // The agent answers and the call ends (wrap-up 0): ready again; the other daemon offers its caller.
      const winner = first[0]!.daemon;
      expect(await winner.engine.offerAnswered(first[0]!.callId, agentId)).toBe(true);
      await winner.engine.callEnded(first[0]!.callId);
      await eventually(async () => (allOffers().length > seen + 1 ? true : undefined), 10_000, `round ${round}: the waiting call offered`);
      await bothSettled('reserved', `round ${round}, second call`);
      await holdFor(300, 'room for a wrong second offer to show');
      const second = allOffers().slice(seen + 1);
      expect(second, `round ${round}`).toHaveLength(1);
      expect(second[0]!.daemon).not.toBe(winner);
      expect(second[0]!.callId).toBe(ids.find((id) => id !== first[0]!.callId));
      expect(await second[0]!.daemon.engine.offerAnswered(second[0]!.callId, agentId)).toBe(true);
      await second[0]!.daemon.engine.callEnded(second[0]!.callId);
      await bothSettled('ready', `round ${round}`);
    }
    // Every offer is in the agent's log, one at a time: offer, answer, call-ended, in turn.
    const log = await sql<{ cause: string; to_state: string }>`select cause, to_state from agent_state_log where agent_id = ${agentId} order by at, id`.execute(db);
    expect(log.rows.map((r) => r.to_state)).toEqual(['ready', ...Array.from({ length: ROUNDS * 2 }, () => ['reserved', 'on-call', 'ready']).flat()]);
    expect(log.rows.slice(1).map((r) => r.cause)).toEqual(Array.from({ length: ROUNDS * 2 }, () => ['offer', 'answer', 'call-ended']).flat());
  });
});
