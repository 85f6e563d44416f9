import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  initialRouterState, routeCalls, STRATEGIES, wideningDrop,
  type QueueConfig, type RoutableAgent, type RouterState, type RoutingDecision, type RoutingInput, type SkillRequirement,
  type Strategy, type WideningStep,
} from '../../src/acd/router.js';
import { waitingCalls, type WaitingCall } from '../../src/acd/waiting-calls.js';
import type { AgentStatus } from '../../src/acd/agent-state.js';
import { naiveRouteCalls, type FlatRoutingInput } from '../../bench/support/naive-router.js';
import { mulberry32 as seeded } from '../../bench/support/acd-site.js';

const NOW = 1_700_000_000_000;
const S = 1_000;

const agent = (id: string, over: Partial<RoutableAgent> = {}): RoutableAgent => ({
  id, state: 'ready', memberships: [{ queueId: 'q1', penalty: 0 }], skills: {}, idleSince: NOW - 60 * S,
  callsHandled: 0, talkSeconds: 0, lastOfferedAt: null, ...over,
});
const queue = (id: string, strategy: Strategy = 'longest-idle', over: Partial<QueueConfig> = {}): QueueConfig => ({
  id, strategy, requiredSkills: [], ...over,
});
const call = (id: string, over: Partial<WaitingCall> = {}): WaitingCall => ({
  id, queueId: 'q1', priority: 0, enqueuedAt: NOW - 10 * S, ...over,
});
const noRng = () => {
  throw new Error('rng not expected');
};

/** routeCalls over a plain list of calls (indexed first). */
function flat(input: FlatRoutingInput, state?: RouterState): RoutingDecision {
  const { calls, ...rest } = input;
  return routeCalls({ ...rest, waiting: waitingCalls(calls) }, state);
}
function route(parts: Partial<FlatRoutingInput>, state?: RouterState): RoutingDecision {
  return flat({ queues: [queue('q1')], calls: [], agents: [], now: NOW, rng: noRng, ...parts }, state);
}
const pairs = (d: RoutingDecision) => d.assignments.map((a) => `${a.callId}->${a.agentIds.join('+')}`);

