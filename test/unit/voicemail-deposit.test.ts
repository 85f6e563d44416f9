import { describe, expect, it } from 'vitest';
import { DEFAULT_GREETING, depositTransition, initialDepositState, takesMessages, type DepositEvent, type DepositState } from '../../src/voicemail/deposit.js';
import { isKeepableMessage, MIN_MESSAGE_MS, silentWav, wavDurationMs } from '../../src/voicemail/audio.js';
import { messageSummary, mwiAction } from '../../src/voicemail/mwi.js';

const S = { maxMessageSeconds: 180, maxSilenceSeconds: 10 };
let n = 0;
const ids = { playback: () => `pb-${++n}`, recording: (m: string) => `vm-${m}-rec${++n}` };
function run(events: DepositEvent[], from: DepositState = initialDepositState) {
  let state = from;
  const actions = [];
  for (const e of events) {
    const step = depositTransition(state, e, S, ids);
    state = step.state;
    actions.push(...step.actions);
  }
  return { state, actions };
}
const greeting = () => run([{ type: 'start', mailbox: '1002', greeting: null }, { type: 'answered' }]);
const recording = () => {
  const g = greeting();
  return run([{ type: 'playback-finished', playbackId: g.state.playbackId! }], g.state);
};

describe('leaving a message (deposit machine)', () => {
  it('answers, plays the built-in greeting, records after the beep until #, saves, says so, hangs up', () => {
    const g = greeting();
    expect(g.actions).toEqual([{ kind: 'answer' }, { kind: 'play', media: DEFAULT_GREETING, playbackId: g.state.playbackId }]);
    const r = run([{ type: 'playback-finished', playbackId: g.state.playbackId! }], g.state);
    expect(r.state.phase).toBe('recording');
    expect(r.actions).toEqual([{ kind: 'record', name: r.state.recordingName, maxDurationSeconds: 180, maxSilenceSeconds: 10, beep: true, terminateOn: '#' }]);
    const done = run([{ type: 'recording-ended', name: r.state.recordingName!, ok: true }], r.state);
    expect(done.actions[0]).toEqual({ kind: 'save-message', mailbox: '1002', name: r.state.recordingName });
    expect(done.actions[1]).toMatchObject({ kind: 'play', media: 'sound:vm-msgsaved' });
    const end = run([{ type: 'playback-finished', playbackId: done.state.playbackId! }], done.state);
    expect(end.actions).toEqual([{ kind: 'hangup' }]);
    expect(end.state.phase).toBe('hanging-up');
  });

  it('plays the mailbox\'s own greeting when it has one', () => {
    const g = run([{ type: 'start', mailbox: '1002', greeting: 'recording:vmg-1002-abcdef' }, { type: 'answered' }]);
    expect(g.actions[1]).toMatchObject({ kind: 'play', media: 'recording:vmg-1002-abcdef' });
  });

  it('# skips the greeting; other digits are ignored', () => {
    const g = greeting();
    expect(run([{ type: 'dtmf', digit: '5' }], g.state).actions).toEqual([]);
    const skip = run([{ type: 'dtmf', digit: '#' }], g.state);
    expect(skip.actions.map((a) => a.kind)).toEqual(['stop-playback', 'record']);
  });

  it('a caller hanging up while recording still leaves the message (saved once)', () => {
    const r = recording();
    const gone = run([{ type: 'channel-gone' }], r.state);
    expect(gone.actions).toEqual([{ kind: 'save-message', mailbox: '1002', name: r.state.recordingName }]);
    expect(gone.state.phase).toBe('ended');
    // the RecordingFinished that follows does not save it twice
    expect(run([{ type: 'recording-ended', name: r.state.recordingName!, ok: true }], gone.state).actions).toEqual([]);
    // and after a normal end, hanging up saves nothing more
    const done = run([{ type: 'recording-ended', name: r.state.recordingName!, ok: true }], r.state);
    expect(run([{ type: 'channel-gone' }], done.state).actions).toEqual([]);
  });

  it('hanging up during the greeting leaves nothing', () => {
    expect(run([{ type: 'channel-gone' }], greeting().state).actions).toEqual([]);
  });

  it('a failed recording is not saved; the caller hears goodbye', () => {
    const r = recording();
    const failed = run([{ type: 'recording-ended', name: r.state.recordingName!, ok: false }], r.state);
    expect(failed.actions).toEqual([expect.objectContaining({ kind: 'save-message' }), expect.objectContaining({ kind: 'play', media: 'sound:vm-goodbye' })]);
  });

  it('ignores stale playbacks, other recordings and DTMF storms while recording', () => {
    const r = recording();
    const storm: DepositEvent[] = Array.from({ length: 50 }, (_, i) => ({ type: 'dtmf', digit: '0123456789*#'[i % 12]! }));
    const after = run([...storm, { type: 'playback-finished', playbackId: 'old' }, { type: 'recording-ended', name: 'vm-1002-other', ok: true }], r.state);
    expect(after.actions).toEqual([]);
    expect(after.state).toEqual(r.state);
  });

  it('an ARI failure hangs up (saving what was recorded)', () => {
    const r = recording();
    const f = run([{ type: 'action-failed', action: 'record' }], r.state);
    expect(f.actions.map((a) => a.kind)).toEqual(['save-message', 'hangup']);
    expect(run([{ type: 'action-failed', action: 'play' }], greeting().state).actions).toEqual([{ kind: 'hangup' }]);
  });

  it('refuses a second start', () => {
    expect(run([{ type: 'start', mailbox: '1', greeting: null }], greeting().state)).toMatchObject({ actions: [] });
    expect(depositTransition(greeting().state, { type: 'start', mailbox: '1', greeting: null }, S, ids).rejected).toBe('start twice');
  });

  it('takes messages only with voicemail on and a PIN set', () => {
    expect(takesMessages({ voicemail_enabled: true, voicemail_pin_hash: 'x' })).toBe(true);
    expect(takesMessages({ voicemail_enabled: true, voicemail_pin_hash: null })).toBe(false);
    expect(takesMessages({ voicemail_enabled: false, voicemail_pin_hash: 'x' })).toBe(false);
  });
});

describe('recorded audio', () => {
  it('measures WAV duration and discards empty recordings', () => {
    expect(wavDurationMs(silentWav(2_500))).toBe(2_500);
    expect(wavDurationMs(silentWav(0))).toBe(0);
    expect(wavDurationMs(Buffer.from('not a wav file at all'))).toBeNull();
    expect(wavDurationMs(silentWav(1_000).subarray(0, 44 + 8_000))).toBe(500); // header claims more than is there
    expect(isKeepableMessage(null)).toBe(false);
    expect(isKeepableMessage(MIN_MESSAGE_MS - 1)).toBe(false);
    expect(isKeepableMessage(MIN_MESSAGE_MS)).toBe(true);
  });
});

describe('MWI', () => {
  it('builds the message-summary NOTIFY for AMI PJSIPNotify', () => {
    expect(messageSummary('1002', { fresh: 2, heard: 1 })).toEqual(['Messages-Waiting: yes', 'Message-Account: sip:1002', 'Voice-Message: 2/1 (0/0)']);
    expect(mwiAction('1002', { fresh: 0, heard: 3 })).toEqual({
      Action: 'PJSIPNotify',
      Endpoint: '1002',
      Variable: 'Event=message-summary,Content-Type=application/simple-message-summary,Content=Messages-Waiting: no,Content=Message-Account: sip:1002,Content=Voice-Message: 0/3 (0/0)',
    });
    expect(() => mwiAction('1002\r\nAction: Originate', { fresh: 1, heard: 0 })).toThrow();
  });
});
