import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  agentTransition, initialAgentState, MISSED_OFFERS_REASON,
  type AgentEvent, type AgentState, type AgentStatus, type AgentStep, type PauseReason,
} from '../../src/acd/agent-state.js';

const BREAK: PauseReason = { code: 1, name: 'break' };
const LUNCH: PauseReason = { code: 2, name: 'lunch' };
let clock = 1_000;

function step(state: AgentState, event: AgentEvent, at = (clock += 1_000)): Extract<AgentStep, { ok: true }> {
  const r = agentTransition(state, event, at);
  if (!r.ok) throw new Error(`refused ${event.type} in ${state.status}: ${r.code}`);
  return r;
}

function run(events: AgentEvent[], from: AgentState = initialAgentState): AgentState {
  return events.reduce((s, e) => step(s, e).state, from);
}

const offer: AgentEvent = { type: 'offer', callId: 'c1', queueId: 'sales' };
const ready = run([{ type: 'login' }]);
const paused = run([{ type: 'pause', reason: BREAK }], ready);
const reserved = run([offer], ready);
const onCall = run([{ type: 'answer', callId: 'c1' }], reserved);
const wrapUp = run([{ type: 'call-ended', callId: 'c1', wrapUpSeconds: 30 }], onCall);
const STATES: Record<AgentStatus, AgentState> = { 'logged-out': initialAgentState, ready, paused, reserved, 'on-call': onCall, 'wrap-up': wrapUp };

const EVENTS: Record<string, AgentEvent> = {
  login: { type: 'login' },
  logout: { type: 'logout' },
  pause: { type: 'pause', reason: LUNCH },
  unpause: { type: 'unpause' },
  offer: { type: 'offer', callId: 'c2', queueId: 'support' },
  answer: { type: 'answer', callId: 'c1' },
  reject: { type: 'reject', callId: 'c1', maxMissedOffers: 3 },
  'ring-timeout': { type: 'ring-timeout', callId: 'c1', maxMissedOffers: 3 },
  'call-ended': { type: 'call-ended', callId: 'c1', wrapUpSeconds: 30 },
  'wrap-up-done': { type: 'wrap-up-done' },
  'force ready': { type: 'force', to: 'ready', by: 'sup' },
  'force paused': { type: 'force', to: 'paused', reason: LUNCH, by: 'sup' },
  'force logged-out': { type: 'force', to: 'logged-out', by: 'sup' },
};

// Each status x event: the status after it, or null when refused ('invalid-transition').
const X = null;
const TABLE: Record<AgentStatus, Record<keyof typeof EVENTS, AgentStatus | null>> = {
  'logged-out': { login: 'ready', logout: X, pause: X, unpause: X, offer: X, answer: X, reject: X, 'ring-timeout': X, 'call-ended': X, 'wrap-up-done': X, 'force ready': 'ready', 'force paused': 'paused', 'force logged-out': X },
  ready: { login: X, logout: 'logged-out', pause: 'paused', unpause: X, offer: 'reserved', answer: X, reject: X, 'ring-timeout': X, 'call-ended': X, 'wrap-up-done': X, 'force ready': X, 'force paused': 'paused', 'force logged-out': 'logged-out' },
  paused: { login: X, logout: 'logged-out', pause: 'paused', unpause: 'ready', offer: X, answer: X, reject: X, 'ring-timeout': X, 'call-ended': X, 'wrap-up-done': X, 'force ready': 'ready', 'force paused': 'paused', 'force logged-out': 'logged-out' },
  reserved: { login: X, logout: 'reserved', pause: 'reserved', unpause: X, offer: X, answer: 'on-call', reject: 'ready', 'ring-timeout': 'ready', 'call-ended': 'ready', 'wrap-up-done': X, 'force ready': 'ready', 'force paused': 'paused', 'force logged-out': 'logged-out' },
  'on-call': { login: X, logout: 'on-call', pause: 'on-call', unpause: X, offer: X, answer: X, reject: X, 'ring-timeout': X, 'call-ended': 'wrap-up', 'wrap-up-done': X, 'force ready': X, 'force paused': 'on-call', 'force logged-out': 'on-call' },
  'wrap-up': { login: X, logout: 'wrap-up', pause: 'wrap-up', unpause: X, offer: X, answer: X, reject: X, 'ring-timeout': X, 'call-ended': X, 'wrap-up-done': 'ready', 'force ready': 'ready', 'force paused': 'paused', 'force logged-out': 'logged-out' },
};

