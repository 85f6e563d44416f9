import { describe, expect, it } from 'vitest';
import { announcementOf, decideRecording, inSample, resolvePolicy, type PolicySources } from '../../src/calls/recording-policy.js';
import { closePauses, idleRecording, stepRecording, type RecordingMachine } from '../../src/calls/recording-machine.js';
import { pathDigits, startFlow, stepFlow, type FlowRunState } from '../../src/ivr/interpreter.js';
import type { FlowDefinition } from '../../src/ivr/model.js';
import { validateFlow } from '../../src/ivr/validate.js';
import { matchInboundRule, resolveInbound, type InboundRule } from '../../src/routing/inbound.js';

const opts = { recordQueueWait: true, siteAnnouncement: null };

describe('recording policy precedence (docs/recording.md#policy)', () => {
  it('queue > inbound route > outbound route > extension > trunk > site', () => {
    const all: PolicySources = { queue: 'never', 'inbound-route': 'always', 'outbound-route': 'on-demand', extension: 'always', trunk: 'never', site: 'on-demand' };
    expect(resolvePolicy(all)).toEqual({ policy: 'never', level: 'queue' });
    expect(resolvePolicy({ ...all, queue: null })).toEqual({ policy: 'always', level: 'inbound-route' });
    expect(resolvePolicy({ ...all, queue: null, 'inbound-route': null })).toEqual({ policy: 'on-demand', level: 'outbound-route' });
    expect(resolvePolicy({ extension: 'always', trunk: 'never', site: 'never' })).toEqual({ policy: 'always', level: 'extension' });
    expect(resolvePolicy({ trunk: 'never', site: 'always' })).toEqual({ policy: 'never', level: 'trunk' });
    expect(resolvePolicy({ site: 'always' })).toEqual({ policy: 'always', level: 'site' });
  });

  it('a routed call: its inbound route wins over the extension and trunk, its outbound route over the calling extension', () => {
    const routed = { at: 'routed' } as const;
    expect(decideRecording({ 'inbound-route': 'always', extension: 'never', trunk: 'never', site: 'never' }, routed, 'c1', opts)).toMatchObject({ kind: 'record', level: 'inbound-route' });
    expect(decideRecording({ 'inbound-route': 'never', extension: 'always', site: 'always' }, routed, 'c1', opts)).toEqual({ kind: 'never', level: 'inbound-route' });
    expect(decideRecording({ 'outbound-route': 'never', extension: 'always', site: 'always' }, routed, 'c1', opts)).toEqual({ kind: 'never', level: 'outbound-route' });
    expect(decideRecording({ 'inbound-route': null, 'outbound-route': null, extension: 'on-demand', site: 'always' }, routed, 'c1', opts)).toEqual({ kind: 'on-demand', level: 'extension' });
    // A queue's word still wins over the route when the call joins it.
    const queue = { at: 'queue', samplePercent: null, announcement: null } as const;
    expect(decideRecording({ queue: 'never', 'inbound-route': 'always', site: 'always' }, queue, 'c1', opts)).toEqual({ kind: 'never', level: 'queue' });
  });

  it('the inbound rule whose policy counts is the one routing takes (null: the default route)', () => {
    const ext = (number: string) => ({ kind: 'extension', number }) as const;
    const rules: InboundRule[] = [
      { id: 'a', priority: 100, didPattern: '_4930XXXX', callerPattern: null, target: ext('1001') },
      { id: 'b', priority: 100, didPattern: '49301234', callerPattern: null, target: ext('1002') },
      { id: 'c', priority: 100, didPattern: null, callerPattern: '_0170.', target: ext('1003') },
    ];
    for (const [did, caller, id] of [['49301234', '030111', 'b'], ['49305555', '030111', 'a'], ['49301234', '01701234', 'c'], ['4940', '030111', null]] as const) {
      const rule = matchInboundRule(did, caller, rules);
      expect(rule?.id ?? null).toBe(id);
      expect(resolveInbound(did, caller, rules, ext('9999'))).toEqual(rule?.target ?? ext('9999'));
    }
  });

  it('a queue that says never stops what a route started; always in a queue records the wait unless told not to', () => {
    const queue = { at: 'queue', samplePercent: null, announcement: null } as const;
    expect(decideRecording({ queue: 'never', extension: 'always', site: 'always' }, queue, 'c1', opts).kind).toBe('never');
    expect(decideRecording({ queue: 'always', site: 'never' }, queue, 'c1', opts)).toMatchObject({ kind: 'record', when: 'now', level: 'queue' });
    expect(decideRecording({ queue: 'always', site: 'never' }, queue, 'c1', { ...opts, recordQueueWait: false })).toMatchObject({ kind: 'record', when: 'answered' });
    expect(decideRecording({ site: 'on-demand' }, { at: 'routed' }, 'c1', opts).kind).toBe('on-demand');
  });

  it('the announcement is the queue\'s, else the site\'s', () => {
    const site = { text: 'This call may be recorded.' };
    const queue = { at: 'queue', samplePercent: null, announcement: { prompt: 'notice-fr' } } as const;
    expect(decideRecording({ queue: 'always', site: 'never' }, queue, 'c1', { ...opts, siteAnnouncement: site })).toMatchObject({ announcement: { prompt: 'notice-fr' } });
    expect(decideRecording({ queue: 'always', site: 'never' }, { ...queue, announcement: null }, 'c1', { ...opts, siteAnnouncement: site })).toMatchObject({ announcement: site });
    expect(announcementOf({ text: '  ' })).toBeNull();
    expect(announcementOf({ text: 'Hallo', language: 'de' })).toEqual({ text: 'Hallo', language: 'de' });
    expect(announcementOf('nonsense')).toBeNull();
  });

  it('a 20 % sample records about a fifth of the calls, and always the same ones', () => {
    const ids = Array.from({ length: 5000 }, (_, i) => `1765000000.${i}`);
    const share = ids.filter((id) => inSample(id, 20)).length / ids.length;
    expect(share).toBeGreaterThan(0.17);
    expect(share).toBeLessThan(0.23);
    expect(ids.filter((id) => inSample(id, 20))).toEqual(ids.filter((id) => inSample(id, 20)));
    expect(inSample('x', null)).toBe(true);
    expect(inSample('x', 100)).toBe(true);
    const queue = { at: 'queue', samplePercent: 20, announcement: null } as const;
    const out = ids.find((id) => !inSample(id, 20))!;
    expect(decideRecording({ queue: 'always', site: 'never' }, queue, out, opts).kind).toBe('not-sampled');
  });
});

