/**
 * Live supervision end to end (docs/supervision.md): three SIPp phones on a real Asterisk, each
 * with its audio in the test (test/support/rtp.ts) sending its own tone: the customer 600 Hz, the
 * agent 1000 Hz, the supervisor 1450 Hz. What each phone receives is measured per frequency
 * (Goertzel amplitude of the tone, 0..32767; each phone sends at 6000):
 *   listen   the supervisor gets the customer's and the agent's tones; neither of them gets the supervisor's;
 *   whisper  the agent gets the supervisor's tone, the customer does not;
 *   barge    both do.
 * Modes are switched by DTMF (4/5/6) from the supervisor's phone; the session ends when the
 * customer hangs up, and every step is in the audit log; the call's CDR says monitored; Asterisk
 * keeps no snoop or bridge. An extension without canSupervise is refused. By API: the
 * supervisor's phone is rung, whispers, barges (PATCH), is ended (DELETE).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Daemon, eventually } from '../support/daemon.js';
import { registerPhone, type SippResult } from '../support/sipp.js';
import { REPO } from '../support/asterisk.js';
import { freePort } from '../support/ports.js';
import { apiClient, createScriptedExtension, startReadyDaemon } from '../support/pbx.js';
import { RtpPhone, remoteMedia } from '../support/rtp.js';
import { holdFor } from '../support/wait.js';

const world = inject('e2e');
let daemon: Daemon;
let admin: ReturnType<typeof apiClient>;

// Numbers of their own: the e2e files share one database and one Asterisk.
const CUSTOMER = '1401';
const AGENT = '1402';
const SUPERVISOR = '1403';
const NOBODY = '1404';
const TONE = { customer: 600, agent: 1000, supervisor: 1450 } as const;
/** A tone is heard above this amplitude (sent at 6000) and absent below ABSENT (noise and u-law error stay far under). */
const HEARD = 1500;
const ABSENT = 300;
/** Each stretch of audio measured, for the report (written to tmp at the end). */
const measured: Record<string, unknown>[] = [];

const passwords = new Map<string, string>();
const ports = new Map<string, number>();
const procs: { kill: () => void }[] = [];

