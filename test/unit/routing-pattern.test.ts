import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compilePattern, compareSpecificity, DIAL_CHARS, type DialPattern } from '../../src/routing/pattern.js';

const compiled = (p: string): DialPattern => {
  const r = compilePattern(p);
  if (!r.ok) throw new Error(`${p}: ${r.error.message}`);
  return r.pattern;
};
const errorOf = (p: string) => {
  const r = compilePattern(p);
  if (r.ok) throw new Error(`${p} compiled`);
  return r.error;
};

describe('compilePattern: what matches', () => {
  it.each([
    ['_X', ['0', '9'], ['', '10', '*', 'a']],
    ['_Z', ['1', '9'], ['0']],
    ['_N', ['2', '9'], ['0', '1']],
    ['_nxxz', ['2001', '9991'], ['1001', '2000']],
    ['_9NXXXXXX', ['92345678'], ['91345678', '9234567', '923456789']],
    ['_[15-7]', ['1', '5', '6', '7'], ['2', '4', '8']],
    ['_[*#+]1', ['*1', '#1', '+1'], ['11']],
    ['_*XX', ['*72'], ['#72', '*7']],
    ['_+X.', ['+49', '+4930123'], ['+4', '49']],
    ['_00.', ['001', '0044123456'], ['00', '01']],
    ['_9!', ['9', '91', '9123'], ['8', '']],
    ['_#', ['#'], ['*']],
    ['911', ['911'], ['9111', '91', '_911']],
    ['+4930123', ['+4930123'], ['4930123']],
    ['*72', ['*72'], ['*7']],
  ])('%s', (pattern, good, bad) => {
    const p = compiled(pattern);
    for (const s of good) expect(p.matches(s), `${pattern} should match ${s}`).toBe(true);
    for (const s of bad) expect(p.matches(s), `${pattern} should not match ${s}`).toBe(false);
  });

  it('wildcards only ever accept dialable characters', () => {
    expect(compiled('_9.').matches('9abc')).toBe(false);
    expect(compiled('_9!').matches('9;Dial(PJSIP/x)')).toBe(false);
    expect(compiled('_9.').matches('9 1')).toBe(false);
  });

  it('knows literal vs pattern, the shortest match and the wildcard', () => {
    expect(compiled('911')).toMatchObject({ literal: true, minLength: 3, wildcard: null });
    expect(compiled('_9X.')).toMatchObject({ literal: false, minLength: 3, wildcard: '.' });
    expect(compiled('_9X!')).toMatchObject({ literal: false, minLength: 2, wildcard: '!' });
  });
});

describe('compilePattern: errors name what is wrong and where', () => {
  it.each([
    ['', 'empty', 0],
    ['_', 'empty', 1],
    ['_9[12', 'unclosed-class', 2],
    ['_[]5', 'empty-class', 1],
    ['_[5-1]', 'bad-range', 2],
    ['_[-5]', 'bad-range', 2],
    ['_[5-]', 'bad-range', 3],
    ['_[*-#]', 'bad-range', 2],
    ['_[1-5a]', 'bad-char', 5],
    ['_[1[2]', 'bad-char', 3],
    ['_9.1', 'wildcard-not-last', 2],
    ['_9!X', 'wildcard-not-last', 2],
    ['_9..', 'wildcard-not-last', 2],
    ['_9A', 'bad-char', 2],
    ['_9 1', 'bad-char', 2],
    ['_9]', 'bad-char', 2],
    ['_9;', 'bad-char', 2],
    ['9X1', 'bad-char', 1],
    ['9-1', 'bad-char', 1],
    ['1'.repeat(33), 'too-long', 32],
    ['_' + 'X'.repeat(33), 'too-long', 33],
    ['_' + 'X'.repeat(64), 'too-long', 64],
  ])('%j -> %s at %d', (pattern, code, position) => {
    const e = errorOf(pattern);
    expect(e.code).toBe(code);
    expect(e.position).toBe(position);
    expect(e.message.length).toBeGreaterThan(10);
  });

  it('messages say what to do', () => {
    expect(errorOf('9X1').message).toMatch(/start with '_'/);
    expect(errorOf('_9.1').message).toMatch(/must be the last character/);
    expect(errorOf('_[12').message).toMatch(/never closed/);
  });

  it('never throws, whatever the input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        const r = compilePattern(s);
        expect(typeof r.ok).toBe('boolean');
      }),
    );
  });
});

describe('compilePattern: properties', () => {
  const dialString = fc.string({ unit: fc.constantFrom(...DIAL_CHARS), minLength: 1, maxLength: 32 });

  it('a plain number and its _ pattern match exactly that number', () => {
    fc.assert(
      fc.property(dialString, dialString, (s, other) => {
        expect(compiled(s).matches(s)).toBe(true);
        expect(compiled(`_${s}`).matches(s)).toBe(true);
        expect(compiled(s).matches(other)).toBe(s === other);
      }),
    );
  });

  it('a pattern built from a number matches it, and a longer one only with a wildcard', () => {
    const toClass = (c: string) => (/[0-9]/.test(c) ? fc.constantFrom(c, 'X', c === '0' ? c : 'Z', c >= '2' ? 'N' : c, `[${c}]`, `[0-${c}]`) : fc.constant(c));
    const arb = dialString.chain((s) => fc.tuple(fc.constant(s), fc.tuple(...[...s].map(toClass)), fc.constantFrom('', '.', '!'), dialString));
    fc.assert(
      fc.property(arb, ([s, parts, wild, tail]) => {
        const source = `_${parts.join('')}${wild}`;
        if (source.length > 64) return;
        const p = compiled(source);
        expect(p.matches(s)).toBe(wild !== '.');
        expect(p.matches(s + tail)).toBe(wild !== '');
      }),
    );
  });
});

describe('compareSpecificity', () => {
  const order = (...ps: string[]) => ps.map(compiled).sort(compareSpecificity).map((p) => p.source);
  it('ranks narrower positions first and wildcards last', () => {
    expect(order('_X.', '_9X.', '_91.', '_9N.', '_[1-3]X.')).toEqual(['_91.', '_9N.', '_9X.', '_[1-3]X.', '_X.']);
    expect(order('_91!', '_91.', '_91')).toEqual(['_91', '_91.', '_91!']);
    expect(compareSpecificity(compiled('_9X'), compiled('_9X'))).toBe(0);
  });
});