describe('routing: strategies', () => {
  it('longest-idle offers the agent idle the longest', () => {
    const d = route({
      calls: [call('c1')],
      agents: [agent('a1', { idleSince: NOW - 5 * S }), agent('a2', { idleSince: NOW - 50 * S }), agent('a3', { idleSince: NOW - 20 * S })],
    });
    expect(d.assignments).toEqual([{ callId: 'c1', queueId: 'q1', agentIds: ['a2'] }]);
    expect(d.state).toBe(initialRouterState);
  });

  it('fewest-calls, then longest idle', () => {
    const agents = [
      agent('a1', { callsHandled: 7, idleSince: NOW - 90 * S }),
      agent('a2', { callsHandled: 3, idleSince: NOW - 10 * S }),
      agent('a3', { callsHandled: 3, idleSince: NOW - 30 * S }),
    ];
    expect(pairs(route({ queues: [queue('q1', 'fewest-calls')], calls: [call('c1'), call('c2', { enqueuedAt: NOW - 5 * S })], agents })))
      .toEqual(['c1->a3', 'c2->a2']);
  });

  it('least-talk-time, then longest idle', () => {
    const agents = [
      agent('a1', { talkSeconds: 3_600, idleSince: NOW - 90 * S }),
      agent('a2', { talkSeconds: 600, idleSince: NOW - 10 * S }),
      agent('a3', { talkSeconds: 1_200, idleSince: NOW - 30 * S }),
    ];
    expect(pairs(route({ queues: [queue('q1', 'least-talk-time')], calls: [call('c1')], agents }))).toEqual(['c1->a2']);
  });

  it('skills picks the highest summed proficiency over the required skills, tie -> longest idle', () => {
    const required: SkillRequirement[] = [{ skill: 'es', minLevel: 2 }, { skill: 'billing', minLevel: 1 }];
    const agents = [
      agent('a1', { skills: { es: 5, billing: 1 }, idleSince: NOW - 10 * S }), // 6
      agent('a2', { skills: { es: 3, billing: 4, fr: 5 }, idleSince: NOW - 20 * S }), // 7 (fr does not count)
      agent('a3', { skills: { es: 4, billing: 3 }, idleSince: NOW - 30 * S }), // 7, idle longer
      agent('a4', { skills: { es: 5 }, idleSince: NOW - 99 * S }), // lacks billing
    ];
    const d = route({ queues: [queue('q1', 'skills', { requiredSkills: required })], calls: [call('c1'), call('c2', { enqueuedAt: NOW - 1 * S })], agents });
    expect(pairs(d)).toEqual(['c1->a3', 'c2->a2']);
  });

  it('round-robin walks the agents by id from the cursor, wrapping, and returns the new cursor', () => {
    const agents = [agent('a3'), agent('a1'), agent('a2')];
    const q = [queue('q1', 'round-robin')];
    const d1 = route({ queues: q, calls: [call('c1')], agents });
    expect(pairs(d1)).toEqual(['c1->a1']);
    expect(d1.state.cursors).toEqual({ q1: 'a1' });
    const d2 = route({ queues: q, calls: [call('c2')], agents }, d1.state);
    expect(pairs(d2)).toEqual(['c2->a2']);
    const d3 = route({ queues: q, calls: [call('c3'), call('c4', { enqueuedAt: NOW })], agents }, d2.state);
    expect(pairs(d3)).toEqual(['c3->a3', 'c4->a1']);
    expect(d3.state.cursors).toEqual({ q1: 'a1' });
    // The cursor skips agents that are not ready, and other queues' cursors are kept.
    const d4 = route({ queues: q, calls: [call('c5')], agents: [agent('a1'), agent('a2', { state: 'on-call' }), agent('a3')] }, { cursors: { q1: 'a1', other: 'x' } });
    expect(pairs(d4)).toEqual(['c5->a3']);
    expect(d4.state.cursors).toEqual({ q1: 'a3', other: 'x' });
  });

  it('random draws from the injected rng, uniformly over the candidates', () => {
    const agents = [agent('a1', { idleSince: NOW - 30 * S }), agent('a2', { idleSince: NOW - 20 * S }), agent('a3', { idleSince: NOW - 10 * S })];
    const q = [queue('q1', 'random')];
    expect(pairs(route({ queues: q, calls: [call('c1')], agents, rng: () => 0 }))).toEqual(['c1->a1']);
    expect(pairs(route({ queues: q, calls: [call('c1')], agents, rng: () => 0.5 }))).toEqual(['c1->a2']);
    expect(pairs(route({ queues: q, calls: [call('c1')], agents, rng: () => 0.999 }))).toEqual(['c1->a3']);
    const draws: number[] = [];
    const rng = () => (draws.push(0), 0);
    route({ queues: q, calls: [call('c1'), call('c2')], agents, rng });
    expect(draws).toHaveLength(2);
  });

  it('ring-all rings every eligible agent of the lowest penalty; they get no other call', () => {
    const agents = [
      agent('a1', { idleSince: NOW - 10 * S }),
      agent('a2', { idleSince: NOW - 20 * S }),
      agent('a3', { memberships: [{ queueId: 'q1', penalty: 1 }] }),
      agent('a4', { state: 'paused' }),
      agent('a5', { memberships: [{ queueId: 'q1', penalty: 0 }, { queueId: 'q2', penalty: 0 }] }),
    ];
    const d = route({
      queues: [queue('q1', 'ring-all'), queue('q2')],
      calls: [call('c1'), call('c2', { enqueuedAt: NOW }), call('c3', { queueId: 'q2', enqueuedAt: NOW })],
      agents,
    });
    expect(d.assignments).toEqual([
      { callId: 'c1', queueId: 'q1', agentIds: ['a5', 'a2', 'a1'] },
      { callId: 'c2', queueId: 'q1', agentIds: ['a3'] },
    ]);
  });
});

