import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_CDR_DIGITS, MAX_PATH, pathDigits, startFlow, stepFlow, type FlowAction, type FlowContext, type FlowEvent, type FlowRunState, type FlowStep,
} from '../../src/ivr/interpreter.js';
import type { FlowDefinition, FlowNode } from '../../src/ivr/model.js';
import { validateFlow, type FlowCatalog } from '../../src/ivr/validate.js';

const T0 = new Date('2026-03-02T10:00:00Z'); // a Monday, 11:00 in Paris
const ctx: FlowContext = { callerNumber: '+33 6 12-34', dialedNumber: '0140000000', siteTimezone: 'Europe/Paris', now: T0 };
const flow = (nodes: Record<string, FlowNode>, start = Object.keys(nodes)[0]!): FlowDefinition => ({ language: 'fr', start, nodes });
const later = (ms: number) => new Date(T0.getTime() + ms);

type Ev = FlowEvent extends infer E ? (E extends unknown ? Omit<E, 'now'> : never) : never;
const done = (playbackId: string): Ev => ({ type: 'playback-finished', playbackId });
const dtmf = (digit: string): Ev => ({ type: 'dtmf', digit });
const timeout = (gen: number): Ev => ({ type: 'timeout', gen });
const hangup: Ev = { type: 'hangup' };
const keys = (s: string): Ev[] => [...s].map(dtmf);

/** Feed events; returns the final state and the actions of every step. */
function run(from: FlowStep | FlowRunState, events: Ev[], now: Date = T0) {
  let state = 'state' in from && 'actions' in from ? from.state : from;
  const steps: (readonly FlowAction[])[] = [];
  for (const e of events) {
    const step = stepFlow(state, { ...e, now } as FlowEvent);
    state = step.state;
    steps.push(step.actions);
  }
  return { state, steps, actions: steps.flat(), last: steps.at(-1) ?? [] };
}
const snd = (sound: string) => ({ sound, language: 'fr' });
const finished = (reason: string) => ({ kind: 'finished', reason });
const bye: FlowNode = { kind: 'hangup' };

describe('play', () => {
  const f = flow({
    hello: {
      kind: 'play',
      prompt: [{ sound: 'hello' }, { prompt: 'welcome-2026' }, { say: 'Bonjour', voice: 'celine' }, { say: 'Salut' }, { digits: '${caller}' }],
      next: 'bye',
    },
    bye,
  });

  it('plays every prompt in one playback, then goes next', () => {
    const s = startFlow(f, ctx);
    expect(s.actions).toEqual([{
      kind: 'play', playbackId: 'pb-1',
      media: [snd('hello'), { prompt: 'welcome-2026' }, { say: 'Bonjour', voice: 'celine', language: 'fr' }, { say: 'Salut', language: 'fr' }, { digits: '3361234' }],
    }]);
    expect(s.state.phase).toBe('playing');
    const r = run(s, [done('pb-1')], later(2500));
    expect(r.last).toEqual([{ kind: 'hangup' }, finished('hangup')]);
    expect(r.state.path).toEqual([
      { at: '2026-03-02T10:00:00.000Z', node: 'hello', kind: 'play', outcome: 'next' },
      { at: '2026-03-02T10:00:02.500Z', node: 'bye', kind: 'hangup', outcome: 'hangup' },
    ]);
    expect(r.state.finished).toBe('hangup');
  });

  it('ignores digits, stale playbacks, timers and lookup results while playing', () => {
    const s = startFlow(f, ctx);
    const r = run(s, [...keys('123#'), done('pb-0'), done('pb-2'), timeout(0), timeout(1), { type: 'lookup-result', requestId: 'rq-1', ok: true, body: {} }]);
    expect(r.actions).toEqual([]);
    expect(r.state).toEqual(s.state);
  });

  it('a play whose prompts are all empty digit templates is skipped', () => {
    const s = startFlow(flow({ p: { kind: 'play', prompt: { digits: '${nobody}' }, next: 'bye' }, bye }), ctx);
    expect(s.actions).toEqual([{ kind: 'hangup' }, finished('hangup')]);
  });
});

