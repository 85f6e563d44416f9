/**
 * A call session's CDR says who answered and where the time went (docs/calls-and-routing.md#cdrs):
 * the extension finally dialed after forwards, the agent of a queue call, wait before their
 * answer and talk after it, and which side hung up.
 */
import { describe, expect, it } from 'vitest';
import { connected, fakeQueueAcd, setup, target } from '../support/session-harness.js';
import type { DialTarget } from '../../src/calls/dial-flow.js';
import type { AcdEngine } from '../../src/acd/engine.js';
import { callbackFacts } from '../../src/calls/dial-call.js';

describe('CDR of a dialed extension', () => {
  it('the callee hangs up first: ended by the callee, answered by it; talk from its answer', async () => {
    const s = await connected(); // rang 2 s, talked 10 s
    await s.session.enqueue({ type: 'b-ended', legId: s.legB, cause: 16 });
    expect(s.calls).toContain('hangup chan-a normal');
    await s.session.enqueue({ type: 'destroyed', cause: 16, causeText: 'Normal Clearing' });
    expect(s.cdrs.at(-1)).toMatchObject({ ended_by: 'callee', answered_by: '1002', agent: null, queue: null, wait_seconds: 2, talk_seconds: 10, billable_seconds: 10 });
  });

  it('the caller hangs up first: ended by the caller', async () => {
    const s = await connected();
    await s.session.enqueue({ type: 'hangup-request', cause: 16 });
    await s.session.enqueue({ type: 'destroyed', cause: 16, causeText: 'Normal Clearing' });
    expect(s.cdrs.at(-1)).toMatchObject({ ended_by: 'caller', answered_by: '1002' });
  });
});

describe('CDR of a queue call', () => {
  it('names the queue and the agent; the wait before the agent answered is not billed; the agent hung up', async () => {
    const { acd, offer } = fakeQueueAcd();
    const s = setup({ acd, route: { kind: 'queue', queue: 'support' } });
    await s.session.enqueue({ type: 'stasis-start' });
    expect(s.calls).toContain('answer chan-a'); // the system answers the caller at once
    s.advance(9_000); // waiting, music on hold
    offer();
    await s.session.enqueue({ type: 'playback-finished', playbackId: 'none' }); // after the offer's event: the agent's phone rings
    const leg = [...s.legs.keys()].find((l) => l.includes('-agent-'))!;
    s.advance(1_000);
    await s.session.enqueue({ type: 'b-answered', legId: leg });
    s.advance(6_000);
    await s.session.enqueue({ type: 'b-ended', legId: leg, cause: 16 });
    await s.session.enqueue({ type: 'destroyed', cause: 16, causeText: 'Normal Clearing' });
    expect(s.cdrs.at(-1)).toMatchObject({
      disposition: 'ANSWERED',
      queue: 'support',
      agent: '7001',
      answered_by: '2001',
      wait_seconds: 10,
      talk_seconds: 6,
      billable_seconds: 6,
      duration_seconds: 16,
      ended_by: 'agent',
    });
  });

  it('a caller who hangs up while waiting: all wait, no talk', async () => {
    const { acd } = fakeQueueAcd();
    const s = setup({ acd, route: { kind: 'queue', queue: 'support' } });
    await s.session.enqueue({ type: 'stasis-start' });
    s.advance(12_000);
    await s.session.enqueue({ type: 'hangup-request', cause: 16 });
    await s.session.enqueue({ type: 'destroyed', cause: 16, causeText: 'Normal Clearing' });
    expect(s.cdrs.at(-1)).toMatchObject({ queue: 'support', agent: null, answered_by: null, wait_seconds: 12, talk_seconds: 0, billable_seconds: 0, ended_by: 'caller' });
  });
});