describe('recording machine', () => {
  const t = (s: number) => new Date(Date.UTC(2026, 11, 6, 10, 0, s));
  const run = (m: RecordingMachine, ...cmds: Parameters<typeof stepRecording>[1][]) =>
    cmds.reduce<{ m: RecordingMachine; refusals: string[] }>((acc, c) => {
      const step = stepRecording(acc.m, c);
      return step.ok ? { m: step.machine, refusals: acc.refusals } : { m: acc.m, refusals: [...acc.refusals, step.refusal] };
    }, { m, refusals: [] });

  it('refuses what does not fit, with the codes the API answers', () => {
    expect(run(idleRecording, { type: 'stop', at: t(0) }).refusals).toEqual(['recording-not-active']);
    expect(run(idleRecording, { type: 'pause', at: t(0), by: 'api' }).refusals).toEqual(['recording-not-active']);
    const r = run(idleRecording, { type: 'start' }, { type: 'start' }, { type: 'resume', at: t(1) }, { type: 'pause', at: t(2), by: 'api' }, { type: 'pause', at: t(3), by: 'api' });
    expect(r.refusals).toEqual(['recording-already-active', 'recording-not-paused', 'recording-already-paused']);
    expect(r.m.phase).toBe('paused');
  });

  it('keeps each pause stretch with its times; a stop closes an open one', () => {
    const r = run(idleRecording, { type: 'start' }, { type: 'pause', at: t(5), by: 'api' }, { type: 'resume', at: t(9) }, { type: 'pause', at: t(12), by: 'ivr' }, { type: 'stop', at: t(20) });
    expect(r.m).toEqual({
      phase: 'stopped',
      pauses: [
        { from: t(5).toISOString(), to: t(9).toISOString(), by: 'api' },
        { from: t(12).toISOString(), to: t(20).toISOString(), by: 'ivr' },
      ],
    });
    expect(closePauses(r.m.pauses, t(30))).toEqual(r.m.pauses);
  });
});

describe('IVR recording node (PCI pause)', () => {
  const def: FlowDefinition = {
    language: 'en',
    start: 'menu',
    nodes: {
      menu: { kind: 'menu', prompt: { sound: 'pay' }, options: { '1': 'pause' }, fallback: 'bye' },
      pause: { kind: 'recording', action: 'pause', next: 'card' },
      card: { kind: 'gather', variable: 'card', minDigits: 4, maxDigits: 4, next: 'resume', timeout: 'bye' },
      resume: { kind: 'recording', action: 'resume', next: 'after' },
      after: { kind: 'menu', prompt: { sound: 'thanks' }, options: { '9': 'bye' }, fallback: 'bye' },
      bye: { kind: 'hangup' },
    },
  };
  const now = new Date('2026-12-06T10:00:00Z');

  it('validates, pauses and resumes the recording, and the card digits are in the flow but not in its path or the CDR digits', () => {
    expect(validateFlow(def, { extensions: new Set(), mailboxes: new Set(), prompts: new Set(), queues: new Set(), flows: new Set(), externalAllowed: () => false })).toEqual([]);
    const first = startFlow(def, { callerNumber: '100', dialedNumber: '200', siteTimezone: 'UTC', now });
    let state: FlowRunState = first.state;
    const actions = [];
    for (const digit of ['1', '4', '1', '1', '1', '9']) {
      const step = stepFlow(state, { type: 'dtmf', digit, now });
      state = step.state;
      actions.push(...step.actions);
    }
    expect(actions.filter((a) => a.kind === 'recording')).toEqual([{ kind: 'recording', action: 'pause' }, { kind: 'recording', action: 'resume' }]);
    expect(state.vars['card']).toBe('4111');
    expect(pathDigits(state.path)).toBe('19');
    expect(JSON.stringify(state.path)).not.toContain('4111');
    expect(state.path.map((e) => e.kind)).toEqual(['menu', 'recording', 'gather', 'recording', 'menu', 'hangup']);
  });

  it('digits typed while the API paused the recording (secret) are not kept either', () => {
    const gather: FlowDefinition = { language: 'en', start: 'g', nodes: { g: { kind: 'gather', variable: 'pin', minDigits: 2, maxDigits: 2, next: 'bye', timeout: 'bye' }, bye: { kind: 'hangup' } } };
    let state = startFlow(gather, { callerNumber: '1', dialedNumber: '2', siteTimezone: 'UTC', now }).state;
    for (const digit of ['7', '3']) state = stepFlow(state, { type: 'dtmf', digit, now, secret: true }).state;
    expect(state.vars['pin']).toBe('73');
    expect(pathDigits(state.path)).toBe('');
  });
});
