import { describe, expect, it } from 'vitest';
import { initialMenuState, MAX_PIN_DIGITS, menuTransition, type MenuAction, type MenuEvent, type MenuMessage, type MenuState } from '../../src/voicemail/menu.js';

const S = { digitTimeoutMs: 5_000, maxPinAttempts: 3, maxGreetingSeconds: 60 };
let n = 0;
const ids = { playback: () => `pb-${++n}`, recording: (m: string) => `vmg-${m}-rec${++n}` };
function run(events: MenuEvent[], from: MenuState = initialMenuState) {
  let state = from;
  const actions: MenuAction[] = [];
  for (const e of events) {
    const step = menuTransition(state, e, S, ids);
    state = step.state;
    actions.push(...step.actions);
  }
  return { state, actions };
}
/** Let every queued prompt finish (up to a message, which the test plays out itself). */
function drain(from: MenuState) {
  let state = from;
  const actions: MenuAction[] = [];
  for (let i = 0; i < 20 && state.playbackId && state.phase !== 'message'; i++) {
    const step = menuTransition(state, { type: 'playback-finished', playbackId: state.playbackId }, S, ids);
    state = step.state;
    actions.push(...step.actions);
  }
  return { state, actions };
}
const digits = (d: string): MenuEvent[] => [...d].map((digit) => ({ type: 'dtmf', digit }));
const played = (actions: readonly MenuAction[]) => actions.flatMap((a) => (a.kind === 'play' ? [a.media] : []));
const msgs: MenuMessage[] = [
  { id: '12', media: 'recording:vm-1002-b', heard: false },
  { id: '11', media: 'recording:vm-1002-a', heard: true },
];

const atPin = () => run([{ type: 'start', mailbox: '1002' }, { type: 'answered' }]);
function loggedIn(messages: MenuMessage[] = msgs) {
  const pin = run([...digits('4821#'), { type: 'pin-checked', ok: true }, { type: 'messages', messages }], atPin().state);
  return drain(pin.state);
}

