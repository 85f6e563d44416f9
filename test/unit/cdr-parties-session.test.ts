/**
 * A call session's CDR says who answered and where the time went (docs/calls-and-routing.md#cdrs):
 * the extension finally dialed after forwards, the agent of a queue call, wait before their
 * answer and talk after it, and which side hung up.
 */
import { describe, expect, it } from 'vitest';
import { connected, setup } from '../support/session-harness.js';
import type { AcdEngine, QueueCallPort } from '../../src/acd/engine.js';

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
  function queueAcd() {
    let port: QueueCallPort | null = null;
    const acd = {
      join: async (_call: unknown, p: QueueCallPort) => {
        port = p;
        return { kind: 'joined', queue: { callbackAfterSeconds: null }, offered: Promise.resolve(false) };
      },
      offerAnswered: async () => true,
      callEnded: async () => undefined,
      callerLeft: async () => undefined,
    } as unknown as AcdEngine;
    return { acd, offer: () => port!.offer([{ id: 'a-1', number: '7001', extension: '2001' }], 15) };
  }

  it('names the queue and the agent; the wait before the agent answered is not billed; the agent hung up', async () => {
    const { acd, offer } = queueAcd();
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
    const { acd } = queueAcd();
    const s = setup({ acd, route: { kind: 'queue', queue: 'support' } });
    await s.session.enqueue({ type: 'stasis-start' });
    s.advance(12_000);
    await s.session.enqueue({ type: 'hangup-request', cause: 16 });
    await s.session.enqueue({ type: 'destroyed', cause: 16, causeText: 'Normal Clearing' });
    expect(s.cdrs.at(-1)).toMatchObject({ queue: 'support', agent: null, answered_by: null, wait_seconds: 12, talk_seconds: 0, billable_seconds: 0, ended_by: 'caller' });
  });
});