const CASES = Object.entries(TABLE).flatMap(([from, row]) =>
  Object.entries(row).map(([event, to]) => [from as AgentStatus, event, to] as const),
);

describe('agent state: every status x event', () => {
  it.each(CASES)('%s + %s -> %s', (from, name, to) => {
    const state = STATES[from];
    const event = EVENTS[name]!;
    const r = agentTransition(state, event, 99_000);
    if (to === null) {
      expect(r).toEqual({ ok: false, code: 'invalid-transition', from, event: event.type });
    } else {
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.state.status).toBe(to);
      expect(r.record).toMatchObject({ from, to, at: 99_000, cause: { kind: event.type } });
      expect(invariantProblems(r.state)).toEqual([]);
    }
  });

  it('covers every status and every event kind', () => {
    expect(Object.keys(TABLE).sort()).toEqual(['logged-out', 'on-call', 'paused', 'ready', 'reserved', 'wrap-up']);
    expect(new Set(Object.values(EVENTS).map((e) => e.type)).size).toBe(11);
  });
});

describe('agent state: the day of an agent', () => {
  it('login, offer, answer, call end with wrap-up, wrap-up done; each step one record', () => {
    const a = step(initialAgentState, { type: 'login' }, 10);
    expect(a.state).toEqual({ status: 'ready', since: 10, pause: null, call: null, wrapUpUntil: null, missedOffers: 0, pending: null });
    const b = step(a.state, offer, 20);
    expect(b.state).toMatchObject({ status: 'reserved', since: 20, call: { callId: 'c1', queueId: 'sales' } });
    expect(b.record).toEqual({ from: 'ready', to: 'reserved', at: 20, cause: { kind: 'offer', callId: 'c1', queueId: 'sales' } });
    const c = step(b.state, { type: 'answer', callId: 'c1' }, 30);
    expect(c.record).toEqual({ from: 'reserved', to: 'on-call', at: 30, cause: { kind: 'answer', callId: 'c1', queueId: 'sales' } });
    const d = step(c.state, { type: 'call-ended', callId: 'c1', wrapUpSeconds: 45 }, 40_000);
    expect(d.state).toMatchObject({ status: 'wrap-up', call: { callId: 'c1' }, wrapUpUntil: 85_000 });
    expect(d.effects).toEqual([{ kind: 'start-wrap-up-timer', callId: 'c1', seconds: 45 }]);
    const e = step(d.state, { type: 'wrap-up-done', callId: 'c1' }, 85_000);
    expect(e.state).toEqual({ status: 'ready', since: 85_000, pause: null, call: null, wrapUpUntil: null, missedOffers: 0, pending: null });
    expect(e.record).toEqual({ from: 'wrap-up', to: 'ready', at: 85_000, cause: { kind: 'wrap-up-done', callId: 'c1', queueId: 'sales' } });
  });

  it('a call without wrap-up makes the agent ready at once', () => {
    const r = step(onCall, { type: 'call-ended', callId: 'c1', wrapUpSeconds: 0 });
    expect(r.state.status).toBe('ready');
    expect(r.effects).toEqual([]);
  });

  it('pause keeps its reason; pausing again changes the reason but not since', () => {
    const p = step(ready, { type: 'pause', reason: BREAK }, 500);
    expect(p.state).toMatchObject({ status: 'paused', pause: BREAK, since: 500 });
    expect(p.record.cause).toEqual({ kind: 'pause', reason: BREAK });
    const q = step(p.state, { type: 'pause', reason: LUNCH }, 900);
    expect(q.state).toMatchObject({ status: 'paused', pause: LUNCH, since: 500 });
    expect(q.record).toMatchObject({ from: 'paused', to: 'paused' });
    const u = step(q.state, { type: 'unpause' }, 1_000);
    expect(u.state).toMatchObject({ status: 'ready', pause: null, since: 1_000 });
  });

  it('the caller hanging up while the agent is rung is not a missed offer', () => {
    const r = step(reserved, { type: 'call-ended', callId: 'c1', wrapUpSeconds: 30 });
    expect(r.state).toMatchObject({ status: 'ready', missedOffers: 0, call: null });
    expect(r.effects).toEqual([{ kind: 'withdraw-offer', callId: 'c1', queueId: 'sales', requeue: false }]);
  });
});

