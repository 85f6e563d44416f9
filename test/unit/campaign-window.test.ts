import { describe, expect, it } from 'vitest';
import { inWindow, nextOpening, windowProblem, type CallingWindow } from '../../src/campaigns/window.js';

const W: CallingWindow = { start: '08:00', end: '21:00', days: [1, 2, 3, 4, 5, 6] };

describe('calling window', () => {
  it('is open from 08:00 to 20:59 local time on the listed days', () => {
    // Tuesday 2026-03-03: 13:00 UTC is 08:00 in New York (EST, -5)
    expect(inWindow(['America/New_York'], W, new Date('2026-03-03T13:00:00Z'))).toBe(true);
    expect(inWindow(['America/New_York'], W, new Date('2026-03-03T12:59:59Z'))).toBe(false);
    expect(inWindow(['America/New_York'], W, new Date('2026-03-04T01:59:00Z'))).toBe(true); // 20:59
    expect(inWindow(['America/New_York'], W, new Date('2026-03-04T02:00:00Z'))).toBe(false); // 21:00
    // Sunday is not listed
    expect(inWindow(['America/New_York'], W, new Date('2026-03-08T17:00:00Z'))).toBe(false);
  });

  it('follows DST: 08:00 in New York is 12:00 UTC after the spring change', () => {
    expect(inWindow(['America/New_York'], W, new Date('2026-03-09T12:00:00Z'))).toBe(true);
    expect(inWindow(['America/New_York'], W, new Date('2026-03-02T12:00:00Z'))).toBe(false);
  });

  it('needs every zone open for a number of a many-zone country, and never opens with no zone', () => {
    const zones = ['America/New_York', 'America/Los_Angeles'];
    // 09:00 New York = 06:00 Los Angeles: closed
    expect(inWindow(zones, W, new Date('2026-03-03T14:00:00Z'))).toBe(false);
    // it opens at 08:00 Los Angeles = 16:00 UTC
    expect(nextOpening(zones, W, new Date('2026-03-03T14:00:00Z'))?.toISOString()).toBe('2026-03-03T16:00:00.000Z');
    expect(inWindow([], W, new Date('2026-03-03T16:00:00Z'))).toBe(false);
    expect(nextOpening([], W, new Date())).toBeNull();
  });

  it('finds the next opening across the closed days', () => {
    // Saturday 21:30 in Berlin -> Monday 08:00 (Sunday not listed)
    expect(nextOpening(['Europe/Berlin'], W, new Date('2026-03-07T20:30:00Z'))?.toISOString()).toBe('2026-03-09T07:00:00.000Z');
    const now = new Date('2026-03-03T15:00:00Z');
    expect(nextOpening(['Europe/Berlin'], W, now)).toBe(now);
  });

  it('names what is wrong with a window', () => {
    expect(windowProblem(W)).toBeNull();
    expect(windowProblem({ ...W, start: '21:00', end: '08:00' })).toMatch(/start before/);
    expect(windowProblem({ ...W, start: '8:00' })).toMatch(/HH:MM/);
    expect(windowProblem({ ...W, days: [0] })).toMatch(/ISO weekdays/);
    expect(windowProblem({ ...W, days: [] })).toMatch(/at least one/);
  });
});
