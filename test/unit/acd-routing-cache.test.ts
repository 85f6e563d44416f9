/** The warm routing view: rows only ever replaced by newer versions, loads in any order. */
import { describe, expect, it } from 'vitest';
import { RoutingCache } from '../../src/acd/routing-cache.js';
import { snapshotAgentOf, type AgentView } from '../../src/acd/call-repository.js';

const t0 = new Date('2026-11-23T09:00:00Z');
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

  it('tells whether a notified version is news', () => {
    const cache = new RoutingCache();
    cache.takeAll([agent('1', 5)], []);
    expect(cache.isBehind('1', 5n)).toBe(false); // our own write, already held
    expect(cache.isBehind('1', 6n)).toBe(true);
    expect(cache.isBehind('9', 0n)).toBe(true); // an agent not held yet
  });
});
