/**
 * The campaign's pure parts (src/campaigns): the lifecycle state machine to the corners, the
 * settings' defaults and cross-field rules, what a disposition's action does to the contact, and
 * the compliance and outbound figures.
 */
import { describe, expect, it } from 'vitest';
import { CAMPAIGN_EVENTS, CAMPAIGN_STATES, DELETABLE_STATES, EDITABLE_STATES, transition } from '../../src/campaigns/campaign-state.js';
import { canAbandon, patched, settingsProblem, withDefaults, type CampaignSettings, type SettingsInput } from '../../src/campaigns/campaign-settings.js';
import { dispositionEffect, type EffectInput } from '../../src/campaigns/dispositions.js';
import { addDays, complianceRows, daysBetween } from '../../src/campaigns/report-compliance.js';
import { agentFigures, campaignFigures, type AttemptFact } from '../../src/campaigns/report-outbound.js';

describe('campaign lifecycle state machine', () => {
  const allowed: Record<string, string> = {
    'draft start': 'running',
    'running pause': 'paused',
    'running stop': 'stopped',
    'running finish': 'finished',
    'paused resume': 'running',
    'paused stop': 'stopped',
    'finished start': 'running',
  };

  it('accepts exactly the documented pairs and refuses every other one with a code naming state and event', () => {
    for (const state of CAMPAIGN_STATES) {
      for (const event of CAMPAIGN_EVENTS) {
        const t = transition(state, event);
        const want = allowed[`${state} ${event}`];
        if (want) {
          expect(t, `${state} ${event}`).toEqual({ ok: true, next: want });
        } else {
          expect(t.ok, `${state} ${event}`).toBe(false);
          if (!t.ok) {
            expect(t.code).toBe('invalid-campaign-transition');
            expect(t.message).toContain(`cannot ${event} a campaign that is ${state}`);
          }
        }
      }
    }
  });

  it('stopped is final; a running campaign is not editable nor deletable', () => {
    for (const event of CAMPAIGN_EVENTS) expect(transition('stopped', event).ok).toBe(false);
    expect(EDITABLE_STATES.has('running')).toBe(false);
    expect(EDITABLE_STATES.has('stopped')).toBe(false);
    expect([...DELETABLE_STATES].sort()).toEqual(['draft', 'stopped']);
  });
});

