/** A call session running an IVR flow (ivr-call.ts), against a fake Asterisk. */
import { describe, expect, it } from 'vitest';
import { setup } from '../support/session-harness.js';
import type { FlowDefinition } from '../../src/ivr/model.js';
import type { IvrPort, LookupResult } from '../../src/ivr/port.js';
import { eventually } from '../support/wait.js';

const main: FlowDefinition = {
  language: 'fr',
  start: 'menu',
  nodes: {
    menu: { kind: 'menu', prompt: [{ sound: 'welcome' }, { say: 'Bonjour' }], options: { '1': 'sales', '2': 'crm', '3': 'other' }, timeoutMs: 3000, maxRetries: 1, fallback: 'bye' },
    sales: { kind: 'transfer', target: { kind: 'extension', number: '1002' } },
    crm: { kind: 'lookup', url: 'http://crm.example/caller', timeoutMs: 1000, map: { tier: 'customer.tier' }, next: 'vip', error: 'bye' },
    vip: { kind: 'branch', on: { variable: 'tier' }, cases: [{ equals: 'gold', next: 'sales' }], default: 'bye' },
    other: { kind: 'transfer', target: { kind: 'flow', flow: 'second' } },
    bye: { kind: 'hangup' },
  },
};
const second: FlowDefinition = { language: 'en', start: 'box', nodes: { box: { kind: 'transfer', target: { kind: 'voicemail', mailbox: '1003' } } } };

function ivrPort(lookup: LookupResult = { ok: true, body: { customer: { tier: 'gold' } } }) {
  const lookups: string[] = [];
  const port: IvrPort = {
    siteTimezone: 'Europe/Paris',
    loadFlow: async (name) => (name === 'main' ? { name, version: 3, definition: main } : name === 'second' ? { name, version: 1, definition: second } : null),
    promptMedia: async (id) => `sound:/prompts/${id}`,
    speak: async (text, language) => `sound:/prompts/tts-${language}-${text.length}`,
    lookup: async (url, _params, _ms, call) => {
      lookups.push(`${url} caller=${call.callerNumber}`);
      return lookup;
    },
  };
  return { port, lookups };
}

async function inFlow(o: { lookup?: LookupResult; flow?: string } = {}) {
  const { port, lookups } = ivrPort(o.lookup);
  const s = setup({ route: { kind: 'flow', flow: o.flow ?? 'main' }, ivr: port });
  await s.session.enqueue({ type: 'stasis-start' });
  const playbackOf = () => /^play chan-a (\S+) (\S+)/.exec(s.calls.filter((c) => c.startsWith('play ')).at(-1) ?? '')?.[2] ?? '';
  return { ...s, lookups, playbackOf };
}

