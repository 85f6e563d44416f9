/**
 * A queue call's agent on the phone (queue-call.ts), against a fake Asterisk: a blind transfer
 * (REFER) by the agent hands the caller to the target as the call's next part and tells the ACD
 * (transfer to the target, with the hold so far); hold by either side plays music to the other
 * and its time reaches the ACD at the hang-up.
 */
import { describe, expect, it, vi } from 'vitest';
import { fakeQueueAcd, setup } from '../support/session-harness.js';
import type { AcdEngine } from '../../src/acd/engine.js';

/** A queue caller connected to agent 7001 (extension 2001, may call national numbers here); what the ACD was told of the call's end. */
async function agentOnCall(o: { extensionClass?: 'national' | 'internal' } = {}) {
  const { acd, offer } = fakeQueueAcd();
  const ended: unknown[][] = [];
  (acd as unknown as { callEnded: AcdEngine['callEnded'] }).callEnded = async (...args) => void ended.push(args);
  const s = setup({
    acd,
    route: { kind: 'queue', queue: 'support' },
    lookup: async (n, ctx) =>
      n.startsWith('10') || n === '2001'
        ? { kind: 'extension', endpoint: `PJSIP/${n}`, timeoutSeconds: 20, number: n, mailbox: null, forwardBusy: null, forwardNoAnswer: null, forwardAlways: null, owner: { callerClass: n === '2001' ? (o.extensionClass ?? 'national') : 'internal', callerIdNumber: null } } as never
        : n.startsWith('0') && ctx.callerClass === 'national'
          ? ({ kind: 'extension', endpoint: `PJSIP/${n}@trunk-main`, timeoutSeconds: 20, number: n, mailbox: null, forwardBusy: null, forwardNoAnswer: null, forwardAlways: null, owner: null } as never)
          : null,
  });
  await s.session.enqueue({ type: 'stasis-start' });
  offer();
  await s.session.enqueue({ type: 'playback-finished', playbackId: 'none' }); // after the offer: the agent's phone rings
  const agentLeg = [...s.legs.keys()].find((l) => l.includes('-agent-'))!;
  s.advance(1_000);
  await s.session.enqueue({ type: 'b-answered', legId: agentLeg });
  s.advance(10_000);
  s.calls.length = 0;
  return { ...s, agentLeg, ended };
}

describe('a queue call: the agent transfers it (blind)', () => {
  it('the agent part ends (ACD told: transfer to 1003), the caller waits with music, 1003 rings as the next part', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const s = await agentOnCall();
      await s.session.enqueue({ type: 'transfer', channelId: s.agentLeg, destination: '1003', replaces: null });
      expect(s.ended).toEqual([['call-1', 0, '1003']]);
      expect(s.calls).toContain(`transferProgress ${s.agentLeg} channel_progress`);
      expect(s.calls).toContain('destroyBridge call-1-bridge');
      expect(s.calls).toContain('startMoh chan-a');
      expect(s.cdrs[0]).toMatchObject({ call_id: 'call-1', queue: 'support', agent: '7001', ended_by: 'transfer' });
      expect(s.session.callId).toBe('call-1-t1');
      expect(s.calls.find((c) => c.startsWith('originate'))).toContain('"endpoint":"PJSIP/1003"');
      expect(s.calls.some((c) => c.startsWith('ring '))).toBe(false); // music on hold, no ringback
      const legC = [...s.legs.keys()].find((l) => l.startsWith('call-1-t1-leg-'))!;
      await s.session.enqueue({ type: 'b-answered', legId: legC });
      expect(s.calls).toEqual(expect.arrayContaining(['stopMoh chan-a', `addToBridge call-1-t1-bridge ["chan-a","${legC}"]`]));
      await vi.advanceTimersByTimeAsync(0);
      expect(s.calls).toContain(`transferProgress ${s.agentLeg} channel_answered`);
      await vi.advanceTimersByTimeAsync(5_000);
      expect(s.calls).toContain(`hangup ${s.agentLeg}`);
    } finally {
      vi.useRealTimers();
    }
  });

  it('outside numbers with the agent extension\'s class; declined: unknown number, attended, by the caller', async () => {
    const s = await agentOnCall({ extensionClass: 'internal' });
    await s.session.enqueue({ type: 'transfer', channelId: s.agentLeg, destination: '0301234567', replaces: null });
    await s.session.enqueue({ type: 'transfer', channelId: s.agentLeg, destination: '999', replaces: null });
    await s.session.enqueue({ type: 'transfer', channelId: s.agentLeg, destination: null, replaces: 'x@y' });
    await s.session.enqueue({ type: 'transfer', channelId: 'chan-a', destination: '1003', replaces: null });
    expect(s.calls).toEqual([
      `transferProgress ${s.agentLeg} channel_declined`, `transferProgress ${s.agentLeg} channel_declined`,
      `transferProgress ${s.agentLeg} channel_declined`, 'transferProgress chan-a channel_declined',
    ]);
    expect(s.ended).toEqual([]);
    const t = await agentOnCall({ extensionClass: 'national' });
    await t.session.enqueue({ type: 'transfer', channelId: t.agentLeg, destination: '0301234567', replaces: null });
    expect(t.calls.find((c) => c.startsWith('originate'))).toContain('"endpoint":"PJSIP/0301234567@trunk-main"');
  });
});

describe('a queue call on hold', () => {
  it('music for the other side while one holds; the time on hold reaches the ACD at the hang-up', async () => {
    const s = await agentOnCall();
    await s.session.enqueue({ type: 'hold', channelId: s.agentLeg, on: true });
    expect(s.calls).toEqual(['startMoh chan-a']);
    s.advance(4_000);
    await s.session.enqueue({ type: 'hold', channelId: s.agentLeg, on: false });
    expect(s.calls).toEqual(['startMoh chan-a', 'stopMoh chan-a']);
    s.advance(2_000);
    await s.session.enqueue({ type: 'hold', channelId: 'chan-a', on: true });
    expect(s.calls.at(-1)).toBe(`startMoh ${s.agentLeg}`);
    s.advance(1_500);
    await s.session.enqueue({ type: 'b-ended', legId: s.agentLeg, cause: 16 }); // the agent hangs up while the caller holds
    expect(s.ended).toEqual([['call-1', 5_500]]);
  });
});