describe('campaign settings', () => {
  const input: SettingsInput = { mode: 'predictive', trunk: 't', callerId: '+12025550100', queue: 'q' };
  const ok = (over: Partial<CampaignSettings> = {}): CampaignSettings => ({ ...withDefaults(input, 'Europe/Berlin'), ...over });

  it('fills the documented defaults', () => {
    expect(withDefaults(input, 'Europe/Berlin')).toMatchObject({
      window: { start: '08:00', end: '21:00', days: [1, 2, 3, 4, 5, 6] }, timeZone: 'Europe/Berlin', abandonCap: 0.03, ringSeconds: 25, connectSeconds: 2,
      pacing: { mode: 'predictive', targetAbandonRate: 0.03 }, maxAttempts: 5, dailyLimit: null, amd: false, machineAction: 'hangup', defaultCountry: 'US',
    });
    expect(withDefaults({ ...input, abandonCap: 0.01 }, 'UTC').pacing).toEqual({ mode: 'predictive', targetAbandonRate: 0.01 });
    expect(withDefaults({ ...input, abandonCap: 0 }, 'UTC').pacing).toEqual({ mode: 'fixed', level: 1 });
    expect(withDefaults({ ...input, retryRules: { busy: { delayMinutes: 2, maxAttempts: 9 } } }, 'UTC').retryRules.busy).toEqual({ delayMinutes: 2, maxAttempts: 9 });
    expect(settingsProblem(ok())).toBeNull();
  });

  it('names the field of each rule broken', () => {
    const cases: [Partial<CampaignSettings>, string][] = [
      [{ callerId: 'x1' }, 'body.callerId'],
      [{ window: { start: '25:00', end: '21:00', days: [1] } }, 'body.window.start'],
      [{ window: { start: '08:00', end: '08:00', days: [1] } }, 'body.window.end'],
      [{ window: { start: '08:00', end: '21:00', days: [] } }, 'body.window.days'],
      [{ window: { start: '08:00', end: '21:00', days: [8] } }, 'body.window.days'],
      [{ timeZone: 'Nowhere/Else' }, 'body.timeZone'],
      [{ abandonCap: 0.031 }, 'body.abandonCap'],
      [{ ringSeconds: 14 }, 'body.ringSeconds'],
      [{ connectSeconds: 2.1 }, 'body.connectSeconds'],
      [{ connectSeconds: 0 }, 'body.connectSeconds'],
      [{ dailyLimit: 0 }, 'body.dailyLimit'],
      [{ pacing: { mode: 'predictive', targetAbandonRate: 0.031 } }, 'body.pacing.targetAbandonRate'],
      [{ pacing: { mode: 'predictive', targetAbandonRate: 0 } }, 'body.pacing.targetAbandonRate'],
      [{ pacing: { mode: 'fixed', level: 0.5 } }, 'body.pacing.level'],
      [{ pacing: { mode: 'fixed', level: 5.5 } }, 'body.pacing.level'],
      [{ queue: null }, 'body.queue'],
      [{ flow: 'f' }, 'body.flow'],
      [{ mode: 'agentless', queue: null }, 'body.flow'],
      [{ machineAction: 'message' }, 'body.machinePrompt'],
      [{ dispositions: [{ code: '1', name: 'a', success: true, action: 'done' }, { code: '1', name: 'b', success: true, action: 'done' }] }, 'body.dispositions.1.code'],
    ];
    for (const [over, field] of cases) expect(settingsProblem(ok(over))?.field, JSON.stringify(over)).toBe(field);
    expect(settingsProblem(ok({ pacing: { mode: 'fixed', level: 5 } }))).toBeNull();
    expect(settingsProblem(ok({ ringSeconds: 15, connectSeconds: 2, abandonCap: 0.03 }))).toBeNull();
    expect(settingsProblem(ok({ mode: 'agentless', queue: null, flow: 'f' }))).toBeNull();
    expect(settingsProblem(ok({ mode: 'agentless', queue: 'q', flow: 'f' }))).toBeNull();
  });

  it('a patch merges window and retry rules per key; a lower cap takes the predictive target down', () => {
    const p = patched(ok(), { window: { end: '20:00' }, retryRules: { machine: { delayMinutes: 1, maxAttempts: 1 } }, abandonCap: 0.02 });
    expect(p.window).toEqual({ start: '08:00', end: '20:00', days: [1, 2, 3, 4, 5, 6] });
    expect(p.retryRules.machine).toEqual({ delayMinutes: 1, maxAttempts: 1 });
    expect(p.retryRules.busy).toEqual({ delayMinutes: 10, maxAttempts: 3 });
    expect(p.pacing).toEqual({ mode: 'predictive', targetAbandonRate: 0.02 });
    expect(patched(ok(), { abandonCap: 0.02, pacing: { mode: 'predictive', targetAbandonRate: 0.025 } }).pacing).toEqual({ mode: 'predictive', targetAbandonRate: 0.025 });
    expect(patched(ok(), { dailyLimit: undefined }).dailyLimit).toBeNull();
    expect(canAbandon('predictive') && canAbandon('progressive') && !canAbandon('preview') && !canAbandon('agentless')).toBe(true);
  });
});

