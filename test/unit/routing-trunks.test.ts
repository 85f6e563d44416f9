/** The pure parts of src/trunks: realtime rows of a trunk, dial targets, the registrar's AMI steps. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { trunkRealtimeRows, type TrunkSpec } from '../../src/trunks/realtime.js';
import { trunkDialTarget } from '../../src/trunks/repository.js';
import { Registrar, reloadRegistrations, sendRegister, type AmiLike } from '../../src/trunks/registrar.js';
import type { AmiConnection } from '../../src/telephony/ami.js';
import type { Logger } from '../../src/logger.js';

// The daemon's own AMI connection and logger fit what the registrar takes (checked by tsc).
export const _fits = (ami: AmiConnection, log: Logger): Registrar => new Registrar(ami, log);

const spec = (more: Partial<TrunkSpec> = {}): TrunkSpec => ({
  name: 'acme',
  kind: 'registration',
  host: 'sip.acme.example',
  port: 5060,
  transport: 'udp',
  username: 'u1',
  password: 'p1',
  from_user: null,
  from_domain: null,
  codecs: ['ulaw', 'alaw'],
  max_channels: 10,
  enabled: true,
  ...more,
});

describe('trunkRealtimeRows', () => {
  it('registration kind: endpoint with outbound auth, aor contact, identify by host, registration', () => {
    const rows = trunkRealtimeRows(spec());
    expect(rows.endpoint).toMatchObject({ id: 'trunk-acme', aors: 'trunk-acme', outbound_auth: 'trunk-acme', context: 'pbx-inbound', allow: 'ulaw,alaw', disallow: 'all', transport: 'transport-udp', allow_subscribe: 'no' });
    expect(rows.aor).toMatchObject({ id: 'trunk-acme', contact: 'sip:sip.acme.example:5060', qualify_frequency: 60 });
    expect(rows.auth).toEqual({ id: 'trunk-acme', auth_type: 'userpass', username: 'u1', password: 'p1' });
    expect(rows.identify).toEqual({ id: 'trunk-acme', endpoint: 'trunk-acme', match: 'sip.acme.example', srv_lookups: 'no' });
    expect(rows.registration).toMatchObject({
      id: 'trunk-acme', server_uri: 'sip:sip.acme.example:5060', client_uri: 'sip:u1@sip.acme.example:5060', contact_user: 'u1',
      outbound_auth: 'trunk-acme', transport: 'transport-udp', line: 'yes', endpoint: 'trunk-acme', auth_rejection_permanent: 'no',
    });
  });

  it('tcp and from_domain shape the URIs', () => {
    const rows = trunkRealtimeRows(spec({ transport: 'tcp', port: 5080, from_domain: 'acme.example', from_user: '4930' }));
    expect(rows.aor.contact).toBe('sip:sip.acme.example:5080;transport=tcp');
    expect(rows.registration).toMatchObject({ server_uri: 'sip:sip.acme.example:5080;transport=tcp', client_uri: 'sip:u1@acme.example', transport: 'transport-tcp' });
    expect(rows.endpoint).toMatchObject({ from_user: '4930', from_domain: 'acme.example', transport: 'transport-tcp' });
  });

  it('ip kind: no registration; auth only with credentials', () => {
    expect(trunkRealtimeRows(spec({ kind: 'ip', username: null, password: null }))).toMatchObject({ auth: null, registration: null, endpoint: { outbound_auth: null } });
    expect(trunkRealtimeRows(spec({ kind: 'ip' }))).toMatchObject({ auth: { username: 'u1' }, registration: null, endpoint: { outbound_auth: 'trunk-acme' } });
  });
});

describe('trunkDialTarget', () => {
  it('builds PJSIP/<number>@trunk-<name>', () => {
    expect(trunkDialTarget({ name: 'acme' }, '+4930123')).toBe('PJSIP/+4930123@trunk-acme');
    expect(trunkDialTarget({ name: 'a-1' }, '*72#')).toBe('PJSIP/*72#@trunk-a-1');
  });

  it.each(['', '123&PJSIP/evil', '12,3', '1 2', 'abc', '1'.repeat(49), '12\n3'])('refuses number %j', (n) => {
    expect(() => trunkDialTarget({ name: 'acme' }, n)).toThrow(/invalid number/);
  });

  it('refuses a bad trunk name', () => {
    expect(() => trunkDialTarget({ name: 'acme&PJSIP/x' }, '1')).toThrow(/invalid trunk name/);
  });

  it('property: whatever it returns has exactly the shape PJSIP/<digits*#+>@trunk-<name>', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 50 }), (n) => {
        let out: string | null = null;
        try {
          out = trunkDialTarget({ name: 'acme' }, n);
        } catch {
          return;
        }
        expect(out).toMatch(/^PJSIP\/[0-9*#+]{1,48}@trunk-acme$/);
      }),
    );
  });
});

class RecordingAmi implements AmiLike {
  calls: Record<string, string>[] = [];
  constructor(private readonly answer: (f: Record<string, string>) => Record<string, string> | Error) {}
  async action(fields: Record<string, string>) {
    this.calls.push(fields);
    const a = this.answer(fields);
    if (a instanceof Error) throw a;
    return a;
  }
}

describe('registrar', () => {
  const ok = (f: Record<string, string>): Record<string, string> =>
    f['action'] === 'ModuleLoad' ? { response: 'Success', message: 'Module reloaded.' } : { response: 'Success' };
  const warnings: unknown[] = [];
  const log = { warn: (o: object) => warnings.push(o) };

  it('reloads the module through AMI ModuleLoad (class system, not command) and registers by PJSIP id', async () => {
    const ami = new RecordingAmi(ok);
    await reloadRegistrations(ami);
    await sendRegister(ami, 'acme');
    expect(ami.calls).toEqual([
      { action: 'ModuleLoad', loadtype: 'reload', module: 'res_pjsip_outbound_registration.so' },
      { action: 'PJSIPRegister', registration: 'trunk-acme' },
    ]);
  });

  it('treats an unexpected answer as a failure', async () => {
    await expect(reloadRegistrations(new RecordingAmi(() => ({ response: 'Error', message: 'No such module.' })))).rejects.toThrow(/No such module/);
    await expect(sendRegister(new RecordingAmi(() => ({ response: 'Error', message: 'Unable to retrieve registration entry' })), 'x')).rejects.toThrow(/Unable to retrieve/);
    await expect(sendRegister(new RecordingAmi(ok), 'Bad;Name')).rejects.toThrow(/invalid trunk name/);
  });

  it('Registrar never throws: it reports and logs', async () => {
    const down = new Registrar(new RecordingAmi(() => new Error('AMI not connected')), log);
    expect(await down.started('acme', true)).toBe('failed');
    expect(warnings).toHaveLength(1);
    expect(await new Registrar(null, log).stopping('acme')).toBe('failed');
    const up = new RecordingAmi(ok);
    const registrar = new Registrar(up, log);
    expect(await registrar.started('acme', false)).toBe('done');
    expect(await registrar.started('acme', true)).toBe('done');
    expect(await registrar.stopping('acme')).toBe('done');
    expect(await registrar.stopped('acme')).toBe('done');
    expect(await registrar.restore('acme')).toBe('done');
    expect(up.calls.map((c) => c['action'])).toEqual(['ModuleLoad', 'ModuleLoad', 'PJSIPRegister', 'PJSIPUnregister', 'ModuleLoad', 'PJSIPRegister']);
  });
});
