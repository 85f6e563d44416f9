import { describe, expect, it } from 'vitest';
import {
  renderGrandstream,
  renderPolycomMacMaster,
  renderPolycomMaster,
  renderPolycomPhone,
  renderYealink,
  MAX_BLF_KEYS,
  type PhoneSettings,
} from '../../src/provisioning/render.js';
import { kvValue, stripControl, xmlEscape } from '../../src/provisioning/escape.js';
import { hoursOffset, posixTz, zoneRules } from '../../src/provisioning/timezone.js';
import { NO_RING_SETTINGS } from '../../src/provisioning/ring.js';

/**
 * A minimal XML well-formedness check (no XML parser is a dependency): declaration, comments,
 * elements with quoted attributes, properly nested, one root, text and attribute values without
 * raw '<' and with only valid entity references, no control characters, unique attributes.
 * Returns the root element's name and every attribute/text value decoded, for content checks.
 */
function checkXml(xml: string): { root: string; attrs: Map<string, string>; texts: Map<string, string> } {
  const NAME = '[A-Za-z_][A-Za-z0-9_.:-]*';
  const ENTITY = /&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);/g;
  const decode = (s: string) => s.replace(ENTITY, (e) => ({ '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&apos;': "'" })[e] ?? e);
  const checkChars = (s: string, where: string) => {
    if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(s)) throw new Error(`control character in ${where}`); // eslint-disable-line no-control-regex
    if (s.replace(ENTITY, '').includes('&')) throw new Error(`bare & in ${where}: ${s}`);
  };
  let rest = xml;
  const take = (re: RegExp): RegExpExecArray | null => {
    const m = re.exec(rest);
    if (m) rest = rest.slice(m[0].length);
    return m;
  };
  take(/^<\?xml[^?>]*\?>/);
  const stack: string[] = [];
  const attrs = new Map<string, string>();
  const texts = new Map<string, string>();
  let root: string | null = null;
  let closedRoot = false;
  while (rest.length > 0) {
    if (take(/^<!--((?:(?!--)[\s\S])*)-->/)) continue;
    if (rest.startsWith('<!--')) throw new Error('bad comment');
    const close = take(new RegExp(`^</(${NAME})\\s*>`));
    if (close) {
      if (stack.pop() !== close[1]) throw new Error(`mismatched </${close[1]}>`);
      if (stack.length === 0) closedRoot = true;
      continue;
    }
    const open = take(new RegExp(`^<(${NAME})((?:\\s+${NAME}\\s*=\\s*(?:"[^"<]*"|'[^'<]*'))*)\\s*(/?)>`));
    if (open) {
      const name = open[1]!;
      if (stack.length === 0) {
        if (root !== null) throw new Error(`second root element <${name}>`);
        root = name;
      }
      const seen = new Set<string>();
      for (const a of open[2]!.matchAll(new RegExp(`(${NAME})\\s*=\\s*(?:"([^"<]*)"|'([^'<]*)')`, 'g'))) {
        if (seen.has(a[1]!)) throw new Error(`duplicate attribute ${a[1]}`);
        seen.add(a[1]!);
        const raw = a[2] ?? a[3] ?? '';
        checkChars(raw, `attribute ${a[1]}`);
        attrs.set(a[1]!, decode(raw));
      }
      if (open[3] !== '/') stack.push(name);
      else if (stack.length === 0) closedRoot = true;
      continue;
    }
    if (rest.startsWith('<')) throw new Error(`malformed markup at: ${rest.slice(0, 40)}`);
    const text = take(/^[^<]+/)!;
    if (stack.length === 0) {
      if (text[0].trim() !== '') throw new Error('text outside the root element');
      continue;
    }
    checkChars(text[0], `text of <${stack.at(-1)}>`);
    if (text[0].trim() !== '') texts.set(stack.at(-1)!, decode(text[0]));
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.at(-1)}>`);
  if (!root || !closedRoot) throw new Error('no root element');
  return { root, attrs, texts };
}

/** key = value file -> map; fails on a line that is neither a comment nor key = value, or a repeated key. */
function parseKv(body: string): Map<string, string> {
  const lines = body.split('\n');
  expect(lines[0]).toBe('#!version:1.0.0.1');
  const out = new Map<string, string>();
  for (const line of lines.slice(1)) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-z0-9_.]+) = (.*)$/.exec(line);
    if (!m) throw new Error(`not a key = value line: ${JSON.stringify(line)}`);
    if (out.has(m[1]!)) throw new Error(`key ${m[1]} twice`);
    out.set(m[1]!, m[2]!);
  }
  expect(body).not.toMatch(/\r/);
  return out;
}

const berlin = zoneRules('Europe/Berlin', 2026);
const NASTY = 'Tom & "Jerry" <boss> \'x\'\r\naccount.1.password = stolen\u0000\u2028</config><P34>x</P34>]]>';

function phone(overrides: Partial<PhoneSettings> = {}): PhoneSettings {
  return {
    mac: '001565aabbcc',
    account: { number: '1001', displayName: 'Alice Adams', label: '1001', password: 's3cr3t-Pw' },
    server: { address: 'pbx.example.test', port: 5060, transport: 'udp' },
    srtp: false,
    time: berlin,
    blf: [
      { number: '1002', label: 'Bob' },
      { number: '1003', label: 'Carol' },
    ],
    ring: NO_RING_SETTINGS,
    ...overrides,
  };
}

const hostile = phone({
  account: { number: '1001', displayName: NASTY, label: NASTY, password: 'p&w<"\'>\r\nx' },
  blf: [{ number: '1002', label: NASTY }],
});

describe('escaping', () => {
  it('strips control characters and escapes XML specials', () => {
    expect(stripControl('a\r\nb\u0000c\u0085d\u2028e\u007f')).toBe('abcde');
    expect(xmlEscape(`<a href="x">&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;');
    expect(xmlEscape('\ud800lone')).toBe('lone');
    expect(xmlEscape('emoji \u{1F600} ok')).toBe('emoji \u{1F600} ok');
    expect(kvValue('  a\r\nb = c  ')).toBe('ab = c');
    expect(kvValue('%NULL%')).toBe('NULL');
  });
});