function sipp(args: string[]): { done: Promise<SippResult>; kill: () => void } {
  const proc = spawn('sipp', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (c: Buffer) => (output += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const done = new Promise<SippResult>((resolve) => proc.once('exit', (code) => resolve({ code, output: output.slice(-4000) })));
  const handle = { done, kill: () => proc.kill('SIGKILL') };
  procs.push(handle);
  return handle;
}

const logFile = (what: string) => path.join(tmpdir(), `pbx-e2e-supervision-${what}-${Date.now()}.log`);

/** A phone calling `dialed` with its audio in `rtp`: hangs up after holdMs, or (no holdMs) waits for the PBX's BYE. */
async function call(from: string, dialed: string, rtp: RtpPhone, holdMs?: number) {
  const log = logFile(`${from}-to-${dialed.replace('*', 's')}`);
  const scenario = holdMs === undefined ? 'rtp-uac-wait-bye' : 'rtp-uac-hangup';
  const proc = sipp([
    `127.0.0.1:${world.sipPort}`, '-sf', path.join(REPO, `test/e2e/sipp/${scenario}.xml`), '-s', dialed,
    '-key', 'caller', from, '-au', from, '-ap', passwords.get(from)!, '-key', 'rtpport', String(rtp.port),
    ...(holdMs === undefined ? [] : ['-set', 'hold_ms', String(holdMs)]),
    '-m', '1', '-l', '1', '-p', String(await freePort(true)), '-mp', String(await freePort(true)), '-i', '127.0.0.1',
    '-timeout', '90s', '-timeout_error', '-nostdin', '-trace_logs', '-log_file', log, '-trace_err', '-error_file', `${log}.err`,
  ]);
  return { ...proc, log };
}

/** A registered phone that answers one call with its audio in `rtp`, then waits for BYE. */
async function answeringPhone(ext: string, rtp: RtpPhone) {
  const port = ports.get(ext) ?? (await freePort(true));
  ports.set(ext, port);
  const reg = await registerPhone({ sipPort: world.sipPort, ext, password: passwords.get(ext)!, port });
  expect(reg.code, reg.output).toBe(0);
  const log = logFile(`${ext}-answers`);
  const proc = sipp([
    '-sf', path.join(REPO, 'test/e2e/sipp/rtp-phone.xml'), '-p', String(port), '-mp', String(await freePort(true)), '-key', 'rtpport', String(rtp.port),
    '-i', '127.0.0.1', '-m', '1', '-timeout', '90s', '-timeout_error', '-nostdin', '-trace_logs', '-log_file', log, '-trace_err', '-error_file', `${log}.err`,
  ]);
  return { ...proc, log };
}

/** The amplitude of `freq` in what `phone` received over the last `ms`. */
function heard(phone: RtpPhone, freq: number, ms = 600): number {
  return phone.level(freq, Date.now() - ms).level;
}

/** Wait until `phone` hears `freq` (over the last 600 ms). */
async function untilHeard(phone: RtpPhone, freq: number, what: string): Promise<void> {
  await eventually(async () => (heard(phone, freq) > HEARD ? true : undefined), 15_000, what, 100);
}

type Levels = Record<keyof typeof TONE | 'samples', number>;

/** Hold a stretch of `ms` and measure, over exactly that stretch, each phone's level of each tone. */
async function stretch<P extends Record<string, RtpPhone>>(label: string, phones: P, ms = 1500): Promise<Record<keyof P, Levels>> {
  const from = Date.now();
  await holdFor(ms, `the audio of ${label} is measured over this stretch`);
  const to = Date.now();
  const levels = {} as Record<keyof P, Levels>;
  for (const who of Object.keys(phones) as (keyof P)[]) {
    const phone = phones[who]!;
    levels[who] = {
      samples: phone.audio(from, to).length,
      customer: Math.round(phone.level(TONE.customer, from, to).level),
      agent: Math.round(phone.level(TONE.agent, from, to).level),
      supervisor: Math.round(phone.level(TONE.supervisor, from, to).level),
    };
  }
  measured.push({ label, ms: to - from, levels });
  return levels;
}

type Who = keyof typeof TONE;

/** Each "listener<-speaker" in `heard` is above HEARD in `levels`, each in `absent` below ABSENT. */
function expectAudio(levels: Record<Who, Levels>, heard: `${Who}<-${Who}`[], absent: `${Who}<-${Who}`[] = []): void {
  const level = (pair: string) => {
    const [listener, speaker] = pair.split('<-') as [Who, Who];
    return levels[listener][speaker];
  };
  for (const pair of heard) expect(level(pair), `${pair} in ${JSON.stringify(levels)}`).toBeGreaterThan(HEARD);
  for (const pair of absent) expect(level(pair), `${pair} in ${JSON.stringify(levels)}`).toBeLessThan(ABSENT);
}

/** Snoop channels and supervision bridges Asterisk still has (a GET on the test instance's ARI). */
async function leftInAsterisk(): Promise<string[]> {
  const env = world.asteriskEnv;
  const get = async (what: string) => {
    const res = await fetch(`http://127.0.0.1:${env['PBX_ARI_PORT']}/ari/${what}`, {
      headers: { authorization: `Basic ${Buffer.from(`${env['PBX_ARI_USER']}:${env['PBX_ARI_PASSWORD']}`).toString('base64')}` },
    });
    return (await res.json()) as { id: string; name?: string }[];
  };
  const [channels, bridges] = await Promise.all([get('channels'), get('bridges')]);
  return [...channels.filter((c) => c.name?.startsWith('Snoop/')).map((c) => c.name!), ...bridges.filter((b) => b.id.startsWith('supervision-')).map((b) => b.id)];
}

async function auditRows(id: string): Promise<{ action: string; details: Record<string, unknown>; actor: string }[]> {
  const res = await admin('GET', '/api/v1/audit?limit=200');
  return (res.body.items as { action: string; entityId: string | null; details: Record<string, unknown>; actor: string }[]).filter((r) => r.entityId === id).reverse();
}

beforeAll(async () => {
  ({ daemon, admin } = await startReadyDaemon(world.daemonEnv));
  for (const [number, displayName] of [[CUSTOMER, 'Cora Customer'], [AGENT, 'Abe Agent'], [SUPERVISOR, 'Sue Supervisor'], [NOBODY, 'Ned Nobody']] as const) {
    passwords.set(number, await createScriptedExtension(admin, world.db, { number, displayName }));
  }
  const allowed = await admin('PATCH', `/api/v1/extensions/${SUPERVISOR}`, { canSupervise: true });
  expect(allowed.status, JSON.stringify(allowed.body)).toBe(200);
  expect(allowed.body.canSupervise).toBe(true);
});

afterAll(async () => {
  for (const p of procs) p.kill();
  await daemon?.stop();
  await writeFile(path.join(tmpdir(), 'pbx-e2e-supervision-daemon.log'), (daemon?.logs ?? []).map((l) => JSON.stringify(l)).join('\n')).catch(() => undefined);
  await writeFile(path.join(tmpdir(), 'pbx-e2e-supervision-levels.json'), JSON.stringify(measured, null, 2)).catch(() => undefined);
});

describe('live supervision from a desk phone (*55)', () => {
  it('listen, whisper, barge by DTMF: each phone gets exactly the audio its mode says; the customer hanging up ends it; all audited', async () => {
    const [customer, agent, supervisor] = await Promise.all([RtpPhone.open(TONE.customer), RtpPhone.open(TONE.agent), RtpPhone.open(TONE.supervisor)]);
    try {
      const agentPhone = await answeringPhone(AGENT, agent);
      // The customer stays 30 s (the whole test) and hangs up: that ends the supervision too.
      const customerCall = await call(CUSTOMER, AGENT, customer, 30_000);
      customer.start(await remoteMedia(customerCall.log));
      agent.start(await remoteMedia(agentPhone.log));
      await untilHeard(customer, TONE.agent, 'the customer hears the agent');
      await untilHeard(agent, TONE.customer, 'the agent hears the customer');

      const supervisorCall = await call(SUPERVISOR, `*55${AGENT}`, supervisor);
      supervisor.start(await remoteMedia(supervisorCall.log));
      const phones = { customer, agent, supervisor };

      // listen (the start mode): the supervisor hears both; nobody hears the supervisor.
      await untilHeard(supervisor, TONE.customer, 'the supervisor hears the customer');
      await untilHeard(supervisor, TONE.agent, 'the supervisor hears the agent');
      // (The customer and the agent still hear each other in every mode.)
      const talking = ['customer<-agent', 'agent<-customer'] as const;
      expectAudio(await stretch('listen', phones), ['supervisor<-customer', 'supervisor<-agent', ...talking], ['customer<-supervisor', 'agent<-supervisor']);

      // 5: whisper. Only the agent hears the supervisor.
      supervisor.press('5');
      await untilHeard(agent, TONE.supervisor, 'the agent hears the whispering supervisor');
      expectAudio(await stretch('whisper', phones), ['agent<-supervisor', 'supervisor<-customer', 'supervisor<-agent', ...talking], ['customer<-supervisor']);

      // 6: barge. The customer and the agent both hear the supervisor.
      supervisor.press('6');
      await untilHeard(customer, TONE.supervisor, 'the customer hears the barging supervisor');
      // (No echo: the supervisor does not get their own voice back from the call.)
      expectAudio(await stretch('barge', phones), ['customer<-supervisor', 'agent<-supervisor', 'supervisor<-customer', 'supervisor<-agent', ...talking], ['supervisor<-supervisor']);

      // 4: back to listen. Neither hears the supervisor any more.
      supervisor.press('4');
      await eventually(async () => (heard(customer, TONE.supervisor) < ABSENT && heard(agent, TONE.supervisor) < ABSENT ? true : undefined), 15_000, 'the supervisor is silent again', 100);
      expectAudio(await stretch('listen again', phones), ['supervisor<-customer', 'supervisor<-agent', ...talking], ['customer<-supervisor', 'agent<-supervisor']);

      // The customer hangs up (after 30 s): the agent and the supervisor are hung up too.
      const [c, a, s] = await Promise.all([customerCall.done, agentPhone.done, supervisorCall.done]);
      expect(c.code, c.output).toBe(0);
      expect(a.code, a.output).toBe(0);
      expect(s.code, `${s.output}\n${await readFile(`${supervisorCall.log}.err`, 'utf8').catch(() => '')}`).toBe(0); // it got the PBX's BYE

      // The audit log: start (listen), the three switches by the supervisor's phone, the end.
      const start = await eventually(async () => {
        const res = await admin('GET', '/api/v1/audit?limit=200');
        return (res.body.items as { action: string; entityId: string; details: Record<string, unknown> }[]).find(
          (r) => r.action === 'supervision.start' && r.details['supervisor'] === SUPERVISOR,
        );
      }, 10_000, 'supervision.start audited');
      expect(start.details).toMatchObject({ mode: 'listen', extension: AGENT, target: { kind: 'number', number: AGENT } });
      const rows = await eventually(async () => {
        const r = await auditRows(start.entityId);
        return r.some((x) => x.action === 'supervision.end') ? r : undefined;
      }, 10_000, 'supervision.end audited');
      expect(rows.map((r) => r.action)).toEqual(['supervision.start', 'supervision.mode', 'supervision.mode', 'supervision.mode', 'supervision.end']);
      expect(rows.filter((r) => r.action === 'supervision.mode').map((r) => `${String(r.details['from'])}->${String(r.details['to'])}`)).toEqual(['listen->whisper', 'whisper->barge', 'barge->listen']);
      expect(rows.every((r) => r.actor === `extension:${SUPERVISOR}`)).toBe(true);
      expect(rows.at(-1)!.details).toMatchObject({ reason: 'call-ended' });

      // The supervised call's CDR says it was monitored, and is otherwise an ordinary answered call.
      const cdr = await eventually(async () => (await admin('GET', `/api/v1/cdrs?caller=${CUSTOMER}&dialed=${AGENT}&limit=1`)).body.items[0] as Record<string, unknown> | undefined, 10_000, 'the call\'s CDR');
      expect(cdr).toMatchObject({ monitored: true, disposition: 'ANSWERED', endedBy: 'caller', answeredBy: AGENT, callId: start.details['callId'] });

      // Nothing left behind: no live calls, no supervision sessions.
      await eventually(async () => ((await admin('GET', '/api/v1/calls/live')).body.items.length === 0 ? true : undefined), 10_000, 'no live calls');
      expect((await admin('GET', '/api/v1/supervision')).body.items).toEqual([]);
      await eventually(async () => ((await leftInAsterisk()).length === 0 ? true : undefined), 10_000, 'no snoop channel or supervision bridge left in Asterisk');
    } finally {
      for (const p of [customer, agent, supervisor]) p.close();
    }
  });

  it('an extension not allowed to supervise hears an error prompt and is hung up; the session never starts; audited', async () => {
    const nobody = await RtpPhone.open(TONE.supervisor);
    try {
      const attempt = await call(NOBODY, `*55${AGENT}`, nobody);
      nobody.start(await remoteMedia(attempt.log));
      const done = await attempt.done;
      expect(done.code, done.output).toBe(0); // answered, prompt, the PBX's BYE
      expect(nobody.audio(0).length).toBeGreaterThan(8000); // it heard about a second or more of the prompt
      const refused = await eventually(async () => {
        const res = await admin('GET', '/api/v1/audit?limit=200');
        return (res.body.items as { action: string; details: Record<string, unknown>; actor: string }[]).find(
          (r) => r.action === 'supervision.refused' && r.details['supervisor'] === NOBODY,
        );
      }, 10_000, 'refusal audited');
      expect(refused).toMatchObject({ actor: `extension:${NOBODY}`, details: { why: 'not-permitted' } });
      const res = await admin('GET', '/api/v1/audit?limit=200');
      expect((res.body.items as { action: string; details: Record<string, unknown> }[]).some((r) => r.action === 'supervision.start' && r.details['supervisor'] === NOBODY)).toBe(false);
    } finally {
      nobody.close();
    }
  });

  it('an allowed supervisor asking for an extension that is not on a call is told so and hung up', async () => {
    const sup = await RtpPhone.open(TONE.supervisor);
    try {
      const attempt = await call(SUPERVISOR, `*55${CUSTOMER}`, sup);
      sup.start(await remoteMedia(attempt.log));
      const done = await attempt.done;
      expect(done.code, done.output).toBe(0);
      await eventually(async () => {
        const res = await admin('GET', '/api/v1/audit?limit=200');
        return (res.body.items as { action: string; details: Record<string, unknown> }[]).find(
          (r) => r.action === 'supervision.refused' && r.details['supervisor'] === SUPERVISOR && r.details['why'] === 'not-on-call',
        );
      }, 10_000, 'not-on-call audited');
    } finally {
      sup.close();
    }
  });
});

describe('live supervision by API', () => {
  it('POST /supervision rings the supervisor; answered, it whispers to the agent only; PATCH barges; DELETE ends it', async () => {
    const [customer, agent, supervisor] = await Promise.all([RtpPhone.open(TONE.customer), RtpPhone.open(TONE.agent), RtpPhone.open(TONE.supervisor)]);
    try {
      // Refused before anything rings: no such agent, not on a call, a bad mode.
      expect((await admin('POST', '/api/v1/supervision', { supervisorExtension: SUPERVISOR, agent: '9988', mode: 'listen' })).status).toBe(404);
      const idle = await admin('POST', '/api/v1/supervision', { supervisorExtension: SUPERVISOR, extension: AGENT, mode: 'listen' });
      expect(idle.status).toBe(409);
      expect(idle.body.error.code).toBe('supervision-not-on-call');

      const agentPhone = await answeringPhone(AGENT, agent);
      const customerCall = await call(CUSTOMER, AGENT, customer, 20_000);
      customer.start(await remoteMedia(customerCall.log));
      agent.start(await remoteMedia(agentPhone.log));
      await untilHeard(customer, TONE.agent, 'the customer hears the agent');

      const supervisorPhone = await answeringPhone(SUPERVISOR, supervisor);
      const started = await admin('POST', '/api/v1/supervision', { supervisorExtension: SUPERVISOR, extension: AGENT, mode: 'whisper' });
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      expect(started.body).toMatchObject({ state: 'ringing', mode: 'whisper', supervisorExtension: SUPERVISOR, extension: AGENT });
      supervisor.start(await remoteMedia(supervisorPhone.log));
      const phones = { customer, agent, supervisor };

      await untilHeard(agent, TONE.supervisor, 'the agent hears the whispering supervisor');
      expectAudio(await stretch('api whisper', phones), ['agent<-supervisor', 'supervisor<-customer', 'supervisor<-agent'], ['customer<-supervisor']);
      expect((await admin('GET', `/api/v1/supervision/${started.body.id as string}`)).body).toMatchObject({ state: 'active', mode: 'whisper' });

      const changed = await admin('PATCH', `/api/v1/supervision/${started.body.id as string}`, { mode: 'barge' });
      expect(changed.status, JSON.stringify(changed.body)).toBe(200);
      await untilHeard(customer, TONE.supervisor, 'the customer hears the barging supervisor');

      expect((await admin('DELETE', `/api/v1/supervision/${started.body.id as string}`)).status).toBe(204);
      const s = await supervisorPhone.done; // the supervisor's phone got the PBX's BYE
      expect(s.code, s.output).toBe(0);
      // Its snoop and bridge are gone; the call itself goes on: the customer still hears the agent, no longer the supervisor.
      await eventually(async () => ((await leftInAsterisk()).length === 0 ? true : undefined), 10_000, 'no snoop channel or supervision bridge left in Asterisk');
      await eventually(async () => (heard(customer, TONE.supervisor) < ABSENT ? true : undefined), 10_000, 'the supervisor is gone', 100);
      expect(heard(customer, TONE.agent)).toBeGreaterThan(HEARD);
      const [c, a] = await Promise.all([customerCall.done, agentPhone.done]);
      expect(c.code, c.output).toBe(0);
      expect(a.code, a.output).toBe(0);
      const rows = await eventually(async () => {
        const r = await auditRows(started.body.id as string);
        return r.some((x) => x.action === 'supervision.end') ? r : undefined;
      }, 10_000, 'supervision.end audited');
      expect(rows.map((r) => r.action)).toEqual(['supervision.request', 'supervision.start', 'supervision.mode', 'supervision.end']);
      expect(rows.at(-1)!.details).toMatchObject({ reason: 'ended-by-api' });
    } finally {
      for (const p of [customer, agent, supervisor]) p.close();
    }
  });
});