describe('menu', () => {
  const menu = (extra: Partial<Extract<FlowNode, { kind: 'menu' }>> = {}) => flow({
    m: { kind: 'menu', prompt: { sound: 'menu' }, options: { '1': 'one', '2': 'two' }, timeoutMs: 4000, maxRetries: 2, fallback: 'fb', ...extra },
    one: { kind: 'transfer', target: { kind: 'extension', number: '1001' } },
    two: { kind: 'play', prompt: { sound: 'two' }, next: 'bye' },
    fb: { kind: 'transfer', target: { kind: 'voicemail', mailbox: '1001' } },
    bye,
  });
  const toOne = [{ kind: 'transfer', target: { kind: 'extension', number: '1001' } }, finished('transfer')];
  const toFallback = [{ kind: 'transfer', target: { kind: 'voicemail', mailbox: '1001' } }, finished('transfer')];

  it('plays the prompt, then waits timeoutMs for a digit; a listed digit goes to its option', () => {
    const s = startFlow(menu(), ctx);
    expect(s.actions).toEqual([{ kind: 'play', playbackId: 'pb-1', media: [snd('menu')] }]);
    const r = run(s, [done('pb-1'), dtmf('1')]);
    expect(r.steps).toEqual([[{ kind: 'start-timer', gen: 1, ms: 4000 }], [{ kind: 'cancel-timer' }, ...toOne]]);
    expect(r.state.path[0]).toEqual({ at: T0.toISOString(), node: 'm', kind: 'menu', attempt: 1, digits: '1', outcome: 'options.1' });
  });

  it('barge-in: a digit during the prompt stops it and counts', () => {
    const r = run(startFlow(menu(), ctx), [dtmf('2')]);
    expect(r.last).toEqual([{ kind: 'stop-playback', playbackId: 'pb-1' }, { kind: 'play', playbackId: 'pb-2', media: [snd('two')] }]);
    expect(r.state).toMatchObject({ node: 'two', phase: 'playing', playbackId: 'pb-2' });
  });

  it('invalid digit, then silence, then another invalid digit: "invalid", replay, replay, fallback', () => {
    const r = run(startFlow(menu(), ctx), [done('pb-1'), dtmf('9'), done('pb-2'), done('pb-3'), timeout(2), done('pb-4'), dtmf('*')]);
    expect(r.steps).toEqual([
      [{ kind: 'start-timer', gen: 1, ms: 4000 }],
      [{ kind: 'cancel-timer' }, { kind: 'play', playbackId: 'pb-2', media: [snd('invalid')] }],
      [{ kind: 'play', playbackId: 'pb-3', media: [snd('menu')] }],
      [{ kind: 'start-timer', gen: 2, ms: 4000 }],
      [{ kind: 'play', playbackId: 'pb-4', media: [snd('menu')] }], // no timeoutPrompt: straight back to the menu
      [{ kind: 'start-timer', gen: 3, ms: 4000 }],
      [{ kind: 'cancel-timer' }, ...toFallback],
    ]);
    // One path entry per attempt: what the caller did and how each attempt ended.
    expect(r.state.path.map((p) => [p.node, p.attempt, p.digits, p.failure, p.outcome])).toEqual([
      ['m', 1, '9', 'invalid', 'retry'],
      ['m', 2, undefined, 'timeout', 'retry'],
      ['m', 3, '*', 'invalid', 'fallback'],
      ['fb', undefined, undefined, undefined, 'transfer'],
    ]);
    expect(pathDigits(r.state.path)).toBe('9*');
  });

  it('each attempt is stamped when it starts: the first at entry, a retry at the failure before it', () => {
    const s = startFlow(menu(), ctx);
    const a = run(s, [done('pb-1')], later(3000));
    const b = run(a.state, [timeout(1)], later(7000));
    const c = run(b.state, [done('pb-2'), dtmf('1')], later(12_000));
    expect(c.state.path.map((p) => [p.at, p.attempt, p.failure, p.outcome])).toEqual([
      [T0.toISOString(), 1, 'timeout', 'retry'],
      [later(7000).toISOString(), 2, undefined, 'options.1'],
      [later(12_000).toISOString(), undefined, undefined, 'transfer'],
    ]);
    expect(c.state.path[1]).toMatchObject({ digits: '1' });
  });

  it('custom invalid and timeout prompts; A-D count as invalid, other characters are ignored', () => {
    const f = menu({ invalidPrompt: { prompt: 'sorry' }, timeoutPrompt: { sound: 'are-you-there' } });
    const r = run(startFlow(f, ctx), [dtmf('x'), dtmf('12'), dtmf(''), dtmf('A')]);
    expect(r.steps).toEqual([[], [], [], [{ kind: 'stop-playback', playbackId: 'pb-1' }, { kind: 'play', playbackId: 'pb-2', media: [{ prompt: 'sorry' }] }]]);
    const t = run(r.state, [done('pb-2'), done('pb-3'), timeout(1)]);
    expect(t.last).toEqual([{ kind: 'play', playbackId: 'pb-4', media: [snd('are-you-there')] }]);
    expect(t.state).toMatchObject({ phase: 'menu-retry', retries: 2 });
  });

  it('a digit during the "invalid" notice is taken too (barge-in)', () => {
    const r = run(startFlow(menu(), ctx), [dtmf('7'), dtmf('1')]);
    expect(r.last).toEqual([{ kind: 'stop-playback', playbackId: 'pb-2' }, ...toOne]);
  });

  it('maxRetries 0: the first silence goes to fallback', () => {
    const r = run(startFlow(menu({ maxRetries: 0 }), ctx), [done('pb-1'), timeout(1)]);
    expect(r.last).toEqual(toFallback);
    expect(r.state.path.map((p) => [p.outcome, p.failure])).toEqual([['fallback', 'timeout'], ['transfer', undefined]]);
  });

  it('timers from before the last digit, and playbacks already stopped, are stale', () => {
    const r = run(startFlow(menu(), ctx), [done('pb-1'), dtmf('5'), timeout(1), done('pb-1')]);
    expect(r.steps.slice(2)).toEqual([[], []]);
    expect(r.state).toMatchObject({ phase: 'menu-retry', playbackId: 'pb-2', retries: 1 });
  });

  it('defaults when timeoutMs and maxRetries are absent: 5 s, 2 retries', () => {
    const f = flow({ m: { kind: 'menu', prompt: { sound: 'menu' }, options: { '1': 'z' }, fallback: 'z' }, z: bye });
    const r = run(startFlow(f, ctx), [done('pb-1'), timeout(1), done('pb-2'), timeout(2), done('pb-3'), timeout(3)]);
    expect(r.steps[0]).toEqual([{ kind: 'start-timer', gen: 1, ms: 5000 }]);
    expect(r.last).toEqual([{ kind: 'hangup' }, finished('hangup')]);
  });

  it('a menu whose option leads back to itself starts over with fresh retries', () => {
    const f = flow({ m: { kind: 'menu', prompt: { sound: 'menu' }, options: { '0': 'm' }, maxRetries: 1, fallback: 'z' }, z: bye });
    const r = run(startFlow(f, ctx), [dtmf('9'), dtmf('0'), dtmf('9')]);
    expect(r.state).toMatchObject({ phase: 'menu-retry', retries: 1 });
    expect(r.state.path.map((p) => [p.node, p.attempt, p.digits, p.outcome])).toEqual([
      ['m', 1, '9', 'retry'],
      ['m', 2, '0', 'options.0'],
      ['m', 1, '9', 'retry'],
      ['m', 2, undefined, undefined], // the attempt in progress
    ]);
  });
});