describe('Yealink', () => {
  it('renders the account, time zone and BLF keys', () => {
    const kv = parseKv(renderYealink(phone()).body);
    expect(kv.get('account.1.enable')).toBe('1');
    expect(kv.get('account.1.label')).toBe('1001');
    expect(kv.get('account.1.display_name')).toBe('Alice Adams');
    expect(kv.get('account.1.auth_name')).toBe('1001');
    expect(kv.get('account.1.user_name')).toBe('1001');
    expect(kv.get('account.1.password')).toBe('s3cr3t-Pw');
    expect(kv.get('account.1.sip_server.1.address')).toBe('pbx.example.test');
    expect(kv.get('account.1.sip_server.1.port')).toBe('5060');
    expect(kv.get('local_time.time_zone')).toBe('+1');
    expect(kv.get('local_time.summer_time')).toBe('1');
    expect(kv.get('local_time.dst_time_type')).toBe('1');
    expect(kv.get('local_time.start_time')).toBe('3/5/7/2'); // last Sunday of March, 02:00
    expect(kv.get('local_time.end_time')).toBe('10/5/7/3');
    expect(kv.get('local_time.offset_time')).toBe('60');
    expect(kv.get('linekey.1.type')).toBe('15');
    expect([kv.get('linekey.2.type'), kv.get('linekey.2.value'), kv.get('linekey.2.label'), kv.get('linekey.2.line')]).toEqual(['16', '1002', 'Bob', '1']);
    expect([kv.get('linekey.3.type'), kv.get('linekey.3.value'), kv.get('linekey.3.label')]).toEqual(['16', '1003', 'Carol']);
    expect(kv.get('linekey.4.type')).toBe('0'); // unused keys are reset
    expect(kv.get(`linekey.${MAX_BLF_KEYS + 1}.type`)).toBe('0');
    expect(kv.has(`linekey.${MAX_BLF_KEYS + 2}.type`)).toBe(false);
  });

  it('keeps hostile text on its own line: no injected keys', () => {
    const body = renderYealink(hostile).body;
    const kv = parseKv(body);
    expect(body.match(/^account\.1\.password = /gm)).toHaveLength(1);
    expect(kv.get('account.1.password')).toBe('p&w<"\'>x');
    expect(kv.get('account.1.display_name')).toBe('Tom & "Jerry" <boss> \'x\'account.1.password = stolen</config><P34>x</P34>]]>');
    expect(body).not.toMatch(/[\u0000\u2028]/); // eslint-disable-line no-control-regex
  });

  it('without DST says so and writes no rules', () => {
    const kv = parseKv(renderYealink(phone({ time: zoneRules('Asia/Kolkata', 2026) })).body);
    expect(kv.get('local_time.time_zone')).toBe('+5:30');
    expect(kv.get('local_time.summer_time')).toBe('0');
    expect(kv.has('local_time.start_time')).toBe(false);
  });
});

