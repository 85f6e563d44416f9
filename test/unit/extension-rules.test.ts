import { describe, expect, it } from 'vitest';
import {
  callerIdString, displayNameProblem, extensionNumberProblem, forwardTargetProblem, generateSipPassword, hashPin, pinProblem, verifyPin,
} from '../../src/extensions/rules.js';

describe('extension rules', () => {
  it.each([
    ['1001', null],
    ['20', null],
    ['1', 'must be 2 to 16 digits'],
    ['12345678901234567', 'must be 2 to 16 digits'],
    ['*97', 'digits only'],
    ['10a1', 'digits only'],
    ['112', 'emergency'],
    ['911', 'emergency'],
  ])('number %s -> %s', (n, problem) => {
    const got = extensionNumberProblem(n);
    if (problem === null) expect(got).toBeNull();
    else expect(got).toContain(problem);
  });

  it('forward targets are numbers, never the extension itself', () => {
    expect(forwardTargetProblem('1002', '1001')).toBeNull();
    expect(forwardTargetProblem('+4930123456', '1001')).toBeNull();
    expect(forwardTargetProblem('1001', '1001')).toContain('itself');
    expect(forwardTargetProblem('1002&PJSIP/evil', '1001')).toContain('digits');
  });

  it('display names cannot break SIP headers', () => {
    expect(displayNameProblem('Anna Müller')).toBeNull();
    expect(displayNameProblem('Evil" <sip:x>')).not.toBeNull();
    expect(displayNameProblem('a\r\nVia: x')).not.toBeNull();
    expect(callerIdString('Anna', '1001')).toBe('"Anna" <1001>');
  });

  it('generates strong, distinct SIP passwords', () => {
    const seen = new Set(Array.from({ length: 200 }, () => generateSipPassword()));
    expect(seen.size).toBe(200);
    for (const p of seen) expect(p).toMatch(/^[A-Za-z2-9]{24}$/);
  });

  it('PINs: digits, not trivial, stored hashed', async () => {
    expect(pinProblem('4821')).toBeNull();
    expect(pinProblem('1111')).toContain('guess');
    expect(pinProblem('1234')).toContain('guess');
    expect(pinProblem('12a4')).toContain('digits');
    const h = await hashPin('4821');
    expect(h).not.toContain('4821');
    expect(await verifyPin('4821', h)).toBe(true);
    expect(await verifyPin('4822', h)).toBe(false);
    expect(await verifyPin('4821', null)).toBe(false);
    expect(await verifyPin('4821', 'scrypt$00$00')).toBe(false);
  });
});