describe("the digits the caller entered (the CDR's digits)", () => {
  it('every digit a menu or gather took, in order, across attempts and nodes, terminators included; digits during a play are not', () => {
    const f = flow({
      p: { kind: 'play', prompt: { sound: 'p' }, next: 'm' },
      m: { kind: 'menu', prompt: { sound: 'm' }, options: { '1': 'g' }, fallback: 'z' },
      g: { kind: 'gather', variable: 'v', minDigits: 1, maxDigits: 8, terminator: '#', next: 'z', timeout: 'z' },
      z: { kind: 'play', prompt: { sound: 'z' }, next: 'h' },
      h: bye,
    });
    const r = run(startFlow(f, ctx), [...keys('55'), done('pb-1'), dtmf('7'), timeout(1), done('pb-3'), dtmf('1'), ...keys('42#'), ...keys('99')]);
    expect(pathDigits(r.state.path)).toBe('7142#');
  });

  it(`keeps the first ${MAX_CDR_DIGITS} (the CDR column's size)`, () => {
    const path = Array.from({ length: 5 }, (_, i) => ({ at: '', node: `g${i}`, kind: 'gather' as const, digits: String(i).repeat(20) }));
    expect(pathDigits(path)).toBe('0'.repeat(20) + '1'.repeat(20) + '2'.repeat(20) + '3333');
    expect(pathDigits([])).toBe('');
  });
});

describe('gather', () => {
  const gather = (extra: Partial<Extract<FlowNode, { kind: 'gather' }>> = {}) => flow({
    g: { kind: 'gather', prompt: { sound: 'enter-account' }, variable: 'acct', minDigits: 3, maxDigits: 6, terminator: '#', timeoutMs: 3000, next: 'ok', timeout: 'ko', ...extra },
    ok: { kind: 'play', prompt: [{ sound: 'you-entered' }, { digits: '${acct}' }], next: 'bye' },
    ko: { kind: 'play', prompt: { sound: 'sorry' }, next: 'bye' },
    bye,
  });
  const ok = (id: string, digits: string) => ({ kind: 'play', playbackId: id, media: [snd('you-entered'), { digits }] });
  const ko = (id: string) => ({ kind: 'play', playbackId: id, media: [snd('sorry')] });

  it('the first digit stops the prompt and is kept; the terminator ends; the variable is stored', () => {
    const r = run(startFlow(gather(), ctx), keys('427#'));
    expect(r.steps).toEqual([
      [{ kind: 'stop-playback', playbackId: 'pb-1' }, { kind: 'start-timer', gen: 1, ms: 3000 }],
      [{ kind: 'start-timer', gen: 2, ms: 3000 }],
      [{ kind: 'start-timer', gen: 3, ms: 3000 }],
      [{ kind: 'cancel-timer' }, ok('pb-2', '427')],
    ]);
    expect(r.state.vars).toEqual({ acct: '427' });
    expect(r.state.path[0]).toMatchObject({ node: 'g', kind: 'gather', digits: '427#', outcome: 'next' });
  });

  it('maxDigits ends it without a terminator', () => {
    const r = run(startFlow(gather(), ctx), keys('1234567'));
    expect(r.steps[5]).toEqual([{ kind: 'cancel-timer' }, ok('pb-2', '123456')]);
    expect(r.steps[6]).toEqual([]); // the 7th digit arrives during the next play
  });

  it('fewer than minDigits goes to the timeout edge (the digits are still stored)', () => {
    const r = run(startFlow(gather(), ctx), keys('12#'));
    expect(r.last).toEqual([{ kind: 'cancel-timer' }, ko('pb-2')]);
    expect(r.state.vars.acct).toBe('12');
    expect(r.state.path[0]!.outcome).toBe('timeout');
  });

  it('the inter-digit timeout ends it: enough digits -> next, none -> timeout', () => {
    const enough = run(startFlow(gather(), ctx), [...keys('1234'), timeout(4)]);
    expect(enough.last).toEqual([ok('pb-2', '1234')]);
    const none = run(startFlow(gather(), ctx), [done('pb-1'), timeout(1)]);
    expect(none.steps).toEqual([[{ kind: 'start-timer', gen: 1, ms: 3000 }], [ko('pb-2')]]);
    expect(none.state.vars.acct).toBe('');
  });

  it('ignores * and A-D (and # when it is not the terminator); an old timer is stale', () => {
    const r = run(startFlow(gather({ terminator: '*' }), ctx), [dtmf('#'), dtmf('A'), dtmf('1'), timeout(0), dtmf('#'), dtmf('2'), timeout(1), dtmf('*')]);
    expect(r.steps.map((s) => s.length)).toEqual([0, 0, 2, 0, 0, 1, 0, 2]);
    expect(r.last).toEqual([{ kind: 'cancel-timer' }, ko('pb-2')]);
    expect(r.state.vars.acct).toBe('12');
  });

  it('without a prompt the timer starts at once (default 5 s)', () => {
    const f = flow({ g: { kind: 'gather', variable: 'pin', minDigits: 1, maxDigits: 1, next: 'z', timeout: 'z' }, z: bye });
    expect(startFlow(f, ctx).actions).toEqual([{ kind: 'start-timer', gen: 1, ms: 5000 }]);
    expect(run(startFlow(f, ctx), keys('7')).last).toEqual([{ kind: 'cancel-timer' }, { kind: 'hangup' }, finished('hangup')]);
  });
});

