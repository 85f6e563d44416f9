/** PBX_LOOKUP_ALLOWED_HOSTS and PBX_REDIS_PASSWORD as config reads them; the lookup host policy; emergency routes. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { addressAllowed, hostMayBeAllowed, lookupHostPolicy } from '../../src/ivr/lookup-hosts.js';
import { checkFlow, type FlowCatalog } from '../../src/ivr/validate.js';
import { emergencyPlans } from '../../src/routing/outbound.js';

const base = { PBX_ARI_USER: 'x', PBX_ARI_PASSWORD: 'x', PBX_AMI_USER: 'x', PBX_AMI_PASSWORD: 'x', PBX_SECRET_KEY: Buffer.alloc(32).toString('base64') };
const policy = (hosts: string) => lookupHostPolicy(loadConfig({ ...base, PBX_LOOKUP_ALLOWED_HOSTS: hosts }).ivr.lookupAllowedHosts);

describe('PBX_LOOKUP_ALLOWED_HOSTS', () => {
  it('reads names, *.suffixes, addresses and CIDR blocks; empty by default', () => {
    expect(loadConfig(base).ivr.lookupAllowedHosts).toEqual([]);
    expect(loadConfig({ ...base, PBX_LOOKUP_ALLOWED_HOSTS: ' CRM.example.com, *.corp.example ,10.1.2.3, 192.168.10.0/24, [::1], fd00::/8 ' }).ivr.lookupAllowedHosts).toEqual([
      { kind: 'name', name: 'crm.example.com' },
      { kind: 'suffix', suffix: 'corp.example' },
      { kind: 'cidr', address: '10.1.2.3', prefix: 32, family: 4 },
      { kind: 'cidr', address: '192.168.10.0', prefix: 24, family: 4 },
      { kind: 'cidr', address: '::1', prefix: 128, family: 6 },
      { kind: 'cidr', address: 'fd00::', prefix: 8, family: 6 },
    ]);
  });

  it('refuses what is none of these, naming the entry', () => {
    for (const bad of ['http://crm', '10.0.0.0/33', 'a b', '*.', 'crm:8080', '::1/129']) {
      expect(() => loadConfig({ ...base, PBX_LOOKUP_ALLOWED_HOSTS: bad }), bad).toThrow(ConfigError);
    }
  });
});

describe('the lookup host policy', () => {
  it('without an allowlist: public addresses only; loopback, link-local, private, unspecified and mapped refused', () => {
    const p = policy('');
    expect(addressAllowed(p, 'crm.example.com', '93.184.215.14')).toBe(true);
    expect(addressAllowed(p, 'crm.example.com', '2606:2800:21f:cb07:6820:80da:af6b:8b2c')).toBe(true);
    for (const a of ['127.0.0.1', '127.9.9.9', '::1', '169.254.169.254', 'fe80::1', '10.0.0.1', '172.16.5.5', '192.168.1.1', 'fd12::1', '0.0.0.0', '::', '::ffff:127.0.0.1', '100.64.0.1', '224.0.0.1']) {
      expect(addressAllowed(p, 'evil.example', a), a).toBe(false);
    }
  });

  it('with an allowlist: listed names (trusted), suffixes and blocks only', () => {
    const p = policy('crm.local, *.corp.example, 127.0.0.1, 10.2.0.0/16');
    expect(addressAllowed(p, 'crm.local', '192.168.1.5')).toBe(true);
    expect(addressAllowed(p, 'a.corp.example', '10.9.9.9')).toBe(true);
    expect(addressAllowed(p, 'corp.example', '10.9.9.9')).toBe(false);
    expect(addressAllowed(p, 'other.example', '10.2.3.4')).toBe(true);
    expect(addressAllowed(p, '127.0.0.1', '127.0.0.1')).toBe(true);
    expect(addressAllowed(p, 'localhost', '127.0.0.2')).toBe(false);
    expect(addressAllowed(p, 'public.example', '93.184.215.14')).toBe(false);
  });

  it('what publish can know: address literals, and names against an allowlist of names only', () => {
    expect(hostMayBeAllowed(policy(''), '127.0.0.1')).toBe(false);
    expect(hostMayBeAllowed(policy(''), '[::1]')).toBe(false);
    expect(hostMayBeAllowed(policy(''), 'crm.example.com')).toBe(true);
    expect(hostMayBeAllowed(policy('127.0.0.1'), '127.0.0.1')).toBe(true);
    expect(hostMayBeAllowed(policy('crm.example.com'), 'other.example.com')).toBe(false);
    expect(hostMayBeAllowed(policy('10.0.0.0/8'), 'crm.lan')).toBe(true); // may resolve into the block
  });

  it('a flow whose lookup host can never be allowed is refused, naming the node and field', () => {
    const p = policy('');
    const catalog: FlowCatalog = {
      extensions: new Set(), mailboxes: new Set(), flows: new Set(), prompts: new Set(), queues: null, externalAllowed: () => false,
      lookupHostAllowed: (h) => hostMayBeAllowed(p, h),
    };
    const flow = (url: string) => ({ language: 'en', start: 'l', nodes: { l: { kind: 'lookup', url, timeoutMs: 500, map: {}, next: 'z', error: 'z' }, z: { kind: 'hangup' } } });
    expect(checkFlow(flow('http://169.254.169.254/'), catalog).problems).toEqual([expect.objectContaining({ node: 'l', field: 'url', code: 'host-not-allowed' })]);
    expect(checkFlow(flow('https://crm.example.com/x'), catalog).problems).toEqual([]);
  });
});

describe('PBX_REDIS_PASSWORD', () => {
  it('none by default; from the variable or the URL; both set must agree', () => {
    expect(loadConfig(base).redis.password).toBeNull();
    expect(loadConfig({ ...base, PBX_REDIS_PASSWORD: 's3cret' }).redis.password).toBe('s3cret');
    expect(loadConfig({ ...base, PBX_REDIS_URL: 'redis://:p%40ss@127.0.0.1:6379' }).redis.password).toBe('p@ss');
    expect(loadConfig({ ...base, PBX_REDIS_URL: 'redis://:same@127.0.0.1:6379', PBX_REDIS_PASSWORD: 'same' }).redis.password).toBe('same');
    expect(() => loadConfig({ ...base, PBX_REDIS_URL: 'redis://:one@127.0.0.1:6379', PBX_REDIS_PASSWORD: 'two' })).toThrow(/PBX_REDIS_PASSWORD/);
  });
});

describe('emergency routes', () => {
  const route = (id: string, pattern: string, trunkId: string, priority: number) => ({ id, name: id, pattern, strip: 0, prepend: '', trunkId, priority, requiredClass: 'national' as const });
  it('every route that carries an emergency number, in order; none for other numbers', () => {
    const routes = [route('1', '_0X.', 't1', 10), route('2', '112', 't2', 20), route('3', '_1XX', 't3', 5)];
    expect(emergencyPlans({ dialed: '112', routes, emergencyNumbers: ['112'] }).map((p) => p.trunkId)).toEqual(['t3', 't2']);
    expect(emergencyPlans({ dialed: '110', routes, emergencyNumbers: ['112'] })).toEqual([]);
  });
});
