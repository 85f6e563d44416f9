/**
 * Queue events (src/acd/queue-events.ts): which event each agent state change of a queue call
 * writes, with its times, driven through the real state machine; what the agent's row keeps
 * through wrap-up; the caller leaving the queue; hold time on a connected call.
 */
import { describe, expect, it } from 'vitest';
import { agentTransition, initialAgentState, type AgentEvent, type AgentState, type AgentStep } from '../../src/acd/agent-state.js';
import { agentCallFigures, agentQueueEvent, agentQueueEvents, leftQueueEventType, queueEventRow, type AgentBefore, type QueueCallFacts } from '../../src/acd/queue-events.js';
import { HoldTime } from '../../src/calls/hold-time.js';

const T0 = Date.parse('2026-12-08T09:00:00Z');
const CALL = 'c-1';
const QUEUE = '42';

/** One state machine step at `at`, with the event and the row figures it writes (as call-repository does). */
function step(held: { state: AgentState; talk: number | null; hold: number | null }, event: AgentEvent, at: number, facts: QueueCallFacts = {}) {
  const r: AgentStep = agentTransition(held.state, event, at);
  if (!r.ok) throw new Error(`refused ${event.type} in ${held.state.status}`);
  const before: AgentBefore = { state: held.state, callTalkMs: held.talk, callHoldMs: held.hold };
  const figures = agentCallFigures(before, r.record, facts);
  const ev = agentQueueEvent('7', before, r.record, facts);
  const next = { state: r.state, talk: figures ? figures.call_talk_ms : held.talk, hold: figures ? figures.call_hold_ms : held.hold };
  return { ev, next };
}

/** A ready agent, no call. */
const start = () => step({ state: initialAgentState, talk: null, hold: null }, { type: 'login' }, T0 - 60_000).next;

describe('agentQueueEvent: an answered call with wrap-up', () => {
  it('offer, answer (wait), nothing at hang-up, end when wrap-up is over (talk, hold, wrap-up)', () => {
    let a = start();
    const offered = step(a, { type: 'offer', callId: CALL, queueId: QUEUE }, T0 + 2_000);
    expect(offered.ev).toEqual({ type: 'offer', at: new Date(T0 + 2_000), queueId: QUEUE, callId: CALL, agentId: '7' });
    a = offered.next;
    const answered = step(a, { type: 'answer', callId: CALL }, T0 + 5_250, { enqueuedAt: T0 });
    expect(answered.ev).toMatchObject({ type: 'answer', waitMs: 5_250, agentId: '7', queueId: QUEUE, callId: CALL });
    a = answered.next;
    const hungUp = step(a, { type: 'call-ended', callId: CALL, wrapUpSeconds: 30 }, T0 + 65_250, { holdMs: 12_000 });
    expect(hungUp.ev).toBeNull();
    expect(hungUp.next).toMatchObject({ talk: 48_000, hold: 12_000 }); // 60 s connected, 12 of them on hold
    a = hungUp.next;
    const done = step(a, { type: 'wrap-up-done', callId: CALL }, T0 + 95_250);
    expect(done.ev).toEqual({
      type: 'end', at: new Date(T0 + 95_250), queueId: QUEUE, callId: CALL, agentId: '7',
      talkMs: 48_000, holdMs: 12_000, wrapUpMs: 30_000, details: { endedBy: 'wrap-up-done' },
    });
    expect(done.next).toMatchObject({ talk: null, hold: null, state: { status: 'ready' } });
  });

  it('wrap-up cut short by a supervisor: the real time spent in wrap-up', () => {
    let a = start();
    a = step(a, { type: 'offer', callId: CALL, queueId: QUEUE }, T0).next;
    a = step(a, { type: 'answer', callId: CALL }, T0 + 1_000, { enqueuedAt: T0 }).next;
    a = step(a, { type: 'call-ended', callId: CALL, wrapUpSeconds: 120 }, T0 + 11_000).next;
    const forced = step(a, { type: 'force', to: 'ready', by: 'sup' }, T0 + 18_500);
    expect(forced.ev).toMatchObject({ type: 'end', talkMs: 10_000, holdMs: 0, wrapUpMs: 7_500, details: { endedBy: 'supervisor' } });
  });

  it('a parked pause carried out after wrap-up still ends the call once', () => {
    let a = start();
    a = step(a, { type: 'offer', callId: CALL, queueId: QUEUE }, T0).next;
    a = step(a, { type: 'answer', callId: CALL }, T0 + 1_000).next;
    const parked = step(a, { type: 'pause', reason: { code: 1, name: 'break' } }, T0 + 2_000);
    expect(parked.ev).toBeNull();
    a = step(parked.next, { type: 'call-ended', callId: CALL, wrapUpSeconds: 5 }, T0 + 4_000).next;
    const done = step(a, { type: 'wrap-up-done' }, T0 + 9_000);
    expect(done.next.state.status).toBe('paused');
    expect(done.ev).toMatchObject({ type: 'end', talkMs: 3_000, wrapUpMs: 5_000 });
  });
});

