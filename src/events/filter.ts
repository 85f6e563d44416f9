/**
 * What one stream client asked for (?types=, ?queue=, ?agent=) and may see (its role): pure.
 * A filter names event types, queues (an event matches when it names the queue: its `queue`, or
 * for agent.state one of the agent's `queues`) and agents (the agent's number). Several values of
 * one filter are alternatives; different filters must all match.
 */
import { AppError, invalid } from '../errors.js';
import { EVENT_TYPES, forRole, mayReceive, type EventType, type PbxEvent, type StreamRole } from './model.js';

export interface StreamFilter {
  readonly types: ReadonlySet<EventType> | null;
  readonly queues: ReadonlySet<string> | null;
  readonly agents: ReadonlySet<string> | null;
}

export interface FilterQuery {
  readonly types?: readonly string[];
  readonly queue?: readonly string[];
  readonly agent?: readonly string[];
}

/** `?types=a,b` and `?types=a&types=b` alike. */
const values = (given: readonly string[] | undefined): string[] | null => {
  const all = (given ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  return all.length ? all : null;
};

const isEventType = (t: string): t is EventType => (EVENT_TYPES as readonly string[]).includes(t);

/** 400 naming querystring.types for a type that does not exist; 403 for a type the role may not receive. */
export function parseFilter(query: FilterQuery, role: StreamRole): StreamFilter {
  const types = values(query.types);
  for (const t of types ?? []) {
    if (!isEventType(t)) throw invalid('querystring.types', `"${t}" is no event type; known: ${EVENT_TYPES.join(', ')}`);
    if (!mayReceive(role, t)) {
      throw new AppError('forbidden', 403, `${t} events need the supervisor role; your token has ${role}`, { need: 'supervisor', have: role, type: t });
    }
  }
  const queues = values(query.queue);
  const agents = values(query.agent);
  return {
    types: types ? new Set(types as EventType[]) : null,
    queues: queues ? new Set(queues) : null,
    agents: agents ? new Set(agents) : null,
  };
}

export function matches(filter: StreamFilter, event: PbxEvent): boolean {
  if (filter.types && !filter.types.has(event.type)) return false;
  if (filter.queues) {
    const queue = 'queue' in event ? event.queue : null;
    const member = event.type === 'agent.state' && event.queues.some((q) => filter.queues!.has(q));
    if (!member && (queue === null || !filter.queues.has(queue))) return false;
  }
  if (filter.agents) {
    const agent = 'agent' in event ? event.agent : null;
    if (agent === null || !filter.agents.has(agent)) return false;
  }
  return true;
}

/** The client's view of an event: filtered, then as its role may see it (null: not sent). */
export function viewFor(role: StreamRole, filter: StreamFilter): (event: PbxEvent) => PbxEvent | null {
  return (event) => (matches(filter, event) ? forRole(role, event) : null);
}
