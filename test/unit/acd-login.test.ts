import { describe, expect, it } from 'vitest';
import { initialLoginState, loginTransition, LOGIN_PROMPTS, type LoginAction, type LoginEvent, type LoginState } from '../../src/acd/login.js';

const settings = { digitTimeoutMs: 5000, maxAttempts: 3 };

function run(events: LoginEvent[], from: LoginState = initialLoginState) {
  let state = from;
  const actions: LoginAction[] = [];
  for (const e of events) {
    const step = loginTransition(state, e, settings);
    state = step.state;
    actions.push(...step.actions);
  }
  return { state, actions };
}
const digits = (s: string): LoginEvent[] => [...s].map((digit) => ({ type: 'dtmf', digit }));
const plays = (actions: LoginAction[]) => actions.filter((a) => a.kind === 'play').map((a) => (a.kind === 'play' ? a.media.join('+') : ''));

describe('agent login by feature code', () => {
  it('number, #, PIN, #: checked; ok says logged in and hangs up', async () => {
    const { state, actions } = run([{ type: 'start' }, ...digits('2001#'), ...digits('4711#')]);
    expect(actions[0]).toEqual({ kind: 'answer' });
    expect(plays(actions)).toEqual([LOGIN_PROMPTS.number, LOGIN_PROMPTS.pin]);
    expect(actions).toContainEqual({ kind: 'stop-playback', playbackId: 'login-1' }); // barge-in on agent-user
    expect(actions.at(-1)).toEqual({ kind: 'check', number: '2001', pin: '4711' });
    const ok = run([{ type: 'checked', outcome: 'ok' }], state);
    expect(plays(ok.actions)).toEqual([LOGIN_PROMPTS.ok]);
    const done = run([{ type: 'playback-finished', playbackId: ok.state.playbackId! }], ok.state);
    expect(done.actions).toEqual([{ kind: 'hangup' }]);
    expect(done.state).toMatchObject({ phase: 'ended', result: 'ok' });
  });

  it('a wrong PIN asks again (agent-incorrect); the third wrong try says goodbye', async () => {
    let s = run([{ type: 'start' }, ...digits('2001#'), ...digits('1111#'), { type: 'checked', outcome: 'wrong' }]);
    expect(plays(s.actions).at(-1)).toBe(LOGIN_PROMPTS.incorrect);
    expect(s.state).toMatchObject({ phase: 'number', attempts: 1, number: '', pin: '' });
    s = run([...digits('2001#'), ...digits('2222#'), { type: 'checked', outcome: 'wrong' }, ...digits('2001#'), ...digits('3333#'), { type: 'checked', outcome: 'wrong' }], s.state);
    expect(s.state).toMatchObject({ phase: 'telling', result: 'failed', attempts: 3 });
    expect(plays(s.actions).at(-1)).toBe([LOGIN_PROMPTS.incorrect, ...LOGIN_PROMPTS.failed].join('+'));
  });

  it('a locked agent hears auth-incorrect and goodbye', async () => {
    const s = run([{ type: 'start' }, ...digits('2001#4711#'), { type: 'checked', outcome: 'locked' }]);
    expect(s.state.result).toBe('locked');
    expect(plays(s.actions).at(-1)).toBe(LOGIN_PROMPTS.locked.join('+'));
  });

  it('when the login cannot be checked or stored, the agent hears the system is busy (not a wrong PIN) and is hung up', async () => {
    const s = run([{ type: 'start' }, ...digits('2001#4711#'), { type: 'checked', outcome: 'unavailable' }]);
    expect(s.state).toMatchObject({ phase: 'telling', result: 'unavailable', attempts: 0 });
    expect(plays(s.actions).at(-1)).toBe(LOGIN_PROMPTS.unavailable.join('+'));
    expect(run([{ type: 'playback-finished', playbackId: s.state.playbackId! }], s.state).actions).toEqual([{ kind: 'hangup' }]);
  });

  it('silence ends an entry; an empty entry is a wrong try; stale timers are ignored', async () => {
    const a = run([{ type: 'start' }, { type: 'playback-finished', playbackId: 'login-1' }, ...digits('20')]);
    const gen = a.state.timerGen;
    const b = run([{ type: 'timeout', gen: gen - 1 }], a.state);
    expect(b.state).toBe(a.state); // stale
    const c = run([{ type: 'timeout', gen }], a.state);
    expect(c.state).toMatchObject({ phase: 'pin', number: '20' });
    const empty = run([{ type: 'start' }, { type: 'playback-finished', playbackId: 'login-1' }, { type: 'timeout', gen: 2 }]);
    expect(empty.state).toMatchObject({ phase: 'number', attempts: 1 });
  });

  it('keeps every digit, in any order, whatever arrives between them: barge-in, the stopped prompt finishing late, timers gone stale', async () => {
    // What a desk phone's *91 2401 # 4711 # gives the collector when the keys come while the
    // prompts play: '2' stops agent-user, whose PlaybackFinished arrives only after '4'; each
    // digit's silence timer fires just as the next digit is queued (a stale generation).
    let s = run([{ type: 'start' }, { type: 'dtmf', digit: '2' }]);
    expect(s.actions).toContainEqual({ kind: 'stop-playback', playbackId: 'login-1' });
    const genAfter2 = s.state.timerGen;
    s = run([{ type: 'dtmf', digit: '4' }, { type: 'playback-finished', playbackId: 'login-1' }, { type: 'timeout', gen: genAfter2 }, { type: 'dtmf', digit: '0' }], s.state);
    const genAfter0 = s.state.timerGen;
    s = run([{ type: 'dtmf', digit: '1' }, { type: 'timeout', gen: genAfter0 }], s.state);
    expect(s.state).toMatchObject({ phase: 'number', number: '2401' });
    // Ended by silence (the e2e tests' way), then the PIN typed over agent-pass.
    s = run([{ type: 'timeout', gen: s.state.timerGen }], s.state);
    expect(s.state).toMatchObject({ phase: 'pin', number: '2401', playbackId: 'login-2' });
    s = run([...digits('47'), { type: 'playback-finished', playbackId: 'login-2' }, ...digits('11#')], s.state);
    expect(s.actions.at(-1)).toEqual({ kind: 'check', number: '2401', pin: '4711' });
  });

  it('a DTMF storm keeps at most 16 digits and letters are ignored; hangup ends it anywhere', async () => {
    const s = run([{ type: 'start' }, ...digits('1234567890123456789*AB')]);
    expect(s.state.number).toBe('1234567890123456');
    const gone = run([{ type: 'hangup' }], s.state);
    expect(gone.state).toMatchObject({ phase: 'ended', result: 'caller-hangup' });
    expect(run([{ type: 'dtmf', digit: '1' }], gone.state).actions).toEqual([]);
  });
});