describe('an IVR flow in a call session', () => {
  it('answers, plays the menu in the flow language, and a digit reaches the extension; the CDR keeps the path', async () => {
    const s = await inFlow();
    expect(s.calls.slice(0, 2)).toEqual(['followChannel chan-a', 'answer chan-a']);
    expect(s.calls).toContain('play chan-a ["sound:welcome","sound:/prompts/tts-fr-7"] call-1-ivr1-pb-1 fr');
    await s.session.enqueue({ type: 'dtmf', digit: '1' }); // barge-in
    expect(s.calls).toContain('stopPlayback call-1-ivr1-pb-1');
    const originate = s.calls.find((c) => c.startsWith('originate'));
    expect(originate).toContain('"endpoint":"PJSIP/1002"');
    expect(s.calls.filter((c) => c.startsWith('answer'))).toHaveLength(1); // answered once, by the flow
    const leg = s.nextLeg();
    s.advance(4000);
    await s.session.enqueue({ type: 'b-answered', legId: leg });
    // The caller, answered by the flow, heard a ringback tone: stopped before the bridge, not left under the call.
    const ringStop = s.calls.indexOf('ringStop chan-a');
    expect(s.calls.indexOf('ring chan-a')).toBeGreaterThan(-1);
    expect(ringStop).toBeGreaterThan(s.calls.indexOf('ring chan-a'));
    expect(ringStop).toBeLessThan(s.calls.findIndex((c) => c.startsWith('addToBridge')));
    s.advance(6000);
    await s.session.enqueue({ type: 'hangup-request', cause: 16 });
    await s.session.enqueue({ type: 'destroyed', cause: 16, causeText: 'Normal Clearing' });
    const cdr = s.cdrs.at(-1)!;
    // The 4 s in the flow and ringing are wait; billable is the 6 s talk with 1002 (docs/calls-and-routing.md#cdrs).
    expect(cdr).toMatchObject({ disposition: 'ANSWERED', answered_by: '1002', wait_seconds: 4, talk_seconds: 6, billable_seconds: 6, ended_by: 'caller' });
    const ivr = JSON.parse(cdr.ivr_path as string);
    expect(ivr.flows).toEqual([{ name: 'main', version: 3 }]);
    expect(ivr.path.map((p: { node: string; digits?: string; outcome?: string }) => [p.node, p.digits ?? null, p.outcome ?? null])).toEqual([
      ['menu', '1', 'options.1'],
      ['sales', null, 'transfer'],
    ]);
    expect(cdr.digits).toBe('1');
  });

  it('a wrong digit, silence, then a right one: every attempt is in the path, every digit in the CDR', async () => {
    const { port } = ivrPort();
    const s = setup({ route: { kind: 'flow', flow: 'retry' }, ivr: { ...port, loadFlow: async (name) => ({ name, version: 1, definition: { ...main, nodes: { ...main.nodes, menu: { ...main.nodes.menu!, maxRetries: 2 } as never } } }) } });
    await s.session.enqueue({ type: 'stasis-start' });
    await s.session.enqueue({ type: 'dtmf', digit: '7' }); // barge-in, invalid: "invalid" is played
    const last = () => /^play chan-a \S+ (\S+)/.exec(s.calls.filter((c) => c.startsWith('play ')).at(-1) ?? '')![1]!;
    await s.session.enqueue({ type: 'playback-finished', playbackId: last() }); // the notice: the menu again
    await s.session.enqueue({ type: 'playback-finished', playbackId: last() }); // the menu: its timer runs
    await s.session.enqueue({ type: 'ivr-timeout', gen: 1 }); // silence
    await s.session.enqueue({ type: 'dtmf', digit: '1' });
    expect(s.calls.some((c) => c.startsWith('originate'))).toBe(true);
    await s.session.enqueue({ type: 'hangup-request', cause: 16 });
    await s.session.enqueue({ type: 'destroyed', cause: 16, causeText: 'Normal Clearing' });
    const cdr = s.cdrs.at(-1)!;
    const ivr = JSON.parse(cdr.ivr_path as string);
    expect(ivr.path.map((p: { node: string; attempt?: number; digits?: string; failure?: string; outcome?: string }) => [p.node, p.attempt ?? null, p.digits ?? null, p.failure ?? null, p.outcome ?? null])).toEqual([
      ['menu', 1, '7', 'invalid', 'retry'],
      ['menu', 2, null, 'timeout', 'retry'],
      ['menu', 3, '1', null, 'options.1'],
      ['sales', null, null, null, 'transfer'],
    ]);
    expect(cdr.digits).toBe('71');
  });

  it('an HTTP lookup answered in the background decides the branch', async () => {
    const s = await inFlow();
    s.calls.length = 0;
    await s.session.enqueue({ type: 'playback-finished', playbackId: s.playbackOf() });
    await s.session.enqueue({ type: 'dtmf', digit: '2' });
    // The lookup answers in the background; its answer is queued to the session, which goes on.
    await eventually(async () => (s.calls.some((c) => c.startsWith('originate')) ? true : undefined), 5_000, 'the call transferred after the lookup', 1);
    await s.session.enqueue({ type: 'stasis-end' }).catch(() => undefined);
    expect(s.lookups).toEqual(['http://crm.example/caller caller=1001']);
    expect(s.calls.find((c) => c.startsWith('originate'))).toContain('"endpoint":"PJSIP/1002"');
  });

  it('a failed lookup takes the error edge: the caller is hung up', async () => {
    const s = await inFlow({ lookup: { ok: false, error: 'timeout' } });
    await s.session.enqueue({ type: 'dtmf', digit: '2' });
    await eventually(async () => (s.calls.includes('hangup chan-a normal') ? true : undefined), 5_000, 'the caller hung up after the failed lookup', 1);
    await s.session.enqueue({ type: 'ivr-timeout', gen: -1 }); // a stale timer: ignored, but waits for the queue
    expect(s.calls.some((c) => c.startsWith('originate'))).toBe(false);
    expect(s.calls).toContain('hangup chan-a normal');
  });

  it('a flow hands the caller to another flow, which ends in voicemail; both flows are in the record', async () => {
    const s = await inFlow();
    await s.session.enqueue({ type: 'dtmf', digit: '3' });
    // The second flow's target is voicemail 1003; the harness has no mailboxes, so the caller is let go.
    expect(s.calls).toContain('hangup chan-a no_answer');
    await s.session.enqueue({ type: 'hangup-request', cause: 16 });
    await s.session.enqueue({ type: 'destroyed', cause: 16, causeText: 'Normal Clearing' });
    const ivr = JSON.parse(s.cdrs.at(-1)!.ivr_path as string);
    expect(ivr.flows).toEqual([
      { name: 'main', version: 3 },
      { name: 'second', version: 1 },
    ]);
    expect(ivr.path.map((p: { node: string }) => p.node)).toEqual(['menu', 'other', 'box']);
  });

  it('a flow with no published version refuses the call', async () => {
    const s = await inFlow({ flow: 'nope' });
    expect(s.calls).toEqual(['followChannel chan-a', 'hangup chan-a unallocated']);
  });
});