describe('agent state: pending pause and logout', () => {
  it('pause while on a call is applied after wrap-up, with its reason', () => {
    const parked = step(onCall, { type: 'pause', reason: LUNCH });
    expect(parked.state).toMatchObject({ status: 'on-call', pending: { kind: 'pause', reason: LUNCH } });
    expect(parked.record).toMatchObject({ from: 'on-call', to: 'on-call', cause: { kind: 'pause', deferred: 'pause', callId: 'c1' } });
    const wrap = step(parked.state, { type: 'call-ended', callId: 'c1', wrapUpSeconds: 20 });
    expect(wrap.state).toMatchObject({ status: 'wrap-up', pending: { kind: 'pause' } });
    const done = step(wrap.state, { type: 'wrap-up-done' });
    expect(done.state).toMatchObject({ status: 'paused', pause: LUNCH, pending: null });
    expect(done.record.cause).toMatchObject({ kind: 'wrap-up-done', applied: 'pause', reason: LUNCH });
  });

  it('pause while in wrap-up or while rung is parked too', () => {
    const w = step(wrapUp, { type: 'pause', reason: BREAK });
    expect(w.state).toMatchObject({ status: 'wrap-up', pending: { kind: 'pause', reason: BREAK } });
    expect(step(w.state, { type: 'wrap-up-done' }).state).toMatchObject({ status: 'paused', pause: BREAK });
    const r = step(reserved, { type: 'pause', reason: BREAK });
    const answered = step(r.state, { type: 'answer', callId: 'c1' });
    expect(answered.state).toMatchObject({ status: 'on-call', pending: { kind: 'pause' } });
    expect(step(answered.state, { type: 'call-ended', callId: 'c1', wrapUpSeconds: 0 }).state).toMatchObject({ status: 'paused', pause: BREAK });
  });

  it('logout while on a call logs out after the call (with or without wrap-up)', () => {
    const parked = step(onCall, { type: 'logout' });
    expect(parked.state).toMatchObject({ status: 'on-call', pending: { kind: 'logout' } });
    const ended = step(parked.state, { type: 'call-ended', callId: 'c1', wrapUpSeconds: 0 });
    expect(ended.state).toMatchObject({ status: 'logged-out', pending: null, call: null });
    expect(ended.record).toMatchObject({ from: 'on-call', to: 'logged-out', cause: { kind: 'call-ended', applied: 'logout' } });
    const viaWrap = run([{ type: 'logout' }, { type: 'call-ended', callId: 'c1', wrapUpSeconds: 10 }, { type: 'wrap-up-done' }], onCall);
    expect(viaWrap.status).toBe('logged-out');
  });

  it('the latest request wins; unpause takes a parked pause back', () => {
    const s1 = run([{ type: 'pause', reason: BREAK }, { type: 'logout' }], onCall);
    expect(s1.pending).toEqual({ kind: 'logout' });
    const s2 = run([{ type: 'pause', reason: LUNCH }], s1);
    expect(s2.pending).toEqual({ kind: 'pause', reason: LUNCH });
    const back = step(s2, { type: 'unpause' });
    expect(back.state.pending).toBeNull();
    expect(back.record).toMatchObject({ from: 'on-call', to: 'on-call', cause: { kind: 'unpause', cancelled: 'pause' } });
    expect(run([{ type: 'call-ended', callId: 'c1', wrapUpSeconds: 0 }], back.state).status).toBe('ready');
    // A parked logout is not taken back by unpause.
    expect(agentTransition(s1, { type: 'unpause' }, 1)).toMatchObject({ ok: false, code: 'invalid-transition' });
  });

  it('a parked request is carried out when the offer is missed', () => {
    const s = run([{ type: 'pause', reason: BREAK }], reserved);
    const r = step(s, { type: 'ring-timeout', callId: 'c1', maxMissedOffers: 1 });
    expect(r.state).toMatchObject({ status: 'paused', pause: BREAK, missedOffers: 1 });
    expect(r.record.cause).toMatchObject({ kind: 'ring-timeout', applied: 'pause', missedOffers: 1 });
    const out = run([{ type: 'logout' }, { type: 'reject', callId: 'c1', maxMissedOffers: 3 }], reserved);
    expect(out.status).toBe('logged-out');
  });
});