describe('routing: order and eligibility', () => {
  it('higher priority first, then longest waiting, across queues', () => {
    const agents = [agent('a1', { memberships: [{ queueId: 'q1', penalty: 0 }, { queueId: 'q2', penalty: 0 }] })];
    const queues = [queue('q1'), queue('q2')];
    const calls = [call('old'), call('vip', { queueId: 'q2', priority: 5, enqueuedAt: NOW - 1 * S }), call('older', { enqueuedAt: NOW - 99 * S })];
    expect(pairs(route({ queues, calls, agents }))).toEqual(['vip->a1']);
    expect(pairs(route({ queues, calls: calls.filter((c) => c.id !== 'vip'), agents }))).toEqual(['older->a1']);
    // Same priority and time: call id.
    expect(pairs(route({ queues, calls: [call('x', { enqueuedAt: NOW }), call('y', { queueId: 'q2', enqueuedAt: NOW })], agents }))).toEqual(['x->a1']);
  });

  it('lower penalty first; a higher penalty only when no lower one is free and eligible', () => {
    const agents = [
      agent('p2', { memberships: [{ queueId: 'q1', penalty: 2 }], idleSince: NOW - 99 * S }),
      agent('p0', { memberships: [{ queueId: 'q1', penalty: 0 }], idleSince: NOW - 1 * S }),
      agent('p1', { memberships: [{ queueId: 'q1', penalty: 1 }], idleSince: NOW - 50 * S }),
    ];
    const calls = [call('c1', { enqueuedAt: NOW - 3 * S }), call('c2', { enqueuedAt: NOW - 2 * S }), call('c3', { enqueuedAt: NOW - 1 * S }), call('c4', { enqueuedAt: NOW })];
    expect(pairs(route({ calls, agents }))).toEqual(['c1->p0', 'c2->p1', 'c3->p2']);
    const notReady = agents.map((a) => (a.id === 'p0' ? { ...a, state: 'wrap-up' as AgentStatus } : a));
    expect(pairs(route({ calls, agents: notReady }))).toEqual(['c1->p1', 'c2->p2']);
  });

  it('penalties are per queue', () => {
    const a = agent('a', { memberships: [{ queueId: 'q1', penalty: 5 }, { queueId: 'q2', penalty: 0 }] });
    const b = agent('b', { memberships: [{ queueId: 'q1', penalty: 0 }, { queueId: 'q2', penalty: 5 }], idleSince: NOW });
    const d = route({ queues: [queue('q1'), queue('q2')], calls: [call('c1'), call('c2', { queueId: 'q2' })], agents: [a, b] });
    expect(pairs(d)).toEqual(['c1->b', 'c2->a']);
  });

  it('only ready members: no agent in any other status, none outside the queue', () => {
    const statuses: AgentStatus[] = ['logged-out', 'reserved', 'on-call', 'wrap-up', 'paused'];
    const agents = [...statuses.map((state) => agent(state, { state })), agent('other', { memberships: [{ queueId: 'q2', penalty: 0 }] })];
    expect(route({ queues: [queue('q1'), queue('q2')], calls: [call('c1')], agents }).assignments).toEqual([]);
  });

  it('never offers an agent two calls, and leaves calls waiting when agents run out', () => {
    const d = route({ calls: [call('c1'), call('c2'), call('c3')], agents: [agent('a1'), agent('a2')] });
    expect(pairs(d)).toEqual(['c1->a1', 'c2->a2']);
  });

  it('a call for a queue nobody serves, or an unknown queue, waits; others are still served', () => {
    const d = route({ queues: [queue('q1'), queue('empty')], calls: [call('x', { queueId: 'empty', priority: 9 }), call('y', { queueId: 'nope', priority: 9 }), call('c1')], agents: [agent('a1')] });
    expect(pairs(d)).toEqual(['c1->a1']);
  });

  it('required skills: the minimum level, widened with the waiting time', () => {
    const widening: WideningStep[] = [{ afterSeconds: 30, lowerBy: 1 }, { afterSeconds: 60, lowerBy: 'any' }];
    const queues = [queue('q1', 'longest-idle', { requiredSkills: [{ skill: 'es', minLevel: 4 }], widening })];
    const agents = [agent('es1', { skills: { es: 1 } }), agent('es3', { skills: { es: 3 } }), agent('none', { skills: { fr: 5 } })];
    const waited = (s: number) => pairs(route({ queues, calls: [call('c', { enqueuedAt: NOW - s * S })], agents: agents.slice() }));
    expect(waited(10)).toEqual([]);
    expect(waited(30)).toEqual(['c->es3']);
    expect(waited(59)).toEqual(['c->es3']);
    expect(waited(60)).toEqual(['c->es1']); // both qualify now; es1 is listed first and equally idle
    const withExpert = [...agents, agent('es5', { skills: { es: 5 }, idleSince: NOW })];
    expect(pairs(route({ queues, calls: [call('c', { enqueuedAt: NOW })], agents: withExpert }))).toEqual(['c->es5']);
    expect(wideningDrop(widening, 29_999)).toBe(0);
    expect(wideningDrop(widening, 30_000)).toBe(1);
    expect(wideningDrop(widening, 60_000)).toBe(Infinity);
    // Widening never narrows again, whatever the order of the steps.
    expect(wideningDrop([{ afterSeconds: 60, lowerBy: 1 }, { afterSeconds: 30, lowerBy: 2 }], 90_000)).toBe(2);
  });

  it("the call's own requirements (from the IVR) replace the queue's", () => {
    const queues = [queue('q1', 'longest-idle', { requiredSkills: [{ skill: 'en', minLevel: 3 }] })];
    const agents = [agent('en', { skills: { en: 5 }, idleSince: NOW - 99 * S }), agent('de', { skills: { de: 3 } })];
    const calls = [call('german', { requiredSkills: [{ skill: 'de', minLevel: 2 }] }), call('plain', { enqueuedAt: NOW - 5 * S }), call('any', { requiredSkills: [], enqueuedAt: NOW })];
    expect(pairs(route({ queues, calls, agents }))).toEqual(['german->de', 'plain->en']);
  });

  it('a call nobody can take does not hold up the calls behind it', () => {
    const queues = [queue('q1')];
    const agents = [agent('en', { skills: { en: 3 } })];
    const calls = [call('fr', { requiredSkills: [{ skill: 'fr', minLevel: 1 }], enqueuedAt: NOW - 50 * S }), call('c2')];
    expect(pairs(route({ queues, calls, agents }))).toEqual(['c2->en']);
  });

  it('within a lane the oldest call is served first even when the input is not in arrival order', () => {
    const calls = [5, 1, 9, 3, 7].map((s) => call(`w${s}`, { enqueuedAt: NOW - s * S }));
    expect(pairs(route({ calls, agents: [agent('a1'), agent('a2')] }))).toEqual(['w9->a1', 'w7->a2']);
  });

  it('does not modify its input', () => {
    const input: RoutingInput = deepFreeze({
      queues: [queue('q1', 'round-robin')], waiting: waitingCalls([call('b', { enqueuedAt: NOW }), call('a')]), agents: [agent('a1'), agent('a2')], now: NOW, rng: noRng,
    });
    const state = deepFreeze({ cursors: { q1: 'a1' } });
    expect(pairs(routeCalls(input, state))).toEqual(['a->a2', 'b->a1']);
  });

  it('every strategy has a case here', () => {
    expect(STRATEGIES).toHaveLength(7);
  });
});

