/**
 * The event stream's pure parts (src/events): the replay window (count and age), resume and
 * resync, id blocks across restarts, filters and the role rule, the bounded client queue that
 * drops a slow consumer without holding up the publisher or the others, tickets.
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { EventRing } from '../../src/events/ring.js';
import { EventIds, type IdBlocks } from '../../src/events/ids.js';
import { EventBus } from '../../src/events/bus.js';
import { StreamClient, type StreamSink } from '../../src/events/client.js';
import { matches, parseFilter, viewFor } from '../../src/events/filter.js';
import { forRole, type EventInput, type PbxEvent } from '../../src/events/model.js';
import { TicketStore } from '../../src/events/tickets.js';
import { AppError } from '../../src/errors.js';

const log = pino({ level: 'silent' });

const agentState = (id: number, agent = '501', queues = ['sales']): PbxEvent => ({
  id, at: new Date(0).toISOString(), type: 'agent.state', agent, state: 'ready', from: 'paused', cause: 'unpause', pause: null, callId: null, queue: null, queues,
});
const offered = (id: number, queue = 'sales'): PbxEvent => ({
  id, at: new Date(0).toISOString(), type: 'agent.offered', callId: `c${id}`, queue, agent: '501', extension: '2001', callerNumber: '+4930123', callerName: 'Ada', variables: { account: '42' },
});
const joined = (id: number, queue = 'sales'): PbxEvent => ({
  id, at: new Date(0).toISOString(), type: 'queue.joined', callId: `c${id}`, queue, callerNumber: '+4930123', callerName: 'Ada', priority: 0,
});

const blocks = (...numbers: number[]): IdBlocks & { asked: number } => {
  const b = { asked: 0, reserve: async () => numbers[b.asked++] ?? Promise.reject(new Error('no more')) };
  return b;
};

describe('replay window', () => {
  it('replays what came after the last id, and says resync when the id has left the window by count', () => {
    const ring = new EventRing({ maxEvents: 3, maxAgeMs: 60_000 }, () => 0);
    for (let id = 11; id <= 15; id++) ring.push(agentState(id));
    expect(ring.oldestId).toBe(13);
    const replay = ring.since(13);
    expect(replay.kind === 'replay' && replay.events.map((e) => e.id)).toEqual([14, 15]);
    // 12 was the last evicted: the client has everything before 13, so it may resume.
    expect(ring.since(12)).toMatchObject({ kind: 'replay' });
    expect(ring.since(11)).toEqual({ kind: 'resync', reason: 'too-old', oldestId: 13, newestId: 15 });
    expect(ring.since(15)).toEqual({ kind: 'replay', events: [] });
  });

  it('forgets events older than the age limit', () => {
    let now = 0;
    const ring = new EventRing({ maxEvents: 100, maxAgeMs: 5_000 }, () => now);
    ring.push(agentState(1));
    now = 3_000;
    ring.push(agentState(2));
    now = 5_001;
    expect(ring.length).toBe(1);
    expect(ring.since(0)).toMatchObject({ kind: 'resync', reason: 'too-old', oldestId: 2 });
    expect(ring.since(1)).toMatchObject({ kind: 'replay', events: [{ id: 2 }] });
  });

  it('an id this run never issued (before a restart, or ahead) means resync', () => {
    const ring = new EventRing({ maxEvents: 10, maxAgeMs: 60_000 }, () => 0);
    expect(ring.since(5)).toMatchObject({ kind: 'resync', reason: 'unknown-id' });
    ring.push(agentState(2 * 2 ** 32));
    expect(ring.since(2 ** 32 + 7)).toMatchObject({ kind: 'resync', reason: 'too-old' });
    expect(ring.since(2 * 2 ** 32 + 1)).toMatchObject({ kind: 'resync', reason: 'unknown-id' });
  });
});

describe('event ids', () => {
  it('count within the block reserved at start; a restart takes a higher block', async () => {
    const seq = blocks(1, 2);
    const first = new EventIds(seq, () => undefined, 100);
    expect(first.next()).toBeNull();
    await first.start();
    expect([first.next(), first.next()]).toEqual([100, 101]);
    const restarted = new EventIds(seq, () => undefined, 100);
    await restarted.start();
    expect(restarted.next()).toBe(200);
  });

  it('reserve the next block half-way and move to it at the end; without it, keep counting', async () => {
    const seq = blocks(1, 5);
    const ids = new EventIds(seq, () => undefined, 10);
    await ids.start();
    const got: number[] = [];
    for (let i = 0; i < 6; i++) got.push(ids.next()!);
    await Promise.resolve();
    await Promise.resolve();
    for (let i = 0; i < 6; i++) got.push(ids.next()!);
    expect(got).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 50, 51]);
    const stuck = new EventIds(blocks(1), () => undefined, 4);
    await stuck.start();
    expect(Array.from({ length: 6 }, () => stuck.next())).toEqual([4, 5, 6, 7, 8, 9]);
  });
});

describe('bus', () => {
  const input = (agent: string): EventInput => ({ type: 'agent.state', agent, state: 'ready', from: 'paused', cause: 'unpause', pause: null, callId: null, queue: null, queues: [] });

  it('holds events until the first id block, then numbers them in order', async () => {
    const ids = new EventIds(blocks(3), () => undefined, 1000);
    const bus = new EventBus(ids, new EventRing(), log);
    const seen: PbxEvent[] = [];
    bus.subscribe({ deliver: (e) => seen.push(e) }, null);
    bus.publish(input('1'));
    bus.publish(input('2'));
    expect(seen).toEqual([]);
    await ids.start();
    bus.release();
    bus.publish(input('3'));
    expect(seen.map((e) => [e.id, 'agent' in e && e.agent])).toEqual([[3000, '1'], [3001, '2'], [3002, '3']]);
  });

  it('a subscriber that throws does not stop the others', async () => {
    const ids = new EventIds(blocks(1), () => undefined, 1000);
    await ids.start();
    const bus = new EventBus(ids, new EventRing(), log);
    const seen: number[] = [];
    bus.subscribe({ deliver: () => { throw new Error('boom'); } }, null);
    bus.subscribe({ deliver: (e) => seen.push(e.id) }, null);
    bus.publish(input('1'));
    expect(seen).toEqual([1000]);
  });
});

describe('filters and the role rule', () => {
  it('types, queues (agent.state: membership) and agents must all match', () => {
    const f = parseFilter({ types: ['agent.state,agent.offered'], queue: ['sales'], agent: ['501'] }, 'supervisor');
    expect(matches(f, agentState(1))).toBe(true);
    expect(matches(f, agentState(1, '502'))).toBe(false);
    expect(matches(f, agentState(1, '501', ['support']))).toBe(false);
    expect(matches(f, offered(2))).toBe(true);
    expect(matches(f, offered(2, 'support'))).toBe(false);
    expect(matches(f, joined(3))).toBe(false);
    expect(matches(parseFilter({}, 'viewer'), joined(3))).toBe(true);
  });

  it('an unknown type is a 400 naming querystring.types', () => {
    const err = (() => { try { parseFilter({ types: ['call.sneezed'] }, 'admin'); } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ status: 400, code: 'validation-failed', details: { field: 'querystring.types' } });
  });

  it('a viewer asking for a type it may not see is refused (403); unasked, those are withheld', () => {
    expect(() => parseFilter({ types: ['agent.offered'] }, 'viewer')).toThrow(expect.objectContaining({ status: 403, code: 'forbidden' }) as Error);
    const view = viewFor('viewer', parseFilter({}, 'viewer'));
    expect(view(offered(1))).toBeNull();
    expect(view(agentState(2))).toEqual(agentState(2));
  });

  it('caller numbers and names need a supervisor', () => {
    expect(forRole('viewer', joined(1))).toMatchObject({ type: 'queue.joined', callerNumber: null, callerName: null, queue: 'sales' });
    expect(forRole('supervisor', joined(1))).toMatchObject({ callerNumber: '+4930123', callerName: 'Ada' });
    expect(forRole('supervisor', offered(2))).toMatchObject({ callerNumber: '+4930123', variables: { account: '42' } });
  });
});

/** A connection that takes bytes only when told to (a client that stopped reading keeps them). */
class FakeSink implements StreamSink {
  text = '';
  pending = 0;
  reading = true;
  ended = false;
  write(chunk: string): void {
    if (this.reading) this.text += chunk;
    else this.pending += Buffer.byteLength(chunk);
  }
  buffered(): number {
    return this.pending;
  }
  last = '';
  end(last: string): void {
    this.last = last;
    this.write(last);
    this.ended = true;
  }
}

