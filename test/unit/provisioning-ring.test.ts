/** Distinctive ring and auto-answer rules for the phone files (src/provisioning/ring.ts, render.ts). */
import { describe, expect, it } from 'vitest';
import { infoText, MAX_RING_RULES, ringRules } from '../../src/provisioning/ring.js';
import { renderGrandstream, renderPolycomPhone, renderYealink, type PhoneSettings } from '../../src/provisioning/render.js';
import { zoneRules } from '../../src/provisioning/timezone.js';

const phone = (ring: PhoneSettings['ring']): PhoneSettings => ({
  mac: '001565aabbcc',
  account: { number: '1001', displayName: 'Alice', label: '1001', password: 'pw' },
  server: { address: 'pbx.example.test', port: 5060, transport: 'udp' },
  srtp: false,
  time: zoneRules('UTC', 2026),
  blf: [],
  ring,
});

describe('infoText', () => {
  it.each([
    ['<http://127.0.0.1>;info=ring2', 'ring2'],
    ['<http://127.0.0.1>;x=y;info=sales;z', 'sales'],
    ['info=ring3', 'ring3'],
    ['x-line-id=0;info=vip', 'vip'],
    ['<http://127.0.0.1/Bellcore-dr2>', null],
    ['<http://h/a;info=inside-the-uri>', null],
  ])('%s -> %s', (value, text) => expect(infoText(value)).toBe(text));
});

describe('ringRules', () => {
  it('one rule per distinct value, in queue-name order, at most MAX_RING_RULES', () => {
    const rules = ringRules([
      { name: 'support', alertInfo: 'info=b' },
      { name: 'billing', alertInfo: '<http://127.0.0.1/Bellcore-dr2>' },
      { name: 'sales', alertInfo: 'info=b' },
      { name: 'accounts', alertInfo: '<http://127.0.0.1>;info=a' },
    ]);
    expect(rules).toEqual([
      { tone: 1, alertInfo: '<http://127.0.0.1>;info=a', info: 'a', queues: ['accounts'] },
      { tone: 2, alertInfo: '<http://127.0.0.1/Bellcore-dr2>', info: null, queues: ['billing'] },
      { tone: 3, alertInfo: 'info=b', info: 'b', queues: ['sales', 'support'] },
    ]);
    const many = ringRules(Array.from({ length: 12 }, (_, i) => ({ name: `q${String(i).padStart(2, '0')}`, alertInfo: `info=t${i}` })));
    expect(many).toHaveLength(MAX_RING_RULES);
    expect(many.at(-1)).toMatchObject({ tone: 10, info: 't9' });
  });
});

describe('rendered', () => {
  const ring = { rules: ringRules([{ name: 'a', alertInfo: 'info=sales' }, { name: 'b', alertInfo: '<http://127.0.0.1/Bellcore-dr3>' }, { name: 'c', alertInfo: 'info=42' }]), autoAnswer: true };

  it('Yealink: info texts only, Ring2.., and the auto-answer tone', () => {
    const lines = renderYealink(phone(ring)).body.split('\n');
    expect(lines).toContain('distinctive_ring_tones.alert_info.1.text = sales');
    expect(lines).toContain('distinctive_ring_tones.alert_info.1.ringer = 2');
    expect(lines.some((l) => l.startsWith('distinctive_ring_tones.alert_info.2.'))).toBe(false);
    expect(lines).toContain('distinctive_ring_tones.alert_info.3.ringer = 4');
    expect(lines).toContain('features.auto_answer_tone.enable = 1');
    expect(renderYealink(phone({ rules: [], autoAnswer: false })).body).not.toMatch(/distinctive_ring_tones|auto_answer/);
  });

  it('Polycom: every value to its class, auto-answer in slot 11, unused slots empty', () => {
    const body = renderPolycomPhone(phone(ring)).body;
    expect(body).toContain('voIpProt.SIP.alertInfo.2.value="&lt;http://127.0.0.1/Bellcore-dr3&gt;"');
    expect(body).toContain('voIpProt.SIP.alertInfo.2.class="custom2"');
    expect(body).toContain('se.rt.custom2.ringer="ringer3"');
    expect(body).toContain('voIpProt.SIP.alertInfo.4.value=""');
    expect(body).toContain('voIpProt.SIP.alertInfo.11.value="&lt;http://127.0.0.1&gt;;info=alert-autoanswer"');
    expect(body).toContain('voIpProt.SIP.alertInfo.11.class="ringAutoAnswer"');
    expect(renderPolycomPhone(phone({ rules: [], autoAnswer: false })).body).toContain('voIpProt.SIP.alertInfo.11.class=""');
  });

  it('Grandstream: info texts (not digits alone) to custom tones, P298 follows autoAnswer', () => {
    const body = renderGrandstream(phone(ring)).body;
    expect(body).toContain('<P1488>sales</P1488>');
    expect(body).toContain('<P1489>1</P1489>');
    expect(body).toContain('<P1490></P1490>');
    expect(body).toContain('<P1492></P1492>'); // info=42 would be a caller number
    expect(body).toContain('<P298>1</P298>');
    expect(renderGrandstream(phone({ rules: [], autoAnswer: false })).body).toContain('<P298>0</P298>');
  });
});