describe('branch, set, schedule: instant nodes', () => {
  const say = (sound: string): FlowNode => ({ kind: 'play', prompt: { sound }, next: 'bye' });
  const playedAt = (f: FlowDefinition, c: FlowContext = ctx) => {
    const a = startFlow(f, c).actions[0];
    return a?.kind === 'play' ? a.media : a;
  };

  it('branch on the caller number: prefix, oneOf, equals, default, first match wins', () => {
    const f = flow({
      b: {
        kind: 'branch', on: { callerNumber: true },
        cases: [{ prefix: '+33', next: 'fr' }, { oneOf: ['100', '101'], next: 'staff' }, { equals: '', next: 'anon' }, { prefix: '+3', next: 'never' }],
        default: 'other',
      },
      fr: say('fr'), staff: say('staff'), anon: say('anon'), other: say('other'), never: say('never'), bye,
    });
    expect(playedAt(f)).toEqual([snd('fr')]);
    expect(playedAt(f, { ...ctx, callerNumber: '101' })).toEqual([snd('staff')]);
    expect(playedAt(f, { ...ctx, callerNumber: '' })).toEqual([snd('anon')]);
    expect(playedAt(f, { ...ctx, callerNumber: '1001' })).toEqual([snd('other')]);
    expect(startFlow(f, ctx).state.path.map((p) => p.outcome)).toEqual(['cases[0].next', undefined]);
    expect(startFlow(f, { ...ctx, callerNumber: '1' }).state.path[0]!.outcome).toBe('default');
  });

  it('set expands ${caller}, ${dialed}, variables (unknown -> ""), capped at 256; branch reads it', () => {
    const f = flow({
      s: { kind: 'set', variable: 'msg', value: 'from ${caller} to ${dialed} ${nobody}!', next: 'long' },
      long: { kind: 'set', variable: 'big', value: '${msg}'.repeat(40), next: 'b' },
      b: { kind: 'branch', on: { variable: 'msg' }, cases: [{ prefix: 'from +33', equals: 'from +33 6 12-34 to 0140000000 !', next: 'yes' }], default: 'no' },
      yes: say('yes'), no: say('no'), bye,
    });
    const s = startFlow(f, ctx);
    expect(s.state.vars.msg).toBe('from +33 6 12-34 to 0140000000 !');
    expect(s.state.vars.big).toHaveLength(256);
    expect(playedAt(f)).toEqual([snd('yes')]);
    expect(s.state.path.map((p) => p.node)).toEqual(['s', 'long', 'b', 'yes']);
  });

  it('preset variables are kept (bad names and caller/dialed dropped)', () => {
    const f = flow({ p: { kind: 'play', prompt: { digits: '${acct}${caller}' }, next: 'bye' }, bye });
    const s = startFlow(f, { ...ctx, vars: { acct: '55', 'Bad Name': '1', caller: '999' } });
    expect(s.state.vars).toEqual({ acct: '55' });
    expect(s.actions).toEqual([{ kind: 'play', playbackId: 'pb-1', media: [{ digits: '553361234' }] }]);
  });

  const hours = flow({
    h: {
      kind: 'schedule', hours: { mon: [{ from: '09:00', to: '18:00' }] }, holidays: [{ date: '2026-03-09', name: 'closure' }],
      open: 'open', closed: 'closed', holiday: 'holiday',
    },
    open: say('open'), closed: say('closed'), holiday: say('holiday'), bye,
  });

  it("schedule decides at the context's time, in the site's zone", () => {
    expect(playedAt(hours)).toEqual([snd('open')]); // Monday 11:00 Paris
    expect(playedAt(hours, { ...ctx, now: new Date('2026-03-02T17:30:00Z') })).toEqual([snd('closed')]); // 18:30 Paris
    expect(playedAt(hours, { ...ctx, siteTimezone: 'America/New_York' })).toEqual([snd('closed')]); // 05:00 NY
    expect(playedAt(hours, { ...ctx, now: new Date('2026-03-09T10:00:00Z') })).toEqual([snd('holiday')]);
    expect(startFlow(hours, ctx).state.path[0]).toEqual({ at: T0.toISOString(), node: 'h', kind: 'schedule', outcome: 'open' });
  });

  it("a schedule reached later uses the event's time", () => {
    const f = flow({ w: { kind: 'play', prompt: { sound: 'wait' }, next: 'h' }, ...hours.nodes });
    const r = run(startFlow(f, ctx), [done('pb-1')], new Date('2026-03-02T20:00:00Z'));
    expect(r.last).toEqual([{ kind: 'play', playbackId: 'pb-2', media: [snd('closed')] }]);
  });
});

