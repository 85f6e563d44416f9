/**
 * The calls waiting in the ACD's queues, kept in service order per queue, so that a routing
 * decision (router.ts) reads only the heads of the queues instead of every waiting call.
 * Pure and persistent: each update returns a new index and shares everything it did not change.
 *
 *   waitingCalls(calls)                  build from a list: O(n log n) (start-up, recovery)
 *   addWaitingCall(index, call)          a call joins its queue: O(log q + q), q = calls of that queue
 *   removeWaitingCall(index, q, callId)  answered, abandoned, moved: O(q)
 *   (both updates also copy the small queue-id map: O(number of queues))
 *
 * Service order (compareService): higher priority first, then earlier enqueuedAt, then call id.
 * Each queue holds two lists in that order: the calls that use the queue's own skill requirements
 * and the calls that bring their own (the IVR's override); the router treats them separately
 * because only the first share one requirement set.
 */
import type { SkillRequirement } from './tables.js';

export interface WaitingCall {
  readonly id: string;
  readonly queueId: string;
  /** Higher is served first. */
  readonly priority: number;
  readonly enqueuedAt: number;
  /** Replaces the queue's requirements (set by the IVR); an empty list requires nothing. */
  readonly requiredSkills?: readonly SkillRequirement[] | null;
}

export interface QueueWaiting {
  /** Calls with the queue's own requirements, in service order. */
  readonly standard: readonly WaitingCall[];
  /** Calls with requirements of their own (requiredSkills set), in service order. */
  readonly override: readonly WaitingCall[];
}

export interface WaitingCalls {
  readonly queues: ReadonlyMap<string, QueueWaiting>;
  readonly size: number;
}

export const noWaitingCalls: WaitingCalls = Object.freeze({ queues: new Map<string, QueueWaiting>(), size: 0 });

/** < 0 when a is served before b. */
export function compareService(a: WaitingCall, b: WaitingCall): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  if (a.enqueuedAt !== b.enqueuedAt) return a.enqueuedAt - b.enqueuedAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function waitingCalls(calls: readonly WaitingCall[]): WaitingCalls {
  const groups = new Map<string, { standard: WaitingCall[]; override: WaitingCall[] }>();
  for (const call of calls) {
    let g = groups.get(call.queueId);
    if (!g) groups.set(call.queueId, (g = { standard: [], override: [] }));
    (call.requiredSkills == null ? g.standard : g.override).push(call);
  }
  const queues = new Map<string, QueueWaiting>();
  for (const [id, g] of groups) queues.set(id, { standard: g.standard.sort(compareService), override: g.override.sort(compareService) });
  return { queues, size: calls.length };
}

export function addWaitingCall(index: WaitingCalls, call: WaitingCall): WaitingCalls {
  const q = index.queues.get(call.queueId) ?? { standard: [], override: [] };
  const own = call.requiredSkills != null;
  const list = own ? q.override : q.standard;
  // After every call served before it or tied with it (ties cannot happen for distinct ids).
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareService(list[mid]!, call) <= 0) lo = mid + 1;
    else hi = mid;
  }
  const next = [...list.slice(0, lo), call, ...list.slice(lo)];
  return withQueue(index, call.queueId, own ? { standard: q.standard, override: next } : { standard: next, override: q.override }, 1);
}

export function removeWaitingCall(index: WaitingCalls, queueId: string, callId: string): WaitingCalls {
  const q = index.queues.get(queueId);
  if (!q) return index;
  const s = q.standard.findIndex((c) => c.id === callId);
  if (s >= 0) return withQueue(index, queueId, { standard: without(q.standard, s), override: q.override }, -1);
  const o = q.override.findIndex((c) => c.id === callId);
  if (o >= 0) return withQueue(index, queueId, { standard: q.standard, override: without(q.override, o) }, -1);
  return index;
}

function without<T>(list: readonly T[], at: number): T[] {
  return [...list.slice(0, at), ...list.slice(at + 1)];
}

function withQueue(index: WaitingCalls, queueId: string, q: QueueWaiting, delta: number): WaitingCalls {
  const queues = new Map(index.queues);
  if (q.standard.length === 0 && q.override.length === 0) queues.delete(queueId);
  else queues.set(queueId, q);
  return { queues, size: index.size + delta };
}
