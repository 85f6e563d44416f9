import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { CallRecording, type RecordingDeps } from '../../src/calls/call-recording.js';
import type { CallFacts } from '../../src/calls/cdr.js';
import type { CallControl } from '../../src/telephony/ari-types.js';

/** A call's recording with fakes: what it asked Asterisk (recorder), wrote (rows) and handed the finisher. */
function setup(o: { site?: RecordingDeps['site']['policy']; queue?: 'always' | 'never' | 'on-demand' | null; room?: boolean; extension?: 'always' | 'never' | null } = {}) {
  const asked: string[] = [];
  const rows: Record<string, unknown>[] = [];
  const finished: string[] = [];
  let now = new Date('2026-12-06T10:00:00Z');
  const deps: RecordingDeps = {
    recorder: {
      start: async (channel, id) => void asked.push(`start ${channel} ${id.length}`),
      mute: async (channel, on) => void asked.push(`mute ${channel} ${on}`),
      stop: async (channel) => void asked.push(`stop ${channel}`),
    },
    rows: {
      insert: async (id, row) => void rows.push({ id, ...row }),
      update: async (id, patch) => void rows.push({ update: id, ...patch }),
      remove: async () => undefined,
      runningOn: async () => undefined,
    },
    finisher: { finish: async (id) => void finished.push(id) },
    hasRoom: async () => o.room ?? true,
    site: { policy: o.site ?? 'on-demand', recordQueueWait: true, mono: false, announcement: null },
    routeSources: async () => ({ extension: o.extension ?? null }),
    queue: async () => ({ policy: o.queue ?? null, samplePercent: null, announcement: null }),
    announcementMedia: async () => [],
  };
  const facts: CallFacts = { callId: 'c1', direction: 'inbound', callerNumber: '4930', callerName: null, dialedNumber: '100', startedAt: now, answeredAt: null, digits: '' };
  const rec = new CallRecording(
    { channelId: 'chan-1', log: pino({ level: 'silent' }), control: {} as CallControl, facts: () => facts, now: () => now, noticeDone: () => undefined },
    deps,
  );
  const settle = () => rec.command('pause', 'api').then(() => rec.command('resume', 'api')).catch(() => undefined);
  return { rec, asked, rows, finished, settle, tick: (ms: number) => (now = new Date(now.getTime() + ms)) };
}

/** Keys from the agent's or extension's phone (the other side of the call). */
const agent = { side: 'peer', fromPhone: true } as const;

