/**
 * A caller joining a queue: the routing decision and the agent's claim come before the caller is
 * answered; one offered to an agent at once is answered once that agent's phone is rung, anyone
 * else right after the decision. Only the bridge waits for the answer. A caller who cannot be
 * answered is hung up and their agent's phone let go.
 */
import { describe, expect, it, vi } from 'vitest';
import { setup } from '../support/session-harness.js';
import type { AcdEngine, QueueCallPort } from '../../src/acd/engine.js';
import { drained, eventually } from '../support/wait.js';

/** An ACD with one idle agent (2001 at extension 1010; the join offers the call to them at once), or none. */
function fakeAcd(log: string[], agentFree = true, offered: Promise<boolean> = Promise.resolve(agentFree)) {
  return {
    join: async (call: { callId: string }, port: QueueCallPort) => {
      log.push(`join ${call.callId}`);
      if (agentFree) port.offer([{ id: 'agent-1', number: '2001', extension: '1010' }], 15);
      return { kind: 'joined', queue: { callbackAfterSeconds: null }, offered };
    },
    offerAnswered: async () => (log.push('offer answered'), true),
    callerLeft: async (_id: string, why: string) => void log.push(`caller left ${why}`),
    callEnded: async () => void log.push('call ended'),
  } as unknown as AcdEngine;
}

function deferred() {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Until `check` holds: the session's work here is promise callbacks of fakes that answer at once. */
const until = (check: () => boolean, what: string) => eventually(async () => (check() ? true : undefined), 5_000, what, 1);

describe('a caller joining a queue', () => {
  it('offered to an agent at once, is answered once the phone is rung; the bridge waits for the answer', async () => {
    const acdLog: string[] = [];
    const answer = deferred();
    const s = setup({ route: { kind: 'queue', queue: 'sales' }, acd: fakeAcd(acdLog), control: { answer: () => answer.promise } });
    const started = s.session.enqueue({ type: 'stasis-start' });
    await until(() => s.calls.some((c) => c.startsWith('answer')), 'the caller being answered');
    // The agent's phone is rung, then the caller answered (still under way).
    expect(acdLog).toEqual(['join call-1']);
    const asked = s.calls.filter((c) => /^(answer|originate)/.test(c)).map((c) => c.split(' ')[0]);
    expect(asked).toEqual(['originate', 'answer']);
    const leg = [...s.legs.keys()][0]!;
    expect(s.calls.some((c) => c.startsWith('originate') && c.includes('PJSIP/1010'))).toBe(true);
    // The agent answers first: nothing is bridged until the caller is answered.
    const answered = s.session.enqueue({ type: 'b-answered', legId: leg });
    await drained(); // all the agent's answer can do before the caller's answer has been done
    expect(s.calls.filter((c) => c.startsWith('addToBridge'))).toEqual([]);
    answer.resolve();
    await started;
    await answered;
    expect(acdLog).toEqual(['join call-1', 'offer answered']);
    expect(s.calls.filter((c) => c.startsWith('addToBridge'))).toEqual([`addToBridge call-1-bridge ${JSON.stringify(['chan-a', leg])}`]);
  });

  it('with no agent free, is answered at once and hears music on hold', async () => {
    const acdLog: string[] = [];
    const s = setup({ route: { kind: 'queue', queue: 'sales' }, acd: fakeAcd(acdLog, false) });
    await s.session.enqueue({ type: 'stasis-start' });
    await until(() => s.calls.includes('startMoh chan-a'), 'music on hold'); // started once the answer is through, not awaited
    expect(s.calls.filter((c) => /^(answer|originate|startMoh)/.test(c))).toEqual(['answer chan-a', 'startMoh chan-a']);
  });

  it('is answered within 500 ms however long the routing decision takes (a slow database)', async () => {
    // The session's timers on a fake clock: the 500 ms pass at once, and exactly.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const acdLog: string[] = [];
      const s = setup({ route: { kind: 'queue', queue: 'sales' }, acd: fakeAcd(acdLog, false, new Promise<boolean>(() => undefined)) });
      const started = s.session.enqueue({ type: 'stasis-start' });
      await drained(); // everything up to waiting for the decision has run
      expect(acdLog).toEqual(['join call-1']);
      expect(s.calls.filter((c) => c.startsWith('answer'))).toEqual([]);
      await vi.advanceTimersByTimeAsync(500);
      await drained();
      expect(s.calls.filter((c) => /^(answer|startMoh)/.test(c))).toEqual(['answer chan-a', 'startMoh chan-a']);
      await started;
    } finally {
      vi.useRealTimers();
    }
  });

  it('that cannot be answered is hung up, and the agent who answers meanwhile is not connected', async () => {
    const acdLog: string[] = [];
    const answer = deferred();
    const s = setup({ route: { kind: 'queue', queue: 'sales' }, acd: fakeAcd(acdLog), control: { answer: () => answer.promise } });
    const started = s.session.enqueue({ type: 'stasis-start' });
    await until(() => s.legs.size > 0, "the agent's phone rung");
    const leg = [...s.legs.keys()][0]!;
    const agentAnswered = s.session.enqueue({ type: 'b-answered', legId: leg });
    answer.reject(new Error('ARI POST /channels/chan-a/answer: HTTP 500'));
    await started;
    await agentAnswered;
    await until(() => s.calls.includes('hangup chan-a normal'), 'the caller hung up');
    await drained();
    expect(s.calls.filter((c) => c.startsWith('hangup'))).toEqual([`hangup ${leg}`, 'hangup chan-a normal']);
    expect(s.calls.filter((c) => c.startsWith('addToBridge') || c.startsWith('startMoh'))).toEqual([]);
    expect(acdLog).toEqual(['join call-1']); // never claimed as answered
  });
});