describe('Polycom', () => {
  it('master files point each phone at its own file', () => {
    for (const f of [renderPolycomMaster(), renderPolycomMacMaster({ mac: '0004f2aabbcc' })]) {
      const xml = checkXml(f.body);
      expect(xml.root).toBe('APPLICATION');
      expect(xml.attrs.get('CONFIG_FILES')).toBe('[MACADDRESS]-phone.cfg');
      expect(f.contentType).toMatch(/xml/);
    }
  });

  it('renders registration, time and the BLF resource list as well-formed XML', () => {
    const xml = checkXml(renderPolycomPhone(phone()).body);
    expect(xml.root).toBe('polycomConfig');
    const a = xml.attrs;
    expect(a.get('reg.1.address')).toBe('1001');
    expect(a.get('reg.1.displayName')).toBe('Alice Adams');
    expect(a.get('reg.1.auth.userId')).toBe('1001');
    expect(a.get('reg.1.auth.password')).toBe('s3cr3t-Pw');
    expect(a.get('reg.1.server.1.address')).toBe('pbx.example.test');
    expect(a.get('reg.1.server.1.port')).toBe('5060');
    expect(a.get('tcpIpApp.sntp.gmtOffset')).toBe('3600');
    expect(a.get('tcpIpApp.sntp.daylightSavings.enable')).toBe('1');
    expect(a.get('tcpIpApp.sntp.daylightSavings.start.month')).toBe('3');
    expect(a.get('tcpIpApp.sntp.daylightSavings.start.dayOfWeek')).toBe('1'); // Sunday
    expect(a.get('tcpIpApp.sntp.daylightSavings.start.dayOfWeek.lastInMonth')).toBe('1');
    expect(a.get('tcpIpApp.sntp.daylightSavings.stop.month')).toBe('10');
    expect(a.get('tcpIpApp.sntp.daylightSavings.stop.time')).toBe('3');
    expect(a.get('attendant.resourceList.1.address')).toBe('1002');
    expect(a.get('attendant.resourceList.1.label')).toBe('Bob');
    expect(a.get('attendant.resourceList.1.type')).toBe('normal');
    expect(a.get('attendant.resourceList.2.address')).toBe('1003');
    expect(a.get('attendant.resourceList.3.address')).toBe(''); // cleared
  });

  it('US rules: second Sunday of March, first Sunday of November', () => {
    const a = checkXml(renderPolycomPhone(phone({ time: zoneRules('America/New_York', 2026) })).body).attrs;
    expect(a.get('tcpIpApp.sntp.gmtOffset')).toBe('-18000');
    expect(a.get('tcpIpApp.sntp.daylightSavings.start.date')).toBe('8');
    expect(a.get('tcpIpApp.sntp.daylightSavings.start.dayOfWeek.lastInMonth')).toBe('0');
    expect(a.get('tcpIpApp.sntp.daylightSavings.stop.month')).toBe('11');
    expect(a.get('tcpIpApp.sntp.daylightSavings.stop.date')).toBe('1');
  });

  it('stays well-formed with hostile names and passwords, which round-trip exactly (minus control characters)', () => {
    const xml = checkXml(renderPolycomPhone(hostile).body);
    expect(xml.attrs.get('reg.1.displayName')).toBe('Tom & "Jerry" <boss> \'x\'account.1.password = stolen</config><P34>x</P34>]]>');
    expect(xml.attrs.get('reg.1.auth.password')).toBe('p&w<"\'>x');
    expect(xml.attrs.get('attendant.resourceList.1.label')).toBe(xml.attrs.get('reg.1.displayName'));
  });
});