describe('lookup', () => {
  const f = flow({
    l: {
      kind: 'lookup', url: 'https://crm.example.com/customer', timeoutMs: 1500, params: { phone: '${caller}', fixed: 'x' },
      map: { tier: 'customer.tier', score: 'customer.score', vip: 'customer.vip', first: 'orders.1.id', addr: 'customer.address', missing: 'customer.nope', note: 'note', proto: 'customer.constructor' },
      next: 'b', error: 'err',
    },
    b: { kind: 'branch', on: { variable: 'tier' }, cases: [{ equals: 'gold', next: 'gold' }], default: 'std' },
    gold: { kind: 'play', prompt: { sound: 'gold' }, next: 'bye' },
    std: { kind: 'play', prompt: { sound: 'std' }, next: 'bye' },
    err: { kind: 'play', prompt: { sound: 'err' }, next: 'bye' },
    bye,
  });
  const body = {
    customer: { tier: 'gold', score: 42.5, vip: true, address: { city: 'Lyon' } },
    orders: [{ id: 'a' }, { id: 7 }],
    note: 'n'.repeat(1000),
  };

  it('asks the runner, maps the JSON answer into variables, goes next', () => {
    const s = startFlow(f, ctx);
    expect(s.actions).toEqual([{ kind: 'lookup', requestId: 'rq-1', url: 'https://crm.example.com/customer', params: { phone: '+33 6 12-34', fixed: 'x' }, timeoutMs: 1500 }]);
    const r = run(s, [{ type: 'lookup-result', requestId: 'rq-1', ok: true, body }], later(230));
    expect(r.state.vars).toEqual({ tier: 'gold', score: '42.5', vip: 'true', first: '7', addr: '{"city":"Lyon"}', missing: '', note: 'n'.repeat(256), proto: '' });
    expect(r.last).toEqual([{ kind: 'play', playbackId: 'pb-2', media: [snd('gold')] }]);
    expect(r.state.path[0]).toEqual({ at: T0.toISOString(), node: 'l', kind: 'lookup', lookup: { url: 'https://crm.example.com/customer', ok: true, ms: 230 }, outcome: 'next' });
  });

  it('an answer that is not an object gives empty variables', () => {
    const r = run(startFlow(f, ctx), [{ type: 'lookup-result', requestId: 'rq-1', ok: true, body: 'nope' }]);
    expect(r.state.vars.tier).toBe('');
    expect(r.last).toEqual([{ kind: 'play', playbackId: 'pb-2', media: [snd('std')] }]);
  });

  it('a failure goes to the error edge and is recorded', () => {
    const r = run(startFlow(f, ctx), [{ type: 'lookup-result', requestId: 'rq-1', ok: false, error: 'http-error', status: 503 }], later(100));
    expect(r.last).toEqual([{ kind: 'play', playbackId: 'pb-2', media: [snd('err')] }]);
    expect(r.state.path[0]!.lookup).toEqual({ url: 'https://crm.example.com/customer', ok: false, ms: 100, error: 'http-error', status: 503 });
    expect(r.state.path[0]!.outcome).toBe('error');
  });

  it('ignores digits, other requests and playbacks while waiting', () => {
    const s = startFlow(f, ctx);
    const r = run(s, [...keys('123'), { type: 'lookup-result', requestId: 'rq-0', ok: true, body }, done('pb-1'), timeout(1)]);
    expect(r.actions).toEqual([]);
    expect(r.state).toEqual(s.state);
  });
});

