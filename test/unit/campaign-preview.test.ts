/**
 * Preview mode's pure parts (docs/campaigns.md#preview-mode): what the agent's phone says and which
 * keys answer, where a skipped or expired offer puts its contact, the campaign.preview event, and
 * the previewSeconds setting's bounds.
 */
import { describe, expect, it } from 'vitest';
import { FormatRegistry } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { previewAnswerOf, previewText } from '../../src/calls/preview-call.js';
import { contactAfter, RETRY_PRIORITY, SKIPPED_PRIORITY } from '../../src/campaigns/outcomes.js';
import { previewEvent, type PreviewOffer } from '../../src/campaigns/preview.js';
import { CampaignPreview } from '../../src/events/model.js';
import { settingsProblem, withDefaults } from '../../src/campaigns/campaign-settings.js';

if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', (v) => !Number.isNaN(Date.parse(v)));

const offer: PreviewOffer = {
  attemptId: '17-1', campaignId: '3', campaign: 'renewals', agentId: '9', agent: '1001', extension: '6001', autoAnswer: false, contactId: '17',
  number: '+12025550143', name: 'Ann Smith', data: { account: 'A-1' }, offeredAt: new Date('2026-03-03T15:00:00Z'), expiresAt: new Date('2026-03-03T15:00:30Z'),
};

describe('preview on the handset', () => {
  it("says the contact's name, else the number digit by digit, and which keys answer", () => {
    expect(previewText(offer)).toBe('Preview call: Ann Smith. Press 1 to call, 2 to skip.');
    expect(previewText({ name: null, number: '+12025550143' })).toBe('Preview call: 1 2 0 2 5 5 5 0 1 4 3. Press 1 to call, 2 to skip.');
    expect(previewText({ name: '  ', number: '+4930123' })).toContain('4 9 3 0 1 2 3');
    // markup or control characters in a CSV name are not spoken (nor passed to espeak as such)
    expect(previewText({ name: 'José <b>Pérez</b>\n; rm', number: '+1' })).toBe('Preview call: José b Pérez b rm. Press 1 to call, 2 to skip.');
    expect(previewText({ name: 'x'.repeat(500), number: '+1' }).length).toBeLessThan(140);
  });

  it('1 accepts, 2 skips, any other key is not an answer', () => {
    expect(previewAnswerOf('1')).toBe('accept');
    expect(previewAnswerOf('2')).toBe('skip');
    for (const k of ['0', '3', '9', '*', '#']) expect(previewAnswerOf(k)).toBeNull();
  });
});

describe('a preview offer not taken', () => {
  const at = new Date('2026-03-03T15:00:30Z');
  it.each(['skipped', 'expired'] as const)('%s: the contact is ready at once, behind fresh contacts and retries, not a try', (outcome) => {
    const next = contactAfter({ outcome, dialed: 0, rules: {}, maxAttempts: 1, machineMessage: false, at });
    expect(next).toEqual({ state: 'ready', nextAttemptAt: at, priority: SKIPPED_PRIORITY });
    expect(SKIPPED_PRIORITY).toBeLessThan(0); // fresh contacts are 0
    expect(SKIPPED_PRIORITY).toBeLessThan(RETRY_PRIORITY);
  });
});

describe('the campaign.preview event', () => {
  it('carries the offer and its state, and matches the stream schema', () => {
    for (const state of ['offered', 'accepted', 'skipped', 'expired'] as const) {
      const e = previewEvent(offer, state);
      expect(e).toEqual({
        type: 'campaign.preview', attemptId: '17-1', campaignId: '3', campaign: 'renewals', agent: '1001', state, contactId: '17',
        contactNumber: '+12025550143', contactName: 'Ann Smith', data: { account: 'A-1' }, expiresAt: '2026-03-03T15:00:30.000Z',
      });
      expect(Value.Check(CampaignPreview, { ...e, id: 1, at: '2026-03-03T15:00:00.000Z' })).toBe(true);
    }
    expect(Value.Check(CampaignPreview, { ...previewEvent(offer, 'offered'), state: 'dialed', id: 1, at: '2026-03-03T15:00:00.000Z' })).toBe(false);
  });
});

describe('previewSeconds', () => {
  const base = { mode: 'preview' as const, trunk: 't', callerId: '+12025550100', queue: 'q' };
  it('defaults to 30 and takes 5 to 300 whole seconds', () => {
    expect(withDefaults(base, 'UTC').previewSeconds).toBe(30);
    for (const ok of [5, 30, 300]) expect(settingsProblem(withDefaults({ ...base, previewSeconds: ok }, 'UTC'))).toBeNull();
    for (const bad of [0, 4, 301, 12.5]) expect(settingsProblem(withDefaults({ ...base, previewSeconds: bad }, 'UTC'))?.field).toBe('body.previewSeconds');
  });
});