// ---- properties ---------------------------------------------------------------------------------

const SKILLS = ['en', 'es', 'billing'];
const requirement = fc.record({ skill: fc.constantFrom(...SKILLS), minLevel: fc.integer({ min: 1, max: 5 }) });
const requirements = fc.uniqueArray(requirement, { maxLength: 2, selector: (r) => r.skill });
const step = fc.record({ afterSeconds: fc.integer({ min: 0, max: 90 }), lowerBy: fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constant('any' as const)) });

function world(): fc.Arbitrary<{ input: Omit<FlatRoutingInput, 'rng'>; seed: number; cursors: Record<string, string> }> {
  return fc
    .uniqueArray(
      fc.record({ id: fc.constantFrom('q1', 'q2', 'q3', 'q4'), strategy: fc.constantFrom(...STRATEGIES), requiredSkills: requirements, widening: fc.array(step, { maxLength: 3 }) }),
      { minLength: 1, maxLength: 4, selector: (q) => q.id },
    )
    .chain((queues) => {
      const queueIds = queues.map((q) => q.id);
      const agentArb = fc.record({
        state: fc.constantFrom<AgentStatus>('ready', 'ready', 'ready', 'on-call', 'paused', 'wrap-up', 'reserved', 'logged-out'),
        memberships: fc.uniqueArray(fc.record({ queueId: fc.constantFrom(...queueIds, 'gone'), penalty: fc.integer({ min: 0, max: 2 }) }), { maxLength: 3, selector: (m) => m.queueId }),
        skills: fc.dictionary(fc.constantFrom(...SKILLS), fc.integer({ min: 1, max: 5 }), { maxKeys: 3 }),
        idleSince: fc.integer({ min: 0, max: 5 }).map((x) => NOW - x * 10 * S),
        callsHandled: fc.integer({ min: 0, max: 3 }),
        talkSeconds: fc.integer({ min: 0, max: 3 }).map((x) => x * 100),
        lastOfferedAt: fc.option(fc.integer({ min: 0, max: 3 }).map((x) => NOW - x * S), { nil: null }),
      });
      const callArb = fc.record({
        queueId: fc.constantFrom(...queueIds, ...queueIds, 'gone'),
        priority: fc.integer({ min: 0, max: 2 }),
        enqueuedAt: fc.integer({ min: 0, max: 12 }).map((x) => NOW - x * 10 * S),
        requiredSkills: fc.option(requirements, { nil: undefined, freq: 3 }),
      });
      return fc.record({
        queues: fc.constant(queues),
        agents: fc.array(agentArb, { maxLength: 12 }).map((as) => as.map((a, i): RoutableAgent => ({ id: `a${String(i).padStart(2, '0')}`, ...a }))),
        calls: fc.array(callArb, { maxLength: 25 }).map((cs) => cs.map((c, i): WaitingCall => ({ id: `c${i}`, ...c }))),
        seed: fc.integer(),
        cursors: fc.dictionary(fc.constantFrom(...queueIds), fc.integer({ min: 0, max: 12 }).map((i) => `a${String(i).padStart(2, '0')}`)),
      });
    })
    .map(({ queues, agents, calls, seed, cursors }) => ({ input: { queues, agents, calls, now: NOW }, seed, cursors }));
}

