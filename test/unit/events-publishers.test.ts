/**
 * Where events come from (docs/events.md#where-events-come-from): the ACD store wrapper publishes
 * queue.joined / queue.left / agent.state only after the write it follows resolved, in order, and
 * passes everything else through untouched; the live-call store publishes call.started and
 * call.answered (with the queue the call joined) after its writes; a failed write publishes nothing.
 */
import { describe, expect, it } from 'vitest';
import { agentTransition, initialAgentState } from '../../src/acd/agent-state.js';
import type { AcdStore, QueueCall } from '../../src/acd/engine.js';
import { publishAgentChange, publishingAcdStore } from '../../src/events/acd-events.js';
import { agentOffered, callEnded, publishingLiveStore } from '../../src/calls/call-events.js';
import type { LiveCallStore } from '../../src/calls/session.js';
import type { CallFacts } from '../../src/calls/cdr.js';
import type { EventInput } from '../../src/events/model.js';

const settle = () => new Promise((r) => setImmediate(r));

function recorder() {
  const published: EventInput[] = [];
  return { published, bus: { publish: (e: EventInput) => void published.push(e) } };
}

/** The parts of a store the wrapper reads, plus a method that needs its own `this`. */
class FakeStore {
  failJoin = false;
  private readonly ext = new Map([['2001', 'a1']]);
  async queues() {
    return [{ id: 'q1', name: 'sales' }];
  }
  async agents() {
    return [{ id: 'a1', number: '501', memberships: [{ queueId: 'q1', penalty: 0 }] }];
  }
  async agentAtExtension(extension: string) {
    return this.ext.get(extension) ?? null;
  }
  async callJoined() {
    if (this.failJoin) throw new Error('db down');
  }
  async callLeft() {}
  async apply(_agentId: string, event: Parameters<AcdStore['apply']>[1]) {
    return agentTransition(initialAgentState, event, 1_000);
  }
}

const call: QueueCall = { callId: 'c1', queueId: 'q1', channelId: 'ch1', callerNumber: '+4930123', callerName: 'Ada', priority: 3, requiredSkills: null, enqueuedAt: 10_000 };

describe('the ACD store, publishing', () => {
  it('publishes after each committed write, with names; other methods pass through', async () => {
    const { published, bus } = recorder();
    const inner = new FakeStore();
    const store = publishingAcdStore(inner as unknown as AcdStore, bus, (e) => { throw e; });
    await store.callJoined(call);
    const step = await store.apply('a1', { type: 'login' });
    expect(step.ok).toBe(true);
    await store.callLeft(call, 'answered', new Date(25_500), 'a1');
    expect(await store.agentAtExtension('2001')).toBe('a1');
    await settle();
    expect(published).toEqual([
      { type: 'queue.joined', callId: 'c1', queue: 'sales', callerNumber: '+4930123', callerName: 'Ada', priority: 3 },
      { type: 'agent.state', agent: '501', state: 'ready', from: 'logged-out', cause: 'login', pause: null, callId: null, queue: null, queues: ['sales'] },
      { type: 'queue.left', callId: 'c1', queue: 'sales', callerNumber: '+4930123', callerName: 'Ada', reason: 'answered', agent: '501', waitSeconds: 15.5 },
    ]);
  });

  it('a write that fails publishes nothing; a refused agent event neither', async () => {
    const { published, bus } = recorder();
    const inner = new FakeStore();
    inner.failJoin = true;
    const store = publishingAcdStore(inner as unknown as AcdStore, bus, () => undefined);
    await expect(store.callJoined(call)).rejects.toThrow('db down');
    expect((await store.apply('a1', { type: 'unpause' })).ok).toBe(false);
    await settle();
    expect(published).toEqual([]);
  });

  it("a supervisor's forced change publishes agent.state", async () => {
    const { published, bus } = recorder();
    const login = agentTransition(initialAgentState, { type: 'login' }, 1);
    if (!login.ok) throw new Error('login refused');
    const forced = agentTransition(login.state, { type: 'force', to: 'paused', reason: { code: 2, name: 'lunch' }, by: 'boss' }, 2);
    if (!forced.ok) throw new Error('force refused');
    publishAgentChange(new FakeStore() as unknown as AcdStore, bus, (e) => { throw e; })({ agentId: 'a1', record: forced.record, state: forced.state });
    await settle();
    expect(published).toEqual([{ type: 'agent.state', agent: '501', state: 'paused', from: 'ready', cause: 'force', pause: { code: 2, name: 'lunch' }, callId: null, queue: null, queues: ['sales'] }]);
  });
});

describe('the call side', () => {
  const facts: CallFacts = { callId: 'c9', direction: 'inbound', callerNumber: '+4930999', callerName: null, dialedNumber: '4930777', startedAt: new Date(0), answeredAt: null, digits: '' };

  it('call.started after the live row is in; call.answered after connected_at, naming the queue joined', async () => {
    const { published, bus } = recorder();
    const writes: string[] = [];
    let fail = false;
    const inner: LiveCallStore = {
      insert: async (f) => {
        if (fail) throw new Error('db down');
        writes.push(`insert ${f.callId}`);
      },
      update: async (callId) => void writes.push(`update ${callId}`),
    };
    const store = publishingLiveStore(inner, bus);
    await store.insert(facts, 'ch', 'routing');
    await store.update('c9', { queue: 'sales' });
    await store.update('c9', { state: 'dial' });
    await store.update('c9', { answered_by: '2001', agent: '501', connected_at: new Date(5) });
    fail = true;
    await expect(store.insert({ ...facts, callId: 'c10' }, 'ch2', 'routing')).rejects.toThrow();
    expect(writes).toEqual(['insert c9', 'update c9', 'update c9', 'update c9']);
    expect(published).toEqual([
      { type: 'call.started', callId: 'c9', direction: 'inbound', callerNumber: '+4930999', callerName: null, dialedNumber: '4930777', linkedId: null },
      { type: 'call.answered', callId: 'c9', answeredBy: '2001', agent: '501', queue: 'sales' },
    ]);
  });

  it('call.ended carries the CDR id; agent.offered the caller and the IVR variables', () => {
    const { published, bus } = recorder();
    callEnded(bus)(
      { call_id: 'c9', direction: 'inbound', caller_number: '+4930999', caller_name: null, dialed_number: null, started_at: new Date(0), ended_at: new Date(9000), duration_seconds: 9, billable_seconds: 4, hangup_cause: 16, hangup_cause_text: null, disposition: 'ANSWERED', ended_by: 'caller', digits: '', reconciled: false, linked_id: 'c9', queue: 'sales', agent: '501' },
      '77',
    );
    agentOffered(bus)({ ...facts, queue: 'sales' }, { id: 'a1', number: '501', extension: '2001' }, { account: '12345' });
    expect(published).toEqual([
      { type: 'call.ended', callId: 'c9', cdrId: '77', disposition: 'ANSWERED', durationSeconds: 9, billableSeconds: 4, callerNumber: '+4930999', callerName: null, queue: 'sales', agent: '501' },
      { type: 'agent.offered', callId: 'c9', queue: 'sales', agent: '501', extension: '2001', callerNumber: '+4930999', callerName: null, variables: { account: '12345' } },
    ]);
  });
});
