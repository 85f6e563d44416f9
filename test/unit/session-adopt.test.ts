/**
 * A call picked up again by a restarted daemon (reconcile -> 'adopt'): a dial that was connected
 * keeps its two legs; one whose other leg was still ringing is ended, that ringing leg included
 * (nobody would connect it; a callback's customer would otherwise be rung on by a call nobody
 * owns while the callback is tried again).
 */
import { describe, expect, it } from 'vitest';
import { setup } from '../support/session-harness.js';

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