describe('disposition actions', () => {
  const now = new Date('2026-12-07T15:00:00Z'); // Monday 10:00 in New York
  const base: EffectInput = {
    action: 'done', now, attempts: 1, maxAttempts: 3, retryRules: { 'no-answer': { delayMinutes: 45, maxAttempts: 3 } },
    window: { start: '08:00', end: '21:00', days: [1, 2, 3, 4, 5] }, timeZones: ['America/New_York'],
  };
  const at = (iso: string) => new Date(iso);

  it('done and dnc', () => {
    expect(dispositionEffect(base)).toEqual({ ok: true, state: 'done', nextAttemptAt: null, dnc: false });
    expect(dispositionEffect({ ...base, action: 'dnc' })).toEqual({ ok: true, state: 'dnc', nextAttemptAt: null, dnc: true });
    expect(dispositionEffect({ ...base, action: 'dnc', callbackAt: at('2026-12-07T16:00:00Z') })).toMatchObject({ ok: false, field: 'body.callbackAt' });
  });

  it('retry: the no-answer delay, or the time given; exhausted at maxAttempts', () => {
    expect(dispositionEffect({ ...base, action: 'retry' })).toEqual({ ok: true, state: 'ready', nextAttemptAt: at('2026-12-07T15:45:00Z'), dnc: false });
    expect(dispositionEffect({ ...base, action: 'retry', retryRules: {} })).toMatchObject({ nextAttemptAt: at('2026-12-07T16:00:00Z') });
    expect(dispositionEffect({ ...base, action: 'retry', callbackAt: at('2026-12-08T15:00:00Z') })).toMatchObject({ state: 'ready', nextAttemptAt: at('2026-12-08T15:00:00Z') });
    expect(dispositionEffect({ ...base, action: 'retry', attempts: 3 })).toEqual({ ok: true, state: 'exhausted', nextAttemptAt: null, dnc: false });
    expect(dispositionEffect({ ...base, action: 'retry', callbackAt: now })).toMatchObject({ ok: false, field: 'body.callbackAt', message: 'must be in the future' });
  });

  it('callback: required, future, inside the window in every zone of the contact', () => {
    expect(dispositionEffect({ ...base, action: 'callback' })).toMatchObject({ ok: false, field: 'body.callbackAt' });
    expect(dispositionEffect({ ...base, action: 'callback', callbackAt: at('2026-12-07T14:00:00Z') })).toMatchObject({ ok: false, message: 'must be in the future' });
    // 20:59 New York is inside; 21:00 is not (end excluded); Saturday is not a day of the window.
    expect(dispositionEffect({ ...base, action: 'callback', callbackAt: at('2026-12-08T01:59:00Z') })).toMatchObject({ ok: true, state: 'callback' });
    expect(dispositionEffect({ ...base, action: 'callback', callbackAt: at('2026-12-08T02:00:00Z') })).toMatchObject({ ok: false, field: 'body.callbackAt' });
    expect(dispositionEffect({ ...base, action: 'callback', callbackAt: at('2026-12-12T16:00:00Z') })).toMatchObject({ ok: false });
    // Several zones: open only when open in all (Los Angeles opens at 16:00Z).
    const both = { ...base, action: 'callback' as const, timeZones: ['America/New_York', 'America/Los_Angeles'] };
    expect(dispositionEffect({ ...both, callbackAt: at('2026-12-08T15:00:00Z') })).toMatchObject({ ok: false });
    expect(dispositionEffect({ ...both, callbackAt: at('2026-12-08T16:00:00Z') })).toMatchObject({ ok: true, nextAttemptAt: at('2026-12-08T16:00:00Z') });
    expect(dispositionEffect({ ...base, action: 'callback', timeZones: [], callbackAt: at('2026-12-08T16:00:00Z') })).toMatchObject({ ok: false, message: expect.stringContaining('unknown') });
  });
});

