import { describe, expect, it } from 'vitest';
import { contactAfter, DEFAULT_RETRY_RULES, isShortRing, RETRY_PRIORITY, unsettledAnswerOutcome, type OutcomeInput } from '../../src/campaigns/outcomes.js';

const at = new Date('2026-03-03T15:00:00Z');
const base: OutcomeInput = { outcome: 'busy', dialed: 1, rules: { busy: { delayMinutes: 10, maxAttempts: 3 } }, maxAttempts: 5, machineMessage: false, at };

describe('what an outcome does to its contact', () => {
  it('retries by the rule, ahead of fresh contacts, until its limit', () => {
    expect(contactAfter(base)).toEqual({ state: 'ready', nextAttemptAt: new Date('2026-03-03T15:10:00Z'), priority: RETRY_PRIORITY });
    expect(contactAfter({ ...base, dialed: 3 })).toEqual({ state: 'exhausted' });
  });

  it("the campaign's maxAttempts caps every rule", () => {
    expect(contactAfter({ ...base, dialed: 2, maxAttempts: 2 })).toEqual({ state: 'exhausted' });
  });

  it('uses the default rule for an outcome the campaign has none for', () => {
    const r = contactAfter({ ...base, outcome: 'no-answer' });
    expect(r).toEqual({ state: 'ready', nextAttemptAt: new Date(at.getTime() + DEFAULT_RETRY_RULES['no-answer'].delayMinutes * 60_000), priority: RETRY_PRIORITY });
  });

  it('a person reached is done; a machine is done when a message was left, else retried', () => {
    expect(contactAfter({ ...base, outcome: 'human' })).toEqual({ state: 'done' });
    expect(contactAfter({ ...base, outcome: 'machine', machineMessage: true })).toEqual({ state: 'done' });
    expect(contactAfter({ ...base, outcome: 'machine' }).state).toBe('ready');
  });

  it('blocked and cancelled attempts are not tries', () => {
    expect(contactAfter({ ...base, outcome: 'blocked-dnc' })).toEqual({ state: 'dnc' });
    const opening = new Date('2026-03-04T13:00:00Z');
    expect(contactAfter({ ...base, outcome: 'blocked-window', nextOpening: opening })).toEqual({ state: 'ready', nextAttemptAt: opening, priority: null });
    expect(contactAfter({ ...base, outcome: 'blocked-window', nextOpening: null })).toEqual({ state: 'unreachable' });
    expect(contactAfter({ ...base, outcome: 'cancelled' })).toEqual({ state: 'unchanged' });
  });

  it('a no-answer given up on before 15 s is a short ring', () => {
    expect(isShortRing('no-answer', 14_999)).toBe(true);
    expect(isShortRing('no-answer', 15_000)).toBe(false);
    expect(isShortRing('busy', 2_000)).toBe(false);
    expect(isShortRing('no-answer', null)).toBe(false);
  });
});

describe('an answered call that ends with no outcome yet', () => {
  it('is an abandon, unless an agentless campaign served it with its flow', () => {
    for (const mode of ['progressive', 'predictive', 'preview']) {
      expect(unsettledAnswerOutcome({ mode, flow_id: null }, null), mode).toBe('abandoned');
      expect(unsettledAnswerOutcome({ mode, flow_id: null }, 'HUMAN'), mode).toBe('abandoned');
    }
    // agentless: the contact heard the flow (no agent was ever to come)
    expect(unsettledAnswerOutcome({ mode: 'agentless', flow_id: '4' }, null)).toBe('human');
    expect(unsettledAnswerOutcome({ mode: 'agentless', flow_id: '4' }, 'HUMAN')).toBe('human');
    expect(unsettledAnswerOutcome({ mode: 'agentless', flow_id: '4' }, 'NOTSURE')).toBe('human');
    // ... but one who hung up during AMD never reached it: counted as an abandon, as in every mode
    expect(unsettledAnswerOutcome({ mode: 'agentless', flow_id: '4' }, 'HANGUP')).toBe('abandoned');
  });
});
