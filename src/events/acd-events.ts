/**
 * The ACD's events, published where its changes are written (docs/events.md#where-events-come-from):
 * a wrapper around the engine's store (src/acd/store.ts) publishes queue.joined / queue.left and
 * agent.state once the write it follows has committed (its promise resolved); a supervisor's
 * forced change through the API (AcdService.onAgentChange, after its commit) publishes
 * agent.state too. Nothing in src/acd knows of events. Changes made by another daemon are that
 * daemon's events.
 */
import type { AgentState, TransitionRecord } from '../acd/agent-state.js';
import type { AcdStore, QueueCall } from '../acd/engine.js';
import type { EventPublisher } from './bus.js';
import type { EventInput } from './model.js';

type Names = { queue(id: string): string | null; agent(id: string): { number: string; queues: string[] } | null };

/** Queue and agent names from the store's warm view (ids are what the engine speaks). */
async function names(store: AcdStore): Promise<Names> {
  const [queues, agents] = await Promise.all([store.queues(), store.agents()]);
  const queueName = new Map(queues.map((q) => [q.id, q.name]));
  return {
    queue: (id) => queueName.get(id) ?? null,
    agent: (id) => {
      const a = agents.find((x) => x.id === id);
      return a ? { number: a.number, queues: a.memberships.flatMap((m) => queueName.get(m.queueId) ?? []) } : null;
    },
  };
}

export function agentStateEvent(n: Names, agentId: string, record: TransitionRecord, state: AgentState): EventInput | null {
  const agent = n.agent(agentId);
  if (!agent) return null;
  return {
    type: 'agent.state',
    agent: agent.number,
    state: record.to,
    from: record.from,
    cause: record.cause.kind,
    pause: state.pause ? { code: state.pause.code, name: state.pause.name } : null,
    callId: state.call?.callId ?? null,
    queue: state.call ? n.queue(state.call.queueId) : null,
    queues: agent.queues,
  };
}

/** The store the engine is given: the same store, publishing after each committed write. */
export function publishingAcdStore<S extends AcdStore>(store: S, events: EventPublisher, onError: (err: Error) => void): S {
  const publish = inOrder(store, events, onError);
  const caller = (call: QueueCall) => ({ callerNumber: call.callerNumber, callerName: call.callerName });
  const overrides: Partial<AcdStore> = {
    callJoined: async (...args: Parameters<AcdStore['callJoined']>) => {
      await store.callJoined(...args);
      const [call] = args;
      publish((n) => {
        const queue = n.queue(call.queueId);
        return queue ? { type: 'queue.joined', callId: call.callId, queue, ...caller(call), priority: call.priority } : null;
      });
    },
    callLeft: async (...args: Parameters<AcdStore['callLeft']>) => {
      await store.callLeft(...args);
      const [call, reason, at, agentId] = args;
      publish((n) => {
        const queue = n.queue(call.queueId);
        if (!queue) return null;
        const agent = agentId ? (n.agent(agentId)?.number ?? null) : null;
        return { type: 'queue.left', callId: call.callId, queue, ...caller(call), reason, agent, waitSeconds: Math.max(0, (at.getTime() - call.enqueuedAt) / 1000) };
      });
    },
    apply: async (...args: Parameters<AcdStore['apply']>) => {
      const step = await store.apply(...args);
      if (step.ok) publish((n) => agentStateEvent(n, args[0], step.record, step.state));
      return step;
    },
  };
  return new Proxy(store, {
    get(target, prop) {
      if (typeof prop === 'string' && prop in overrides) return overrides[prop as keyof AcdStore];
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** A supervisor's forced change (AcdService.onAgentChange, called after its commit). */
export function publishAgentChange(store: AcdStore, events: EventPublisher, onError: (err: Error) => void) {
  const publish = inOrder(store, events, onError);
  return (change: { readonly agentId: string; readonly record: TransitionRecord; readonly state: AgentState }): void =>
    publish((n) => agentStateEvent(n, change.agentId, change.record, change.state));
}

/** Publish in the order the writes committed, though the names are looked up in between. */
function inOrder(store: AcdStore, events: EventPublisher, onError: (err: Error) => void): (make: (n: Names) => EventInput | null) => void {
  let last: Promise<void> = Promise.resolve();
  return (make) => {
    last = last
      .then(() => names(store))
      .then((n) => {
        const event = make(n);
        if (event) events.publish(event);
      })
      .catch(onError);
  };
}