describe('compliance rows', () => {
  const d = (day: string, liveAnswers: number, abandons: number) => ({ day, attempts: 0, liveAnswers, machines: 0, connects: 0, abandons, outsideWindow: 0, dncBlocked: 0, shortRings: 0 });

  it('day arithmetic crosses months, years and DST days', () => {
    expect(addDays('2026-10-31', 1)).toBe('2026-11-01');
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(addDays('2026-03-29', 1)).toBe('2026-03-30');
    expect(daysBetween('2026-02-27', '2026-03-02')).toEqual(['2026-02-27', '2026-02-28', '2026-03-01', '2026-03-02']);
  });

  it('the 30-day rate sums the 30 days ending each day: exact, not an average of rates', () => {
    const counts = [d('2026-01-31', 1000, 40), d('2026-02-01', 10, 0), d('2026-03-01', 10, 1), d('2026-03-02', 0, 0)];
    const rows = complianceRows(counts, '2026-02-28', '2026-03-02', 0.03);
    // 02-28: 01-30..02-28 -> 01-31 and 02-01: 40 / 1010
    expect(rows[0]).toMatchObject({ day: '2026-02-28', liveAnswers: 0, abandonRate: null, abandons30d: 40, liveAnswers30d: 1010, abandonRate30d: 40 / 1010, withinCap: false });
    // 03-01: the 30 days ending it are 01-31..03-01 (February 2026 has 28 days), so 01-31 still counts
    expect(rows[1]).toMatchObject({ abandonRate: 0.1, abandons30d: 41, liveAnswers30d: 1020 });
    // 03-02: 02-01..03-02 -> 01-31 has left
    expect(rows[2]).toMatchObject({ abandons30d: 1, liveAnswers30d: 20, abandonRate30d: 0.05, withinCap: false });
    expect(complianceRows([], '2026-01-01', '2026-01-01', 0.03)).toEqual([{ ...d('2026-01-01', 0, 0), abandonRate: null, abandons30d: 0, liveAnswers30d: 0, abandonRate30d: null, withinCap: true }]);
  });
});

describe('outbound figures', () => {
  const call = (agentId: string | null, conn: number | null, end: number, extra: Partial<AttemptFact> = {}): AttemptFact => ({
    campaignId: '1', agentId, outcome: 'human', answeredAt: conn === null ? null : conn - 1000, connectedAt: conn, endedAt: end, disposition: null, ...extra,
  });

  it('idle counts only gaps of at most 30 min; talk per hour over calls plus counted gaps', () => {
    const m = 60_000;
    const calls = [
      call('a', 0, 2 * m, { disposition: 'sale' }),
      call('a', 3 * m, 5 * m), // 1 min gap
      call('a', 40 * m, 42 * m), // 35 min gap: a break, not counted
      call('b', 0, 6 * m),
    ];
    const figures = agentFigures(calls, new Set(['sale']));
    expect(figures.get('a')).toEqual({
      connects: 3, conversions: 1, conversionRatePercent: 33.3, talkSeconds: 360, avgTalkSeconds: 120, agentSeconds: 420, idleSeconds: 60, avgIdleSeconds: 60,
      talkMinutesPerHour: 51.4, contactsPerHour: 25.7,
    });
    expect(figures.get('b')).toMatchObject({ connects: 1, idleSeconds: 0, avgIdleSeconds: null, talkMinutesPerHour: 60 });
  });

  it('a campaign: attempts, live answers, contact rate, penetration; nothing to divide by is null', () => {
    const facts = [call('a', 0, 60_000), call(null, null, 5_000, { outcome: 'machine', answeredAt: 1000 }), call(null, null, 5_000, { outcome: 'busy', answeredAt: null }), call(null, null, 9_000, { outcome: 'abandoned', answeredAt: 2000 })];
    expect(campaignFigures(facts, new Set(), { contacts: 8, tried: 4, finished: 1 })).toMatchObject({
      attempts: 4, liveAnswers: 2, machines: 1, abandons: 1, connects: 1, contactRatePercent: 25, conversions: 0, conversionRatePercent: 0,
      penetrationPercent: 50, finishedPercent: 12.5,
    });
    expect(campaignFigures([], new Set(), { contacts: 0, tried: 0, finished: 0 })).toMatchObject({
      attempts: 0, contactRatePercent: null, conversionRatePercent: null, talkMinutesPerHour: null, penetrationPercent: null,
    });
  });
});
