import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { orderInboundRules, resolveInbound, type InboundRule, type Target } from '../../src/routing/inbound.js';

const ext = (number: string): Target => ({ kind: 'extension', number });
const HANGUP: Target = { kind: 'hangup' };
const rule = (id: string, did: string | null, caller: string | null, target: Target, priority = 100): InboundRule => ({
  id,
  priority,
  didPattern: did,
  callerPattern: caller,
  target,
});

const rules: InboundRule[] = [
  rule('1', '_49301234XX', null, ext('2000')), // the DID block -> reception
  rule('2', '4930123410', null, ext('2010')), // one DID -> sales
  rule('3', null, '+491701111111', ext('2001')), // VIP -> the boss, on any DID
  rule('4', null, '_+49900.', HANGUP), // premium-rate spam callers
  rule('5', '4930123499', '_+44.', ext('2044')), // UK callers on the export line
  rule('6', '_4930.', null, ext('2999'), 500),
];
const DEFAULT = ext('2000');
const resolve = (did: string, caller: string | null, rs = rules, def: Target | null = DEFAULT) => resolveInbound(did, caller, rs, def);

describe('resolveInbound', () => {
  it('exact DID beats a DID pattern, whatever the priorities', () => {
    expect(resolve('4930123410', '+4930999')).toEqual(ext('2010'));
    const lowPriorityExact = rules.map((r) => (r.id === '2' ? { ...r, priority: 9999 } : r));
    expect(resolve('4930123410', '+4930999', lowPriorityExact)).toEqual(ext('2010'));
    expect(resolve('4930123411', '+4930999')).toEqual(ext('2000'));
  });

  it('caller rules come before any DID rule', () => {
    expect(resolve('4930123410', '+491701111111')).toEqual(ext('2001'));
    expect(resolve('4930123410', '+4990012345')).toEqual(HANGUP);
  });

  it('a caller rule limited to a DID matches only on that DID', () => {
    expect(resolve('4930123499', '+44201234')).toEqual(ext('2044'));
    expect(resolve('4930123498', '+44201234')).toEqual(ext('2000'));
  });

  it('DID patterns: lower priority first, then the more specific pattern, then the lower id', () => {
    expect(resolve('493055555', null)).toEqual(ext('2999'));
    const rs = [rule('7', '_X.', null, ext('1')), rule('8', '_49.', null, ext('2')), rule('9', '_49.', null, ext('3')), rule('10', '_4X.', null, ext('4'), 1)];
    expect(resolve('4912', null, rs)).toEqual(ext('4'));
    expect(orderInboundRules(rs).map((r) => r.id)).toEqual(['10', '8', '9', '7']);
  });

  it('an exact caller number beats a caller pattern of the same priority', () => {
    const rs = [rule('1', null, '_+49.', ext('1')), rule('2', null, '+4930', ext('2'))];
    expect(resolve('100', '+4930', rs)).toEqual(ext('2'));
  });

  it('falls back to the default target, which may be null', () => {
    expect(resolve('5551234', null)).toEqual(DEFAULT);
    expect(resolve('5551234', null, rules, null)).toBeNull();
    expect(resolve('5551234', null, [], null)).toBeNull();
  });

  it('an unknown or undialable caller number never matches a caller rule', () => {
    const rs = [rule('1', null, '_X!', HANGUP)];
    expect(resolve('100', null, rs)).toEqual(DEFAULT);
    expect(resolve('100', 'anonymous', rs)).toEqual(DEFAULT);
    expect(resolve('100', '', rs)).toEqual(DEFAULT);
  });

  it('an undialable DID (e.g. "s") only reaches caller rules and the default', () => {
    expect(resolve('s', '+491701111111')).toEqual(ext('2001'));
    expect(resolve('s', '+4930999')).toEqual(DEFAULT);
    expect(resolve('', null, [rule('1', '_!', null, HANGUP)])).toEqual(DEFAULT);
  });

  it('ignores rules with a broken pattern and rules without any pattern', () => {
    const rs = [rule('1', '_49[', null, HANGUP), rule('2', null, null, HANGUP), rule('3', '_49.', null, ext('3'))];
    expect(resolve('491', null, rs)).toEqual(ext('3'));
    expect(orderInboundRules(rs).map((r) => r.id)).toEqual(['3']);
  });

  it('property: the result is a rule target or the default, and does not depend on the input order', () => {
    const pat = fc.constantFrom('_X.', '_49.', '4930', '_4930X', '_+49.', '+4930', '_!', '_[1-4]X!');
    const arb = fc.array(
      fc.record({ did: fc.option(pat), caller: fc.option(pat), priority: fc.integer({ min: 0, max: 3 }), n: fc.integer({ min: 1, max: 9 }) }),
      { maxLength: 8 },
    );
    const num = fc.constantFrom('4930', '49301', '+4930', '+49301', '12', 's');
    fc.assert(
      fc.property(arb, num, fc.option(num), fc.context(), (gen, did, caller, ctx) => {
        const rs = gen.map((g, i) => rule(String(i + 1), g.did, g.caller, ext(String(1000 + g.n)), g.priority));
        const got = resolve(did, caller, rs);
        ctx.log(JSON.stringify(got));
        expect(got === DEFAULT || rs.some((r) => r.target === got)).toBe(true);
        expect(resolve(did, caller, [...rs].reverse())).toBe(got);
      }),
    );
  });
});
