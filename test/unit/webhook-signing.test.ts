import { describe, expect, it } from 'vitest';
import { attemptsFor, hmacHex, signatureHeader, verifySignature } from '../../src/webhooks/signing.js';
import { checkTarget } from '../../src/webhooks/target.js';
import { wants } from '../../src/webhooks/service.js';
import type { PbxEvent } from '../../src/events/model.js';
import { documentedVerifier } from '../support/webhook-snippet.js';

const secret = 'whsec_test';
const body = JSON.stringify({ id: 7, type: 'agent.state', agent: '12' });

describe('webhook signatures', () => {
  it('signs t.body with HMAC-SHA256 in the documented header format', () => {
    const header = signatureHeader(secret, body, 1_700_000_000);
    expect(header).toBe(`t=1700000000,v1=${hmacHex(secret, 1_700_000_000, body)}`);
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
  });

  it('verifies a fresh signature and rejects an altered body, another secret, an old timestamp, junk', () => {
    const t = 1_700_000_000;
    const header = signatureHeader(secret, body, t);
    expect(verifySignature(secret, header, body, t + 10)).toEqual({ ok: true });
    expect(verifySignature(secret, header, body.replace('12', '13'), t)).toEqual({ ok: false, reason: 'bad-signature' });
    expect(verifySignature('whsec_other', header, body, t)).toEqual({ ok: false, reason: 'bad-signature' });
    expect(verifySignature(secret, header, body, t + 301)).toEqual({ ok: false, reason: 'too-old' });
    expect(verifySignature(secret, 'nonsense', body, t)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifySignature(secret, `t=${t},v1=abc`, body, t)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('the snippet in docs/webhooks.md accepts what the daemon signs and refuses replays and forgeries', async () => {
    const verify = await documentedVerifier();
    const now = Math.floor(Date.now() / 1000);
    expect(verify(secret, signatureHeader(secret, body, now), body)).toBe(true);
    expect(verify(secret, signatureHeader(secret, body, now - 600), body)).toBe(false);
    expect(verify('whsec_other', signatureHeader(secret, body, now), body)).toBe(false);
    expect(verify(secret, signatureHeader(secret, body, now), `${body} `)).toBe(false);
    expect(verify(secret, undefined, body)).toBe(false);
  });
});

describe('retry attempts for a window', () => {
  it('keeps the last attempt within the window, doubling delays', () => {
    expect(attemptsFor(0, 10_000)).toBe(1);
    expect(attemptsFor(9_999, 10_000)).toBe(1);
    expect(attemptsFor(10_000, 10_000)).toBe(2);
    expect(attemptsFor(30_000, 10_000)).toBe(3); // retries after 10 s and 20 s more
    // default: 14 attempts, the last 10 s * (2^13 - 1) = 22.75 h after the first; a 15th would be at 45.5 h
    expect(attemptsFor(24 * 3_600_000, 10_000)).toBe(14);
  });
});

describe('webhook targets', () => {
  it('allows http and https, private addresses included; refuses other schemes, userinfo, junk', () => {
    expect(checkTarget('https://crm.example.com/hook')).toEqual({ ok: true, url: 'https://crm.example.com/hook' });
    expect(checkTarget('http://10.0.0.5:8080/pbx').ok).toBe(true);
    expect(checkTarget('http://127.0.0.1/x').ok).toBe(true);
    expect(checkTarget('ftp://crm.example.com/')).toMatchObject({ ok: false, problem: expect.stringContaining('ftp') });
    expect(checkTarget('file:///etc/passwd').ok).toBe(false);
    expect(checkTarget('https://user:pw@crm.example.com/').ok).toBe(false);
    expect(checkTarget('crm.example.com/hook').ok).toBe(false);
  });
});

describe('which events a webhook wants', () => {
  const ev = (e: Partial<PbxEvent> & { type: PbxEvent['type'] }) => ({ id: 1, at: '', ...e }) as PbxEvent;
  it('matches types (or *) and the queue filter, agent.state by the agent\'s queues', () => {
    expect(wants({ eventTypes: ['agent.offered'], queue: null }, ev({ type: 'agent.offered' }))).toBe(true);
    expect(wants({ eventTypes: ['agent.offered'], queue: null }, ev({ type: 'agent.state' }))).toBe(false);
    expect(wants({ eventTypes: ['*'], queue: 'sales' }, ev({ type: 'queue.joined', queue: 'sales' } as never))).toBe(true);
    expect(wants({ eventTypes: ['*'], queue: 'sales' }, ev({ type: 'queue.joined', queue: 'support' } as never))).toBe(false);
    expect(wants({ eventTypes: ['agent.state'], queue: 'sales' }, ev({ type: 'agent.state', queue: null, queues: ['support', 'sales'] } as never))).toBe(true);
    expect(wants({ eventTypes: ['call.started'], queue: 'sales' }, ev({ type: 'call.started' }))).toBe(false);
  });
});
