/**
 * The dialer's view of a queue's agents (dialer.ts AgentFloor) from the ACD's store: those ready,
 * and those busy with their phase (a reserved agent counts as about to talk) and its age. Paused
 * and logged-out agents do not count.
 */
import type { AcdStore } from '../acd/engine.js';
import type { AgentFloor } from './dialer.js';
import type { BusyAgent } from './pacing.js';

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
