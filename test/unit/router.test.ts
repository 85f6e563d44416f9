import { describe, expect, it } from 'vitest';
import { decideRoute, endpointOfChannel, type CallSource } from '../../src/calls/router.js';

const exts = new Set(['1001', '1002']);
const isExt = (n: string) => exts.has(n);
const anna: CallSource = { kind: 'extension', number: '1001' };

describe('router', () => {
  it.each([
    [anna, '1002', { kind: 'extension', number: '1002' }],
    [anna, '1001', { kind: 'refuse', reason: 'unallocated' }],
    [anna, '004930123456', { kind: 'outbound', dialed: '004930123456' }],
    [anna, '*99', { kind: 'test-service' }],
    [anna, '*99123', { kind: 'test-service' }],
    [anna, 'abc', { kind: 'refuse', reason: 'unallocated' }],
    [anna, '1002&PJSIP/x', { kind: 'refuse', reason: 'unallocated' }],
    [{ kind: 'trunk', name: 'carrier' }, '4930555000', { kind: 'inbound', did: '4930555000' }],
    [{ kind: 'trunk', name: 'carrier' }, '*99', { kind: 'inbound', did: '*99' }],
    [{ kind: 'other', endpoint: 'x' }, '1002', { kind: 'refuse', reason: 'not-permitted' }],
    [{ kind: 'other', endpoint: 'x' }, '*99', { kind: 'test-service' }],
    [anna, '*71', { kind: 'disposition', code: '1', extension: '1001' }],
    [anna, '*712#', { kind: 'disposition', code: '12', extension: '1001' }],
    [anna, '*7', { kind: 'outbound', dialed: '*7' }],
    [anna, '*7123', { kind: 'outbound', dialed: '*7123' }],
    [{ kind: 'other', endpoint: 'x' }, '*71', { kind: 'refuse', reason: 'not-permitted' }],
  ] as const)('%j dials %s -> %j', (source, dialed, route) => {
    expect(decideRoute(source as CallSource, dialed, isExt)).toEqual(route);
  });

  it('finds the endpoint in a PJSIP channel name', () => {
    expect(endpointOfChannel('PJSIP/1001-0000002a')).toBe('1001');
    expect(endpointOfChannel('PJSIP/trunk-carrier-00000001')).toBe('trunk-carrier');
    expect(endpointOfChannel('Local/1001@x-0001;1')).toBeNull();
  });
});
