/**
 * A campaign contact who was waiting for an agent when the daemon restarted (src/calls/campaign-call.ts
 * rejoin, switchboard.ts resume of live mode `campaign-wait:<queue>`), against a fake Asterisk and
 * ACD: the 2 s count from the answer, not from the restart. Past it: the abandon message at once,
 * reported abandoned, never back in the queue. Within it: back in the queue (at their place) for
 * what is left, then abandoned; an agent in time is connected. A contact no longer waiting: hung up.
 */
import { describe, expect, it } from 'vitest';
import { setup } from '../support/session-harness.js';
import type { AcdEngine, QueueCallPort } from '../../src/acd/engine.js';
import type { AnsweredPlan, CampaignCallReports } from '../../src/campaigns/ports.js';
import type { CampaignCallPort } from '../../src/calls/campaign-call.js';
import { CAMPAIGN_WAIT_MODE, DEFAULT_ABANDON_MEDIA } from '../../src/calls/campaign-call.js';
import { eventually } from '../support/wait.js';

const NOW = Date.parse('2026-01-01T10:00:00Z'); // the harness's clock
const contact = { contactId: '9', campaign: 'spring', number: '+4930777001', name: 'Carla Contact', data: {} };
const connect: AnsweredPlan = { kind: 'connect', queue: 'sales', connectMs: 2000, abandonPrompt: null, contact };

function world(rejoined: { plan: AnsweredPlan; since: Date | null }) {
  const said: string[] = [];
  const joins: string[] = [];
  const modes: string[] = [];
  let port: QueueCallPort | null = null;
  const reports: CampaignCallReports = {
    notAnswered: async () => undefined,
    answered: async () => ({ kind: 'hangup' }),
    connected: async (id, agent) => void said.push(`connected ${id} ${agent}`),
    abandoned: async (id) => void said.push(`abandoned ${id}`),
    ended: async (id) => void said.push(`ended ${id}`),
    rejoined: async (id) => (said.push(`rejoined ${id}`), rejoined),
  };
  const campaign: CampaignCallPort = { reports: () => reports, flowName: async () => null, promptMedia: async () => null };
  const acd = {
    join: async (call: { callId: string; priority: number }, p: QueueCallPort, rejoin: boolean) => {
      port = p;
      joins.push(`${call.callId} priority ${call.priority} rejoin ${rejoin}`);
      return { kind: 'joined', queue: { callbackAfterSeconds: null }, offered: Promise.resolve(false) };
    },
    offerAnswered: async () => true,
    offerFailed: async () => undefined,
    callEnded: async () => undefined,
    callerLeft: async () => undefined,
  } as unknown as AcdEngine;
  const s = setup({
    anchor: '42-1', callId: '42-1', acd, campaign,
    facts: { direction: 'outbound', answeredAt: new Date(NOW - 60_000) },
    store: { insert: async () => undefined, update: async (_id, patch) => void (patch.mode && modes.push(patch.mode)) },
  });
  const adopted = s.session.enqueue({ type: 'adopt', mode: `${CAMPAIGN_WAIT_MODE}sales`, peer: null, bridgeId: null, recording: null });
  return { ...s, said, joins, modes, adopted, offer: () => port!.offer([{ id: 'a-1', number: '7001', extension: '2001' }], 15) };
}

describe('a campaign contact waiting for an agent when the daemon restarted', () => {
  it('past the 2 s since the answer: the abandon message at once, abandoned; never back in the queue', async () => {
    const w = world({ plan: connect, since: new Date(NOW - 8_000) });
    await w.adopted;
    expect(w.said).toEqual(['rejoined 42-1', 'abandoned 42-1']);
    expect(w.joins).toEqual([]);
    expect(w.calls).toContain(`play 42-1 ${JSON.stringify(DEFAULT_ABANDON_MEDIA)} 42-1-campaign-message`);
    expect(w.calls.some((c) => c.startsWith('startMoh'))).toBe(false);
    await w.session.enqueue({ type: 'playback-finished', playbackId: '42-1-campaign-message' });
    expect(w.calls.at(-1)).toBe('hangup 42-1 normal');
  });

  it('within the 2 s: back in the queue at their place for what is left, then abandoned', async () => {
    // 1.55 s after the answer: 50 ms of the 1.6 s deadline left.
    const w = world({ plan: connect, since: new Date(NOW - 1_550) });
    await w.adopted;
    expect(w.joins).toEqual(['42-1 priority 100 rejoin true']);
    await eventually(async () => (w.modes.includes(`${CAMPAIGN_WAIT_MODE}sales`) ? true : undefined), 1000, 'live mode campaign-wait:sales');
    await eventually(async () => (w.said.includes('abandoned 42-1') ? true : undefined), 2000, 'abandoned');
    expect(w.calls).toContain(`play 42-1 ${JSON.stringify(DEFAULT_ABANDON_MEDIA)} 42-1-campaign-message`);
  });

  it('within the 2 s and an agent answers: connected, and the live call is a queue call from then on', async () => {
    const w = world({ plan: connect, since: new Date(NOW - 200) });
    await w.adopted;
    w.offer();
    await eventually(async () => (w.legs.size > 0 ? true : undefined), 1000, 'agent leg');
    await w.session.enqueue({ type: 'b-answered', legId: w.nextLeg() });
    expect(w.said).toEqual(['rejoined 42-1', 'connected 42-1 a-1']);
    await eventually(async () => (w.modes.at(-1) === 'queue:sales' ? true : undefined), 1000, 'live mode queue:sales');
    expect(w.calls.some((c) => c.startsWith('play'))).toBe(false);
  });

  it('no longer waiting (connected, abandoned or over): hung up, no message', async () => {
    const w = world({ plan: { kind: 'hangup' }, since: null });
    await w.adopted;
    expect(w.said).toEqual(['rejoined 42-1']);
    expect(w.calls.some((c) => c.startsWith('play'))).toBe(false);
    expect(w.calls.at(-1)).toBe('hangup 42-1 normal');
  });
});
