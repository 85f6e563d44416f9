import { describe, expect, it } from 'vitest';
import { exemptFromOverload, exemptValue } from '../../src/calls/emergency-exempt.js';

const numbers = new Set(['112', '911', '*112#', '+999']);

describe('emergency calls and overload control', () => {
  it('exempts a phone (an extension endpoint) dialing an emergency number', () => {
    expect(exemptFromOverload('PJSIP/2001-0000000a', '112', numbers)).toBe(true);
    expect(exemptFromOverload('PJSIP/2001-0000000a', '*112#', numbers)).toBe(true);
    expect(exemptFromOverload('PJSIP/2001-0000000a', '+999', numbers)).toBe(true);
  });

  it('does not exempt a trunk inbound call to the same number, nor other numbers, nor a channel that is no endpoint', () => {
    expect(exemptFromOverload('PJSIP/trunk-carrier-0000000b', '112', numbers)).toBe(false);
    expect(exemptFromOverload('PJSIP/2001-0000000a', '1120', numbers)).toBe(false);
    expect(exemptFromOverload('PJSIP/2001-0000000a', '11', numbers)).toBe(false);
    expect(exemptFromOverload('PJSIP/2001-0000000a', '', numbers)).toBe(false);
    expect(exemptFromOverload('PJSIP/2001-0000000a', undefined, numbers)).toBe(false);
    expect(exemptFromOverload('Local/112@pbx-inbound-00000001;1', '112', numbers)).toBe(false);
    expect(exemptFromOverload('PJSIP/2001-0000000a', '112', new Set())).toBe(false);
  });

  it('lists the numbers for the dialplan as FIELDNUM fields, sorted, leaving out what could break the list', () => {
    expect(exemptValue(['911', '112'])).toBe('112|911');
    expect(exemptValue(numbers)).toBe('*112#|+999|112|911');
    expect(exemptValue(['112', '1|2', '9,1', ''])).toBe('112');
    expect(exemptValue([])).toBe('');
  });
});
