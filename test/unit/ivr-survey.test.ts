/**
 * The survey node of the IVR interpreter (docs/ivr.md#survey-questions): keys on each scale, 10 as
 * '1' then '0', retries on keys off the scale and silence, no response, a caller hanging up, and the
 * validator's checks of the node.
 */
import { describe, expect, it } from 'vitest';
import { startFlow, stepFlow, type FlowAction, type FlowContext, type FlowEvent, type FlowRunState, type FlowStep } from '../../src/ivr/interpreter.js';
import { SURVEY_TEN_WAIT_MS, type FlowDefinition, type FlowNode } from '../../src/ivr/model.js';
import { checkFlow, type FlowCatalog } from '../../src/ivr/validate.js';

const T0 = new Date('2026-12-08T10:00:00Z');
const ctx: FlowContext = { callerNumber: '0612345678', dialedNumber: '4930555200', siteTimezone: 'Europe/Berlin', now: T0 };

type Ev = FlowEvent extends infer E ? (E extends unknown ? Omit<E, 'now'> : never) : never;
const done = (playbackId: string): Ev => ({ type: 'playback-finished', playbackId });
const dtmf = (digit: string): Ev => ({ type: 'dtmf', digit });
const timeout = (gen: number): Ev => ({ type: 'timeout', gen });

function run(from: FlowStep | FlowRunState, events: Ev[]) {
  let state = 'state' in from && 'actions' in from ? from.state : from;
  const steps: (readonly FlowAction[])[] = [];
  for (const e of events) {
    const step = stepFlow(state, { ...e, now: T0 } as FlowEvent);
    state = step.state;
    steps.push(step.actions);
  }
  return { state, actions: steps.flat() };
}

const answers = (actions: readonly FlowAction[]) => actions.filter((a) => a.kind === 'survey-answer');
const answer = (question: string, scale: '1-5' | '0-10', score: number | null) => ({ kind: 'survey-answer', question, scale, score });

function survey(scale: '1-5' | '0-10', extra: Partial<Extract<FlowNode, { kind: 'survey' }>> = {}): FlowDefinition {
  return {
    language: 'en',
    start: 'q',
    nodes: {
      q: { kind: 'survey', question: scale === '1-5' ? 'csat' : 'nps', scale, prompt: { say: 'How did we do?' }, next: 'thanks', ...extra },
      thanks: { kind: 'play', prompt: { sound: 'auth-thankyou' }, next: 'bye' },
      bye: { kind: 'hangup' },
    },
  };
}