describe('transfer and hangup', () => {
  it('each target kind is handed to the runner and the flow ends', () => {
    const targets = [
      { kind: 'extension', number: '1001' }, { kind: 'queue', queue: 'sales' }, { kind: 'voicemail', mailbox: '1001' },
      { kind: 'flow', flow: 'support' }, { kind: 'external', number: '0612345678' },
    ] as const;
    for (const target of targets) {
      const s = startFlow(flow({ t: { kind: 'transfer', target } }), ctx);
      expect(s.actions).toEqual([{ kind: 'transfer', target }, finished('transfer')]);
      expect(s.state).toMatchObject({ phase: 'ended', finished: 'transfer' });
    }
  });

  it('after the end every event is ignored', () => {
    const s = startFlow(flow({ z: bye }), ctx);
    expect(s.actions).toEqual([{ kind: 'hangup' }, finished('hangup')]);
    const r = run(s, [hangup, dtmf('1'), done('pb-1'), timeout(1), { type: 'lookup-result', requestId: 'rq-1', ok: false, error: 'timeout' }]);
    expect(r.actions).toEqual([]);
  });
});

describe('the caller hangs up', () => {
  const f = flow({
    p: { kind: 'play', prompt: { sound: 'p' }, next: 'm' },
    m: { kind: 'menu', prompt: { sound: 'm' }, options: { '1': 'g' }, fallback: 'z' },
    g: { kind: 'gather', prompt: { sound: 'g' }, variable: 'v', minDigits: 1, maxDigits: 2, next: 'l', timeout: 'z' },
    l: { kind: 'lookup', url: 'https://x/', timeoutMs: 500, map: {}, next: 'z', error: 'z' },
    z: bye,
  });
  const hangupAfter = (events: Ev[]) => {
    const r = run(startFlow(f, ctx), [...events, hangup]);
    return { actions: r.last, state: r.state };
  };
  const end = finished('caller-hangup');

  it('during a play: stop it, finish', () => {
    const h = hangupAfter([]);
    expect(h.actions).toEqual([{ kind: 'stop-playback', playbackId: 'pb-1' }, end]);
    expect(h.state.path.at(-1)).toMatchObject({ node: 'p', outcome: 'caller-hangup' });
    expect(h.state).toMatchObject({ phase: 'ended', finished: 'caller-hangup', playbackId: null, timerRunning: false });
  });

  it('at a menu (prompt, waiting, invalid notice)', () => {
    expect(hangupAfter([done('pb-1')]).actions).toEqual([{ kind: 'stop-playback', playbackId: 'pb-2' }, end]);
    expect(hangupAfter([done('pb-1'), done('pb-2')]).actions).toEqual([{ kind: 'cancel-timer' }, end]);
    expect(hangupAfter([done('pb-1'), dtmf('5')]).actions).toEqual([{ kind: 'stop-playback', playbackId: 'pb-3' }, end]);
  });

  it('at a gather (prompt, collecting)', () => {
    expect(hangupAfter([done('pb-1'), dtmf('1')]).actions).toEqual([{ kind: 'stop-playback', playbackId: 'pb-3' }, end]);
    expect(hangupAfter([done('pb-1'), dtmf('1'), dtmf('4')]).actions).toEqual([{ kind: 'cancel-timer' }, end]);
  });

  it('during a lookup: nothing to stop', () => {
    const h = hangupAfter([done('pb-1'), dtmf('1'), ...keys('42')]);
    expect(h.state.path.at(-1)).toMatchObject({ node: 'l', outcome: 'caller-hangup' });
    expect(h.actions).toEqual([end]);
  });
});

