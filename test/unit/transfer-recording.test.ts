import { describe, expect, it } from 'vitest';
import type { RecordingPolicy } from '../../src/calls/recording-policy.js';
import { connected, fakeRecordingDeps } from '../support/session-harness.js';

/**
 * The recording across an attended transfer (session.ts handOver / takeOver, call-recording.ts
 * leaving / carryOn): every part of the call is covered, whichever call's channel leaves.
 */
async function twoCalls(o: { one: RecordingPolicy | null; two: RecordingPolicy | null; bPlacedBoth?: boolean }) {
  const asked: string[] = [];
  const rows: Record<string, unknown>[] = [];
  // Call 1: A (1001, chan-a) called B, or (bPlacedBoth) B (chan-b1) called A. Call 2: B (chan-b2) called C.
  const one = o.bPlacedBoth
    ? await connected({ anchor: 'chan-b1', callId: 'call-1', caller: ['1002', 'Ben Kohl'], dialed: '1001', recording: fakeRecordingDeps(o.one, asked, rows) })
    : await connected({ recording: fakeRecordingDeps(o.one, asked, rows) });
  const two = await connected({ anchor: 'chan-b2', callId: 'call-2', caller: ['1002', 'Ben Kohl'], dialed: '1003', shared: one, recording: fakeRecordingDeps(o.two, asked, rows) });
  // Let each call's recording settle (policy, start) before the transfer.
  await one.session.recordingCommand('resume', 'api');
  await two.session.recordingCommand('resume', 'api');
  /** The transfer; then `settle` (a command that changes nothing here) lets the recording's work finish. */
  const transfer = async (settle: 'resume' | 'pause' = 'resume') => {
    const leaving = o.bPlacedBoth ? 'chan-b1' : one.legB;
    const joined = await two.session.handOver('chan-b2', 'call-1');
    expect(await one.session.takeOver(leaving, joined!)).toBe(true);
    await one.session.recordingCommand(settle, 'api');
  };
  return { one, two, asked, rows, transfer, inserts: () => rows.filter((r) => !('update' in r)) };
}

describe('recording across an attended transfer', () => {
  it('the consultation was recorded (C\'s policy always): it stops with B\'s line, and the joined part A-C is recorded on A\'s channel, linked to the call', async () => {
    const t = await twoCalls({ one: null, two: 'always' });
    expect(t.asked).toEqual(['start chan-b2']);
    await t.transfer();
    expect(t.asked).toEqual(['start chan-b2', 'stop chan-b2', 'start chan-a']);
    const [consult, joined] = t.inserts();
    expect(consult).toMatchObject({ callId: 'call-2', channelId: 'chan-b2' });
    expect(joined).toMatchObject({ callId: 'call-1-t1', linkedId: 'call-1', channelId: 'chan-a', parts: ['transfer'] });
    // The consultation's row notes its transfer; the joined one covers the talk too.
    expect(t.rows.some((r) => r['update'] === consult!['id'] && (r['parts'] as string[]).includes('transfer'))).toBe(true);
    expect(t.rows.some((r) => r['update'] === joined!['id'] && (r['parts'] as string[]).includes('talk'))).toBe(true);
  });

  it('A\'s call was recorded (on A\'s channel, which stays): that recording goes on through the transfer, nothing new starts', async () => {
    const t = await twoCalls({ one: 'always', two: null });
    await t.transfer();
    expect(t.asked).toEqual(['start chan-a']);
    const [first] = t.inserts();
    expect(t.rows.some((r) => r['update'] === first!['id'] && (r['parts'] as string[]).includes('transfer'))).toBe(true);
  });

  it('B placed both calls and its recorded line is the one that leaves: that recording stops, a new one records A (now the caller) with C', async () => {
    const t = await twoCalls({ one: 'always', two: null, bPlacedBoth: true });
    expect(t.asked).toEqual(['start chan-b1']);
    await t.transfer();
    const legA = t.one.session.channelId;
    expect(t.asked).toEqual(['start chan-b1', 'stop chan-b1', `start ${legA}`]);
    expect(t.inserts()[1]).toMatchObject({ callId: 'call-1-t1', linkedId: 'call-1', channelId: legA });
  });

  it('a consultation paused for a card payment: the joined part\'s recording starts paused (the file holds silence)', async () => {
    const t = await twoCalls({ one: null, two: 'always' });
    expect(await t.two.session.recordingCommand('pause', 'api')).toMatchObject({ ok: true, state: 'paused' });
    await t.transfer('pause');
    expect(t.asked).toEqual(['start chan-b2', 'mute chan-b2 true', 'stop chan-b2', 'start chan-a', 'mute chan-a true']);
    expect(t.one.session.recordingPaused).toBe(true);
  });

  it('the surviving call\'s policy is never: the handed-over recording stops and nothing records the joined part', async () => {
    const t = await twoCalls({ one: 'never', two: 'always' });
    await t.transfer();
    expect(t.asked).toEqual(['start chan-b2', 'stop chan-b2']);
  });
});