describe('survey node: 1-5', () => {
  it('plays the prompt, a key 1-5 is the score (barge-in), then next', () => {
    const s = startFlow(survey('1-5'), ctx);
    expect(s.actions).toEqual([{ kind: 'play', playbackId: 'pb-1', media: [{ say: 'How did we do?', language: 'en' }] }]);
    expect(s.state.phase).toBe('survey-prompt');
    const r = run(s, [dtmf('4')]);
    expect(r.actions[0]).toEqual({ kind: 'stop-playback', playbackId: 'pb-1' });
    expect(answers(r.actions)).toEqual([answer('csat', '1-5', 4)]);
    expect(r.state.node).toBe('thanks');
    expect(r.state.path[0]).toMatchObject({ node: 'q', kind: 'survey', digits: '4', score: 4, outcome: 'next' });
  });

  it('after the prompt a timer runs; a key then is the score', () => {
    const r = run(startFlow(survey('1-5'), ctx), [done('pb-1'), dtmf('5')]);
    expect(answers(r.actions)).toEqual([answer('csat', '1-5', 5)]);
    expect(r.actions).toContainEqual({ kind: 'start-timer', gen: 1, ms: 5_000 });
    expect(r.actions).toContainEqual({ kind: 'cancel-timer' });
  });

  it.each(['0', '6', '9', '*', '#'])('key %s is off the scale: the invalid notice, the prompt again, then a good key counts', (key) => {
    const r = run(startFlow(survey('1-5'), ctx), [done('pb-1'), dtmf(key)]);
    expect(answers(r.actions)).toEqual([]);
    expect(r.actions).toContainEqual({ kind: 'play', playbackId: 'pb-2', media: [{ sound: 'invalid', language: 'en' }] });
    expect(r.state.phase).toBe('survey-retry');
    const again = run(r.state, [done('pb-2'), dtmf('2')]);
    expect(again.actions[0]).toEqual({ kind: 'play', playbackId: 'pb-3', media: [{ say: 'How did we do?', language: 'en' }] });
    expect(answers(again.actions)).toEqual([answer('csat', '1-5', 2)]);
    expect(again.state.path[0]).toMatchObject({ digits: `${key}2`, score: 2 });
  });

  it('silence replays the prompt; after maxRetries it is no response (null) and the flow goes on', () => {
    const s = startFlow(survey('1-5', { maxRetries: 1, timeoutMs: 3_000 }), ctx);
    const r = run(s, [done('pb-1'), timeout(1), done('pb-2'), timeout(2)]);
    expect(r.actions.filter((a) => a.kind === 'play').map((a) => a.kind === 'play' && a.playbackId)).toEqual(['pb-2', 'pb-3']);
    expect(answers(r.actions)).toEqual([answer('csat', '1-5', null)]);
    expect(r.state.node).toBe('thanks');
    expect(r.state.path[0]).toMatchObject({ node: 'q', score: null, outcome: 'next' });
  });

  it('maxRetries 0: the first key off the scale is no response', () => {
    const r = run(startFlow(survey('1-5', { maxRetries: 0 }), ctx), [dtmf('8')]);
    expect(answers(r.actions)).toEqual([answer('csat', '1-5', null)]);
    expect(r.state.node).toBe('thanks');
  });

  it('a custom invalidPrompt is played instead of the sound invalid', () => {
    const r = run(startFlow(survey('1-5', { invalidPrompt: { say: 'One to five, please.' } }), ctx), [dtmf('7')]);
    expect(r.actions).toContainEqual({ kind: 'play', playbackId: 'pb-2', media: [{ say: 'One to five, please.', language: 'en' }] });
  });

  it('a caller hanging up during the question answers null; the path says caller-hangup', () => {
    for (const events of [[], [done('pb-1')], [dtmf('9')]] as Ev[][]) {
      const r = run(startFlow(survey('1-5'), ctx), [...events, { type: 'hangup' }]);
      expect(answers(r.actions)).toEqual([answer('csat', '1-5', null)]);
      expect(r.state.finished).toBe('caller-hangup');
      expect(r.state.path[0]).toMatchObject({ score: null, outcome: 'caller-hangup' });
    }
  });

  it('a caller hanging up after the answer (during the thanks) adds no second answer', () => {
    const r = run(startFlow(survey('1-5'), ctx), [dtmf('3'), { type: 'hangup' }]);
    expect(answers(r.actions)).toEqual([answer('csat', '1-5', 3)]);
  });

  it('stale timers and playbacks are ignored', () => {
    const r = run(startFlow(survey('1-5'), ctx), [timeout(7), done('pb-9')]);
    expect(r.actions).toEqual([]);
    expect(r.state.phase).toBe('survey-prompt');
  });
});

describe('survey node: 0-10', () => {
  it.each([['0', 0], ['2', 2], ['7', 7], ['9', 9]])('key %s is the score %i at once', (key, score) => {
    const r = run(startFlow(survey('0-10'), ctx), [dtmf(key)]);
    expect(answers(r.actions)).toEqual([answer('nps', '0-10', score)]);
  });

  it("10 is '1' then '0'", () => {
    const r = run(startFlow(survey('0-10'), ctx), [dtmf('1')]);
    expect(answers(r.actions)).toEqual([]);
    expect(r.state.phase).toBe('survey-ten');
    expect(r.actions).toContainEqual({ kind: 'start-timer', gen: 1, ms: SURVEY_TEN_WAIT_MS });
    const ten = run(r.state, [dtmf('0')]);
    expect(answers(ten.actions)).toEqual([answer('nps', '0-10', 10)]);
    expect(ten.state.path[0]).toMatchObject({ digits: '10', score: 10 });
  });

  it("'1' alone is 1 once the wait is over, or at once with '#'", () => {
    expect(answers(run(startFlow(survey('0-10'), ctx), [dtmf('1'), timeout(1)]).actions)).toEqual([answer('nps', '0-10', 1)]);
    expect(answers(run(startFlow(survey('0-10'), ctx), [dtmf('1'), dtmf('#')]).actions)).toEqual([answer('nps', '0-10', 1)]);
  });

  it("'1' then another key than 0 or # is off the scale (retry)", () => {
    const r = run(startFlow(survey('0-10'), ctx), [dtmf('1'), dtmf('5')]);
    expect(answers(r.actions)).toEqual([]);
    expect(r.state.phase).toBe('survey-retry');
  });

  it("'*' and '#' alone are off the scale", () => {
    const r = run(startFlow(survey('0-10', { maxRetries: 0 }), ctx), [dtmf('*')]);
    expect(answers(r.actions)).toEqual([answer('nps', '0-10', null)]);
  });

  it('a caller hanging up while 10 is half typed answers null', () => {
    const r = run(startFlow(survey('0-10'), ctx), [dtmf('1'), { type: 'hangup' }]);
    expect(answers(r.actions)).toEqual([answer('nps', '0-10', null)]);
  });

  it('two questions in a row: one answer each', () => {
    const def: FlowDefinition = {
      language: 'en',
      start: 'csat',
      nodes: {
        csat: { kind: 'survey', question: 'csat', scale: '1-5', prompt: { sound: 'q1' }, next: 'nps' },
        nps: { kind: 'survey', question: 'nps', scale: '0-10', prompt: { sound: 'q2' }, next: 'bye' },
        bye: { kind: 'hangup' },
      },
    };
    const r = run(startFlow(def, ctx), [dtmf('5'), dtmf('9')]);
    expect(answers(r.actions)).toEqual([answer('csat', '1-5', 5), answer('nps', '0-10', 9)]);
    expect(r.state.finished).toBe('hangup');
  });
});