describe('robustness', () => {
  it('a flow that spins without the caller ends with error after MAX_STEPS_PER_EVENT nodes', () => {
    const f = flow({ a: { kind: 'set', variable: 'x', value: '${x}1', next: 'b' }, b: { kind: 'set', variable: 'y', value: '', next: 'a' } });
    const s = startFlow(f, ctx);
    expect(s.actions).toEqual([finished('error')]);
    expect(s.state.path).toHaveLength(100);
    expect(s.state.vars.x).toBe('1'.repeat(50));
  });

  it('an edge to a missing node, or a missing start, ends with error', () => {
    const f = flow({ p: { kind: 'play', prompt: { sound: 'x' }, next: 'nowhere' } });
    expect(run(startFlow(f, ctx), [done('pb-1')]).last).toEqual([finished('error')]);
    expect(startFlow({ ...f, start: 'toString' }, ctx).actions).toEqual([finished('error')]);
  });

  it('a storm of 10,000 digits at a menu that loops to itself: bounded path, no throw', () => {
    const f = flow({ m: { kind: 'menu', prompt: { sound: 'm' }, options: { '1': 'm' }, fallback: 'z' }, z: bye });
    const r = run(startFlow(f, ctx), keys('1'.repeat(10_000)));
    expect(r.last).toEqual([{ kind: 'stop-playback', playbackId: 'pb-10000' }, { kind: 'play', playbackId: 'pb-10001', media: [snd('m')] }]);
    expect(r.state.path).toHaveLength(MAX_PATH);
    expect(r.state.path[MAX_PATH - 2]).toMatchObject({ node: 'm', kind: 'menu', digits: '1', outcome: 'options.1' });
    expect(r.state.path[MAX_PATH - 1]).toMatchObject({ node: 'm', kind: 'truncated' });
    expect(r.state.path[MAX_PATH - 1]).not.toHaveProperty('outcome');
  });

  it('a storm of 10,000 digits at a gather: six are kept, the rest are ignored', () => {
    const f = flow({ g: { kind: 'gather', variable: 'v', minDigits: 1, maxDigits: 6, next: 'p', timeout: 'p' }, p: { kind: 'play', prompt: { digits: '${v}' }, next: 'z' }, z: bye });
    const storm = Array.from({ length: 10_000 }, (_, i) => dtmf('0123456789*#ABCD'[(i * 7) % 16]!));
    const r = run(startFlow(f, ctx), storm);
    expect(r.state.vars.v).toBe('075318');
    expect(r.actions.filter((a) => a.kind === 'play')).toEqual([{ kind: 'play', playbackId: 'pb-1', media: [{ digits: '075318' }] }]);
    expect(r.state.phase).toBe('playing');
  });

  it('a storm of wrong digits at a menu ends in fallback exactly once', () => {
    const f = flow({ m: { kind: 'menu', prompt: { sound: 'm' }, options: { '1': 'z' }, fallback: 'z' }, z: bye });
    const r = run(startFlow(f, ctx), keys('9'.repeat(10_000)));
    expect(r.actions.filter((a) => a.kind === 'finished')).toEqual([finished('hangup')]);
    expect(r.state.path.map((p) => [p.digits, p.outcome])).toEqual([['9', 'retry'], ['9', 'retry'], ['9', 'fallback'], [undefined, 'hangup']]);
    expect(pathDigits(r.state.path)).toBe('999');
  });

  it('is deterministic and its state survives JSON (storable between events)', () => {
    const f = flow({ m: { kind: 'menu', prompt: { sound: 'm' }, options: { '1': 'l' }, fallback: 'z' }, l: { kind: 'lookup', url: 'https://x/', timeoutMs: 500, map: { a: 'a' }, next: 'z', error: 'z' }, z: bye });
    const events = [done('pb-1'), dtmf('4'), done('pb-2'), dtmf('1')];
    const a = run(startFlow(f, ctx), events);
    const b = run(startFlow(f, ctx), events);
    expect(a).toEqual(b);
    expect(JSON.parse(JSON.stringify(a.state))).toEqual(a.state);
  });

  it('an invalid date in an event does not throw', () => {
    const f = flow({ p: { kind: 'play', prompt: { sound: 'x' }, next: 'h' }, h: { kind: 'schedule', hours: {}, holidays: [], open: 'z', closed: 'z', holiday: 'z' }, z: bye });
    const r = run(startFlow(f, ctx), [done('pb-1')], new Date(NaN));
    expect(r.last).toEqual([{ kind: 'hangup' }, finished('hangup')]);
    expect(r.state.path[1]).toMatchObject({ at: '', node: 'h', outcome: 'closed' });
  });
});

// --- property: random valid flows, random events -------------------------------------------------

const anything: FlowCatalog = {
  extensions: new Set(['1001']), mailboxes: new Set(['1001']), flows: new Set(['other']), prompts: new Set(['p1']),
  queues: new Set(['q']), externalAllowed: () => true, presetVariables: new Set(['v']),
};
const KINDS = ['play', 'menu', 'gather', 'branch', 'schedule', 'set', 'lookup'] as const;

/** Node i's first edge goes to i+1 (all reachable); only menu and gather may point backwards (no silent loop). */
function buildFlow(kinds: readonly number[], r: readonly number[], end: number): FlowDefinition {
  const n = kinds.length + 1;
  let k = 0;
  const rnd = (m: number) => (r[k++ % r.length]! % m);
  const id = (i: number) => `n${i}`;
  const forward = (i: number) => id(i + 1 + rnd(n - i - 1));
  const any = () => id(rnd(n));
  const nodes: Record<string, FlowNode> = {};
  kinds.forEach((kindIdx, i) => {
    const next = id(i + 1);
    const prompt = [{ sound: 'a' }, { prompt: 'p1' }, { say: 'hi' }, { digits: '${caller}${v}' }][rnd(4)]!;
    switch (KINDS[kindIdx % KINDS.length]!) {
      case 'play': nodes[id(i)] = { kind: 'play', prompt, next }; break;
      case 'menu':
        nodes[id(i)] = {
          kind: 'menu', prompt, options: { [String(rnd(10))]: next, '#': any() }, timeoutMs: 1000, maxRetries: rnd(3), fallback: any(),
          ...(rnd(2) ? { invalidPrompt: { sound: 'bad' } } : {}), ...(rnd(2) ? { timeoutPrompt: { digits: '${v}' } } : {}),
        };
        break;
      case 'gather': {
        const min = 1 + rnd(3);
        nodes[id(i)] = {
          kind: 'gather', variable: 'v', minDigits: min, maxDigits: min + rnd(3), timeoutMs: 1000, next, timeout: any(),
          ...(rnd(2) ? { prompt } : {}), ...(rnd(2) ? { terminator: '#' as const } : {}),
        };
        break;
      }
      case 'branch': nodes[id(i)] = { kind: 'branch', on: { variable: 'v' }, cases: [{ prefix: String(rnd(10)), next }], default: forward(i) }; break;
      case 'schedule': nodes[id(i)] = { kind: 'schedule', hours: { mon: [{ from: '09:00', to: '17:00' }] }, holidays: [], open: next, closed: forward(i), holiday: forward(i) }; break;
      case 'set': nodes[id(i)] = { kind: 'set', variable: 'v', value: '${v}' + String(rnd(10)), next }; break;
      case 'lookup': nodes[id(i)] = { kind: 'lookup', url: 'https://x/', timeoutMs: 500, map: { v: 'a.b' }, next, error: forward(i) }; break;
    }
  });
  nodes[id(n - 1)] = end === 0 ? { kind: 'hangup' } : { kind: 'transfer', target: { kind: 'extension', number: '1001' } };
  return { language: 'en', start: 'n0', nodes };
}

