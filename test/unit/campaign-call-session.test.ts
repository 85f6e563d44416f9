/**
 * A campaign's answered contact in a call session (src/calls/campaign-call.ts) against a fake
 * Asterisk and ACD: the plan the dialer answers is carried out, the connect deadline withdraws
 * the agent's ringing offer and plays the abandon message, and every report reaches the dialer.
 */
import { describe, expect, it } from 'vitest';
import { fakeQueueAcd, setup } from '../support/session-harness.js';
import type { AnsweredPlan, CampaignCallReports } from '../../src/campaigns/ports.js';
import type { CampaignCallPort } from '../../src/calls/campaign-call.js';
import { DEFAULT_ABANDON_MEDIA } from '../../src/calls/campaign-call.js';
import { handsetOutcome } from '../../src/calls/disposition-call.js';
import { eventually } from '../support/wait.js';

const contact = { contactId: '9', campaign: 'spring', number: '+4930777001', name: 'Carla Contact', data: { plan: 'gold' } };

function campaign(plan: AnsweredPlan): { port: CampaignCallPort; said: string[] } {
  const said: string[] = [];
  const reports: CampaignCallReports = {
    notAnswered: async (id, outcome) => void said.push(`not-answered ${id} ${outcome}`),
    answered: async (id, channel, amd, ringMs) => (said.push(`answered ${id} ${channel} ${amd?.status ?? 'no-amd'} ${ringMs}`), plan),
    connected: async (id, agent) => void said.push(`connected ${id} ${agent}`),
    abandoned: async (id) => void said.push(`abandoned ${id}`),
    ended: async (id) => void said.push(`ended ${id}`),
  };
  return { port: { reports: () => reports, flowName: async () => 'survey', promptMedia: async (name) => `sound:prompt-${name}` }, said };
}

function start(plan: AnsweredPlan, acd = fakeQueueAcd()) {
  const { port, said } = campaign(plan);
  const s = setup({ anchor: '42-1', callId: '42-1', acd: acd.acd, campaign: port, facts: { direction: 'outbound', answeredAt: new Date('2026-01-01T10:00:00.500Z') } });
  const at = new Date('2026-01-01T10:00:00.500Z');
  const started = s.session.enqueue({ type: 'campaign-start', start: { attemptId: '42-1', amd: { status: 'HUMAN', cause: 'HUMAN-800-800' }, answeredAtMs: at.getTime(), number: contact.number }, at });
  return { ...s, said, started, acd };
}