describe('agent state: missed offers', () => {
  const missOnce = (s: AgentState, type: 'reject' | 'ring-timeout', max: number, callId = 'cx') =>
    step(step(s, { type: 'offer', callId, queueId: 'sales' }).state, { type, callId, maxMissedOffers: max });

  it('counts misses in a row and pauses with the reserved reason at the queue limit', () => {
    const one = missOnce(ready, 'ring-timeout', 3);
    expect(one.state).toMatchObject({ status: 'ready', missedOffers: 1 });
    expect(one.effects).toEqual([{ kind: 'withdraw-offer', callId: 'cx', queueId: 'sales', requeue: true }]);
    expect(one.record.cause).toEqual({ kind: 'ring-timeout', callId: 'cx', queueId: 'sales', missedOffers: 1 });
    const two = missOnce(one.state, 'reject', 3);
    expect(two.state).toMatchObject({ status: 'ready', missedOffers: 2 });
    const three = missOnce(two.state, 'ring-timeout', 3);
    expect(three.state).toMatchObject({ status: 'paused', pause: MISSED_OFFERS_REASON, missedOffers: 3 });
    expect(MISSED_OFFERS_REASON).toEqual({ code: 0, name: 'missed' });
    expect(three.record).toMatchObject({ from: 'reserved', to: 'paused', cause: { kind: 'ring-timeout', missedOffers: 3, reason: MISSED_OFFERS_REASON } });
    expect(step(three.state, { type: 'unpause' }).state).toMatchObject({ status: 'ready', missedOffers: 0 });
  });

  it('answering starts the count over; a limit of 0 never pauses', () => {
    let s = missOnce(missOnce(ready, 'reject', 3).state, 'reject', 3).state;
    s = run([{ type: 'offer', callId: 'c9', queueId: 'q' }, { type: 'answer', callId: 'c9' }], s);
    expect(s.missedOffers).toBe(0);
    let t = ready;
    for (let i = 0; i < 10; i++) t = missOnce(t, 'ring-timeout', 0).state;
    expect(t).toMatchObject({ status: 'ready', missedOffers: 10 });
    // The limit is per queue: it comes with each miss.
    expect(missOnce(t, 'reject', 11).state.status).toBe('paused');
  });
});

describe('agent state: supervisor force', () => {
  it('takes back a ringing offer (requeued), not counted as a miss', () => {
    const r = step(reserved, { type: 'force', to: 'paused', reason: LUNCH, by: 'sup-1' });
    expect(r.state).toMatchObject({ status: 'paused', pause: LUNCH, missedOffers: 0, call: null });
    expect(r.effects).toEqual([{ kind: 'withdraw-offer', callId: 'c1', queueId: 'sales', requeue: true }]);
    expect(r.record).toMatchObject({ from: 'reserved', to: 'paused', cause: { kind: 'force', by: 'sup-1', callId: 'c1', reason: LUNCH } });
  });

  it('cuts wrap-up short; logs an agent in (ready or paused) and out', () => {
    const r = step(wrapUp, { type: 'force', to: 'ready', by: 'sup' });
    expect(r.state.status).toBe('ready');
    expect(r.effects).toEqual([{ kind: 'cancel-wrap-up-timer', callId: 'c1' }]);
    expect(step(initialAgentState, { type: 'force', to: 'paused', reason: BREAK, by: 'sup' }).state).toMatchObject({ status: 'paused', pause: BREAK });
    expect(step(paused, { type: 'force', to: 'logged-out', by: 'sup' }).state.status).toBe('logged-out');
  });

  it('never cuts a call: a forced pause or logout is parked; force ready takes it back', () => {
    const p = step(onCall, { type: 'force', to: 'logged-out', by: 'sup' });
    expect(p.state).toMatchObject({ status: 'on-call', pending: { kind: 'logout' } });
    expect(p.record.cause).toMatchObject({ kind: 'force', by: 'sup', deferred: 'logout' });
    const back = step(p.state, { type: 'force', to: 'ready', by: 'sup' });
    expect(back.state.pending).toBeNull();
    expect(back.record.cause).toMatchObject({ kind: 'force', cancelled: 'logout' });
  });
});

