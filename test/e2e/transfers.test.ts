/**
 * Transfers end to end: a desk phone (SIPp) on a connected call blind-transfers the caller to a
 * third extension with a SIP REFER; the daemon carries it out over ARI (ChannelTransfer).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Daemon, eventually } from '../support/daemon.js';
import { Api, type Cdr } from '../support/api.js';
import { registerPhone, sippCall, startPhone, type SippResult } from '../support/sipp.js';
import { REPO } from '../support/asterisk.js';
import { freePort } from '../support/ports.js';
import { apiClient, createScriptedExtension, startReadyDaemon } from '../support/pbx.js';

const world = inject('e2e');
let daemon: Daemon;
let api: Api;
let admin: ReturnType<typeof apiClient>;

// Numbers of their own: the e2e files share one database and one Asterisk.
const A = '1201';
const B = '1202';
const C = '1203';
const passwords = new Map<string, string>();
const ports = new Map<string, number>();

async function register(ext: string): Promise<number> {
  const port = ports.get(ext) ?? (await freePort(true));
  ports.set(ext, port);
  const reg = await registerPhone({ sipPort: world.sipPort, ext, password: passwords.get(ext)!, port });
  expect(reg.code, reg.output).toBe(0);
  return port;
}

/** B's phone: answers, then transfers the caller to `target` (xfer-blind.xml, or xfer-attended.xml with `replaces`). */
async function transferringPhone(ext: string, target: string, replaces?: string) {
  const port = await register(ext);
  const logFile = path.join(tmpdir(), `pbx-e2e-xfer-${ext}-${port}.log`);
  const args = [
    '-sf', path.join(REPO, `test/e2e/sipp/${replaces ? 'xfer-attended' : 'xfer-blind'}.xml`), '-p', String(port), '-mp', String(await freePort(true)),
    '-i', '127.0.0.1', '-m', '1', '-key', 'target', target, ...(replaces ? ['-key', 'replaces', replaces] : []), '-timeout', '60s', '-timeout_error', '-nostdin',
    '-trace_logs', '-log_file', logFile, '-trace_msg', '-message_file', `${logFile}.msg`, '-trace_err', '-error_file', `${logFile}.err`,
  ];
  const proc = spawn('sipp', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (c: Buffer) => (output += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const done = new Promise<SippResult>((resolve) => proc.once('exit', (code) => resolve({ code, output: output.slice(-4000) })));
  return { done, logFile, kill: () => proc.kill('SIGKILL') };
}

async function answeringPhone(ext: string) {
  const port = await register(ext);
  const logFile = path.join(tmpdir(), `pbx-e2e-xfer-${ext}-${port}.log`);
  return { ...(await startPhone('phone-answer', port, logFile)), logFile };
}

type LinkedCdr = Cdr & { linkedId: string | null };

/** A part someone answered: it names them; its talk is its billable time, and wait + talk is its length. */
function expectParty(cdr: LinkedCdr, answeredBy: string): void {
  expect(cdr).toMatchObject({ answeredBy, agent: null, queue: null });
  expect(cdr.billableSeconds).toBe(cdr.talkSeconds);
  expect(cdr.waitSeconds! + cdr.talkSeconds!).toBeGreaterThanOrEqual(cdr.durationSeconds - 1);
  expect(cdr.waitSeconds! + cdr.talkSeconds!).toBeLessThanOrEqual(cdr.durationSeconds);
}
async function cdrOf(from: string, to: string, since: Date): Promise<LinkedCdr> {
  const q = `caller=${from}&dialed=${to}&from=${encodeURIComponent(since.toISOString())}&limit=1`;
  return eventually(async () => (await api.cdrs(q))[0] as LinkedCdr | undefined, 15_000, `CDR ${from}->${to}`);
}

beforeAll(async () => {
  ({ daemon, api, admin } = await startReadyDaemon(world.daemonEnv));
  for (const [number, displayName] of [[A, 'Anna Berg'], [B, 'Ben Kohl'], [C, 'Cleo Diaz']] as const) {
    passwords.set(number, await createScriptedExtension(admin, world.db, { number, displayName }));
  }
});

afterAll(async () => {
  await daemon?.stop();
  // For a failed run: what the daemon said.
  await writeFile(path.join(tmpdir(), 'pbx-e2e-transfers-daemon.log'), (daemon?.logs ?? []).map((l) => JSON.stringify(l)).join('\n')).catch(() => undefined);
});

describe('blind transfer (SIP REFER)', () => {
  it('B transfers A to C: C rings with A\'s caller id and answers, B is gone, the two CDRs are linked', async () => {
    const b = await transferringPhone(B, C);
    const c = await answeringPhone(C);
    const since = new Date(Date.now() - 50);
    // A stays on the call 6 s: ~1.5 s with B, then with C; A hangs up.
    const a = await sippCall({ scenario: 'uac-hangup-first', dialed: B, sipPort: world.sipPort, user: A, password: passwords.get(A)!, set: { hold_ms: '6000' } });
    const [bDone, cDone] = await Promise.all([b.done, c.done]);
    expect(a.code, a.output).toBe(0);
    expect(bDone.code, `${bDone.output}\n${await readFile(b.logFile, 'utf8').catch(() => '')}`).toBe(0);
    expect(cDone.code, cDone.output).toBe(0);
    expect(await readFile(b.logFile, 'utf8')).toMatch(/transfer progress SIP\/2\.0 200/);
    expect(await readFile(c.logFile, 'utf8')).toContain('caller-id name=Anna Berg number=1201');

    const first = await cdrOf(A, B, since);
    const second = await cdrOf(A, C, since);
    expect(first).toMatchObject({ disposition: 'ANSWERED', endedBy: 'transfer', linkedId: first.callId });
    expect(second).toMatchObject({ disposition: 'ANSWERED', endedBy: 'caller', linkedId: first.callId, callerName: 'Anna Berg' });
    expect(second.callId).not.toBe(first.callId);
    // Each part names who answered it, and splits its wait (ringing) from its talk.
    expectParty(first, B);
    expectParty(second, C);
    expect(new Date(second.startedAt).getTime()).toBeGreaterThanOrEqual(new Date(first.endedAt).getTime() - 1000);
    expect(second.billableSeconds).toBeGreaterThanOrEqual(2);
    // Nothing of the call is left behind.
    await eventually(async () => ((await admin('GET', '/api/v1/calls/live')).body.items.length === 0 ? true : undefined), 10_000, 'no live calls');
  });

  it('a transfer to a number that is no extension is declined and the call goes on', async () => {
    const b = await transferringPhone(B, '1299');
    const since = new Date(Date.now() - 50);
    const a = await sippCall({ scenario: 'uac-hangup-first', dialed: B, sipPort: world.sipPort, user: A, password: passwords.get(A)!, set: { hold_ms: '3000' } });
    expect(a.code, a.output).toBe(0); // A was not cut off: it hung up itself after 3 s
    const bDone = await b.done;
    expect(bDone.code).not.toBe(0); // the phone was told the transfer failed
    expect(await readFile(b.logFile, 'utf8')).toMatch(/transfer progress SIP\/2\.0 6\d\d/);
    expect(await cdrOf(A, B, since)).toMatchObject({ disposition: 'ANSWERED', endedBy: 'caller' });
  });
});

describe('attended transfer (SIP REFER with Replaces)', () => {
  it('B consults C on a second line, then joins A and C: both of B\'s lines go, three CDRs share one linked id', async () => {
    const c = await answeringPhone(C);
    const since = new Date(Date.now() - 50);
    // B's second line calls C first (the consultation); its dialog identifiers become the Replaces value.
    const consultLog = path.join(tmpdir(), `pbx-e2e-xfer-consult-${Date.now()}.log`);
    const consult = sippCall({ scenario: 'xfer-consult', dialed: C, sipPort: world.sipPort, user: B, password: passwords.get(B)!, logFile: consultLog });
    const ids = await eventually(async () => {
      const m = /consult-dialog call-id=(\S+) from-tag=(\S+) to-tag=(\S+)/.exec(await readFile(consultLog, 'utf8').catch(() => ''));
      return m ? { callId: m[1]!, fromTag: m[2]!, toTag: m[3]! } : undefined;
    }, 15_000, 'consultation call answered');
    const replaces = encodeURIComponent(`${ids.callId};to-tag=${ids.toTag};from-tag=${ids.fromTag}`);
    const b = await transferringPhone(B, C, replaces);
    // A calls B (B answers, talks ~1 s, then REFERs A's call to the consultation); A stays 6 s in all.
    const a = await sippCall({ scenario: 'uac-hangup-first', dialed: B, sipPort: world.sipPort, user: A, password: passwords.get(A)!, set: { hold_ms: '6000' } });
    const [bDone, cDone, consultDone] = await Promise.all([b.done, c.done, consult]);
    expect(a.code, a.output).toBe(0); // A was connected to C and hung up itself
    expect(bDone.code, `${bDone.output}\n${await readFile(b.logFile, 'utf8').catch(() => '')}`).toBe(0);
    expect(await readFile(b.logFile, 'utf8')).toMatch(/transfer progress SIP\/2\.0 200/);
    expect(consultDone.code, consultDone.output).toBe(0); // the PBX hung the consultation line up
    expect(cDone.code, cDone.output).toBe(0); // C's one call went on with A and ended with A's BYE

    const first = await cdrOf(A, B, since);
    const consultation = await cdrOf(B, C, since);
    const joined = await cdrOf(A, C, since);
    expect(first).toMatchObject({ disposition: 'ANSWERED', endedBy: 'transfer', linkedId: first.callId });
    expect(consultation).toMatchObject({ disposition: 'ANSWERED', endedBy: 'transfer', linkedId: first.callId });
    expect(joined).toMatchObject({ disposition: 'ANSWERED', endedBy: 'caller', linkedId: first.callId, callerName: 'Anna Berg' });
    expect(joined.billableSeconds).toBeGreaterThanOrEqual(2);
    expectParty(first, B);
    expectParty(consultation, C);
    expectParty(joined, C);
    expect(joined.waitSeconds).toBe(0); // A and C were both answered already: the joined part is all talk
    await eventually(async () => ((await admin('GET', '/api/v1/calls/live')).body.items.length === 0 ? true : undefined), 10_000, 'no live calls');
  });
});
