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
 *
 * A queue call (a carrier's caller -> queue -> agent 2401 at a desk phone), supervised by *55 and
 * the agent's number: the agent logs in typing 2401 and the PIN on its own RTP stream (keys in any
 * order arrive; sip-tester's DTMF pcaps could send only ascending keys, which once made "2401"
 * arrive as "24"); listen and whisper as above; the agent hanging up first ends the session; a
 * daemon restarted during a session hangs the supervisor up while the call goes on.
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
import { openDb } from '../support/db.js';

const world = inject('e2e');
let daemon: Daemon;
let admin: ReturnType<typeof apiClient>;

// Numbers of their own: the e2e files share one database and one Asterisk.
const CUSTOMER = '1401';
const AGENT = '1402';
const SUPERVISOR = '1403';
const NOBODY = '1404';
/** The queue's agent (digits not ascending, on purpose) at their desk phone; the carrier's caller. */
const AGENT_DESK = '1405';
const AGENT_NO = '2401';
const AGENT_PIN = '4711';
const CARRIER_IP = '127.0.0.8';
const DID = '4930444100';
const CALLER = '4930444199';
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
async function call(from: string, dialed: string, rtp: RtpPhone, holdMs?: number, localIp = '127.0.0.1') {
  const log = logFile(`${from}-to-${dialed.replace('*', 's')}`);
  const scenario = holdMs === undefined ? 'rtp-uac-wait-bye' : 'rtp-uac-hangup';
  const proc = sipp([
    `127.0.0.1:${world.sipPort}`, '-sf', path.join(REPO, `test/e2e/sipp/${scenario}.xml`), '-s', dialed,
    '-key', 'caller', from, '-au', from, '-ap', passwords.get(from) ?? 'unused', '-key', 'rtpport', String(rtp.port),
    ...(holdMs === undefined ? [] : ['-set', 'hold_ms', String(holdMs)]),
    '-m', '1', '-l', '1', '-p', String(await freePort(true)), '-mp', String(await freePort(true)), '-i', localIp,
    '-timeout', '90s', '-timeout_error', '-nostdin', '-trace_logs', '-log_file', log, '-trace_err', '-error_file', `${log}.err`,
  ]);
  return { ...proc, log };
}

/**
 * A registered phone that answers one call with its audio in `rtp`, then waits for BYE (or hangs up
 * `hangUpAfterMs` after answering); it rings 300 ms before answering, or `ringMs`.
 */