describe('agentQueueEvent: other endings', () => {
  it('no wrap-up: end at the hang-up, wrap-up 0, hold from the call', () => {
    let a = start();
    a = step(a, { type: 'offer', callId: CALL, queueId: QUEUE }, T0).next;
    a = step(a, { type: 'answer', callId: CALL }, T0 + 1_000).next;
    const ended = step(a, { type: 'call-ended', callId: CALL, wrapUpSeconds: 0 }, T0 + 31_000, { holdMs: 4_000 });
    expect(ended.ev).toMatchObject({ type: 'end', talkMs: 26_000, holdMs: 4_000, wrapUpMs: 0, details: { endedBy: 'call-ended' } });
    expect(ended.next).toMatchObject({ talk: null, hold: null });
  });

  it('reject and ring-timeout are ring-no-answer with their cause; a caller gone while ringing is no event', () => {
    for (const cause of ['reject', 'ring-timeout'] as const) {
      const a = step(start(), { type: 'offer', callId: CALL, queueId: QUEUE }, T0).next;
      expect(step(a, { type: cause, callId: CALL, maxMissedOffers: 3 }, T0 + 15_000).ev).toEqual({
        type: 'ring-no-answer', at: new Date(T0 + 15_000), queueId: QUEUE, callId: CALL, agentId: '7', details: { cause },
      });
    }
    const a = step(start(), { type: 'offer', callId: CALL, queueId: QUEUE }, T0).next;
    expect(step(a, { type: 'call-ended', callId: CALL, wrapUpSeconds: 10 }, T0 + 3_000).ev).toBeNull();
    expect(step(a, { type: 'force', to: 'ready', by: 'sup' }, T0 + 3_000).ev).toBeNull();
  });

  it('an answer without the join time has no wait; agent-only changes and calls without a queue id write nothing', () => {
    const a = step(start(), { type: 'offer', callId: CALL, queueId: QUEUE }, T0).next;
    expect(step(a, { type: 'answer', callId: CALL }, T0 + 1_000).ev).toMatchObject({ type: 'answer', waitMs: null });
    expect(step(start(), { type: 'pause', reason: { code: 1, name: 'break' } }, T0).ev).toBeNull();
    expect(step(start(), { type: 'offer', callId: CALL, queueId: 'not-an-id' }, T0).ev).toBeNull();
  });
});

describe('agentQueueEvents: a transfer by the agent', () => {
  const onCall = () => {
    let a = start();
    a = step(a, { type: 'offer', callId: CALL, queueId: QUEUE }, T0).next;
    return step(a, { type: 'answer', callId: CALL }, T0 + 1_000).next;
  };
  const events = (a: ReturnType<typeof onCall>, wrapUpSeconds: number, facts: QueueCallFacts) => {
    const r = agentTransition(a.state, { type: 'call-ended', callId: CALL, wrapUpSeconds }, T0 + 21_000);
    if (!r.ok) throw new Error('refused');
    return agentQueueEvents('7', { state: a.state, callTalkMs: a.talk, callHoldMs: a.hold }, r.record, facts);
  };

  it('transfer (target) at the moment it happens; with no wrap-up the end comes with it', () => {
    expect(events(onCall(), 10, { transferTo: '1003', holdMs: 0 })).toEqual([
      { type: 'transfer', at: new Date(T0 + 21_000), queueId: QUEUE, callId: CALL, agentId: '7', details: { target: '1003', kind: 'blind' } },
    ]);
    const both = events(onCall(), 0, { transferTo: '1003' });
    expect(both.map((e) => e.type)).toEqual(['transfer', 'end']);
    expect(both[1]).toMatchObject({ talkMs: 20_000, wrapUpMs: 0, details: { endedBy: 'call-ended', transferred: true } });
  });

  it('no transfer: the one event of agentQueueEvent, or none', () => {
    expect(events(onCall(), 10, {})).toEqual([]);
    expect(events(onCall(), 0, {}).map((e) => e.type)).toEqual(['end']);
  });
});

describe('leftQueueEventType, queueEventRow', () => {
  it('maps each way of leaving the queue; answered is the agent\'s event', () => {
    expect(leftQueueEventType('abandoned')).toBe('abandon');
    expect(leftQueueEventType('overflow')).toBe('overflow');
    expect(leftQueueEventType('timeout')).toBe('timeout');
    expect(leftQueueEventType('callback')).toBe('callback-requested');
    expect(leftQueueEventType('answered')).toBeNull();
  });

  it('a row: details as JSON text, long caller numbers cut to the column', () => {
    const row = queueEventRow({ type: 'join', at: new Date(T0), queueId: QUEUE, callId: CALL, callerNumber: '1'.repeat(40), details: { priority: 5 } });
    expect(row).toMatchObject({ type: 'join', queue_id: QUEUE, call_id: CALL, agent_id: null, wait_ms: null, details: '{"priority":5}' });
    expect(row.caller_number).toHaveLength(32);
  });
});

describe('HoldTime', () => {
  it('counts from the first side holding until neither does; a hold still going counts until now', () => {
    const h = new HoldTime();
    h.set('caller', true, 1_000);
    h.set('agent', true, 2_000);
    h.set('caller', false, 3_000);
    expect(h.ms(3_500)).toBe(2_500);
    h.set('agent', false, 4_000);
    expect(h.ms(10_000)).toBe(3_000);
    h.set('agent', false, 11_000); // an unhold without a hold changes nothing
    h.set('agent', true, 20_000);
    expect(h.ms(21_000)).toBe(4_000);
  });
});
