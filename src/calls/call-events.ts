/**
 * The call side's events on the stream (docs/events.md#where-events-come-from), each published
 * once what it reports is written:
 *   call.started    the call's live row is inserted (every part of a call: a transfer's too)
 *   call.answered   the live row says a person answered (connected_at)
 *   call.ended      its CDR is written (the CDR writer: cdr-writer.ts), with the CDR's id
 *   agent.offered   an agent's phone is rung with the caller (queue-call.ts), with what the IVR
 *                   flows collected: the screen pop. Published once Asterisk took the originate.
 */
import type { EventPublisher } from '../events/bus.js';
import type { OfferedAgent } from '../acd/engine.js';
import type { LiveCallStore } from './session.js';
import type { CallFacts } from './cdr.js';
import type { NewCdr } from './tables.js';

/** Calls whose queue the answer event names: bounded (a call that never gets answered leaves its entry until pushed out). */
const REMEMBERED_QUEUES = 10_000;

/** The live-call store, publishing call.started and call.answered after each write that says so. */
export function publishingLiveStore(store: LiveCallStore, events: EventPublisher): LiveCallStore {
  const queueOf = new Map<string, string>();
  const remember = (callId: string, queue: string | null | undefined): void => {
    if (!queue) return;
    queueOf.delete(callId);
    queueOf.set(callId, queue);
    if (queueOf.size > REMEMBERED_QUEUES) queueOf.delete(queueOf.keys().next().value!);
  };
  return {
    insert: async (facts, channelId, state, mode) => {
      await store.insert(facts, channelId, state, mode);
      remember(facts.callId, facts.queue);
      events.publish({
        type: 'call.started',
        callId: facts.callId,
        direction: facts.direction,
        callerNumber: facts.callerNumber,
        callerName: facts.callerName,
        dialedNumber: facts.dialedNumber,
        linkedId: facts.linkedId ?? null,
      });
    },
    update: async (callId, patch) => {
      await store.update(callId, patch);
      remember(callId, patch.queue);
      if (!patch.connected_at) return;
      const queue = queueOf.get(callId) ?? null;
      queueOf.delete(callId);
      events.publish({ type: 'call.answered', callId, answeredBy: patch.answered_by ?? null, agent: patch.agent ?? null, queue });
    },
  };
}

/** call.ended, once the CDR is written (not for a CDR that was there already). */
export function callEnded(events: EventPublisher): (cdr: NewCdr, cdrId: string) => void {
  return (cdr, cdrId) =>
    events.publish({
      type: 'call.ended',
      callId: cdr.call_id,
      cdrId,
      disposition: cdr.disposition,
      durationSeconds: cdr.duration_seconds,
      billableSeconds: cdr.billable_seconds,
      callerNumber: cdr.caller_number ?? null,
      callerName: cdr.caller_name ?? null,
      queue: cdr.queue ?? null,
      agent: cdr.agent ?? null,
    });
}

/** agent.offered: the screen pop. */
export function agentOffered(events: EventPublisher): (facts: CallFacts, agent: OfferedAgent, variables: Readonly<Record<string, string>>) => void {
  return (facts, agent, variables) =>
    events.publish({
      type: 'agent.offered',
      callId: facts.callId,
      queue: facts.queue ?? null,
      agent: agent.number,
      extension: agent.extension,
      callerNumber: facts.callerNumber,
      callerName: facts.callerName,
      variables: { ...variables },
    });
}
