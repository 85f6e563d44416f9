import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { classPermits, isDialOutNumber, orderRoutes, planOutbound, type CallerClass, type OutboundRoute } from '../../src/routing/outbound.js';

const route = (id: string, pattern: string, more: Partial<OutboundRoute> = {}): OutboundRoute => ({
  id,
  name: `r${id}`,
  pattern,
  strip: 0,
  prepend: '',
  trunkId: `t${id}`,
  priority: 100,
  requiredClass: 'national',
  ...more,
});

const routes: OutboundRoute[] = [
  route('1', '_0ZXXXXXXX.', { strip: 1, prepend: '+49', trunkId: 'de' }), // national, 0-prefixed
  route('2', '_00.', { strip: 2, prepend: '+', requiredClass: 'international', trunkId: 'intl' }),
  route('3', '_11X', { trunkId: 'de' }), // 110, 112: short codes
  route('4', '_9.', { strip: 1, priority: 200, trunkId: 'backup' }),
];
const plan = (dialed: string, callerClass: CallerClass = 'international', more: Partial<Parameters<typeof planOutbound>[0]> = {}) =>
  planOutbound({ dialed, callerClass, routes, emergencyNumbers: ['112', '911'], ...more });

describe('planOutbound', () => {
  it('strips and prepends', () => {
    expect(plan('0301234567')).toEqual({ kind: 'route', routeId: '1', trunkId: 'de', number: '+49301234567', emergency: false });
    expect(plan('0044201234567')).toEqual({ kind: 'route', routeId: '2', trunkId: 'intl', number: '+44201234567', emergency: false });
    expect(plan('9555')).toMatchObject({ routeId: '4', number: '555' });
  });

  it('tries lower priority first, then lower id', () => {
    const rs = [route('10', '_X.', { priority: 5, trunkId: 'a' }), route('2', '_X.', { priority: 5, trunkId: 'b' }), route('1', '_X.', { priority: 9, trunkId: 'c' })];
    expect(planOutbound({ dialed: '123', callerClass: 'national', routes: rs, emergencyNumbers: [] })).toMatchObject({ routeId: '2', trunkId: 'b' });
    expect(orderRoutes(rs).map((r) => r.route.id)).toEqual(['2', '10', '1']);
  });

  describe('permission classes', () => {
    it('internal callers may dial nothing outside', () => {
      expect(plan('0301234567', 'internal')).toEqual({ kind: 'refused', reason: 'not-permitted' });
      expect(plan('110', 'internal')).toEqual({ kind: 'refused', reason: 'not-permitted' });
    });
    it('national callers take national routes only', () => {
      expect(plan('0301234567', 'national')).toMatchObject({ kind: 'route', routeId: '1' });
      expect(plan('0044201234567', 'national')).toEqual({ kind: 'refused', reason: 'not-permitted' });
    });
    it('a permitted lower-priority route is used when a better one is not permitted', () => {
      const rs = [route('1', '_X.', { priority: 1, requiredClass: 'international' }), route('2', '_X.', { priority: 2 })];
      expect(planOutbound({ dialed: '555', callerClass: 'national', routes: rs, emergencyNumbers: [] })).toMatchObject({ routeId: '2' });
    });
    it('rank: internal < national < international', () => {
      expect(classPermits('internal', 'national')).toBe(false);
      expect(classPermits('national', 'national')).toBe(true);
      expect(classPermits('national', 'international')).toBe(false);
      expect(classPermits('international', 'international')).toBe(true);
      expect(classPermits('international', 'national')).toBe(true);
    });
  });

  describe('emergency numbers', () => {
    it('always route, whatever the class, via the first matching route', () => {
      for (const c of ['internal', 'national', 'international'] as const) {
        expect(plan('112', c)).toEqual({ kind: 'route', routeId: '3', trunkId: 'de', number: '112', emergency: true });
      }
    });
    it('even when only an international route matches', () => {
      const rs = [route('1', '_9.', { requiredClass: 'international', strip: 0 })];
      expect(planOutbound({ dialed: '911', callerClass: 'internal', routes: rs, emergencyNumbers: ['911'] })).toMatchObject({ kind: 'route', number: '911', emergency: true });
    });
    it('with no matching route they are refused no-route', () => {
      expect(planOutbound({ dialed: '112', callerClass: 'internal', routes: [], emergencyNumbers: ['112'] })).toEqual({ kind: 'refused', reason: 'no-route' });
    });
    it('a number not on the list gets no bypass', () => {
      expect(plan('110', 'internal', { emergencyNumbers: ['112'] })).toEqual({ kind: 'refused', reason: 'not-permitted' });
    });
  });

  it('refuses what no route matches', () => {
    expect(plan('5')).toEqual({ kind: 'refused', reason: 'no-route' });
    expect(plan('8000', 'internal')).toEqual({ kind: 'refused', reason: 'no-route' });
  });

  it.each(['', 'abc', '12 34', '1;Dial(PJSIP/evil)', '5'.repeat(33), '9\n1', '9&PJSIP/x'])('validates the dialed input first: %j', (dialed) => {
    expect(plan(dialed)).toEqual({ kind: 'refused', reason: 'invalid-number' });
  });

  it('refuses when stripping leaves nothing, and never emits a bad prepend', () => {
    const rs = [route('1', '_9', { strip: 5 })];
    expect(planOutbound({ dialed: '9', callerClass: 'national', routes: rs, emergencyNumbers: [] })).toEqual({ kind: 'refused', reason: 'invalid-number' });
    const bad = [route('1', '_9.', { prepend: 'x;' })];
    expect(planOutbound({ dialed: '91', callerClass: 'national', routes: bad, emergencyNumbers: [] })).toEqual({ kind: 'refused', reason: 'invalid-number' });
  });

  it('skips a route whose pattern does not compile', () => {
    const rs = [route('1', '_9.1', { priority: 1 }), route('2', '_9X')];
    expect(planOutbound({ dialed: '91', callerClass: 'national', routes: rs, emergencyNumbers: [] })).toMatchObject({ routeId: '2' });
  });

  it('property: any route plan hands the trunk only 1-48 of 0-9 * # +', () => {
    const dialChar = fc.constantFrom(...'0123456789*#+');
    const arbRoute = fc.record({
      pattern: fc.constantFrom('_X.', '_9!', '_0Z.', '_[1-3]XX', '911', '_+.', '_*X!', '_N'),
      strip: fc.integer({ min: 0, max: 40 }),
      prepend: fc.oneof(fc.string({ unit: dialChar, maxLength: 16 }), fc.string({ maxLength: 4 })),
      priority: fc.integer({ min: 0, max: 5 }),
      requiredClass: fc.constantFrom('national', 'international'),
    }).map((r) => route('0', r.pattern, r as Partial<OutboundRoute>));
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: dialChar, maxLength: 34 }), fc.string({ maxLength: 34 })),
        fc.constantFrom<CallerClass>('internal', 'national', 'international'),
        fc.array(arbRoute, { maxLength: 6 }),
        fc.array(fc.string({ unit: dialChar, minLength: 1, maxLength: 4 }), { maxLength: 3 }),
        (dialed, callerClass, generated, emergencyNumbers) => {
          const rs = generated.map((r, i) => ({ ...r, id: String(i + 1) }));
          const p = planOutbound({ dialed, callerClass, routes: rs, emergencyNumbers });
          if (p.kind === 'route') {
            expect(isDialOutNumber(p.number)).toBe(true);
            expect(p.number).toMatch(/^[0-9*#+]{1,48}$/);
            const r = rs.find((x) => x.id === p.routeId)!;
            expect(p.number).toBe(r.prepend + dialed.slice(r.strip));
            if (!p.emergency) expect(classPermits(callerClass, r.requiredClass)).toBe(true);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
