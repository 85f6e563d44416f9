/** The warm routing view: rows only ever replaced by newer versions, loads in any order; rows taken ahead of Postgres kept until settled. */
import { describe, expect, it } from 'vitest';
import { RoutingCache } from '../../src/acd/routing-cache.js';
import { agentEventInMemory, snapshotAgentOf, type AgentView } from '../../src/acd/call-repository.js';
import { acdWriteKey } from '../../src/acd/store.js';

const t0 = new Date('2026-11-23T09:00:00Z');
const at0 = t0.getTime();
const row = (id: string, version: number, o: Partial<AgentView> = {}): AgentView => ({
  id, number: `20${id}`, name: `Agent ${id}`, pin_hash: 'x', pin_failures: 0, locked_until: null, state: 'ready', pause_code: null,
  state_since: t0, extension: '1001', call_id: null, queue_id: null, wrap_up_until: null, missed_offers: 0, idle_since: t0,
  last_offered_at: null, pending: null, pending_pause_code: null, call_talk_ms: null, call_hold_ms: null, auto_answer: false, created_at: t0, updated_at: t0, version: String(version),
  pause_name: null, pending_pause_name: null, ...o,
});
const figures = (calls = 0, queueId = 'q1') => ({ memberships: [{ queueId, penalty: 0 }], skills: {}, callsHandled: calls, talkSeconds: 0 });
const agent = (id: string, version: number, o: Partial<AgentView> = {}, calls = 0) => snapshotAgentOf(row(id, version, o), figures(calls));

describe('RoutingCache', () => {
  it('knows nothing until a full load', () => {
    const cache = new RoutingCache();
    expect(cache.loaded).toBe(false);
    expect(cache.agents()).toEqual([]);
    cache.takeAll([agent('1', 0)], []);
    expect(cache.loaded).toBe(true);
    expect(cache.agents().map((a) => [a.id, a.machine.status])).toEqual([['1', 'ready']]);
  });

  it('a row written here replaces the held one; an older one does not', () => {
    const cache = new RoutingCache();
    cache.takeAll([agent('1', 3, {}, 7)], []);
    cache.takeRow(row('1', 4, { state: 'reserved', call_id: 'c1', queue_id: 'q1' }));
    expect(cache.agent('1')).toMatchObject({ state: 'reserved', callId: 'c1', callsHandled: 7, agentState: { status: 'reserved' } });
    cache.takeRow(row('1', 2, { state: 'paused' }));
    expect(cache.agent('1')?.state).toBe('reserved');
    expect(cache.agents()[0]!.machine.status).toBe('reserved');
  });

  it('a slow full load does not take back a newer row, but its figures and memberships are taken', () => {
    const cache = new RoutingCache();
    cache.takeAll([agent('1', 1), agent('2', 1)], []);
    cache.takeRow(row('1', 2, { state: 'reserved', call_id: 'c1' }));
    // A load that read agent 1 before that write, agent 2 after a change elsewhere, and new figures.
    cache.takeAll([snapshotAgentOf(row('1', 1), figures(5, 'q2')), agent('2', 6, { state: 'paused', pause_code: 1, pause_name: 'break' })], []);
    expect(cache.agent('1')).toMatchObject({ state: 'reserved', callsHandled: 5, memberships: [{ queueId: 'q2', penalty: 0 }] });
    expect(cache.agent('2')).toMatchObject({ state: 'paused', agentState: { pause: { code: 1, name: 'break' } } });
  });

  it('agents missing from a load were deleted; new ones appear', () => {
    const cache = new RoutingCache();
    cache.takeAll([agent('1', 1), agent('2', 1)], []);
    cache.takeAgents(['2', '3'], [agent('3', 0)]);
    expect(cache.agents().map((a) => a.id).sort()).toEqual(['1', '3']);
    cache.takeAll([agent('3', 0)], []);
    expect(cache.agents().map((a) => a.id)).toEqual(['3']);
  });

  it('today\'s figures grow by a call written here; a later load replaces them', () => {
    const cache = new RoutingCache();
    cache.takeAll([agent('1', 3, {}, 7)], []);
    const before = cache.agents();
    cache.addToday('1', { calls: 1 });
    cache.addToday('1', { talkSeconds: 42 });
    cache.addToday('9', { calls: 1 }); // not held: nothing
    expect(cache.agent('1')).toMatchObject({ callsHandled: 8, talkSeconds: 42, row: { version: '3' } });
    expect(cache.agents()).not.toBe(before);
    expect(cache.agents().map((a) => [a.id, a.callsHandled, a.talkSeconds])).toEqual([['1', 8, 42]]);
    cache.takeAll([agent('1', 3, {}, 9)], []);
    expect(cache.agent('1')).toMatchObject({ callsHandled: 9, talkSeconds: 0 });
  });

  it('tells whether a notified version is news', () => {
    const cache = new RoutingCache();
    cache.takeAll([agent('1', 5)], []);
    expect(cache.isBehind('1', 5n)).toBe(false); // our own write, already held
    expect(cache.isBehind('1', 6n)).toBe(true);
    expect(cache.isBehind('9', 0n)).toBe(true); // an agent not held yet
  });

  it('a row taken ahead (Postgres unreachable) is kept over loads and written rows until settled', () => {
    const cache = new RoutingCache();
    cache.takeAll([agent('1', 3, { state: 'on-call', call_id: 'c1', queue_id: 'q1' })], []);
    cache.takeAhead(row('1', 3, { state: 'wrap-up', call_id: 'c1', queue_id: 'q1' }));
    // The events are being written: intermediate rows and loads (newer versions) do not take it back.
    cache.takeRow(row('1', 4, { state: 'on-call', call_id: 'c1', queue_id: 'q1' }));
    cache.takeAll([snapshotAgentOf(row('1', 4, { state: 'on-call', call_id: 'c1' }), figures(2))], []);
    cache.takeAgents(['1'], [agent('1', 5, { state: 'on-call', call_id: 'c1' })]);
    expect(cache.agent('1')).toMatchObject({ state: 'wrap-up', callsHandled: 0 });
    expect(cache.agents()[0]!.machine.status).toBe('wrap-up');
    // Written: the stored row counts again.
    cache.settle('1');
    cache.takeRow(row('1', 5, { state: 'wrap-up', call_id: 'c1', queue_id: 'q1' }));
    expect(cache.agent('1')).toMatchObject({ state: 'wrap-up', row: { version: '5' } });
  });
});