/** Eligibility written out independently of the router: ready, member, skills at the widened level. */
function eligible(a: RoutableAgent, q: QueueConfig, c: WaitingCall, now: number): boolean {
  if (a.state !== 'ready' || !a.memberships.some((m) => m.queueId === q.id)) return false;
  const reached = (q.widening ?? []).filter((w) => w.afterSeconds * 1000 <= now - c.enqueuedAt);
  const anyLevel = reached.some((w) => w.lowerBy === 'any');
  const lower = Math.max(0, ...reached.map((w) => (w.lowerBy === 'any' ? 0 : w.lowerBy)));
  return (c.requiredSkills ?? q.requiredSkills).every((r) => {
    const level = a.skills[r.skill] ?? 0;
    return level >= 1 && (anyLevel || level >= r.minLevel - lower);
  });
}

describe('routing: properties (random agents, queues, calls)', () => {
  it('never assigns an agent twice, nor one not ready, not a member, or lacking the skills for the wait', () => {
    fc.assert(
      fc.property(world(), ({ input, seed, cursors }) => {
        const d = flat({ ...input, rng: seeded(seed) }, { cursors });
        const agents = new Map(input.agents.map((a) => [a.id, a]));
        const queues = new Map(input.queues.map((q) => [q.id, q]));
        const calls = new Map(input.calls.map((c) => [c.id, c]));
        const seenAgents = new Set<string>();
        const seenCalls = new Set<string>();
        for (const asg of d.assignments) {
          expect(seenCalls.has(asg.callId)).toBe(false);
          seenCalls.add(asg.callId);
          const c = calls.get(asg.callId)!;
          const q = queues.get(c.queueId)!;
          expect(asg.queueId).toBe(c.queueId);
          expect(asg.agentIds.length).toBeGreaterThan(0);
          if (q.strategy !== 'ring-all') expect(asg.agentIds).toHaveLength(1);
          for (const id of asg.agentIds) {
            expect(seenAgents.has(id)).toBe(false);
            seenAgents.add(id);
            expect(eligible(agents.get(id)!, q, c, input.now)).toBe(true);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('no starvation within a queue: an older call of the same priority is never passed over for a later one', () => {
    fc.assert(
      fc.property(world(), ({ input, seed, cursors }) => {
        const d = flat({ ...input, rng: seeded(seed) }, { cursors });
        const queues = new Map(input.queues.map((q) => [q.id, q]));
        const agents = new Map(input.agents.map((a) => [a.id, a]));
        const assigned = new Map(d.assignments.map((a) => [a.callId, a]));
        const taken = new Set(d.assignments.flatMap((a) => a.agentIds));
        for (const waiting of input.calls) {
          const q = queues.get(waiting.queueId);
          if (!q || assigned.has(waiting.id)) continue;
          // Nobody left free could have taken it...
          for (const a of input.agents) if (!taken.has(a.id)) expect(eligible(a, q, waiting, input.now)).toBe(false);
          // ...and no agent given to a later call of the same queue and priority could have either.
          for (const later of input.calls) {
            const asg = assigned.get(later.id);
            if (!asg || later.queueId !== waiting.queueId || later.priority !== waiting.priority || later.enqueuedAt <= waiting.enqueuedAt) continue;
            for (const id of asg.agentIds) expect(eligible(agents.get(id)!, q, waiting, input.now)).toBe(false);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('decides exactly as the naive reference (every call scans every agent), cursors and rng draws included', () => {
    fc.assert(
      fc.property(world(), ({ input, seed, cursors }) => {
        const ours = flat({ ...input, rng: seeded(seed) }, { cursors });
        const naive = naiveRouteCalls({ ...input, rng: seeded(seed) }, { cursors });
        expect(ours).toEqual(naive);
      }),
      { numRuns: 500 },
    );
  });

  it('the same input gives the same decision (pure)', () => {
    fc.assert(
      fc.property(world(), ({ input, seed, cursors }) => {
        expect(flat({ ...input, rng: seeded(seed) }, { cursors })).toEqual(flat({ ...input, rng: seeded(seed) }, { cursors }));
      }),
      { numRuns: 100 },
    );
  });
});

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
