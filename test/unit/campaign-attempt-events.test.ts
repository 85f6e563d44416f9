/**
 * campaign.attempt (src/campaigns/attempt-events.ts, docs/events.md): the event an ended attempt
 * makes matches the stream's schema, a viewer receives it with the contact's number and name
 * withheld (the caller rule of src/events/model.ts), a supervisor whole; the metrics count it by
 * campaign and outcome.
 */
import { FormatRegistry } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { attemptEndedEvent } from '../../src/campaigns/attempt-events.js';
import { forRole, PbxEvent, VIEWER_TYPES, type EventInput } from '../../src/events/model.js';
import { PbxMetrics } from '../../src/metrics/metrics.js';
import type { MetricSources } from '../../src/metrics/port.js';

// TypeBox checks only the formats it is given (Fastify's ajv checks them on the API side).
if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', (v) => !Number.isNaN(Date.parse(v)));

const campaign = { id: 'c-1', name: 'renewals' };
const ended = (input: EventInput, id = 1): PbxEvent => ({ ...input, id, at: '2026-12-06T12:00:00.000Z' }) as PbxEvent;
const human = attemptEndedEvent(campaign, { id: 'k-7-2', contactId: 'k-7', number: '+4930555', contactName: 'Grace', outcome: 'human', agent: '8101' });

describe('campaign.attempt', () => {
  it('is an event of the stream schema, naming attempt, campaign, contact, outcome and agent', () => {
    const event = ended(human);
    expect(Value.Check(PbxEvent, event)).toBe(true);
    expect(event).toMatchObject({ type: 'campaign.attempt', attemptId: 'k-7-2', campaignId: 'c-1', campaign: 'renewals', contactId: 'k-7', contactNumber: '+4930555', contactName: 'Grace', outcome: 'human', agent: '8101' });
    const machine = ended(attemptEndedEvent(campaign, { id: 'k-8-1', contactId: 'k-8', number: '+4930556', contactName: null, outcome: 'machine', agent: null }));
    expect(Value.Check(PbxEvent, machine)).toBe(true);
    expect(Value.Check(PbxEvent, { ...machine, outcome: 'voicemail' })).toBe(false);
  });

  it("a viewer gets it without the contact's number and name; a supervisor gets them", () => {
    expect(VIEWER_TYPES.has('campaign.attempt')).toBe(true);
    const event = ended(human);
    const viewed = forRole('viewer', event);
    expect(viewed).toEqual({ ...event, contactNumber: null, contactName: null });
    expect(Value.Check(PbxEvent, viewed)).toBe(true);
    expect(forRole('supervisor', event)).toEqual(event);
    expect(forRole('admin', event)).toEqual(event);
  });

  it('is counted by campaign and outcome (pbx_campaign_attempts_total)', async () => {
    const m = new PbxMetrics(new Registry(), { campaigns: async () => [] } as unknown as MetricSources, 'x');
    m.deliver(ended(human, 1));
    m.deliver(ended(human, 2));
    m.deliver(ended(attemptEndedEvent(campaign, { id: 'k-9-1', contactId: 'k-9', number: '+4930557', contactName: null, outcome: 'busy', agent: null }), 3));
    const text = await m.registry.getSingleMetricAsString('pbx_campaign_attempts_total');
    expect(text).toContain('pbx_campaign_attempts_total{campaign="renewals",outcome="human"} 2');
    expect(text).toContain('pbx_campaign_attempts_total{campaign="renewals",outcome="busy"} 1');
  });
});