type Poke =
  | { readonly t: 'current' } | { readonly t: 'dtmf'; readonly d: string } | { readonly t: 'pb' | 'timer' | 'rq'; readonly n: number }
  | { readonly t: 'fail' } | { readonly t: 'hangup' } | { readonly t: 'body'; readonly body: unknown } | { readonly t: 'wait'; readonly ms: number };

const pokeArb: fc.Arbitrary<Poke> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ t: 'current' as const }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constant('dtmf' as const), d: fc.constantFrom(...'0123456789*#ABCD', 'x', '', '11') }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constantFrom('pb' as const, 'timer' as const, 'rq' as const), n: fc.nat(12) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'fail' as const }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('body' as const), body: fc.jsonValue() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 7 * 24 * 3600_000 }) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'hangup' as const }) },
);

/** Turn a poke into an event, using the state for the "expected" ids. */
function toEvent(s: FlowRunState, p: Poke, now: Date): FlowEvent {
  switch (p.t) {
    case 'current':
      if (s.playbackId) return { type: 'playback-finished', playbackId: s.playbackId, now };
      if (s.requestId) return { type: 'lookup-result', requestId: s.requestId, ok: true, body: { a: { b: '42' } }, now };
      return { type: 'timeout', gen: s.timerGen, now };
    case 'dtmf': return { type: 'dtmf', digit: p.d, now };
    case 'pb': return { type: 'playback-finished', playbackId: `pb-${p.n}`, now };
    case 'timer': return { type: 'timeout', gen: p.n, now };
    case 'rq': return { type: 'lookup-result', requestId: `rq-${p.n}`, ok: false, error: 'network', now };
    case 'fail': return { type: 'lookup-result', requestId: s.requestId ?? 'rq-0', ok: false, error: 'timeout', now };
    case 'body': return { type: 'lookup-result', requestId: s.requestId ?? 'rq-0', ok: true, body: p.body, now };
    case 'wait': return { type: 'timeout', gen: -1, now };
    case 'hangup': return { type: 'hangup', now };
  }
}

describe('property: random valid flows and random events', () => {
  it('never throws, finishes at most once, and is silent after finishing', () => {
    const flowArb = fc.tuple(
      fc.array(fc.nat(KINDS.length - 1), { minLength: 1, maxLength: 12 }),
      fc.array(fc.nat(1000), { minLength: 1, maxLength: 60 }),
      fc.nat(1),
    ).map(([kinds, r, end]) => buildFlow(kinds, r, end));
    fc.assert(
      fc.property(flowArb, fc.array(pokeArb, { maxLength: 80 }), fc.integer({ min: 0, max: 365 * 24 * 3600_000 }), (def, pokes, offset) => {
        expect(validateFlow(def, anything)).toEqual([]);
        let now = new Date(T0.getTime() + offset);
        const first = startFlow(def, { ...ctx, now, vars: { v: '1' } });
        let state = first.state;
        let finishes = first.actions.filter((a) => a.kind === 'finished').length;
        for (const p of pokes) {
          if (p.t === 'wait') now = new Date(now.getTime() + p.ms);
          const ended = state.phase === 'ended';
          const step = stepFlow(state, toEvent(state, p, now));
          if (ended) expect(step.actions).toEqual([]);
          const f = step.actions.filter((a) => a.kind === 'finished').length;
          if (f > 0) expect(step.actions.at(-1)!.kind).toBe('finished');
          finishes += f;
          expect(finishes).toBeLessThanOrEqual(1);
          expect(step.state.path.length).toBeLessThanOrEqual(MAX_PATH);
          state = step.state;
        }
        expect(finishes === 1).toBe(state.phase === 'ended');
        // a valid flow never hits the backstop
        expect(state.finished).not.toBe('error');
      }),
      { numRuns: 500 },
    );
  });
});