describe('stream clients', () => {
  const run: (() => void)[] = [];
  const schedule = (fn: () => void) => void run.push(fn);
  const flush = () => run.splice(0).forEach((fn) => fn());

  it('a client that stops reading is dropped with the reason; the others get every event', async () => {
    const ids = new EventIds(blocks(1), () => undefined, 1000);
    await ids.start();
    const bus = new EventBus(ids, new EventRing(), log);
    const closed: string[] = [];
    const make = (sink: FakeSink) => {
      const client = new StreamClient(sink, (e) => e, { maxBufferedBytes: 4096, schedule, onClose: (_c, reason) => closed.push(reason) });
      bus.subscribe(client, null);
      return client;
    };
    const stalled = new FakeSink();
    stalled.reading = false;
    const others = Array.from({ length: 5 }, () => new FakeSink());
    make(stalled);
    const fast = others.map(make);
    for (let i = 0; i < 200; i++) {
      bus.publish({ type: 'agent.state', agent: String(500 + (i % 9)), state: 'ready', from: 'paused', cause: 'unpause', pause: null, callId: null, queue: null, queues: [] });
      flush();
    }
    expect(closed).toEqual(['slow-consumer']);
    expect(stalled.ended).toBe(true);
    for (const [i, sink] of others.entries()) {
      expect(sink.text.match(/^id: /gm)?.length).toBe(200);
      expect(fast[i]!.isClosed).toBe(false);
    }
    // The last frame queued for the stalled client names the reason.
    expect(stalled.last).toMatch(/event: close\ndata: \{"type":"close","reason":"slow-consumer","unsentBytes":\d+,"limitBytes":4096\}\n\n$/);
  });

  it('the close frame names the reason and follows what was queued', () => {
    const sink = new FakeSink();
    const client = new StreamClient(sink, (e) => e, { maxBufferedBytes: 1 << 20, schedule, onClose: () => undefined });
    client.deliver(agentState(7));
    client.close('shutdown');
    expect(sink.text).toMatch(/^id: 7\nevent: agent.state\ndata: \{.*\}\n\nevent: close\ndata: \{"type":"close","reason":"shutdown"\}\n\n$/s);
    client.deliver(agentState(8));
    flush();
    expect(sink.text).not.toContain('id: 8');
  });

  it('a replay larger than the limit is let through once; it is the live backlog that counts', () => {
    const sink = new FakeSink();
    sink.reading = false;
    const closed: string[] = [];
    const client = new StreamClient(sink, (e) => e, { maxBufferedBytes: 1000, schedule, onClose: (_c, r) => closed.push(r) });
    client.start(['x'.repeat(5000)]);
    client.deliver(agentState(1));
    flush();
    expect(closed).toEqual([]);
    for (let i = 2; i < 10; i++) {
      client.deliver(agentState(i));
      flush();
    }
    expect(closed).toEqual(['slow-consumer']);
  });

  it('a burst within one turn does not drop a client that reads', () => {
    const sink = new FakeSink();
    const closed: string[] = [];
    const client = new StreamClient(sink, (e) => e, { maxBufferedBytes: 1000, schedule, onClose: (_c, r) => closed.push(r) });
    for (let i = 1; i <= 40; i++) client.deliver(agentState(i));
    flush();
    expect(closed).toEqual([]);
    expect(sink.text.match(/^id: /gm)?.length).toBe(40);
  });
});

describe('tickets', () => {
  const principal = { userId: '1', tokenId: '2', username: 'wall', role: 'viewer' };
  it('are good once, within their time', () => {
    let now = 0;
    const store = new TicketStore(() => now, 30_000);
    const a = store.issue(principal);
    expect(a.ticket).toMatch(/^evt_/);
    expect(store.redeem(a.ticket)).toEqual(principal);
    expect(store.redeem(a.ticket)).toBeNull();
    const b = store.issue(principal);
    now = 30_000;
    expect(store.redeem(b.ticket)).toBeNull();
    expect(store.redeem('evt_made-up')).toBeNull();
  });
});