describe('Grandstream', () => {
  it('renders P-values for the account, time zone and BLF keys as well-formed XML', () => {
    const xml = checkXml(renderGrandstream(phone()).body);
    expect(xml.root).toBe('gs_provision');
    const t = xml.texts;
    expect(t.get('mac')).toBe('001565aabbcc');
    expect(t.get('P271')).toBe('1');
    expect(t.get('P270')).toBe('1001');
    expect(t.get('P47')).toBe('pbx.example.test:5060');
    expect(t.get('P35')).toBe('1001');
    expect(t.get('P36')).toBe('1001');
    expect(t.get('P34')).toBe('s3cr3t-Pw');
    expect(t.get('P3')).toBe('Alice Adams');
    expect(t.get('P64')).toBe('customize');
    expect(t.get('P246')).toBe('STD-1DST-2,M3.5.0/2:00,M10.5.0/3:00');
    // MPK 1: mode P323 (1 = BLF), account P301, name P302, value P303; MPK 2: P324, P304-P306
    expect([t.get('P323'), t.get('P301'), t.get('P302'), t.get('P303')]).toEqual(['1', '0', 'Bob', '1002']);
    expect([t.get('P324'), t.get('P304'), t.get('P305'), t.get('P306')]).toEqual(['1', '0', 'Carol', '1003']);
  });

  it('brackets an IPv6 server address and renders at most 7 classic MPKs', () => {
    const many = Array.from({ length: 9 }, (_, i) => ({ number: String(2000 + i), label: `K${i}` }));
    const t = checkXml(renderGrandstream(phone({ server: { address: '2001:db8::5', port: 5070, transport: 'udp' }, blf: many })).body).texts;
    expect(t.get('P47')).toBe('[2001:db8::5]:5070');
    expect(t.get('P329')).toBe('1');
    expect(t.get('P321')).toBe('2006');
    expect([...t.keys()].filter((k) => /^P32[3-9]$/.test(k))).toHaveLength(7);
  });

  it('stays well-formed with hostile text: nothing becomes an element', () => {
    const body = renderGrandstream(hostile).body;
    const xml = checkXml(body);
    expect(xml.texts.get('P3')).toBe('Tom & "Jerry" <boss> \'x\'account.1.password = stolen</config><P34>x</P34>]]>');
    expect(xml.texts.get('P34')).toBe('p&w<"\'>x');
    expect(body.match(/<P34>/g)).toHaveLength(1);
  });
});

