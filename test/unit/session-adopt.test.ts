/**
 * A call picked up again by a restarted daemon (reconcile -> 'adopt'): a dial that was connected
 * keeps its two legs; one whose other leg was still ringing is ended, that ringing leg included
 * (nobody would connect it; a callback's customer would otherwise be rung on by a call nobody
 * owns while the callback is tried again).
 */
import { describe, expect, it } from 'vitest';
import { setup } from '../support/session-harness.js';
import type { AcdEngine } from '../../src/acd/engine.js';

/** What the session tells the ACD about a callback it adopted. */
function acdLog() {
  const said: string[] = [];
  const acd = {
    adoptConnected: async (id: string, _port: unknown, callback?: boolean) => void said.push(`adopt ${id}${callback ? ' (callback)' : ''}`),
    callEnded: async (id: string) => void said.push(`ended ${id}`),
  } as unknown as AcdEngine;
  return { said, acd };
}

const adopt = (peerRinging: boolean) => ({ type: 'adopt' as const, mode: 'dial', peer: 'leg-b', peerRinging, bridgeId: peerRinging ? null : 'br-1', recording: null });

describe('a dial picked up again after a restart', () => {
  it('connected: the legs stay up and tied together', async () => {
    const s = setup();
    await s.session.enqueue(adopt(false));
    expect(s.calls.filter((c) => c.startsWith('hangup'))).toEqual([]);
    expect(s.legs.get('leg-b')).toBe(s.session);
  });

  it('still ringing: the ringing leg and the caller are hung up', async () => {
    const s = setup();
    await s.session.enqueue(adopt(true));
    expect(s.calls.filter((c) => c.startsWith('hangup'))).toEqual(['hangup leg-b', 'hangup chan-a normal']);
    expect(s.legs.has('leg-b')).toBe(false);
  });
});

describe('a callback (the agent calling the customer) picked up again after a restart', () => {
  const adoptCallback = (peerRinging: boolean) => ({ ...adopt(peerRinging), mode: 'callback:cb-7' });

  it('connected: the ACD holds it as the callback again; when it ends, the callback is done (callEnded)', async () => {
    const { said, acd } = acdLog();
    const s = setup({ acd });
    await s.session.enqueue(adoptCallback(false));
    expect(said).toEqual(['adopt cb-7 (callback)']);
    expect(s.calls.filter((c) => c.startsWith('hangup'))).toEqual([]);
    await s.session.enqueue({ type: 'b-ended', legId: 'leg-b', cause: 16 });
    await s.session.enqueue({ type: 'destroyed', cause: 16, causeText: 'Normal Clearing' });
    expect(said).toEqual(['adopt cb-7 (callback)', 'ended cb-7']);
  });

  it('the customer still ringing: both legs are hung up; the callback is left to be tried again', async () => {
    const { said, acd } = acdLog();
    const s = setup({ acd });
    await s.session.enqueue(adoptCallback(true));
    expect(s.calls.filter((c) => c.startsWith('hangup'))).toEqual(['hangup leg-b', 'hangup chan-a normal']);
    await s.session.enqueue({ type: 'destroyed', cause: 16, causeText: 'Normal Clearing' });
    expect(said).toEqual([]);
  });
});