describe('mailbox menu (*97)', () => {
  it('answers and asks for the PIN; digits then # are checked', () => {
    const a = atPin();
    expect(a.actions[0]).toEqual({ kind: 'answer' });
    expect(played(a.actions)).toEqual(['sound:vm-password']);
    const entered = run(digits('4821#'), a.state);
    // the first digit stops the prompt (barge-in)
    expect(entered.actions[0]).toEqual({ kind: 'stop-playback', playbackId: a.state.playbackId });
    expect(entered.actions.at(-1)).toEqual({ kind: 'check-pin', mailbox: '1002', pin: '4821' });
    expect(entered.state.phase).toBe('checking');
  });

  it('right PIN: announces the number of new messages, then plays them newest first', () => {
    const pin = run([...digits('4821#'), { type: 'pin-checked', ok: true }], atPin().state);
    expect(pin.actions.at(-1)).toEqual({ kind: 'load-messages', mailbox: '1002' });
    const listed = run([{ type: 'messages', messages: msgs }], pin.state);
    const all = [...listed.actions, ...drain(listed.state).actions];
    expect(played(all)).toEqual(['sound:vm-youhave', 'number:1', 'sound:vm-INBOX', 'sound:vm-message', 'recording:vm-1002-b']);
    expect(drain(listed.state).state.phase).toBe('message');
  });

  it('wrong PIN: "incorrect", asked again; the third wrong PIN says goodbye and hangs up', () => {
    let s = atPin().state;
    for (let i = 1; i <= 2; i++) {
      const wrong = run([...digits('1#'), { type: 'pin-checked', ok: false }], s);
      expect(played(wrong.actions)).toEqual(['sound:vm-incorrect']);
      expect(wrong.state).toMatchObject({ phase: 'pin', attempts: i, pin: '' });
      s = drain(wrong.state).state;
    }
    const third = run([...digits('1#'), { type: 'pin-checked', ok: false }], s);
    expect(third.state).toMatchObject({ attempts: 3, hangupCause: 'pin-failed' });
    const end = drain(third.state);
    expect(played([...third.actions, ...end.actions])).toEqual(['sound:vm-incorrect', 'sound:vm-goodbye']);
    expect(end.actions.at(-1)).toEqual({ kind: 'hangup' });
    // digits after that change nothing
    expect(run(digits('4821#'), end.state).actions).toEqual([]);
  });

  it('a locked mailbox: "incorrect", goodbye and hang up at once, even on the first try of the call', () => {
    const locked = run([...digits('4821#'), { type: 'pin-checked', ok: false, locked: true }], atPin().state);
    expect(locked.state).toMatchObject({ attempts: 1, pin: '', hangupCause: 'pin-locked' });
    const end = drain(locked.state);
    expect(played([...locked.actions, ...end.actions])).toEqual(['sound:vm-incorrect', 'sound:vm-goodbye']);
    expect(end.actions.at(-1)).toEqual({ kind: 'hangup' });
    expect([...locked.actions, ...end.actions].some((a) => a.kind === 'load-messages')).toBe(false);
    expect(run(digits('4821#'), end.state).actions).toEqual([]);
  });

  it('silence at the PIN prompt counts as a wrong try; an over-long PIN cannot match', () => {
    const a = drain(atPin().state);
    expect(a.actions.at(-1)).toMatchObject({ kind: 'start-timer' });
    const t = run([{ type: 'menu-timeout', gen: a.state.timerGen }], a.state);
    expect(t.actions).toEqual([{ kind: 'check-pin', mailbox: '1002', pin: '' }]);
    const long = run(digits('1'.repeat(30) + '#'), atPin().state);
    const check = long.actions.at(-1) as Extract<MenuAction, { kind: 'check-pin' }>;
    expect(check.pin.length).toBe(MAX_PIN_DIGITS + 1);
    // a timeout from before the last digit is stale
    expect(run([{ type: 'menu-timeout', gen: a.state.timerGen }], run(digits('4'), a.state).state).actions).toEqual([]);
  });

  it('7 deletes, 9 saves (marks heard), # skips; then "no more messages"', () => {
    const m = loggedIn();
    const del = run(digits('7'), m.state);
    expect(del.actions.slice(0, 2)).toEqual([{ kind: 'stop-playback', playbackId: m.state.playbackId }, { kind: 'delete-message', mailbox: '1002', id: '12' }]);
    expect(played(del.actions)).toEqual(['sound:vm-deleted']);
    const second = drain(del.state);
    expect(played(second.actions)).toEqual(['recording:vm-1002-a']);
    const save = run([{ type: 'playback-finished', playbackId: second.state.playbackId! }, ...digits('9')], second.state);
    expect(save.actions).toContainEqual({ kind: 'mark-heard', mailbox: '1002', id: '11' });
    const end = drain(save.state);
    expect(played([...save.actions, ...end.actions])).toEqual(['sound:vm-msgsaved', 'sound:vm-nomore']);
    expect(end.state.phase).toBe('end-choice');
    const skip = run(digits('#'), loggedIn().state);
    expect(played(skip.actions)).toEqual(['recording:vm-1002-a']);
    expect(skip.actions.some((a) => a.kind === 'mark-heard' || a.kind === 'delete-message')).toBe(false);
  });

  it('no answer after a message moves on; after the last, silence says goodbye', () => {
    const m = loggedIn([msgs[0]!]);
    const chose = run([{ type: 'playback-finished', playbackId: m.state.playbackId! }], m.state);
    expect(chose.state.phase).toBe('choose');
    const next = run([{ type: 'menu-timeout', gen: chose.state.timerGen }], chose.state);
    expect(played(next.actions)).toEqual(['sound:vm-nomore']);
    const end = drain(next.state);
    const bye = run([{ type: 'menu-timeout', gen: end.state.timerGen }], end.state);
    expect(played(bye.actions)).toEqual(['sound:vm-goodbye']);
    expect(drain(bye.state).actions).toEqual([{ kind: 'hangup' }]);
  });

  it('an empty mailbox says "you have 0 new messages", "no more messages"', () => {
    const m = loggedIn([]);
    expect(played(m.actions)).toEqual(['number:0', 'sound:vm-INBOX', 'sound:vm-messages', 'sound:vm-nomore']);
    expect(m.state.phase).toBe('end-choice');
  });

  it('0 records a new greeting until #; it is saved, then goodbye', () => {
    const m = loggedIn();
    const g = drain(run(digits('0'), m.state).state);
    const rec = g.actions.at(-1) as Extract<MenuAction, { kind: 'record' }>;
    expect(rec).toMatchObject({ kind: 'record', maxDurationSeconds: 60, beep: true, terminateOn: '#' });
    expect(g.state.phase).toBe('greeting-recording');
    // the '#' that ends the recording also arrives as DTMF: ignored
    const ended = run([...digits('#'), { type: 'recording-ended', name: rec.name, ok: true }], g.state);
    expect(ended.actions[0]).toEqual({ kind: 'save-greeting', mailbox: '1002', name: rec.name });
    expect(played(ended.actions)).toEqual(['sound:vm-msgsaved']);
    expect(drain(ended.state).actions.at(-1)).toEqual({ kind: 'hangup' });
    // hanging up mid-greeting keeps the old greeting
    expect(run([{ type: 'channel-gone' }], g.state).actions).toEqual([]);
  });

  it('DTMF storms in any phase are harmless: every action stays well-formed', () => {
    const storm = digits('0123456789*#ABCD'.repeat(10));
    for (const s of [atPin().state, loggedIn().state, run([...digits('4821#')], atPin().state).state]) {
      const r = run(storm, s);
      for (const a of r.actions) expect(['stop-playback', 'play', 'start-timer', 'check-pin', 'delete-message', 'mark-heard', 'record', 'hangup']).toContain(a.kind);
    }
    expect(menuTransition(atPin().state, { type: 'dtmf', digit: 'xx' }, S, ids).rejected).toMatch(/not a DTMF digit/);
  });

  it('out-of-place results are refused; failures hang up', () => {
    expect(menuTransition(atPin().state, { type: 'pin-checked', ok: true }, S, ids).rejected).toBeDefined();
    expect(menuTransition(atPin().state, { type: 'messages', messages: [] }, S, ids).rejected).toBeDefined();
    const f = run([{ type: 'action-failed', action: 'play' }], loggedIn().state);
    expect(f.actions).toEqual([{ kind: 'hangup' }]);
    expect(f.state.hangupCause).toBe('error');
  });
});