describe('CDR of a queue callback', () => {
  // The ACD rang agent 7001 at desk phone 2001 for callback q1-cb of queue support at 10:00:00;
  // the agent answered 3 s later (callback-start); then the customer (1003 here) is dialed.
  const rungAt = new Date('2026-01-01T10:00:00Z');
  const agent = { id: 'a-1', number: '7001', extension: '2001' };
  const facts = callbackFacts('chan-agent', { callbackId: 'q1-cb', agent, customer: '1003', queue: 'support', rungAt });
  const acd = { offerAnswered: async () => true, callbackResult: async () => undefined, callEnded: async () => undefined } as unknown as AcdEngine;

  async function callback() {
    const patches: Record<string, unknown>[] = [];
    const store = { insert: async () => undefined, update: async (_id: string, patch: Record<string, unknown>) => void patches.push(patch) };
    const s = { ...setup({ anchor: 'chan-agent', callId: facts.callId, facts, acd, store }), patches };
    s.advance(3_000);
    await s.session.enqueue({ type: 'callback-start', callbackId: 'q1-cb', agentId: agent.id, customer: '1003' });
    const leg = s.nextLeg();
    s.advance(4_000); // the customer's phone rings
    return { ...s, leg };
  }

  it('names the agent, the queue and the customer; waits until the customer answered, talks after; the agent hung up', async () => {
    const s = await callback();
    expect(s.calls.find((c) => c.startsWith('originate'))).toContain('"endpoint":"PJSIP/1003"');
    expect(s.calls).not.toContain('answer chan-agent'); // the agent's phone answered already
    await s.session.enqueue({ type: 'b-answered', legId: s.leg });
    s.advance(20_000);
    await s.session.enqueue({ type: 'hangup-request', cause: 16 });
    await s.session.enqueue({ type: 'destroyed', cause: 16, causeText: 'Normal Clearing' });
    expect(s.cdrs.at(-1)).toMatchObject({
      linked_id: 'q1',
      direction: 'outbound',
      caller_number: null, // the customer sees the site's caller id, as before
      dialed_number: '1003',
      queue: 'support',
      agent: '7001',
      answered_by: '1003',
      started_at: rungAt,
      answered_at: new Date(rungAt.getTime() + 7_000),
      disposition: 'ANSWERED',
      wait_seconds: 7,
      talk_seconds: 20,
      billable_seconds: 20,
      duration_seconds: 27,
      ended_by: 'agent',
    });
    // The live row keeps the agent once the customer answered (a restarted daemon's CDR reads it).
    expect(s.patches.find((p) => 'answered_by' in p)).toMatchObject({ answered_by: '1003', agent: '7001' });
  });

  it('the customer hangs up first: ended by the callee', async () => {
    const s = await callback();
    await s.session.enqueue({ type: 'b-answered', legId: s.leg });
    s.advance(5_000);
    await s.session.enqueue({ type: 'b-ended', legId: s.leg, cause: 16 });
    await s.session.enqueue({ type: 'destroyed', cause: 16, causeText: 'Normal Clearing' });
    expect(s.cdrs.at(-1)).toMatchObject({ agent: '7001', answered_by: '1003', talk_seconds: 5, ended_by: 'callee' });
  });

  it('a customer who is busy: BUSY, no talk, still naming the agent and the queue', async () => {
    const s = await callback();
    await s.session.enqueue({ type: 'b-ended', legId: s.leg, cause: 17 });
    await s.session.enqueue({ type: 'destroyed', cause: 17, causeText: 'User busy' });
    expect(s.cdrs.at(-1)).toMatchObject({
      disposition: 'BUSY', answered_at: null, answered_by: null, agent: '7001', queue: 'support', dialed_number: '1003', wait_seconds: 7, talk_seconds: 0, billable_seconds: 0, ended_by: 'system',
    });
  });
});

describe('CDR of a forwarded call: answeredBy is the number that finally answered', () => {
  // 2002 forwards always to 2003, which forwards always to 2004; 2005 forwards busy (and DND) to
  // 2006; 2007 forwards on no answer to 2003 (itself forwarding on to 2004).
  const rules: Record<string, Partial<DialTarget>> = {
    '2002': { forwardAlways: '2003' },
    '2003': { forwardAlways: '2004' },
    '2005': { forwardBusy: '2006' },
    '2007': { forwardNoAnswer: '2003', ringTimeoutSeconds: 15 },
    '2008': { dnd: true, forwardBusy: '2006' },
  };
  const lookup = async (n: string): Promise<DialTarget | null> => (/^200\d$/.test(n) ? { ...target(n), ...rules[n], owner: { callerClass: 'internal', callerIdNumber: null } } : null);
  const originated = (calls: string[]) => calls.filter((c) => c.startsWith('originate')).map((c) => /PJSIP\/(\d+)/.exec(c)![1]);

  async function answeredAfter(dialed: string, before: (s: ReturnType<typeof setup>) => Promise<void> = async () => undefined) {
    const s = setup({ dialed, lookup });
    await s.session.enqueue({ type: 'stasis-start' });
    await before(s);
    const leg = [...s.legs.keys()].at(-1)!;
    s.advance(3_000);
    await s.session.enqueue({ type: 'b-answered', legId: leg });
    s.advance(8_000);
    await s.session.enqueue({ type: 'hangup-request', cause: 16 });
    await s.session.enqueue({ type: 'destroyed', cause: 16, causeText: 'Normal Clearing' });
    return { ...s, cdr: s.cdrs.at(-1)! };
  }

  it('a forward chain 2002 -> 2003 -> 2004: answered by 2004, dialed 2002', async () => {
    const { cdr, calls } = await answeredAfter('2002');
    expect(originated(calls)).toEqual(['2004']);
    expect(cdr).toMatchObject({ dialed_number: '2002', answered_by: '2004', disposition: 'ANSWERED', wait_seconds: 3, talk_seconds: 8, ended_by: 'caller' });
  });

  it('forward on busy: 2005 is busy, 2006 answers; the wait covers both', async () => {
    const { cdr, calls } = await answeredAfter('2005', async (s) => {
      s.advance(2_000);
      await s.session.enqueue({ type: 'b-ended', legId: [...s.legs.keys()].at(-1)!, cause: 17 });
    });
    expect(originated(calls)).toEqual(['2005', '2006']);
    expect(cdr).toMatchObject({ dialed_number: '2005', answered_by: '2006', wait_seconds: 5, talk_seconds: 8 });
  });

  it('do not disturb with forward on busy: 2008 is not rung, 2006 answers', async () => {
    const { cdr, calls } = await answeredAfter('2008');
    expect(originated(calls)).toEqual(['2006']);
    expect(cdr).toMatchObject({ dialed_number: '2008', answered_by: '2006' });
  });

  it('forward on no answer into a chain: 2007 rings out, 2003 forwards to 2004, which answers', async () => {
    const { cdr, calls } = await answeredAfter('2007', async (s) => {
      s.advance(15_000);
      const leg = [...s.legs.keys()].at(-1)!;
      await s.session.enqueue({ type: 'ring-timeout', legId: leg });
      await s.session.enqueue({ type: 'b-ended', legId: leg, cause: 16 }); // the leg the daemon hung up
    });
    expect(originated(calls)).toEqual(['2007', '2004']);
    expect(cdr).toMatchObject({ dialed_number: '2007', answered_by: '2004', wait_seconds: 18, talk_seconds: 8 });
  });
});
