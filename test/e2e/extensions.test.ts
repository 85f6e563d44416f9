/**
 * Extensions end to end: created through the API, desk phones (SIPp) register with the
 * generated credentials, and call each other through the real Asterisk and the daemon.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Daemon, eventually } from '../support/daemon.js';
import { asteriskInstance } from '../support/asterisk.js';
import { Api, type Cdr } from '../support/api.js';
import { answerOptions, registerPhone, sippCall, startPhone, watchLamp } from '../support/sipp.js';
import { openDb } from '../support/db.js';
import { freePort } from '../support/ports.js';
import { apiClient, createScriptedExtension, startReadyDaemon } from '../support/pbx.js';
import { sipPasswordDigest } from '../../src/extensions/sip-credentials.js';

const world = inject('e2e');
let daemon: Daemon;
let api: Api;
let admin: ReturnType<typeof apiClient>;

const passwords = new Map<string, string>();
async function createExtension(number: string, displayName: string): Promise<void> {
  passwords.set(number, await createScriptedExtension(admin, world.db, { number, displayName }));
}

/** A desk phone for `ext`: registers, then waits for one call with the given behaviour. */
const phonePorts = new Map<string, number>();
async function deskPhone(ext: string, behaviour: 'phone-answer' | 'phone-busy' | 'phone-no-answer' | 'phone-hold') {
  // Like a real desk phone, each extension's phone keeps its SIP port across calls.
  const port = phonePorts.get(ext) ?? (await freePort(true));
  phonePorts.set(ext, port);
  const reg = await registerPhone({ sipPort: world.sipPort, ext, password: passwords.get(ext)!, port });
  expect(reg.code, reg.output).toBe(0);
  const logFile = path.join(tmpdir(), `pbx-e2e-phone-${ext}-${port}.log`);
  const phone = await startPhone(behaviour, port, logFile);
  return { ...phone, logFile };
}

/** The state of extension `ext`'s hint (made by the first BLF subscription to it), as Asterisk shows it. */
async function hintState(ext: string): Promise<string> {
  const out = await asteriskInstance('rx', world.asteriskEnv, 'core show hints');
  const line = out.split('\n').find((l) => l.startsWith(`${ext}@pbx-hints`)) ?? '';
  return /State:(\S+)/.exec(line)?.[1] ?? 'no hint';
}

function dial(from: string, to: string, scenario: 'uac-hangup-first' | 'uac-refused', set?: Record<string, string>) {
  callStartedAt = new Date(Date.now() - 50);
  return sippCall({ scenario, dialed: to, sipPort: world.sipPort, user: from, password: passwords.get(from)!, set });
}

let callStartedAt = new Date();
/** The CDR of the call placed by the last dial(). */
async function lastCdr(from: string, to: string): Promise<Cdr> {
  const since = encodeURIComponent(callStartedAt.toISOString());
  return eventually(async () => (await api.cdrs(`caller=${from}&dialed=${to}&from=${since}&limit=1`))[0], 15_000, `CDR ${from}->${to}`);
}

beforeAll(async () => {
  ({ daemon, api, admin } = await startReadyDaemon(world.daemonEnv));
  await createExtension('1001', 'Anna Berg');
  await createExtension('1002', 'Ben Kohl');
  await createExtension('1003', 'Cleo Diaz');
});

afterAll(async () => {
  await daemon?.stop();
});