describe('a campaign contact answered', () => {
  it('connect: the agent answers in time -> bridged, connected reported, no message', async () => {
    const c = start({ kind: 'connect', queue: 'sales', connectMs: 2000, abandonPrompt: null, contact });
    await c.started;
    c.acd.offer();
    await eventually(async () => (c.legs.size > 0 ? true : undefined), 1000, 'agent leg');
    const leg = c.nextLeg();
    await c.session.enqueue({ type: 'b-answered', legId: leg });
    expect(c.said).toEqual(['answered 42-1 42-1 HUMAN 500', 'connected 42-1 a-1']);
    // The agent's phone shows the contact (name and number), not the campaign's caller ID.
    expect(c.calls.find((l) => l.startsWith('originate'))).toContain('"callerId":"\\"Carla Contact\\" <+4930777001>"');
    expect(c.calls.some((l) => l.startsWith('addToBridge'))).toBe(true);
    expect(c.calls.some((l) => l.startsWith('play'))).toBe(false);
    expect(c.calls.some((l) => l.startsWith('startMoh'))).toBe(false); // waits in silence
  });

  it('connect: no agent by the deadline -> the ringing offer is withdrawn, the message played, abandoned; hung up after it', async () => {
    const c = start({ kind: 'connect', queue: 'sales', connectMs: 60, abandonPrompt: null, contact });
    await c.started;
    c.acd.offer();
    await eventually(async () => (c.legs.size > 0 ? true : undefined), 1000, 'agent leg');
    const leg = c.nextLeg();
    await eventually(async () => (c.said.includes('abandoned 42-1') ? true : undefined), 2000, 'abandoned');
    expect(c.calls).toContain(`hangup ${leg}`);
    expect(c.calls).toContain(`play 42-1 ${JSON.stringify(DEFAULT_ABANDON_MEDIA)} 42-1-campaign-message`);
    // The agent answering now is too late: not connected.
    await c.session.enqueue({ type: 'b-answered', legId: leg });
    expect(c.said).toEqual(['answered 42-1 42-1 HUMAN 500', 'abandoned 42-1']);
    await c.session.enqueue({ type: 'playback-finished', playbackId: '42-1-campaign-message' });
    expect(c.calls.at(-1)).toBe('hangup 42-1 normal');
  });

  it('connect with an abandon prompt: the campaign\'s prompt is the message', async () => {
    const c = start({ kind: 'connect', queue: 'sales', connectMs: 30, abandonPrompt: 'sorry-spring', contact });
    await c.started;
    await eventually(async () => (c.said.includes('abandoned 42-1') ? true : undefined), 2000, 'abandoned');
    expect(c.calls).toContain('play 42-1 ["sound:prompt-sorry-spring"] 42-1-campaign-message');
  });

  it('a reserved agent (a callback for its agent) keeps the 2 s deadline; only preview (ringsAgent) waits the ring time', async () => {
    const callback = start({ kind: 'connect', queue: 'sales', connectMs: 5000, abandonPrompt: null, contact, reservedFor: 'a-1' });
    const preview = start({ kind: 'connect', queue: 'sales', connectMs: 5000, abandonPrompt: null, contact, reservedFor: 'a-1', ringsAgent: true });
    await Promise.all([callback.started, preview.started]);
    // Capped at the law's 2 s less the lead: abandoned within about 1.6 s.
    await eventually(async () => (callback.said.includes('abandoned 42-1') ? true : undefined), 3000, 'callback abandoned');
    expect(preview.said).toEqual(['answered 42-1 42-1 HUMAN 500']);
  });

  it('machine with a prompt: played, then hung up; without: hung up at once', async () => {
    const m = start({ kind: 'machine', prompt: 'leave-a-message' });
    await m.started;
    expect(m.calls).toContain('play 42-1 ["sound:prompt-leave-a-message"] 42-1-campaign-message');
    await m.session.enqueue({ type: 'playback-finished', playbackId: '42-1-campaign-message' });
    expect(m.calls.at(-1)).toBe('hangup 42-1 normal');
    const h = start({ kind: 'machine', prompt: null });
    await h.started;
    expect(h.calls.at(-1)).toBe('hangup 42-1 normal');
  });

  it('hangup: hung up; and a contact with no dialer wired is hung up too', async () => {
    const h = start({ kind: 'hangup' });
    await h.started;
    expect(h.calls.at(-1)).toBe('hangup 42-1 normal');
    const s = setup({ anchor: '42-2', callId: '42-2', campaign: { reports: () => null, flowName: async () => null, promptMedia: async () => null } });
    await s.session.enqueue({ type: 'campaign-start', start: { attemptId: '42-2', amd: null, answeredAtMs: null, number: null }, at: new Date() });
    expect(s.calls.at(-1)).toBe('hangup 42-2 normal');
  });
});

describe('the disposition feature code (*7<code>)', () => {
  const port = (outcome: 'ok' | 'unknown-code' | 'throws', asked: string[]): CampaignCallPort => ({
    reports: () => null,
    flowName: async () => null,
    promptMedia: async () => null,
    disposeAtPhone: async (extension, code) => {
      asked.push(`${extension} ${code}`);
      if (outcome === 'throws') throw new Error('database down');
      return outcome;
    },
  });

  it.each([
    ['ok', '["sound:beep","sound:auth-thankyou"]'],
    ['unknown-code', '["sound:beeperr"]'],
    ['throws', '["sound:beeperr"]'],
  ] as const)('%s: answered, the agent at the phone is asked for the code, %s played, then hung up', async (outcome, media) => {
    const asked: string[] = [];
    const s = setup({ route: { kind: 'disposition', code: '3', extension: '6271' }, campaign: port(outcome, asked) });
    await s.session.enqueue({ type: 'stasis-start' });
    expect(asked).toEqual(['6271 3']);
    expect(s.calls).toContain('answer chan-a');
    expect(s.calls).toContain(`play chan-a ${media} call-1-disposition`);
    await s.session.enqueue({ type: 'playback-finished', playbackId: 'call-1-disposition' });
    expect(s.calls.at(-1)).toBe('hangup chan-a normal');
  });

  it('not wired yet: an error tone', async () => {
    const s = setup({ route: { kind: 'disposition', code: '3', extension: '6271' } });
    await s.session.enqueue({ type: 'stasis-start' });
    expect(s.calls).toContain('play chan-a ["sound:beeperr"] call-1-disposition');
  });
});

describe('handsetOutcome', () => {
  const err = (code: string) => Object.assign(new Error(code), { code });
  it('maps what setDisposition answered to what the phone hears', () => {
    expect(handsetOutcome({ ok: true })).toBe('ok');
    expect(handsetOutcome({ ok: false, error: err('attempt-not-found') })).toBe('no-call');
    expect(handsetOutcome({ ok: false, error: err('disposition-already-set') })).toBe('no-call');
    expect(handsetOutcome({ ok: false, error: err('validation-failed') })).toBe('unknown-code');
    expect(() => handsetOutcome({ ok: false, error: err('service-unavailable') })).toThrow('service-unavailable');
  });
});
