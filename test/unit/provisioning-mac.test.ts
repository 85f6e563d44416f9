import { describe, expect, it } from 'vitest';
import { formatMac, normalizeMac, provisioningUsername } from '../../src/provisioning/mac.js';
import { ipAllowed, normalizeNetworks, parseCidr } from '../../src/provisioning/networks.js';
import { normalizeClientIp } from '../../src/shared/client-ip.js';
import { parseProvisioningFile } from '../../src/provisioning/provision.js';

describe('normalizeMac', () => {
  it.each([
    ['00:15:65:AA:BB:CC', '001565aabbcc'],
    ['00-15-65-aa-bb-cc', '001565aabbcc'],
    ['001565aabbcc', '001565aabbcc'],
    ['001565AABBCC', '001565aabbcc'],
  ])('%s -> %s', (input, want) => {
    expect(normalizeMac(input)).toBe(want);
  });

  it.each([
    '',
    '00:15:65:AA:BB',
    '00:15:65:AA:BB:CC:DD',
    '001565aabbc',
    '001565aabbccd',
    '00:15-65:aa:bb:cc', // mixed separators
    '0015.65aa.bbcc', // Cisco dots: not one of the accepted forms
    '00:15:65:aa:bb:cg',
    '00 15 65 aa bb cc',
    '00:15:65:aa:bb:cc\n',
    ' 00:15:65:aa:bb:cc',
    '000000000000', // Polycom's master file name
    '00:00:00:00:00:00',
  ])('refuses %j', (input) => {
    expect(normalizeMac(input)).toBeNull();
  });

  it('formats for people and names the provisioning user', () => {
    expect(formatMac('001565aabbcc')).toBe('00:15:65:aa:bb:cc');
    expect(provisioningUsername('001565aabbcc')).toBe('prov-001565aabbcc');
  });
});

describe('provisioning file names', () => {
  it('routes each vendor file name', () => {
    expect(parseProvisioningFile('000000000000.cfg')).toEqual({ kind: 'polycom-master' });
    expect(parseProvisioningFile('001565AABBCC.cfg')).toEqual({ kind: 'mac-cfg', mac: '001565aabbcc' });
    expect(parseProvisioningFile('0004f2aabbcc-phone.cfg')).toEqual({ kind: 'polycom-phone', mac: '0004f2aabbcc' });
    expect(parseProvisioningFile('cfg000b82aabbcc.xml')).toEqual({ kind: 'grandstream', mac: '000b82aabbcc' });
  });

  it.each(['y000000000028.cfg', '001565aabbcc.xml', 'cfg001565aabbcc', '../001565aabbcc.cfg', '001565aabbcc.cfg.bak', '001565aabbc.cfg', ''])('ignores %j', (name) => {
    expect(parseProvisioningFile(name)).toBeNull();
  });
});

describe('provisioning networks', () => {
  it('canonicalizes addresses and networks', () => {
    expect(parseCidr('10.1.2.3')).toEqual({ ok: true, cidr: '10.1.2.3/32' });
    expect(parseCidr('10.1.2.77/24')).toEqual({ ok: true, cidr: '10.1.2.0/24' });
    expect(parseCidr(' 192.168.0.0/16 ')).toEqual({ ok: true, cidr: '192.168.0.0/16' });
    expect(parseCidr('2001:DB8:0:0::/48')).toEqual({ ok: true, cidr: '2001:db8::/48' });
    expect(parseCidr('fe80::1')).toEqual({ ok: true, cidr: 'fe80::1/128' });
  });

  it.each(['0.0.0.0/0', '10.0.0.0/7', '::/0', '2001:db8::/31', '10.0.0.0/33', '2001:db8::/129', '10.0.0', '10.0.0.256/24', 'example.com', '10.0.0.0/24/1', 'fe80::1%eth0', '', '10.0.0.0/-1'])(
    'refuses %j',
    (input) => {
      expect(parseCidr(input).ok).toBe(false);
    },
  );

  it('de-duplicates and names the index of the first bad entry', () => {
    expect(normalizeNetworks(['10.0.0.1/24', '10.0.0.0/24', '10.0.1.5'])).toEqual({ ok: true, networks: ['10.0.0.0/24', '10.0.1.5/32'] });
    const bad = normalizeNetworks(['10.0.0.0/24', 'nope']);
    expect(bad).toMatchObject({ ok: false, index: 1 });
  });

  it('matches client addresses, including IPv4 seen on a dual-stack socket', () => {
    const nets = ['10.1.2.0/24', '2001:db8::/48'];
    expect(ipAllowed('10.1.2.200', nets)).toBe(true);
    expect(ipAllowed('::ffff:10.1.2.200', nets)).toBe(true);
    expect(ipAllowed('10.1.3.1', nets)).toBe(false);
    expect(ipAllowed('2001:db8::7', nets)).toBe(true);
    expect(ipAllowed('2001:db9::7', nets)).toBe(false);
    expect(ipAllowed('10.1.2.1', [])).toBe(false);
    expect(ipAllowed('garbage', nets)).toBe(false);
    expect(normalizeClientIp('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeClientIp('2001:db8::1')).toBe('2001:db8::1');
  });
});
