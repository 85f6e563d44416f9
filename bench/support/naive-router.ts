/**
 * The obvious way to make the ACD routing decision, kept as the benchmark's baseline and as the
 * unit tests' reference model: sort all waiting calls (priority, then waiting time), then for
 * each call scan every agent for the free eligible ones and let the queue's strategy choose.
 * Takes the waiting calls as a plain list. O(n log n + n * a * s). Same rules and same answers as
 * src/acd/router.ts routeCalls (see there), including the rng draws, so the two can be compared
 * assignment for assignment.
 */
import {
  compareCandidates, initialRouterState, meetsSkills, skillScore, wideningDrop,
  type Assignment, type RoutableAgent, type RouterState, type RoutingDecision, type RoutingInput,
} from '../../src/acd/router.js';
import { compareService, type WaitingCall } from '../../src/acd/waiting-calls.js';

export type FlatRoutingInput = Omit<RoutingInput, 'waiting'> & { readonly calls: readonly WaitingCall[] };

export function naiveRouteCalls(input: FlatRoutingInput, state: RouterState = initialRouterState): RoutingDecision {
  const { calls, agents, now } = input;
  const queues = new Map(input.queues.map((q) => [q.id, q]));
  const order = calls.map((_, i) => i).sort((x, y) => compareService(calls[x]!, calls[y]!));
  const taken = agents.map(() => false);
  let free = agents.filter((a) => a.state === 'ready' && a.memberships.some((m) => queues.has(m.queueId))).length;
  const cursors: Record<string, string> = { ...state.cursors };
  let moved = false;
  const assignments: Assignment[] = [];

  for (const ci of order) {
    if (free === 0) break;
    const call = calls[ci]!;
    const q = queues.get(call.queueId);
    if (!q) continue;
    const required = call.requiredSkills ?? q.requiredSkills;
    const drop = wideningDrop(q.widening, now - call.enqueuedAt);
    const candidates: { agent: RoutableAgent; index: number; penalty: number }[] = [];
    for (let i = 0; i < agents.length; i++) {
      const agent = agents[i]!;
      if (agent.state !== 'ready' || taken[i]) continue;
      const membership = agent.memberships.find((m) => m.queueId === q.id);
      if (!membership || !meetsSkills(agent.skills, required, drop)) continue;
      candidates.push({ agent, index: i, penalty: membership.penalty });
    }
    if (candidates.length === 0) continue;
    const lowest = Math.min(...candidates.map((c) => c.penalty));
    const tier = candidates
      .filter((c) => c.penalty === lowest)
      .sort((a, b) => compareCandidates(q.strategy, a.agent, a.penalty, b.agent, b.penalty));
    let chosen: typeof tier;
    switch (q.strategy) {
      case 'ring-all':
        chosen = tier;
        break;
      case 'skills': {
        const best = Math.max(...tier.map((c) => skillScore(c.agent.skills, required)));
        chosen = [tier.find((c) => skillScore(c.agent.skills, required) === best)!];
        break;
      }
      case 'random': {
        const r = input.rng();
        chosen = [tier[Math.min(tier.length - 1, Math.max(0, Math.floor((Number.isFinite(r) ? r : 0) * tier.length)))]!];
        break;
      }
      case 'round-robin': {
        const byId = [...tier].sort((a, b) => (a.agent.id < b.agent.id ? -1 : a.agent.id > b.agent.id ? 1 : 0));
        const cursor = cursors[q.id];
        const next = (cursor === undefined ? undefined : byId.find((c) => c.agent.id > cursor)) ?? byId[0]!;
        cursors[q.id] = next.agent.id;
        moved = true;
        chosen = [next];
        break;
      }
      default:
        chosen = [tier[0]!];
    }
    for (const c of chosen) {
      taken[c.index] = true;
      free--;
    }
    assignments.push({ callId: call.id, queueId: q.id, agentIds: chosen.map((c) => c.agent.id) });
  }
  return { assignments, state: moved ? { cursors } : state };
}