describe('agent state: refusals', () => {
  it('a stale or foreign call id is refused with call-mismatch', () => {
    expect(agentTransition(reserved, { type: 'answer', callId: 'other' }, 1)).toEqual({ ok: false, code: 'call-mismatch', from: 'reserved', event: 'answer' });
    expect(agentTransition(reserved, { type: 'ring-timeout', callId: 'other', maxMissedOffers: 1 }, 1)).toMatchObject({ code: 'call-mismatch' });
    expect(agentTransition(onCall, { type: 'call-ended', callId: 'other', wrapUpSeconds: 0 }, 1)).toMatchObject({ code: 'call-mismatch' });
    expect(agentTransition(wrapUp, { type: 'wrap-up-done', callId: 'other' }, 1)).toMatchObject({ code: 'call-mismatch' });
  });

  it.each([
    [{ code: 0, name: 'missed' }],
    [{ code: -1, name: 'x' }],
    [{ code: 1.5, name: 'x' }],
    [{ code: 3, name: '  ' }],
  ])('pause reason %j is refused with invalid-reason (reason code 0 is reserved)', (reason) => {
    expect(agentTransition(ready, { type: 'pause', reason }, 1)).toMatchObject({ ok: false, code: 'invalid-reason' });
    expect(agentTransition(ready, { type: 'force', to: 'paused', reason, by: 's' }, 1)).toMatchObject({ ok: false, code: 'invalid-reason' });
  });

  it('unknown events are refused with invalid-event, never thrown', () => {
    expect(agentTransition(ready, { type: 'dance' } as unknown as AgentEvent, 1)).toEqual({ ok: false, code: 'invalid-event', from: 'ready', event: 'dance' });
    expect(agentTransition(ready, { type: 'force', to: 'on-call', by: 's' } as unknown as AgentEvent, 1)).toMatchObject({ ok: false, code: 'invalid-event' });
  });
});

/** What must hold in every state the machine can reach. */
function invariantProblems(s: AgentState): string[] {
  const problems: string[] = [];
  const busy = s.status === 'reserved' || s.status === 'on-call' || s.status === 'wrap-up';
  if (busy !== (s.call !== null)) problems.push('call iff reserved/on-call/wrap-up');
  if ((s.status === 'paused') !== (s.pause !== null)) problems.push('pause reason iff paused');
  if (!busy && s.pending !== null) problems.push('pending only while busy');
  if ((s.status === 'wrap-up') !== (s.wrapUpUntil !== null)) problems.push('wrapUpUntil iff wrap-up');
  if (s.missedOffers < 0) problems.push('missedOffers >= 0');
  return problems;
}

describe('agent state: properties', () => {
  const callId = fc.constantFrom('c1', 'c2');
  const reason = fc.constantFrom(BREAK, LUNCH, { code: 0, name: 'missed' });
  const event: fc.Arbitrary<AgentEvent> = fc.oneof(
    fc.constant<AgentEvent>({ type: 'login' }),
    fc.constant<AgentEvent>({ type: 'logout' }),
    reason.map((r): AgentEvent => ({ type: 'pause', reason: r })),
    fc.constant<AgentEvent>({ type: 'unpause' }),
    callId.map((c): AgentEvent => ({ type: 'offer', callId: c, queueId: 'q' })),
    callId.map((c): AgentEvent => ({ type: 'answer', callId: c })),
    fc.tuple(fc.constantFrom('reject', 'ring-timeout' as const), callId, fc.integer({ min: 0, max: 3 })).map(
      ([type, c, max]): AgentEvent => ({ type, callId: c, maxMissedOffers: max }),
    ),
    fc.tuple(callId, fc.constantFrom(0, 10)).map(([c, w]): AgentEvent => ({ type: 'call-ended', callId: c, wrapUpSeconds: w })),
    fc.option(callId, { nil: undefined }).map((c): AgentEvent => (c === undefined ? { type: 'wrap-up-done' } : { type: 'wrap-up-done', callId: c })),
    fc.tuple(fc.constantFrom('ready', 'logged-out' as const), reason).map(([to]): AgentEvent => ({ type: 'force', to, by: 'sup' })),
    reason.map((r): AgentEvent => ({ type: 'force', to: 'paused', reason: r, by: 'sup' })),
  );

  it('any sequence: never throws, invariants hold, records chain, refusals change nothing', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 60 }), (events) => {
        let s = initialAgentState;
        let at = 0;
        for (const e of events) {
          const before = JSON.stringify(s);
          const r = agentTransition(s, e, (at += 100));
          expect(JSON.stringify(s)).toBe(before);
          if (!r.ok) continue;
          expect(r.record.from).toBe(s.status);
          expect(r.record.to).toBe(r.state.status);
          expect(r.record.at).toBe(at);
          expect(invariantProblems(r.state)).toEqual([]);
          // A parked request is only dropped by carrying it out, taking it back, or a force.
          if (s.pending && !r.state.pending) {
            const c = r.record.cause;
            expect(c.applied !== undefined || c.cancelled !== undefined || c.kind === 'force').toBe(true);
          }
          // Pausing by hand never uses the reserved code; only missed offers do.
          if (r.state.pause?.code === 0) expect(['reject', 'ring-timeout']).toContain(r.record.cause.kind);
          s = r.state;
        }
      }),
    );
  });
});
