/**
 * The ACD's warm routing view against real Postgres: agent events written in one statement guarded
 * by the row's version (repository.applyAgentEventAt), exactly one of 20 concurrent optimistic
 * offers winning on separate connections, the store falling back to the row lock when its row is
 * stale, changes made elsewhere (another connection: another daemon or the API) reaching the store
 * by LISTEN/NOTIFY (also after its listening connection was killed), the store's own writes not
 * coming back to it as reloads, talk time recorded when an answered call ends, agents found
 * on calls that are live nowhere (ended while no daemon watched), and a call handled while
 * Postgres is unreachable (the store reaching it through a TCP gate this test closes): its queue
 * events and the agent's state changes are written once it is back, once each, in order, at the
 * times they happened.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { pino } from 'pino';
import type { App } from '../../src/app.js';
import { createDb, createPool, type Database, type Db } from '../../src/db/database.js';
import type { AgentEvent } from '../../src/acd/agent-state.js';
import { insertAgent, insertQueue, setQueueMember } from '../../src/acd/admin-repository.js';
import { agentTodayStats, agentsOnEndedCalls, applyAgentEvent, applyAgentEventAt, findAgentById, logQueueCall, queueCallLeft, recordTalkTime } from '../../src/acd/call-repository.js';
import type { QueueCall } from '../../src/acd/engine.js';
import { isPgUnreachable } from '../../src/shared/pg-errors.js';
import { insertLiveCall, updateLiveCall } from '../../src/calls/repository.js';
import { PgAcdStore } from '../../src/acd/store.js';
import { eventually, holdFor } from '../support/wait.js';
import { startTestApp } from '../support/app.js';
import { tcpGate } from '../support/tcp-gate.js';

let app: App;
// Numbers and names no other integration file uses (they share the run's database).
const EXT = '5711';
let queueId: string;

const dbSettings = () => {
  const s = inject('db');
  return { host: s.host, port: s.port, user: s.user, password: s.password, name: s.name };
};

async function newAgent(number: string): Promise<string> {
  const a = await insertAgent(app.db, { number, name: `Agent ${number}`, pin_hash: 'x' });
  await setQueueMember(app.db, queueId, a.id, 0);
  return a.id;
}

const logRows = async (agentId: string) =>
  Number((await sql<{ n: string }>`select count(*) as n from agent_state_log where agent_id = ${agentId}`.execute(app.db)).rows[0]!.n);

beforeAll(async () => {
  app = await startTestApp();
  const ext = await app.http.inject({ method: 'GET', url: '/health/live' });
  expect(ext.statusCode).toBe(200);
  await sql`insert into extensions (number, display_name) values (${EXT}, 'Store Desk') on conflict do nothing`.execute(app.db).catch(() => undefined);
  queueId = (await insertQueue(app.db, { name: 'it-store-q', required_skills: JSON.stringify([]), widening: JSON.stringify([]) })).id;
});

afterAll(async () => {
  await app?.stop();
});

describe('applyAgentEventAt (one statement, guarded by the version held)', () => {
  it('writes the event and its log row when the row is as held; leaves a row that moved on alone', async () => {
    const id = await newAgent('7101');
    const login = await applyAgentEvent(app.db, id, { type: 'login' });
    expect(login?.ok).toBe(true);
    const held = login!.agent;
    const before = await logRows(id);

    const offered = await applyAgentEventAt(app.db, held, { type: 'offer', callId: 'it-store-c1', queueId });
    expect(offered).not.toBe('stale');
    if (offered === 'stale') return;
    expect(offered.step.state.status).toBe('reserved');
    expect(BigInt(offered.agent.version)).toBe(BigInt(held.version) + 1n);
    expect(await findAgentById(app.db, id)).toMatchObject({ state: 'reserved', call_id: 'it-store-c1', queue_id: queueId, version: offered.agent.version });
    const log = await sql<{ from_state: string; to_state: string; cause: string; call_id: string; queue_id: string }>`
      select from_state, to_state, cause, call_id, queue_id from agent_state_log where agent_id = ${id} order by id desc limit 1`.execute(app.db);
    expect(log.rows).toEqual([{ from_state: 'ready', to_state: 'reserved', cause: 'offer', call_id: 'it-store-c1', queue_id: queueId }]);
    expect(await logRows(id)).toBe(before + 1);

    // The held row is now stale: nothing is written, whatever the event.
    expect(await applyAgentEventAt(app.db, held, { type: 'offer', callId: 'it-store-c2', queueId })).toBe('stale');
    expect(await applyAgentEventAt(app.db, held, { type: 'logout' })).toBe('stale');
    expect(await findAgentById(app.db, id)).toMatchObject({ state: 'reserved', call_id: 'it-store-c1', version: offered.agent.version });
    expect(await logRows(id)).toBe(before + 1);
  });

  it('20 concurrent offers from the same held row on separate connections: exactly one wins', async () => {
    const pool = createPool(dbSettings(), 20);
    const db: Db = createDb(pool);
    try {
      const clients = await Promise.all(Array.from({ length: 20 }, () => pool.connect()));
      clients.forEach((c) => c.release());
      const id = await newAgent('7102');
      const held = (await applyAgentEvent(db, id, { type: 'login' }))!.agent;
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => applyAgentEventAt(db, held, { type: 'offer', callId: `it-store-race-${i}`, queueId })),
      );
      const won = results.filter((r) => r !== 'stale');
      expect(won).toHaveLength(1);
      const winner = won[0]!;
      expect(winner.agent.call_id).toMatch(/^it-store-race-/);
      const offers = await sql<{ call_id: string }>`select call_id from agent_state_log where agent_id = ${id} and cause = 'offer'`.execute(app.db);
      expect(offers.rows).toEqual([{ call_id: winner.agent.call_id }]);
    } finally {
      await db.destroy();
    }
  });
});

describe('agentsOnEndedCalls (agents on a call that is live nowhere)', () => {
  async function onCall(number: string, callId: string, aged: boolean): Promise<string> {
    const id = await newAgent(number);
    await applyAgentEvent(app.db, id, { type: 'login' });
    await applyAgentEvent(app.db, id, { type: 'offer', callId, queueId });
    await applyAgentEvent(app.db, id, { type: 'answer', callId });
    if (aged) await sql`update agents set state_since = now() - interval '2 minutes' where id = ${id}`.execute(app.db);
    return id;
  }
  const live = (callId: string, o: { linked?: string; mode?: string } = {}) =>
    insertLiveCall(app.db, {
      call_id: callId, channel_id: `ch-${callId}`, direction: 'inbound', caller_number: null, caller_name: null, dialed_number: null,
      state: 'dial', digits: '', started_at: new Date(), answered_at: new Date(), linked_id: o.linked ?? null, ...(o.mode ? { mode: o.mode } : {}),
    });

  it('finds only agents on a call long enough whose call has no live row (by call id, first part or callback)', async () => {
    const gone = await onCall('7121', 'it-ended-gone', true);
    await onCall('7122', 'it-ended-live', true);
    await live('it-ended-live');
    await onCall('7123', 'it-ended-first-part', true);
    await live('it-ended-second-part', { linked: 'it-ended-first-part' });
    await onCall('7124', 'it-ended-cb', true);
    await live('it-ended-cb-agent-leg', { mode: 'callback:it-ended-cb' });
    await onCall('7125', 'it-ended-fresh', false); // on the call for less than the grace: not yet
    // Reserved for an offer of a call that ended unseen (a daemon killed while the phone rang, Postgres refusing the move).
    const offered = await newAgent('7126');
    await applyAgentEvent(app.db, offered, { type: 'login' });
    await applyAgentEvent(app.db, offered, { type: 'offer', callId: 'it-ended-offered', queueId });
    await sql`update agents set state_since = now() - interval '2 minutes' where id = ${offered}`.execute(app.db);
    const found = (await agentsOnEndedCalls(app.db, 30_000)).filter((f) => f.callId.startsWith('it-ended-'));
    expect(found).toEqual(expect.arrayContaining([{ agentId: gone, callId: 'it-ended-gone', state: 'on-call' }, { agentId: offered, callId: 'it-ended-offered', state: 'reserved' }]));
    expect(found).toHaveLength(2);
  });

  it('a live call mode holds the longest queue or flow name and a callback id (restart recovery reads it)', async () => {
    const longest = `queue:${'q'.repeat(64)}`;
    await live('it-mode-long', { mode: longest });
    await updateLiveCall(app.db, 'it-mode-long', { mode: `ivr:${'f'.repeat(64)}` });
    await updateLiveCall(app.db, 'it-mode-long', { mode: `callback:${'c'.repeat(36)}-cb` });
    const row = await sql<{ mode: string }>`select mode from live_calls where call_id = 'it-mode-long'`.execute(app.db);
    expect(row.rows).toEqual([{ mode: `callback:${'c'.repeat(36)}-cb` }]);
    await updateLiveCall(app.db, 'it-mode-long', { mode: longest });
  });
});

describe('PgAcdStore', () => {
  const log = pino({ level: 'silent' });

  it('an event on a stale row goes through the row lock and the view catches up', async () => {
    const id = await newAgent('7103');
    const store = new PgAcdStore(app.db, { timezone: 'UTC', log }); // no LISTEN: only what it loads and writes
    expect((await store.agents()).find((a) => a.id === id)?.state).toBe('logged-out');
    // Another daemon logs the agent in and pauses them; this store does not know.
    await applyAgentEvent(app.db, id, { type: 'login' }, { fields: { extension: EXT } });
    await applyAgentEvent(app.db, id, { type: 'pause', reason: { code: 1, name: 'break' } });
    expect((await store.agents()).find((a) => a.id === id)?.state).toBe('logged-out');
    const step = await store.apply(id, { type: 'unpause' });
    expect(step.ok).toBe(true);
    expect((await store.agents()).find((a) => a.id === id)).toMatchObject({ state: 'ready', extension: EXT });
    // Now the row is as held: the next event takes the one-statement path and is stored the same.
    const offer = await store.apply(id, { type: 'offer', callId: 'it-store-c3', queueId });
    expect(offer.ok).toBe(true);
    expect(await findAgentById(app.db, id)).toMatchObject({ state: 'reserved', call_id: 'it-store-c3' });
    expect((await store.agents()).find((a) => a.id === id)?.state).toBe('reserved');
    // A refused event (an offer to a reserved agent) is refused, and writes nothing.
    const before = await logRows(id);
    expect((await store.apply(id, { type: 'offer', callId: 'it-store-c4', queueId })).ok).toBe(false);
    expect(await logRows(id)).toBe(before);
  });

  it('changes made elsewhere arrive by NOTIFY, also after the listening connection is killed', async () => {
    const id = await newAgent('7104');
    const store = new PgAcdStore(app.db, { timezone: 'UTC', log, listen: { db: dbSettings(), backoff: { baseMs: 50, maxMs: 500 } } });
    let changes = 0;
    store.onChange(() => changes++);
    store.start();
    try {
      await store.agents();
      await eventually(async () => (changes > 0 ? true : undefined), 10_000, 'LISTEN connection (reloads once connected)');
      const seen = changes;
      await applyAgentEvent(app.db, id, { type: 'login' }, { fields: { extension: EXT } });
      await eventually(async () => ((await store.agents()).find((a) => a.id === id)?.state === 'ready' && changes > seen ? true : undefined), 10_000, 'agent ready in the view');

      // A queue created elsewhere: the whole view is reloaded.
      await insertQueue(app.db, { name: 'it-store-q2', required_skills: JSON.stringify([]), widening: JSON.stringify([]) });
      await eventually(async () => ((await store.queues()).some((q) => q.name === 'it-store-q2') ? true : undefined), 10_000, 'new queue in the view');

      // Postgres drops the listening connection (a restart, a network cut): it comes back by itself.
      // (Other daemons of this run listening on this database reconnect too.)
      const before = changes;
      await sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'pbx-listen' and datname = current_database()`.execute(app.db);
      await eventually(async () => (changes > before ? true : undefined), 10_000, 'LISTEN connection again (reloads once connected)');
      const again = changes;
      await applyAgentEvent(app.db, id, { type: 'pause', reason: { code: 2, name: 'lunch' } });
      await eventually(async () => ((await store.agents()).find((a) => a.id === id)?.state === 'paused' && changes > again ? true : undefined), 10_000, 'agent paused in the view');
    } finally {
      await store.stop();
    }
  });

  it('its own agent events do not come back as reloads, though their notices can arrive before the answers', async () => {
    const id = await newAgent('7106');
    const marker = await newAgent('7107');
    // The store's own connections, counting the per-agent reloads of this agent (its skills query)
    // and answering 50 ms late, so the notice of each write reaches the store before its answer
    // (as it does in a busy daemon).
    const pool = createPool(dbSettings(), 3);
    const late = {
      connect: async () => {
        const client = await pool.connect();
        return new Proxy(client, {
          get: (target, key) => {
            if (key === 'query') {
              return async (...args: Parameters<typeof target.query>) => {
                const result = await (target.query as (...a: unknown[]) => Promise<unknown>)(...args);
                await holdFor(50, 'every answer of these connections comes 50 ms late');
                return result;
              };
            }
            const value = Reflect.get(target, key) as unknown;
            return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        });
      },
      end: () => pool.end(),
    };
    let reloads = 0;
    const db = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: late as unknown as typeof pool }),
      log: (e) => {
        if (e.level === 'query' && /from "agent_skills" where "agent_id" in/.test(e.query.sql) && e.query.parameters.includes(id)) reloads++;
      },
    });
    const store = new PgAcdStore(db, { timezone: 'UTC', log, listen: { db: dbSettings(), backoff: { baseMs: 50, maxMs: 500 } } });
    let changes = 0;
    store.onChange(() => changes++);
    store.start();
    try {
      await eventually(async () => (changes > 0 ? true : undefined), 10_000, 'LISTEN connection (reloads once connected)');
      await store.agents();
      const pause: AgentEvent = { type: 'pause', reason: { code: 2, name: 'lunch' } };
      const events: AgentEvent[] = [{ type: 'login' }, pause, { type: 'unpause' }, pause, { type: 'unpause' }];
      for (const [i, event] of events.entries()) expect((await store.apply(id, event, i === 0 ? { extension: EXT } : undefined)).ok).toBe(true);
      // The same agent changed elsewhere is reloaded: the notices do arrive, and in order.
      await applyAgentEvent(app.db, id, { type: 'logout' });
      await eventually(async () => ((await store.agents()).find((a) => a.id === id)?.state === 'logged-out' ? true : undefined), 10_000, 'logout made elsewhere in the view');
      // A last change elsewhere, to another agent: its notice comes after every notice above (one
      // LISTEN connection, commit order), so once it is in the view, all of them have been handled.
      await applyAgentEvent(app.db, marker, { type: 'login' });
      await eventually(async () => ((await store.agents()).find((a) => a.id === marker)?.state === 'ready' ? true : undefined), 10_000, 'the marker change in the view');
      expect(reloads).toBe(1);
    } finally {
      await store.stop();
      await db.destroy();
    }
  });

  it('an answered call that ends gets its talk time, and the agent\'s figures for today follow', async () => {
    const id = await newAgent('7105');
    // Answered today (UTC), also in a run during the first 42 s after midnight (CI once was).
    const midnight = new Date();
    midnight.setUTCHours(0, 0, 0, 0);
    const answeredAt = new Date(Math.max(Date.now() - 42_000, midnight.getTime() + 1));
    await logQueueCall(app.db, { queueId, callId: 'it-store-talk', enqueuedAt: new Date(answeredAt.getTime() - 5_000), answeredAt, endedAt: answeredAt, outcome: 'answered', agentId: id });
    expect((await agentTodayStats(app.db, 'UTC', [id])).get(id)).toEqual({ calls: 1, talkSeconds: 0 });
    expect(await recordTalkTime(app.db, 'it-store-talk', new Date(answeredAt.getTime() + 42_000))).toBe(42);
    expect((await agentTodayStats(app.db, 'UTC', [id])).get(id)).toEqual({ calls: 1, talkSeconds: 42 });
    // Recorded once: a second end (a retry) does not change it.
    expect(await recordTalkTime(app.db, 'it-store-talk', new Date(answeredAt.getTime() + 99_000))).toBeNull();
    expect((await agentTodayStats(app.db, 'UTC', [id])).get(id)).toEqual({ calls: 1, talkSeconds: 42 });
  });

  it('Postgres unreachable: a call\'s queue events and the agent\'s changes wait in memory and are written once it is back, once each, in order', async () => {
    const id = await newAgent('7131');
    const other = await newAgent('7132');
    const settings = dbSettings();
    const gate = tcpGate({ host: settings.host, port: settings.port });
    await gate.open();
    const pool = createPool({ ...settings, host: '127.0.0.1', port: gate.port }, 3);
    const db = createDb(pool);
    const store = new PgAcdStore(db, { timezone: 'UTC', log });
    store.start();
    const call = (callId: string, enqueuedAt: number): QueueCall => ({ callId, queueId, channelId: 'ch', callerNumber: '4930555', callerName: null, priority: 0, requiredSkills: null, enqueuedAt });
    const c1 = call('it-store-pg-1', Date.now());
    try {
      await store.agents(); // the view loaded, as a daemon's is from its start
      for (const a of [id, other]) expect((await store.apply(a, { type: 'login' }, { extension: EXT })).ok).toBe(true);
      await store.callJoined(c1);
      expect((await store.apply(id, { type: 'offer', callId: c1.callId, queueId })).ok).toBe(true);

      // The cut comes in the middle of a transaction: its failure says "unreachable", though Kysely
      // throws the error of its ROLLBACK on the dead connection in place of the statement's.
      const cut = await db.transaction().execute(async (tx) => {
        await sql`select 1`.execute(tx);
        await gate.close();
        await sql`select 1`.execute(tx);
      }).then(() => null, (err: unknown) => err);
      expect(isPgUnreachable(cut), String(cut)).toBe(true);
      const cutAt = Date.now();
      // The call goes on: answered, hung up, wrapped up; meanwhile another caller joins and gives up.
      expect((await store.apply(id, { type: 'answer', callId: c1.callId }, { queueCall: { enqueuedAt: c1.enqueuedAt } })).ok).toBe(true);
      await store.callLeft(c1, 'answered', new Date(), id);
      const c2 = call('it-store-pg-2', Date.now());
      await store.callJoined(c2);
      await holdFor(20, 'the call talks a little');
      const ended = await store.apply(id, { type: 'call-ended', callId: c1.callId, wrapUpSeconds: 5 }, { queueCall: { holdMs: 0 } });
      expect(ended.ok && ended.state.status).toBe('wrap-up');
      await store.talkEnded(c1.callId, id, new Date());
      await store.callLeft(c2, 'abandoned', new Date(), null);
      expect((await store.apply(id, { type: 'wrap-up-done', callId: c1.callId })).ok).toBe(true);
      expect((await store.agents()).find((a) => a.id === id)?.state).toBe('ready');
      // Claiming an agent needs Postgres' row lock: an offer fails as Postgres does, and so does one
      // to the agent whose changes wait.
      for (const a of [other, id]) {
        const offer = await store.apply(a, { type: 'offer', callId: c2.callId, queueId }).then(() => null, (err: unknown) => err);
        expect(isPgUnreachable(offer), String(offer)).toBe(true);
      }
      expect(store.waitingWrites).toEqual({ waiting: 7, dropped: 0 });
      const mendAt = Date.now();
      await gate.open();

      await eventually(async () => (store.waitingWrites.waiting === 0 ? true : undefined), 20_000, 'the writes that waited are written');
      const events = await sql<{ call_id: string; type: string; at: Date; agent_id: string | null }>`
        select call_id, type, at, agent_id::text from queue_events where call_id in (${c1.callId}, ${c2.callId}) order by id`.execute(app.db);
      expect(events.rows.filter((e) => e.call_id === c1.callId).map((e) => e.type)).toEqual(['join', 'offer', 'answer', 'end']);
      expect(events.rows.filter((e) => e.call_id === c2.callId).map((e) => e.type)).toEqual(['join', 'abandon']);
      for (const e of events.rows.filter((e) => !['join', 'offer'].includes(e.type) || e.call_id === c2.callId)) {
        expect(e.at.getTime(), `${e.call_id} ${e.type} at the time it happened`).toBeGreaterThanOrEqual(cutAt - 1);
        expect(e.at.getTime(), `${e.call_id} ${e.type} at the time it happened`).toBeLessThanOrEqual(mendAt);
      }
      const states = await sql<{ to_state: string; cause: string; at: Date }>`select to_state, cause, at from agent_state_log where agent_id = ${id} order by id`.execute(app.db);
      expect(states.rows.map((r) => `${r.cause}:${r.to_state}`)).toEqual(['feature-code:ready', 'offer:reserved', 'answer:on-call', 'call-ended:wrap-up', 'wrap-up-done:ready']);
      const log = await sql<{ outcome: string; talk_seconds: number | null }>`select outcome, talk_seconds from queue_call_log where call_id in (${c1.callId}, ${c2.callId}) order by id`.execute(app.db);
      expect(log.rows.map((r) => r.outcome)).toEqual(['answered', 'abandoned']);
      expect(log.rows[0]!.talk_seconds).not.toBeNull();
      expect(await sql`select 1 from queue_calls where call_id in (${c1.callId}, ${c2.callId})`.execute(app.db).then((r) => r.rows)).toEqual([]);
      // The view takes the stored row again: ready at its version, and offers go through.
      const stored = await findAgentById(app.db, id);
      expect(stored).toMatchObject({ state: 'ready', call_id: null });
      await eventually(async () => ((await store.agents()).find((a) => a.id === id)?.machine.status === 'ready' ? true : undefined), 10_000, 'the view settled');
      expect((await store.apply(id, { type: 'offer', callId: 'it-store-pg-3', queueId })).ok).toBe(true);
      // A leave written again (its first try landed, its answer was lost) writes no second row.
      const again = await queueCallLeft(app.db, { queueId, callId: c2.callId, enqueuedAt: new Date(c2.enqueuedAt), outcome: 'abandoned' }, { once: true });
      expect(again.outcome).toBe('abandoned');
      expect(await sql<{ n: number }>`select count(*)::int as n from queue_call_log where call_id = ${c2.callId}`.execute(app.db).then((r) => r.rows[0]!.n)).toBe(1);
    } finally {
      await store.stop();
      await gate.close();
      await db.destroy().catch(() => undefined);
    }
  });
});
