import { describe, expect, it } from 'vitest';
import { decodeRealtime, encodeRealtime, realtimeRow, realtimeTextProblem } from '../../src/shared/realtime.js';

/**
 * What Asterisk 22's res_config_pgsql makes of a column's text: split at `;`, each part trimmed,
 * empty parts dropped, `^XX` decoded (main/config.c ast_realtime_decode_chunk). For a
 * single-valued option the last part wins.
 */
function asteriskReads(text: string): string[] {
  return text.split(';').map((p) => p.trim()).filter((p) => p !== '').map(decodeRealtime);
}

describe('realtime values', () => {
  const values = [
    '"^22^3C^0D^0A" <1001>', // what a display name of ^22^3C^0D^0A becomes in the caller ID
    '"x;comment" <1002>',
    'pw;tail',
    'a^b',
    '^5E',
    '^^;;^',
    '^3b',
    'sip:127.0.0.1:5070;transport=tcp',
    '"Zoë Ü;^" <1003>',
    'plain',
  ];

  it.each(values)('Asterisk reads an encoded %j back exactly', (value) => {
    expect(asteriskReads(encodeRealtime(value))).toEqual([value]);
  });

  it('what Asterisk did with the raw values (the bug)', () => {
    expect(asteriskReads('pw;tail')).toEqual(['pw', 'tail']); // the last one wins: password "tail"
    expect(asteriskReads('"^22^3C^0D^0A" <1001>')).toEqual(['""<\r\n" <1001>']);
  });

  it('encodes only ^ and ;, as Asterisk does itself (ast_realtime_encode_chunk)', () => {
    expect(encodeRealtime('a;b^c')).toBe('a^3Bb^5Ec');
    expect(encodeRealtime('Anna Berg <x> é')).toBe('Anna Berg <x> é');
    expect(encodeRealtime('')).toBe('');
  });

  it('decodes like Asterisk: either case, byte-wise UTF-8, a lone ^ left alone, no double decoding', () => {
    expect(decodeRealtime('a^3bb^3Bc')).toBe('a;b;c');
    expect(decodeRealtime('Zo^C3^AB')).toBe('Zoë');
    expect(decodeRealtime('^4 ^g1 ^')).toBe('^4 ^g1 ^');
    expect(decodeRealtime('^5E41')).toBe('^41');
    expect(decodeRealtime('sip:100@127.0.0.1:5062^3Btransport=udp')).toBe('sip:100@127.0.0.1:5062;transport=udp');
  });

  it('refuses control characters: a line break has no business in a caller ID or a password', () => {
    for (const bad of ['a\r\nb', 'tab\there', 'nul\u0000', 'del\u007f']) {
      expect(realtimeTextProblem(bad)).toMatch(/control characters/);
      expect(() => encodeRealtime(bad)).toThrow(/control characters/);
    }
    expect(realtimeTextProblem('^0D^0A')).toBeNull(); // encoded, so Asterisk reads it literally
  });

  it('realtimeRow encodes every string column and leaves numbers and nulls alone', () => {
    expect(realtimeRow({ id: '1001', password: 'a;b', max_contacts: 1, mailboxes: null })).toEqual({
      id: '1001', password: 'a^3Bb', max_contacts: 1, mailboxes: null,
    });
  });
});