describe('survey node: checks', () => {
  const catalog: FlowCatalog = {
    extensions: new Set(), mailboxes: new Set(), flows: new Set(), prompts: new Set(['known']), queues: new Set(), externalAllowed: () => false,
  };
  const nodeOf = (patch: Record<string, unknown>) => {
    const q: Record<string, unknown> = { kind: 'survey', question: 'csat', scale: '1-5', prompt: { sound: 'x' }, next: 'bye', ...patch };
    for (const k of Object.keys(q)) if (q[k] === undefined) delete q[k];
    return { language: 'en', start: 'q', nodes: { q, bye: { kind: 'hangup' } } };
  };

  it('a good node passes, with defaults filled in', () => {
    const r = checkFlow(nodeOf({}), catalog);
    expect(r.problems).toEqual([]);
    expect(r.flow?.nodes['q']).toMatchObject({ timeoutMs: 5_000, maxRetries: 1 });
  });

  it.each([
    [{ scale: '1-10' }, 'scale', 'bad-shape'],
    [{ scale: undefined }, 'scale', 'missing-field'],
    [{ question: 'CSAT!' }, 'question', 'bad-value'],
    [{ question: 'x'.repeat(41) }, 'question', 'bad-value'],
    [{ question: undefined }, 'question', 'missing-field'],
    [{ timeoutMs: 500 }, 'timeoutMs', 'bad-value'],
    [{ maxRetries: 6 }, 'maxRetries', 'bad-value'],
    [{ next: undefined }, 'next', 'missing-field'],
    [{ next: 'nowhere' }, 'next', 'unknown-node'],
    [{ prompt: { prompt: 'gone' } }, 'prompt.prompt', 'unknown-prompt'],
    [{ options: { 1: 'bye' } }, 'options', 'unknown-field'],
  ])('%j is refused naming %s (%s)', (patch, field, code) => {
    const r = checkFlow(nodeOf(patch), catalog);
    expect(r.problems).toContainEqual(expect.objectContaining({ node: 'q', field, code }));
  });

  it('the same question key twice is refused on the second node', () => {
    const def = {
      language: 'en', start: 'a',
      nodes: {
        a: { kind: 'survey', question: 'csat', scale: '1-5', prompt: { sound: 'x' }, next: 'b' },
        b: { kind: 'survey', question: 'csat', scale: '0-10', prompt: { sound: 'y' }, next: 'bye' },
        bye: { kind: 'hangup' },
      },
    };
    expect(checkFlow(def, catalog).problems).toEqual([expect.objectContaining({ node: 'b', field: 'question', code: 'duplicate-question' })]);
  });

  it('a loop through a survey node waits for the caller: not a silent loop', () => {
    const def = { language: 'en', start: 'q', nodes: { q: { kind: 'survey', question: 'csat', scale: '1-5', prompt: { sound: 'x' }, next: 'p' }, p: { kind: 'play', prompt: { sound: 'y' }, next: 'q' } } };
    expect(checkFlow(def, catalog).problems).toEqual([]);
  });
});