describe('agentEventInMemory (an event over the row held, written nowhere)', () => {
  const at = Date.parse('2026-11-23T09:05:00Z');
  it('gives the step and the row as it will be once written, its version unchanged', () => {
    const reserved = row('1', 7, { state: 'reserved', call_id: 'c1', queue_id: '42', state_since: new Date(at - 10_000) });
    const answered = agentEventInMemory(reserved, { type: 'answer', callId: 'c1' }, { at });
    expect(answered.ok).toBe(true);
    expect(answered.agent).toMatchObject({ state: 'on-call', call_id: 'c1', queue_id: '42', state_since: new Date(at), version: '7', updated_at: new Date(at) });
    expect(answered.step).toMatchObject({ ok: true, record: { from: 'reserved', to: 'on-call', at } });
    const ended = agentEventInMemory(answered.agent, { type: 'call-ended', callId: 'c1', wrapUpSeconds: 5 }, { at: at + 60_000, queueCall: { holdMs: 10_000 } });
    expect(ended.agent).toMatchObject({ state: 'wrap-up', call_talk_ms: 50_000, call_hold_ms: 10_000, wrap_up_until: new Date(at + 65_000) });
    expect(ended.step.ok && ended.step.effects).toEqual([{ kind: 'start-wrap-up-timer', callId: 'c1', seconds: 5 }]);
  });

  it('a refused event: the refusal, the row as it was', () => {
    const ready = row('1', 7);
    const r = agentEventInMemory(ready, { type: 'answer', callId: 'c1' }, { at });
    expect(r).toEqual({ ok: false, agent: ready, step: { ok: false, code: 'invalid-transition', from: 'ready', event: 'answer' } });
  });
});

describe('acdWriteKey (order kept per agent and per call)', () => {
  it('an agent\'s events share a key; a call\'s writes and its callback\'s share another', () => {
    const call = { callId: 'c1', queueId: '42', channelId: '', callerNumber: '100', callerName: null, priority: 0, requiredSkills: null, enqueuedAt: at0 };
    expect(acdWriteKey({ kind: 'agent-event', agentId: '7', event: { type: 'wrap-up-done' }, options: { at: at0 } })).toBe('agent:7');
    expect(acdWriteKey({ kind: 'call-joined', call })).toBe('call:c1');
    expect(acdWriteKey({ kind: 'talk-ended', callId: 'c1-cb', agentId: '7', at: new Date(at0) })).toBe('call:c1');
    expect(acdWriteKey({
      kind: 'callback-saved',
      callback: { id: 'c1-cb', queueId: '42', callerCallId: 'c1', callerNumber: '100', enqueuedAt: new Date(at0), state: 'waiting', attempts: 0, result: null },
    })).toBe('call:c1');
  });
});