async function answeringPhone(ext: string, rtp: RtpPhone, hangUpAfterMs?: number, ringMs?: number) {
  const port = ports.get(ext) ?? (await freePort(true));
  ports.set(ext, port);
  const reg = await registerPhone({ sipPort: world.sipPort, ext, password: passwords.get(ext)!, port });
  expect(reg.code, reg.output).toBe(0);
  const log = logFile(`${ext}-answers`);
  let scenario = path.join(REPO, 'test/e2e/sipp/rtp-phone.xml');
  if (hangUpAfterMs !== undefined) {
    scenario = `${log}.xml`;
    await writeFile(scenario, (await readFile(path.join(REPO, 'test/e2e/sipp/rtp-phone-hangup.xml'), 'utf8')).replaceAll('HOLD_MS', String(hangUpAfterMs)));
  } else if (ringMs !== undefined) {
    scenario = `${log}.xml`;
    await writeFile(scenario, (await readFile(path.join(REPO, 'test/e2e/sipp/rtp-phone.xml'), 'utf8')).replace('<pause milliseconds="300"/>', `<pause milliseconds="${ringMs}"/>`));
  }
  const proc = sipp([
    '-sf', scenario, '-p', String(port), '-mp', String(await freePort(true)), '-key', 'rtpport', String(rtp.port),
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

/** The audit row of the session a `supervision.start` row with these details began. */
async function startedSession(details: Record<string, unknown>, not: readonly string[] = []) {
  return eventually(async () => {
    const res = await admin('GET', '/api/v1/audit?limit=200');
    return (res.body.items as { action: string; entityId: string; details: Record<string, unknown> }[]).find(
      (r) => r.action === 'supervision.start' && !not.includes(r.entityId) && Object.entries(details).every(([k, v]) => r.details[k] === v),
    );
  }, 10_000, `supervision.start audited (${JSON.stringify(details)})`);
}

/** The session's audit rows once `supervision.end` is among them. */
async function sessionRows(id: string) {
  return eventually(async () => {
    const r = await auditRows(id);
    return r.some((x) => x.action === 'supervision.end') ? r : undefined;
  }, 15_000, 'supervision.end audited');
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

describe('supervising a queue call: *55 and an agent number', () => {
  const db = openDb(world.db);

  beforeAll(async () => {
    passwords.set(AGENT_DESK, await createScriptedExtension(admin, world.db, { number: AGENT_DESK, displayName: 'Quinn Queue-Agent' }));
    const trunk = await admin('POST', '/api/v1/trunks', { name: 'sup-carrier', kind: 'ip', host: CARRIER_IP, port: await freePort(true), codecs: ['ulaw'] });
    expect(trunk.status, JSON.stringify(trunk.body)).toBe(201);
    const q = await admin('POST', '/api/v1/queues', { name: 'supq', ringTimeoutSeconds: 10, wrapUpSeconds: 0, announceSeconds: 0 });
    expect(q.status, JSON.stringify(q.body)).toBe(201);
    expect((await admin('POST', '/api/v1/agents', { number: AGENT_NO, name: 'Quinn', pin: AGENT_PIN })).status).toBe(201);
    expect((await admin('PUT', '/api/v1/queues/supq/members', { agent: AGENT_NO, penalty: 0 })).status).toBeLessThan(300);
    const route = await admin('POST', '/api/v1/inbound-routes', { name: 'supervised line', didPattern: DID, target: { kind: 'queue', queue: 'supq' } });
    expect(route.status, JSON.stringify(route.body)).toBe(201);

    // The agent logs in at the desk phone: *91, 2401 #, 4711 #, the keys typed over the prompts.
    const keys = await RtpPhone.open(TONE.agent);
    try {
      const login = await call(AGENT_DESK, '*91', keys);
      keys.start(await remoteMedia(login.log));
      await eventually(async () => (keys.audio(0).length > 0 ? true : undefined), 10_000, 'the login prompt plays', 50);
      await keys.type(`${AGENT_NO}#${AGENT_PIN}#`);
      const done = await login.done; // "agent logged in", then the PBX's BYE
      expect(done.code, done.output).toBe(0);
    } finally {
      keys.close();
    }
    const agent = await eventually(async () => {
      const res = await admin('GET', `/api/v1/agents/${AGENT_NO}`);
      return res.body.state === 'ready' ? (res.body as { extension: string | null }) : undefined;
    }, 15_000, `agent ${AGENT_NO} logged in (all four digits arrived)`);
    expect(agent.extension).toBe(AGENT_DESK);
  }, 120_000);

  afterAll(async () => {
    for (const r of (await admin('GET', '/api/v1/inbound-routes')).body.items ?? []) if (r.name === 'supervised line') await admin('DELETE', `/api/v1/inbound-routes/${r.id}`);
    await db.destroy();
  });

  /** The carrier's caller into the queue, the agent's phone answering: both talking. */
  async function queueCall(phones: { customer: RtpPhone; agent: RtpPhone }, o: { customerHoldMs?: number; agentHangsUpAfterMs?: number }) {
    const agentPhone = await answeringPhone(AGENT_DESK, phones.agent, o.agentHangsUpAfterMs);
    const customerCall = await call(CALLER, DID, phones.customer, o.customerHoldMs, CARRIER_IP);
    phones.customer.start(await remoteMedia(customerCall.log));
    phones.agent.start(await remoteMedia(agentPhone.log));
    await untilHeard(phones.customer, TONE.agent, 'the caller hears the agent');
    await untilHeard(phones.agent, TONE.customer, 'the agent hears the caller');
    return { agentPhone, customerCall };
  }

  const cdrOf = (callId: string) =>
    eventually(async () => ((await admin('GET', `/api/v1/cdrs?caller=${CALLER}&dialed=${DID}&limit=20`)).body.items as Record<string, unknown>[]).find((c) => c['callId'] === callId), 15_000, 'the queue call\'s CDR');

  it('listen hears the caller and the agent; whisper reaches the agent only; the agent hangs up first: the supervisor is hung up, audited, CDR monitored', async () => {
    const [customer, agent, supervisor] = await Promise.all([RtpPhone.open(TONE.customer), RtpPhone.open(TONE.agent), RtpPhone.open(TONE.supervisor)]);
    try {
      // The agent hangs up 20 s after answering; the caller would wait for the PBX's BYE.
      const { agentPhone, customerCall } = await queueCall({ customer, agent }, { agentHangsUpAfterMs: 20_000 });
      const supervisorCall = await call(SUPERVISOR, `*55${AGENT_NO}`, supervisor);
      supervisor.start(await remoteMedia(supervisorCall.log));
      const phones = { customer, agent, supervisor };
      const talking = ['customer<-agent', 'agent<-customer'] as const;

      await untilHeard(supervisor, TONE.customer, 'the supervisor hears the caller');
      await untilHeard(supervisor, TONE.agent, 'the supervisor hears the agent');
      expectAudio(await stretch('queue listen', phones), ['supervisor<-customer', 'supervisor<-agent', ...talking], ['customer<-supervisor', 'agent<-supervisor']);

      supervisor.press('5');
      await untilHeard(agent, TONE.supervisor, 'the agent hears the whispering supervisor');
      expectAudio(await stretch('queue whisper', phones), ['agent<-supervisor', 'supervisor<-customer', 'supervisor<-agent', ...talking], ['customer<-supervisor']);

      // The agent hangs up: the caller and the supervisor get the PBX's BYE.
      const a = await agentPhone.done;
      expect(a.code, a.output).toBe(0);
      const [c, s] = await Promise.all([customerCall.done, supervisorCall.done]);
      expect(c.code, c.output).toBe(0);
      expect(s.code, s.output).toBe(0);

      const start = await startedSession({ supervisor: SUPERVISOR, agent: AGENT_NO });
      expect(start.details).toMatchObject({ extension: AGENT_DESK, target: { kind: 'number', number: AGENT_NO }, mode: 'listen' });
      const rows = await sessionRows(start.entityId);
      expect(rows.map((r) => r.action)).toEqual(['supervision.start', 'supervision.mode', 'supervision.end']);
      expect(rows.at(-1)!.details).toMatchObject({ reason: 'call-ended', mode: 'whisper' });
      // The call's CDR: an ordinary queue call the agent ended, noted as monitored.
      expect(await cdrOf(start.details['callId'] as string)).toMatchObject({ monitored: true, disposition: 'ANSWERED', endedBy: 'agent', agent: AGENT_NO, answeredBy: AGENT_DESK, queue: 'supq' });
      await eventually(async () => ((await leftInAsterisk()).length === 0 ? true : undefined), 10_000, 'no snoop channel or supervision bridge left in Asterisk');
      expect((await admin('GET', '/api/v1/supervision')).body.items).toEqual([]);
      expect(await db.selectFrom('supervision_sessions').select('id').where('id', '=', start.entityId).execute()).toEqual([]);
    } finally {
      for (const p of [customer, agent, supervisor]) p.close();
    }
  });

  it('a daemon restarted during a session hangs up the supervisor; the call goes on; the audit says daemon-restart; the CDR says monitored', async () => {
    const [customer, agent, supervisor] = await Promise.all([RtpPhone.open(TONE.customer), RtpPhone.open(TONE.agent), RtpPhone.open(TONE.supervisor)]);
    const before: string[] = (await auditRowsOf('supervision.start')).map((r) => r.entityId);
    try {
      // The caller hangs up after 25 s: the whole test, restart included (about 15 s of it at a
      // load of 6-12 on 2 cores; a caller gone too early fails the test, it cannot pass by it).
      const { agentPhone, customerCall } = await queueCall({ customer, agent }, { customerHoldMs: 25_000 });
      const supervisorCall = await call(SUPERVISOR, `*55${AGENT_NO}`, supervisor);
      supervisor.start(await remoteMedia(supervisorCall.log));
      await untilHeard(supervisor, TONE.customer, 'the supervisor hears the caller');
      await untilHeard(supervisor, TONE.agent, 'the supervisor hears the agent');
      const start = await startedSession({ supervisor: SUPERVISOR, agent: AGENT_NO }, before);
      expect(await db.selectFrom('supervision_sessions').select(['state', 'mode', 'call_id']).where('id', '=', start.entityId).execute()).toEqual([
        { state: 'active', mode: 'listen', call_id: start.details['callId'] },
      ]);

      // Restart (SIGTERM, then a new daemon): it adopts the call and hangs the supervisor up.
      await daemon.stop();
      ({ daemon, admin } = await startReadyDaemon(world.daemonEnv));
      const s = await supervisorCall.done; // the PBX's BYE
      expect(s.code, s.output).toBe(0);
      const rows = await sessionRows(start.entityId);
      expect(rows.map((r) => r.action)).toEqual(['supervision.start', 'supervision.end']);
      expect(rows.at(-1)).toMatchObject({ actor: `extension:${SUPERVISOR}`, details: { reason: 'daemon-restart', mode: 'listen', callId: start.details['callId'] } });
      await eventually(async () => ((await leftInAsterisk()).length === 0 ? true : undefined), 10_000, 'no snoop channel or supervision bridge left in Asterisk');
      expect(await db.selectFrom('supervision_sessions').select('id').where('id', '=', start.entityId).execute()).toEqual([]);

      // The call goes on: the caller and the agent still hear each other.
      expectAudio(await stretch('after the restart', { customer, agent, supervisor }), ['customer<-agent', 'agent<-customer'], ['customer<-supervisor', 'agent<-supervisor']);
      const [c, a] = await Promise.all([customerCall.done, agentPhone.done]);
      expect(c.code, c.output).toBe(0);
      expect(a.code, a.output).toBe(0);
      expect(await cdrOf(start.details['callId'] as string)).toMatchObject({ monitored: true, disposition: 'ANSWERED', endedBy: 'caller', agent: AGENT_NO });
    } finally {
      for (const p of [customer, agent, supervisor]) p.close();
    }
  }, 120_000);

  it('an API request still ringing when the daemon restarts: the new daemon connects it when answered, in the mode asked for', async () => {
    const [customer, agent, supervisor] = await Promise.all([RtpPhone.open(TONE.customer), RtpPhone.open(TONE.agent), RtpPhone.open(TONE.supervisor)]);
    try {
      // The caller hangs up after 25 s (the test's work took about 15 s of it at a load of 6-12).
      const { agentPhone, customerCall } = await queueCall({ customer, agent }, { customerHoldMs: 25_000 });
      // The supervisor's phone rings 12 s before it answers: the daemon restarts meanwhile.
      const supervisorPhone = await answeringPhone(SUPERVISOR, supervisor, undefined, 12_000);
      const started = await admin('POST', '/api/v1/supervision', { supervisorExtension: SUPERVISOR, agent: AGENT_NO, mode: 'whisper' });
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      const id = started.body.id as string;
      expect(await db.selectFrom('supervision_sessions').select(['state', 'mode']).where('id', '=', id).execute()).toEqual([{ state: 'ringing', mode: 'whisper' }]);
      await daemon.stop();
      ({ daemon, admin } = await startReadyDaemon(world.daemonEnv));
      // The new daemon has the request (still ringing) ...
      await eventually(async () => ((await admin('GET', `/api/v1/supervision/${id}`)).body.state === 'ringing' ? true : undefined), 10_000, 'the request recovered, ringing');
      // ... and the answer joins the call, whispering to the agent only.
      supervisor.start(await remoteMedia(supervisorPhone.log));
      await untilHeard(agent, TONE.supervisor, 'the agent hears the whispering supervisor');
      expectAudio(await stretch('whisper after the restart', { customer, agent, supervisor }), ['agent<-supervisor', 'supervisor<-customer', 'supervisor<-agent'], ['customer<-supervisor']);
      expect((await admin('GET', `/api/v1/supervision/${id}`)).body).toMatchObject({ state: 'active', mode: 'whisper', agent: AGENT_NO });
      expect((await admin('DELETE', `/api/v1/supervision/${id}`)).status).toBe(204);
      const s = await supervisorPhone.done;
      expect(s.code, s.output).toBe(0);
      const rows = await sessionRows(id);
      expect(rows.map((r) => r.action)).toEqual(['supervision.request', 'supervision.start', 'supervision.end']);
      expect(rows.at(-1)!.details).toMatchObject({ reason: 'ended-by-api' });
      const [c, a] = await Promise.all([customerCall.done, agentPhone.done]);
      expect(c.code, c.output).toBe(0);
      expect(a.code, a.output).toBe(0);
    } finally {
      for (const p of [customer, agent, supervisor]) p.close();
    }
  }, 120_000);
});

async function auditRowsOf(action: string): Promise<{ entityId: string; details: Record<string, unknown> }[]> {
  const res = await admin('GET', '/api/v1/audit?limit=200');
  return (res.body.items as { action: string; entityId: string; details: Record<string, unknown> }[]).filter((r) => r.action === action);
}