describe('desk phones and internal calls', () => {
  it('a phone registers with the generated credentials and shows as registered; a wrong password fails', async () => {
    const port = await freePort(true);
    phonePorts.set('1003', port);
    const ok = await registerPhone({ sipPort: world.sipPort, ext: '1003', password: passwords.get('1003')!, port });
    expect(ok.code, ok.output).toBe(0);
    const ext = await eventually(async () => {
      const res = await admin('GET', '/api/v1/extensions/1003');
      return res.body.registration.registered ? res.body : undefined;
    }, 10_000, 'registered');
    expect(ext.registration.contacts[0]).toMatchObject({ userAgent: 'pbx-e2e-deskphone' });
    const bad = await registerPhone({ sipPort: world.sipPort, ext: '1003', password: 'wrong-password', port: await freePort(true) });
    expect(bad.code).not.toBe(0);
  });

  it('Asterisk holds only the digest of a SIP password (realm pbx): no password in its tables or in `pjsip show auth`', async () => {
    const db = openDb(world.db);
    try {
      const rows = await db.selectFrom('ps_auths').select(['id', 'auth_type', 'realm', 'password', 'password_digest']).where('id', 'in', ['1001', '1002', '1003']).orderBy('id').execute();
      expect(rows.map((r) => r.id)).toEqual(['1001', '1002', '1003']);
      for (const r of rows) expect(r).toEqual({ id: r.id, auth_type: 'digest', realm: 'pbx', password: null, password_digest: sipPasswordDigest(r.id, passwords.get(r.id)!) });
      const readable = JSON.stringify([await db.selectFrom('ps_auths').selectAll().execute(), await db.selectFrom('ps_endpoints').selectAll().execute(), await db.selectFrom('ps_aors').selectAll().execute()]);
      for (const pw of passwords.values()) expect(readable).not.toContain(pw);
    } finally {
      await db.destroy();
    }
    // as Asterisk 22 loaded it (the phone registered with the password in the test before)
    const shown = await asteriskInstance('rx', world.asteriskEnv, 'pjsip show auth 1003');
    expect(shown).toMatch(/auth_type\s*:\s*digest/);
    expect(shown).toMatch(/realm\s*:\s*pbx/);
    expect(shown).toContain(sipPasswordDigest('1003', passwords.get('1003')!).slice('md5:'.length));
    expect(shown).not.toContain(passwords.get('1003'));
  });

  it('a phone of an extension made after Asterisk started is qualified: the API shows it reachable with its round-trip time, also after a daemon restart', async () => {
    const made = await admin('POST', '/api/v1/extensions', { number: '1004', displayName: 'Dana Eck' });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    // Asterisk pings a phone's contact every qualify_frequency seconds (30 by default, within 30 s
    // of registering: 15 s in one run), also for an AOR made after it started; 1 s here, so the
    // test waits for no more than a second or two.
    const db = openDb(world.db);
    await db.updateTable('ps_aors').set({ qualify_frequency: 1 }).where('id', '=', '1004').execute();
    await db.destroy();
    const port = await freePort(true);
    const phone = { sipPort: world.sipPort, ext: '1004', password: made.body.secret as string, port };
    expect((await registerPhone(phone)).code).toBe(0);
    const answering = answerOptions(port, 30);
    try {
      const ext = await eventually(async () => {
        const res = await admin('GET', '/api/v1/extensions/1004');
        return res.body.registration.status === 'Reachable' ? res.body : undefined;
      }, 15_000, '1004 reachable');
      expect(ext.registration.rttMs).toEqual(expect.any(Number));
      expect(ext.registration.rttMs).toBeGreaterThanOrEqual(0);
      // Asterisk tells a status only when it changes: a new daemon asks for every contact's state.
      await daemon.kill();
      ({ daemon, api, admin } = await startReadyDaemon(world.daemonEnv));
      const again = await eventually(async () => {
        const res = await admin('GET', '/api/v1/extensions/1004');
        return res.body.registration.status === 'Reachable' ? res.body : undefined;
      }, 5_000, '1004 reachable after the restart');
      expect(again.registration.rttMs).toEqual(expect.any(Number));
    } finally {
      answering.kill();
      expect((await registerPhone({ ...phone, expires: 0 })).code).toBe(0); // gone: no more pings
    }
  });

  it('extension to extension: rings, answers with caller id, caller hangs up, one CDR', async () => {
    const phone = await deskPhone('1002', 'phone-answer');
    const caller = await dial('1001', '1002', 'uac-hangup-first', { hold_ms: '2000' });
    expect(caller.code, caller.output).toBe(0);
    expect((await phone.done).code).toBe(0);
    expect(await readFile(phone.logFile, 'utf8')).toContain('caller-id name=Anna Berg number=1001');
    const cdr = await lastCdr('1001', '1002');
    expect(cdr).toMatchObject({ callerName: 'Anna Berg', disposition: 'ANSWERED', endedBy: 'caller', hangupCause: 16 });
    expect(cdr.billableSeconds).toBeGreaterThanOrEqual(1);
  });

  it("a BLF key on one phone shows another extension ringing, on a call, then free (SUBSCRIBE, Event: dialog)", async () => {
    const logFile = path.join(tmpdir(), `pbx-e2e-blf-${Date.now()}.log`);
    const watcher = watchLamp({ sipPort: world.sipPort, ext: '1003', password: passwords.get('1003')!, watched: '1002', port: await freePort(true), logFile });
    const states = async () => [...(await readFile(logFile, 'utf8').catch(() => '')).matchAll(/blf (\w*)/g)].map((m) => m[1]);
    // The first NOTIFY tells the state as it is (1002's phone is registered and free).
    expect((await eventually(async () => ((await states()).length > 0 ? states() : undefined), 10_000, 'first NOTIFY'))[0]).toBe('terminated');
    // Registered and free: idle (Asterisk alone would say unavailable for an endpoint made after it started).
    await eventually(async () => ((await hintState('1002')) === 'Idle' ? true : undefined), 10_000, 'lamp of 1002 idle');
    const phone = await deskPhone('1002', 'phone-answer');
    const caller = await dial('1001', '1002', 'uac-hangup-first', { hold_ms: '1500' });
    expect(caller.code, caller.output).toBe(0);
    expect((await phone.done).code).toBe(0);
    const watched = await watcher.done;
    expect(watched.code, `${watched.output}\n${await readFile(`${logFile}.err`, 'utf8').catch(() => '')}`).toBe(0);
    const seen = await states();
    // Ringing (early: the lamp blinks; the phone rings 300 ms), on the call (confirmed), then free
    // again (terminated).
    expect(seen.indexOf('early'), seen.join(' ')).toBeGreaterThan(0);
    expect(seen.indexOf('confirmed'), seen.join(' ')).toBeGreaterThan(seen.indexOf('early'));
    expect(seen.at(-1)).toBe('terminated');
    // The phone unregisters: its lamp goes unavailable; it registers again: idle.
    const unreg = await registerPhone({ sipPort: world.sipPort, ext: '1002', password: passwords.get('1002')!, port: phonePorts.get('1002')!, expires: 0 });
    expect(unreg.code, unreg.output).toBe(0);
    await eventually(async () => ((await hintState('1002')) === 'Unavailable' ? true : undefined), 10_000, 'lamp of 1002 unavailable');
    const reg = await registerPhone({ sipPort: world.sipPort, ext: '1002', password: passwords.get('1002')!, port: phonePorts.get('1002')! });
    expect(reg.code, reg.output).toBe(0);
    await eventually(async () => ((await hintState('1002')) === 'Idle' ? true : undefined), 10_000, 'lamp of 1002 idle again');
  });

  it('busy: the callee refuses with 486; the caller gets busy and a BUSY CDR', async () => {
    const phone = await deskPhone('1002', 'phone-busy');
    const caller = await dial('1001', '1002', 'uac-refused');
    expect(caller.code, caller.output).toBe(0);
    expect((await phone.done).code).toBe(0);
    expect(await lastCdr('1001', '1002')).toMatchObject({ disposition: 'BUSY', answeredAt: null, hangupCause: 17 });
  });

  it('no answer: after the ring timeout the phone is cancelled and the caller refused', async () => {
    expect((await admin('PATCH', '/api/v1/extensions/1002', { ringTimeoutSeconds: 5 })).status).toBe(200);
    const phone = await deskPhone('1002', 'phone-no-answer');
    const started = Date.now();
    const caller = await dial('1001', '1002', 'uac-refused');
    expect(caller.code, caller.output).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_500);
    expect((await phone.done).code).toBe(0);
    expect(await lastCdr('1001', '1002')).toMatchObject({ disposition: 'NO ANSWER', answeredAt: null });
  });

  it('do-not-disturb refuses as busy without ringing', async () => {
    await admin('PATCH', '/api/v1/extensions/1002', { dnd: true });
    const caller = await dial('1001', '1002', 'uac-refused');
    expect(caller.code, caller.output).toBe(0);
    expect(await lastCdr('1001', '1002')).toMatchObject({ disposition: 'BUSY' });
    await admin('PATCH', '/api/v1/extensions/1002', { dnd: false });
  });

  it('hold: the caller hears music on hold while the phone holds, and not after it resumes', async () => {
    const phone = await deskPhone('1002', 'phone-hold');
    const mark = daemon.logs.length;
    const caller = await dial('1001', '1002', 'uac-hangup-first', { hold_ms: '5000' });
    expect(caller.code, caller.output).toBe(0);
    expect((await phone.done).code).toBe(0); // held (sendonly), resumed (sendrecv), then got BYE
    const lines = daemon.logs.slice(mark).map((l) => String(l.msg));
    // Asterisk accepted music on hold for the caller when the phone held, and stopped it on resume.
    expect(lines.filter((m) => m.startsWith('on hold') || m.startsWith('off hold'))).toEqual(['on hold: music for the other party', 'off hold: music stopped']);
    expect(lines).not.toContain('music on hold failed');
    expect(await lastCdr('1001', '1002')).toMatchObject({ disposition: 'ANSWERED' });
  });

  it('forward always: a call to 1002 rings 1003', async () => {
    await admin('PATCH', '/api/v1/extensions/1002', { forwardAlways: '1003' });
    const phone = await deskPhone('1003', 'phone-answer');
    const caller = await dial('1001', '1002', 'uac-hangup-first', { hold_ms: '1500' });
    expect(caller.code, caller.output).toBe(0);
    expect((await phone.done).code).toBe(0);
    // Dialed 1002, answered by 1003, the number the forward finally reached.
    expect(await lastCdr('1001', '1002')).toMatchObject({ disposition: 'ANSWERED', dialedNumber: '1002', answeredBy: '1003', endedBy: 'caller' });
    await admin('PATCH', '/api/v1/extensions/1002', { forwardAlways: null });
  });

  it('forward on busy: 1002 busy goes to 1003', async () => {
    await admin('PATCH', '/api/v1/extensions/1002', { forwardBusy: '1003' });
    const busy = await deskPhone('1002', 'phone-busy');
    const other = await deskPhone('1003', 'phone-answer');
    const caller = await dial('1001', '1002', 'uac-hangup-first', { hold_ms: '1500' });
    expect(caller.code, caller.output).toBe(0);
    expect((await busy.done).code).toBe(0);
    expect((await other.done).code).toBe(0);
    expect(await lastCdr('1001', '1002')).toMatchObject({ disposition: 'ANSWERED', dialedNumber: '1002', answeredBy: '1003' });
    await admin('PATCH', '/api/v1/extensions/1002', { forwardBusy: null });
  });

  it('a forward chain through do not disturb: 1002 forwards always to 1003, which is on DND forwarding to 1005; 1005 answers', async () => {
    await createExtension('1005', 'Eva Falk');
    await admin('PATCH', '/api/v1/extensions/1002', { forwardAlways: '1003' });
    await admin('PATCH', '/api/v1/extensions/1003', { dnd: true, forwardBusy: '1005' });
    try {
      const phone = await deskPhone('1005', 'phone-answer');
      const caller = await dial('1001', '1002', 'uac-hangup-first', { hold_ms: '1500' });
      expect(caller.code, caller.output).toBe(0);
      expect((await phone.done).code).toBe(0);
      const cdr = await lastCdr('1001', '1002');
      expect(cdr).toMatchObject({ disposition: 'ANSWERED', dialedNumber: '1002', answeredBy: '1005', endedBy: 'caller' });
      expect(cdr.talkSeconds).toBeGreaterThanOrEqual(1);
    } finally {
      await admin('PATCH', '/api/v1/extensions/1002', { forwardAlways: null });
      await admin('PATCH', '/api/v1/extensions/1003', { dnd: false, forwardBusy: null });
    }
  });

  it('a phone that is not an extension cannot call extensions (no guest calls)', async () => {
    const res = await sippCall({ scenario: 'uac-refused', dialed: '1002', sipPort: world.sipPort, user: world.phone.id, password: world.phone.password });
    expect(res.code, res.output).toBe(0);
  });
});
