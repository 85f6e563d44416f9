/** A call session carrying out a blind transfer, against a fake Asterisk (CallControl). */
import { describe, expect, it, vi } from 'vitest';
import { connected, setup } from '../support/session-harness.js';

describe('blind transfer in a call session', () => {
  it("B transfers A to C: B's part gets its CDR, C rings with A's caller id, answers, B is told and hung up", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const s = await connected();
      s.calls.length = 0;
      await s.session.enqueue({ type: 'transfer', channelId: s.legB, destination: '1003', replaces: null });
      expect(s.cdrs).toHaveLength(1);
      expect(s.cdrs[0]).toMatchObject({ call_id: 'call-1', linked_id: 'call-1', dialed_number: '1002', disposition: 'ANSWERED', ended_by: 'transfer', billable_seconds: 10 });
      expect(s.session.callId).toBe('call-1-t1');
      expect(s.rows).toEqual(['call-1', 'call-1-t1']);
      expect(s.calls).toContain(`transferProgress ${s.legB} channel_progress`);
      expect(s.calls).toContain('destroyBridge call-1-bridge');
      expect(s.calls).toContain('startMoh chan-a');
      const originate = s.calls.find((c) => c.startsWith('originate'))!;
      expect(originate).toContain('"endpoint":"PJSIP/1003"');
      expect(originate).toContain('"callerId":"\\"Anna Berg\\" <1001>"');
      expect(s.calls.some((c) => c.startsWith('ring '))).toBe(false); // the caller is up: no ringing back

      const legC = s.nextLeg();
      s.advance(3000);
      s.calls.length = 0;
      await s.session.enqueue({ type: 'b-answered', legId: legC });
      expect(s.calls).not.toContain('answer chan-a'); // answered long ago
      expect(s.calls).toEqual(expect.arrayContaining(['stopMoh chan-a', 'createBridge call-1-t1-bridge {"dtmfEvents":false}', `addToBridge call-1-t1-bridge ["chan-a","${legC}"]`]));
      await vi.advanceTimersByTimeAsync(0);
      expect(s.calls).toContain(`transferProgress ${s.legB} channel_answered`);
      await vi.advanceTimersByTimeAsync(5000);
      expect(s.calls).toContain(`hangup ${s.legB}`);

      // B's phone hanging up no longer matters; A and C talk until A hangs up.
      await s.session.enqueue({ type: 'b-ended', legId: s.legB, cause: 16 });
      expect(s.calls.some((c) => c.startsWith('hangup chan-a'))).toBe(false);
      s.advance(20_000);
      await s.session.enqueue({ type: 'hangup-request', cause: 16 });
      await s.session.enqueue({ type: 'destroyed', cause: 16, causeText: 'Normal Clearing' });
      expect(s.cdrs[1]).toMatchObject({ call_id: 'call-1-t1', linked_id: 'call-1', dialed_number: '1003', caller_number: '1001', disposition: 'ANSWERED', ended_by: 'caller', billable_seconds: 20, duration_seconds: 23 });
      // Each part names who answered it and splits its wait from its talk: B's part rang 2 s and
      // talked 10 s; the next part waited while C rang (3 s, A on hold) and talked 20 s with C.
      expect(s.cdrs[0]).toMatchObject({ answered_by: '1002', wait_seconds: 2, talk_seconds: 10 });
      expect(s.cdrs[1]).toMatchObject({ answered_by: '1003', agent: null, queue: null, wait_seconds: 3, talk_seconds: 20 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('a transfer to an unknown number is declined and the call stays as it was', async () => {
    const s = await connected();
    s.calls.length = 0;
    await s.session.enqueue({ type: 'transfer', channelId: s.legB, destination: '999', replaces: null });
    expect(s.calls).toEqual([`transferProgress ${s.legB} channel_declined`]);
    expect(s.cdrs).toHaveLength(0);
    expect(s.session.callId).toBe('call-1');
  });

  it("a transfer to an outside number is checked against the transferring extension's class, not the caller's", async () => {
    // The caller (an outside line here: no class) reached 1002, which may call national numbers.
    const s = await connected();
    s.calls.length = 0;
    await s.session.enqueue({ type: 'transfer', channelId: s.legB, destination: '0301234567', replaces: null });
    expect(s.calls.find((c) => c.startsWith('originate'))).toContain('"endpoint":"PJSIP/0301234567@trunk-main"');
    // 1004 may only call internally: its transfer out is declined.
    const t = await connected({ dialed: '1004' });
    t.calls.length = 0;
    await t.session.enqueue({ type: 'transfer', channelId: t.legB, destination: '0301234567', replaces: null });
    expect(t.calls).toEqual([`transferProgress ${t.legB} channel_declined`]);
  });

  it('attended transfers and transfers by the caller are declined', async () => {
    const s = await connected();
    s.calls.length = 0;
    await s.session.enqueue({ type: 'transfer', channelId: s.legB, destination: null, replaces: 'x@y' });
    await s.session.enqueue({ type: 'transfer', channelId: 'chan-a', destination: '1003', replaces: null });
    expect(s.calls).toEqual([`transferProgress ${s.legB} channel_declined`, 'transferProgress chan-a channel_declined']);
  });

  it('when the target is busy the transfer fails: B is told, A is let go with busy', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const s = await connected();
      await s.session.enqueue({ type: 'transfer', channelId: s.legB, destination: '1003', replaces: null });
      const legC = s.nextLeg();
      s.calls.length = 0;
      await s.session.enqueue({ type: 'b-ended', legId: legC, cause: 17 });
      await vi.advanceTimersByTimeAsync(0);
      expect(s.calls).toEqual(expect.arrayContaining([`transferProgress ${s.legB} channel_declined`, 'hangup chan-a busy']));
      await s.session.enqueue({ type: 'destroyed', cause: 17, causeText: 'User busy' });
      expect(s.cdrs[1]).toMatchObject({ call_id: 'call-1-t1', linked_id: 'call-1', disposition: 'BUSY', hangup_cause: 17, answered_at: null, answered_by: null, ended_by: 'system', talk_seconds: 0, billable_seconds: 0 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('the caller hangs up while the target rings: the next part is NO ANSWER, all wait, ended by the caller', async () => {
    const s = await connected();
    await s.session.enqueue({ type: 'transfer', channelId: s.legB, destination: '1003', replaces: null });
    s.advance(4000);
    await s.session.enqueue({ type: 'hangup-request', cause: 16 });
    await s.session.enqueue({ type: 'destroyed', cause: 16, causeText: 'Normal Clearing' });
    expect(s.cdrs[0]).toMatchObject({ call_id: 'call-1', ended_by: 'transfer', answered_by: '1002' });
    expect(s.cdrs[1]).toMatchObject({ call_id: 'call-1-t1', disposition: 'NO ANSWER', answered_at: null, answered_by: null, ended_by: 'caller', wait_seconds: 4, talk_seconds: 0 });
  });
});

describe('forward to an outside number', () => {
  it("is dialed with the forwarding extension's permission class, not the caller's", async () => {
    const s = setup({ dialed: '1005' }); // 1005 forwards always to 0301234567 and may call national numbers
    await s.session.enqueue({ type: 'stasis-start' });
    expect(s.calls.find((c) => c.startsWith('originate'))).toContain('"endpoint":"PJSIP/0301234567@trunk-main"');
    const t = setup({ dialed: '1006' }); // the same forward, but 1006 may only call internally
    await t.session.enqueue({ type: 'stasis-start' });
    expect(t.calls.some((c) => c.startsWith('originate'))).toBe(false);
    expect(t.calls.some((c) => c.startsWith('hangup chan-a'))).toBe(true);
  });
});

describe('attended transfer between two call sessions', () => {
  // Call 1: A (1001, chan-a) called B (leg B1). Call 2: B (1002, chan-b2) called C (leg C).
  async function twoCalls() {
    const one = await connected();
    const two = await connected({ anchor: 'chan-b2', callId: 'call-2', caller: ['1002', 'Ben Kohl'], dialed: '1003', shared: one });
    return { one, two, legB1: one.legB, legC: two.legB };
  }

  it("B's REFER on call 1 replacing call 2: call 1 survives with A and C, call 2 ends, three linked CDRs", async () => {
    const { one, two, legB1, legC } = await twoCalls();
    const referrer = await one.session.transferSide(legB1);
    const replaced = await two.session.transferSide('chan-b2');
    expect(referrer).toMatchObject({ leaving: legB1, remaining: 'chan-a', remainingIsCaller: true, number: '1001', linkedId: 'call-1' });
    expect(replaced).toMatchObject({ leaving: 'chan-b2', remaining: legC, remainingIsCaller: false, number: '1003', linkedId: 'call-2' });
    one.calls.length = 0;
    const joined = await two.session.handOver('chan-b2', 'call-1');
    expect(joined).toEqual(replaced);
    expect(one.anchors.has('chan-b2')).toBe(false); // call 2 is gone from the dispatcher
    expect(one.legs.has(legC)).toBe(false);
    expect(one.cdrs.at(-1)).toMatchObject({ call_id: 'call-2', linked_id: 'call-1', caller_number: '1002', dialed_number: '1003', ended_by: 'transfer', disposition: 'ANSWERED' });
    expect(one.calls.filter((c) => c.startsWith('hangup'))).toEqual([]); // nobody is hung up by the hand-over

    expect(await one.session.takeOver(legB1, joined!)).toBe(true);
    expect(one.cdrs.map((c) => [c.call_id, c.linked_id, c.ended_by])).toEqual([
      ['call-2', 'call-1', 'transfer'],
      ['call-1', 'call-1', 'transfer'],
    ]);
    expect(one.session.callId).toBe('call-1-t1');
    expect(one.session.channelId).toBe('chan-a');
    expect(one.legs.get(legC)).toBe(one.session);
    expect(one.legs.has(legB1)).toBe(false);
    expect(one.calls).toEqual(
      expect.arrayContaining(['destroyBridge call-2-bridge', 'destroyBridge call-1-bridge', 'createBridge call-1-t1-bridge {"dtmfEvents":false}', `addToBridge call-1-t1-bridge ["chan-a","${legC}"]`, 'stopMoh chan-a']),
    );
    expect(one.calls.filter((c) => c.startsWith('hangup'))).toEqual([]);

    // A hangs up: the joined part ends, C's leg is hung up, the CDR says A talked to C.
    one.advance(7000);
    one.calls.length = 0;
    await one.session.enqueue({ type: 'hangup-request', cause: 16 });
    await one.session.enqueue({ type: 'destroyed', cause: 16, causeText: 'Normal Clearing' });
    expect(one.calls).toContain(`hangup ${legC}`);
    expect(one.cdrs.at(-1)).toMatchObject({ call_id: 'call-1-t1', linked_id: 'call-1', caller_number: '1001', caller_name: 'Anna Berg', dialed_number: '1003', ended_by: 'caller', billable_seconds: 7 });
    // Who answered each part: B on call 1, C on the consultation and on the joined part (all talk).
    expect(one.cdrs.map((c) => [c.call_id, c.answered_by, c.wait_seconds, c.talk_seconds])).toEqual([
      ['call-2', '1003', 2, 10],
      ['call-1', '1002', 2, 10],
      ['call-1-t1', '1003', 0, 7],
    ]);
  });

  it('when B placed both calls, the survivor\'s remaining party becomes its caller', async () => {
    // Call 1: B (chan-b1) called A (leg A); call 2: B (chan-b2) called C (leg C). B REFERs on call 1.
    const one = await connected({ anchor: 'chan-b1', callId: 'call-1', caller: ['1002', 'Ben Kohl'], dialed: '1001' });
    const two = await connected({ anchor: 'chan-b2', callId: 'call-2', caller: ['1002', 'Ben Kohl'], dialed: '1003', shared: one });
    const [legA, legC] = [one.legB, two.legB];
    const kept = await one.session.transferSide('chan-b1');
    expect(kept).toMatchObject({ remaining: legA, remainingIsCaller: false, number: '1001' });
    const joined = await two.session.handOver('chan-b2', 'call-1');
    expect(await one.session.takeOver('chan-b1', joined!)).toBe(true);
    expect(one.session.channelId).toBe(legA);
    expect(one.anchors.get(legA)).toBe(one.session);
    expect(one.anchors.has('chan-b1')).toBe(false);
    expect(one.legs.has(legA)).toBe(false);
    expect(one.legs.get(legC)).toBe(one.session);
    one.advance(5000);
    // C hangs up: the call ends by hanging up its new caller (A).
    one.calls.length = 0;
    await one.session.enqueue({ type: 'b-ended', legId: legC, cause: 16 });
    expect(one.calls).toContain(`hangup ${legA} normal`);
    await one.session.enqueue({ type: 'destroyed', cause: 16, causeText: 'Normal Clearing' });
    expect(one.cdrs.at(-1)).toMatchObject({ call_id: 'call-1-t1', linked_id: 'call-1', caller_number: '1001', dialed_number: '1003', disposition: 'ANSWERED', answered_by: '1003', ended_by: 'callee', wait_seconds: 0, talk_seconds: 5 });
  });

  it('a call that is not connected takes no part: no side, no hand-over', async () => {
    const s = setup();
    await s.session.enqueue({ type: 'stasis-start' }); // still ringing B
    const leg = s.nextLeg();
    expect(await s.session.transferSide(leg)).toBeNull();
    expect(await s.session.handOver(leg, 'x')).toBeNull();
    expect(s.cdrs).toHaveLength(0);
    const c = await connected();
    expect(await c.session.transferSide('some-other-channel')).toBeNull();
  });
});