describe('a call\'s recording (call-recording.ts)', () => {
  it('a queue with always: starts once the caller is answered, covers the queue then the talk, and is finished when the call ends', async () => {
    const { rec, asked, rows, finished } = setup({ queue: 'always' });
    rec.routed('PJSIP/trunk-carrier-0001', { kind: 'queue' }, null);
    rec.joinedQueue('support');
    await rec.command('stop', 'api').catch(() => undefined); // in order after the above: nothing recording yet
    expect(asked).toEqual([]);
    rec.callerAnswered();
    rec.partyAnswered('7001');
    rec.ended(new Date('2026-12-06T10:01:00Z'));
    await rec.command('start', 'api'); // waits for the queue of work; a start after the end makes a second recording (not asked here)
    expect(asked[0]).toBe('start chan-1 36');
    expect(rows[0]).toMatchObject({ callId: 'c1', channelId: 'chan-1', parts: ['queue'], caller: '4930', called: '100', channels: 2 });
    expect(rows.some((r) => (r['parts'] as string[] | undefined)?.includes('talk') && r['agent'] === '7001')).toBe(true);
    expect(finished).toHaveLength(1);
  });

  it('pause and resume mute and unmute in Asterisk and keep the stretch; the refusals carry their codes', async () => {
    const { rec, asked, rows, tick } = setup();
    expect(await rec.command('pause', 'api')).toEqual({ ok: false, refusal: 'recording-not-active' });
    expect((await rec.command('start', 'api')).ok).toBe(true);
    tick(1000);
    expect(await rec.command('pause', 'api')).toMatchObject({ ok: true, state: 'paused' });
    expect(rec.paused).toBe(true);
    expect(await rec.command('pause', 'api')).toEqual({ ok: false, refusal: 'recording-already-paused' });
    tick(2000);
    expect(await rec.command('resume', 'api')).toMatchObject({ ok: true, state: 'recording' });
    expect(asked.slice(1)).toEqual(['mute chan-1 true', 'mute chan-1 false']);
    expect(rows.at(-1)).toMatchObject({ pauses: [{ from: '2026-12-06T10:00:01.000Z', to: '2026-12-06T10:00:03.000Z', by: 'api' }] });
  });

  it('policy never: an on-demand start is refused; a queue that says never stops what the extension started', async () => {
    const never = setup({ site: 'never' });
    expect(await never.rec.command('start', 'api')).toEqual({ ok: false, refusal: 'recording-not-allowed' });
    const { rec, asked } = setup({ extension: 'always', queue: 'never' });
    rec.callerAnswered();
    rec.routed('PJSIP/1001-0001', { kind: 'flow' }, null);
    rec.joinedQueue('no-recording');
    await rec.command('resume', 'api');
    expect(asked.map((a) => a.split(' ')[0])).toEqual(['start', 'stop']);
  });

  it('the disk below its threshold: nothing starts, the refusal says why', async () => {
    const { rec, asked } = setup({ room: false });
    expect(await rec.command('start', 'api')).toEqual({ ok: false, refusal: 'recording-no-space' });
    expect(asked).toEqual([]);
  });

  it('*# on a connected call starts, then stops; not before the call is connected, not with other keys between', async () => {
    const { rec, asked, tick } = setup();
    rec.digit('*', false, agent);
    rec.digit('#', false, agent);
    rec.digit('*', true, agent);
    rec.digit('2', true, agent);
    rec.digit('#', true, agent);
    await rec.command('resume', 'api');
    expect(asked).toEqual([]);
    rec.digit('*', true, agent);
    tick(500);
    rec.digit('#', true, agent);
    await rec.command('resume', 'api');
    expect(asked.map((a) => a.split(' ')[0])).toEqual(['start']);
    rec.digit('*', true, agent);
    tick(4000); // too slow
    rec.digit('#', true, agent);
    rec.digit('*', true, agent);
    rec.digit('#', true, agent);
    await rec.command('resume', 'api');
    expect(asked.map((a) => a.split(' ')[0])).toEqual(['start', 'stop']);
  });

  it('*# from a carrier\'s party (caller or callee) does nothing; *# of one phone is not completed by the other\'s key', async () => {
    const { rec, asked } = setup();
    const outsideCaller = { side: 'caller', fromPhone: false } as const;
    rec.digit('*', true, outsideCaller);
    rec.digit('#', true, outsideCaller);
    rec.digit('*', true, { side: 'peer', fromPhone: false });
    rec.digit('#', true, { side: 'peer', fromPhone: false });
    await rec.command('resume', 'api');
    expect(asked).toEqual([]);
    // An extension calling an extension: both are phones, each presses one key: no sequence.
    const caller = { side: 'caller', fromPhone: true } as const;
    rec.digit('*', true, caller);
    rec.digit('#', true, agent);
    await rec.command('resume', 'api');
    expect(asked).toEqual([]);
    // The caller's own *# (an extension's phone) works, a key of the other side between them does not break it.
    rec.digit('*', true, caller);
    rec.digit('5', true, agent);
    rec.digit('#', true, caller);
    await rec.command('resume', 'api');
    expect(asked.map((a) => a.split(' ')[0])).toEqual(['start']);
  });

  it('the handset key is allowed (the bridge raises key events) unless the policy decided at the call\'s points so far says never', async () => {
    const onDemand = setup();
    onDemand.rec.routed('PJSIP/1001-0001', { kind: 'extension', number: '1002' }, null);
    expect(await onDemand.rec.handsetKeyAllowed()).toBe(true);
    const never = setup({ extension: 'never' });
    never.rec.routed('PJSIP/1001-0001', { kind: 'extension', number: '1002' }, null);
    expect(await never.rec.handsetKeyAllowed()).toBe(false);
    // A queue's word comes when the caller joins it: the route said always, the queue never.
    const queue = setup({ extension: 'always', queue: 'never' });
    queue.rec.routed('PJSIP/trunk-carrier-0001', { kind: 'queue' }, null);
    expect(await queue.rec.handsetKeyAllowed()).toBe(true);
    queue.rec.joinedQueue('quiet');
    expect(await queue.rec.handsetKeyAllowed()).toBe(false);
    const always = setup({ queue: 'always' });
    always.rec.routed('PJSIP/trunk-carrier-0001', { kind: 'queue' }, null);
    always.rec.joinedQueue('support');
    expect(await always.rec.handsetKeyAllowed()).toBe(true);
  });
});
