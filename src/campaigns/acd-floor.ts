/**
 * The dialer's view of a queue's agents (dialer.ts AgentFloor) from the ACD's store: those ready,
 * and those busy with their phase (a reserved agent counts as about to talk) and its age. Paused
 * and logged-out agents do not count.
 */
import type { AcdEngine, AcdStore } from '../acd/engine.js';
import type { AgentFloor } from './dialer.js';
import type { BusyAgent } from './pacing.js';
import type { PreviewAgents } from './preview.js';

export function acdFloor(store: Pick<AcdStore, 'agents'>): AgentFloor {
  return {
    async agents(queueId: string, now: number) {
      let ready = 0;
      const busy: BusyAgent[] = [];
      for (const a of await store.agents()) {
        if (!a.memberships.some((m) => m.queueId === queueId)) continue;
        const elapsedSeconds = Math.max(0, (now - a.machine.since) / 1000);
        if (a.machine.status === 'ready') ready += 1;
        else if (a.machine.status === 'on-call' || a.machine.status === 'reserved') busy.push({ phase: 'talk', elapsedSeconds: a.machine.status === 'reserved' ? 0 : elapsedSeconds });
        else if (a.machine.status === 'wrap-up') busy.push({ phase: 'wrap-up', elapsedSeconds });
      }
      return { ready, busy };
    },
  };
}

/**
 * Preview mode's agents (preview.ts PreviewAgents) from the ACD: the queue's ready agents logged in
 * at a phone, longest idle first; reserving and letting go go through the engine (agent-state.ts
 * 'offer', then 'call-ended' or, for an offer left unanswered, 'ring-timeout').
 */
export function previewAgents(store: Pick<AcdStore, 'agents'>, engine: Pick<AcdEngine, 'reserve' | 'releaseReserved'>): PreviewAgents {
  return {
    async ready(queueId: string) {
      const agents = (await store.agents()).filter((a) => a.machine.status === 'ready' && a.extension !== null && a.memberships.some((m) => m.queueId === queueId));
      return agents.sort((a, b) => a.machine.since - b.machine.since).map((a) => ({ id: a.id, number: a.number, extension: a.extension! }));
    },
    reserve: (agentId, attemptId, queueId) => engine.reserve(agentId, attemptId, queueId),
    release: (agentId, attemptId, missed) => engine.releaseReserved(agentId, attemptId, missed),
  };
}