describe('SIP over TLS and SRTP (sipSecurity)', () => {
  const tlsOnly = phone({ server: { address: 'pbx.example.test', port: 5061, transport: 'tls' } });
  const tlsSrtp = phone({ server: { address: 'pbx.example.test', port: 5061, transport: 'tls' }, srtp: true });

  it('Yealink: transport type 2 (TLS) on the TLS port; SRTP compulsory (2) only with tls-srtp', () => {
    const plain = parseKv(renderYealink(phone()).body);
    expect([plain.get('account.1.sip_server.1.transport_type'), plain.get('account.1.srtp_encryption')]).toEqual(['0', '0']);
    const tls = parseKv(renderYealink(tlsOnly).body);
    expect([tls.get('account.1.sip_server.1.port'), tls.get('account.1.sip_server.1.transport_type'), tls.get('account.1.srtp_encryption')]).toEqual(['5061', '2', '0']);
    const srtp = parseKv(renderYealink(tlsSrtp).body);
    expect([srtp.get('account.1.sip_server.1.transport_type'), srtp.get('account.1.srtp_encryption')]).toEqual(['2', '2']);
  });

  it('Polycom: transport TLS; the line offers and requires SRTP only with tls-srtp', () => {
    const plain = checkXml(renderPolycomPhone(phone()).body).attrs;
    expect([plain.get('reg.1.server.1.transport'), plain.get('reg.1.srtp.enable'), plain.get('reg.1.srtp.require')]).toEqual(['UDPOnly', '0', '0']);
    const tls = checkXml(renderPolycomPhone(tlsOnly).body).attrs;
    expect([tls.get('reg.1.server.1.port'), tls.get('reg.1.server.1.transport'), tls.get('reg.1.srtp.enable')]).toEqual(['5061', 'TLS', '0']);
    const srtp = checkXml(renderPolycomPhone(tlsSrtp).body).attrs;
    expect([srtp.get('reg.1.srtp.enable'), srtp.get('reg.1.srtp.offer'), srtp.get('reg.1.srtp.require')]).toEqual(['1', '1', '1']);
  });

  it('Grandstream: P130 transport 2 (TLS) with the TLS port in P47; P183 SRTP 2 (forced) only with tls-srtp', () => {
    const plain = checkXml(renderGrandstream(phone()).body).texts;
    expect([plain.get('P130'), plain.get('P183')]).toEqual(['0', '0']);
    const tls = checkXml(renderGrandstream(tlsOnly).body).texts;
    expect([tls.get('P47'), tls.get('P130'), tls.get('P183')]).toEqual(['pbx.example.test:5061', '2', '0']);
    const srtp = checkXml(renderGrandstream(tlsSrtp).body).texts;
    expect([srtp.get('P130'), srtp.get('P183')]).toEqual(['2', '2']);
  });
});

describe('time zone rules', () => {
  it('derives standard offsets and DST rules from the IANA zone', () => {
    expect(berlin).toMatchObject({ standardOffsetMinutes: 60, dst: { offsetMinutes: 120, start: { month: 3, week: 5, weekday: 0, hour: 2 }, end: { month: 10, week: 5, weekday: 0, hour: 3 } } });
    const ny = zoneRules('America/New_York', 2026);
    expect(ny).toMatchObject({ standardOffsetMinutes: -300, dst: { offsetMinutes: -240, start: { month: 3, week: 2, hour: 2 }, end: { month: 11, week: 1, hour: 2 } } });
    const sydney = zoneRules('Australia/Sydney', 2026); // southern hemisphere: starts in October
    expect(sydney).toMatchObject({ standardOffsetMinutes: 600, dst: { start: { month: 10, week: 1 }, end: { month: 4, week: 1 } } });
    expect(zoneRules('UTC', 2026)).toEqual({ zone: 'UTC', standardOffsetMinutes: 0, dst: null });
    expect(zoneRules('Asia/Kolkata', 2026).dst).toBeNull();
  });

  it('formats offsets for Yealink and POSIX', () => {
    expect([hoursOffset(0), hoursOffset(60), hoursOffset(-300), hoursOffset(330), hoursOffset(-210), hoursOffset(345)]).toEqual(['0', '+1', '-5', '+5:30', '-3:30', '+5:45']);
    expect(posixTz(zoneRules('America/New_York', 2026))).toBe('STD5DST4,M3.2.0/2:00,M11.1.0/2:00');
    expect(posixTz(zoneRules('Asia/Kolkata', 2026))).toBe('STD-5:30');
    expect(posixTz(zoneRules('UTC', 2026))).toBe('STD0');
  });
});

describe('the well-formedness check itself', () => {
  it.each(['<a><b></a></b>', '<a x="1" x="2"/>', '<a>&</a>', '<a x="<"/>', '<a/><b/>', '<a>', 'text', '<a><!-- x -- y --></a>', '<a>\u0001</a>'])('rejects %j', (xml) => {
    expect(() => checkXml(xml)).toThrow();
  });
});
