/**
 * The screen pop of a campaign call (docs/events.md, agent.offered): a contact connected to the
 * campaign's queue rings an agent like a queue caller, and the agent.offered event the session
 * publishes carries the contact (number, name) as the caller and the contact's list data plus the
 * campaign's name as its variables; a viewer never receives it (agent.offered needs a supervisor).
 */
import { describe, expect, it } from 'vitest';
import { agentOffered } from '../../src/calls/call-events.js';
import type { CampaignCallReports } from '../../src/campaigns/ports.js';
import { forRole, type EventInput, type PbxEvent } from '../../src/events/model.js';
import { fakeQueueAcd, setup } from '../support/session-harness.js';
import { eventually } from '../support/wait.js';

const contact = { contactId: '9', campaign: 'spring', number: '+4930777001', name: 'Carla Contact', data: { plan: 'gold', account: 'A-17' } };

describe('agent.offered for a campaign call', () => {
  it("carries the contact as the caller and its data (plus the campaign) as variables", async () => {
    const published: EventInput[] = [];
    const reports: CampaignCallReports = {
      notAnswered: async () => undefined,
      answered: async () => ({ kind: 'connect', queue: 'sales', connectMs: 5000, abandonPrompt: null, contact }),
      connected: async () => undefined,
      abandoned: async () => undefined,
      ended: async () => undefined,
    };
    const acd = fakeQueueAcd();
    const s = setup({
      anchor: '42-1', callId: '42-1', acd: acd.acd, facts: { direction: 'outbound' },
      campaign: { reports: () => reports, flowName: async () => null, promptMedia: async () => null },
      agentOffered: agentOffered({ publish: (e) => void published.push(e) }),
    });
    const at = new Date('2026-01-01T10:00:00.500Z');
    await s.session.enqueue({ type: 'campaign-start', start: { attemptId: '42-1', amd: null, answeredAtMs: at.getTime(), number: contact.number }, at });
    acd.offer();
    const offered = await eventually(async () => published.find((e) => e.type === 'agent.offered'), 2000, 'agent.offered');
    expect(offered).toMatchObject({
      type: 'agent.offered',
      callId: '42-1',
      queue: 'sales',
      callerNumber: '+4930777001',
      callerName: 'Carla Contact',
      variables: { plan: 'gold', account: 'A-17', campaign: 'spring' },
    });
    const event = { ...offered, id: 1, at: at.toISOString() } as PbxEvent;
    expect(forRole('viewer', event)).toBeNull();
    expect(forRole('supervisor', event)).toEqual(event);
  });
});
