/**
 * The ACD end to end: agents on SIPp desk phones log in by feature code and PIN (RFC 4733 digits),
 * a carrier (SIPp on 127.0.0.4) calls a DID routed to a queue, the daemon offers the call to an
 * agent's phone, and the agent state machine's trail is read back through the API.
 *
 * Digits within one call must go in ascending pcap order (see test/support/sipp-dtmf.ts), so the
 * agent numbers and PINs here are chosen for it: number "23" (ended by silence), PIN "4579#".
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Daemon, eventually } from '../support/daemon.js';
import { holdFor } from '../support/wait.js';
import { registerPhone, runSipp, sippCall, startCarrier, startPhone, type SippResult } from '../support/sipp.js';
import { readFile } from 'node:fs/promises';
import { openDb } from '../support/db.js';
import { freePort } from '../support/ports.js';
import { apiClient, createScriptedExtension, startReadyDaemon } from '../support/pbx.js';
import { dtmfScenario, type CallerEnd, type CallerStep } from '../support/sipp-dtmf.js';
import { asteriskInstance, REPO } from '../support/asterisk.js';
import { sql } from 'kysely';
import { openEventStream } from '../support/events.js';

const world = inject('e2e');
const CARRIER_IP = '127.0.0.4';
const DID = '4930777000';
const PHONE_1 = '6101';
const PHONE_2 = '6102';
let daemon: Daemon;
let admin: ReturnType<typeof apiClient>;
const passwords = new Map<string, string>();
let carrierPort = 0;
const ports = new Map<string, number>();

/** The agent's desk phone waits for one call: answers, or lets it ring. */
async function agentPhone(ext: string, behaviour: 'phone-answer' | 'phone-no-answer' | 'phone-answer-hangup' | 'phone-hold') {
  const port = ports.get(ext) ?? (await freePort(true));
  ports.set(ext, port);
  expect((await registerPhone({ sipPort: world.sipPort, ext, password: passwords.get(ext)!, port })).code).toBe(0);
  return startPhone(behaviour, port, path.join(tmpdir(), `pbx-e2e-acd-${ext}-${port}.log`));
}

/** The agent's desk phone answers the next call, then blind-transfers the caller to `target` (xfer-blind.xml: REFER). */
async function transferringAgentPhone(ext: string, target: string) {
  const port = ports.get(ext) ?? (await freePort(true));
  ports.set(ext, port);
  expect((await registerPhone({ sipPort: world.sipPort, ext, password: passwords.get(ext)!, port })).code).toBe(0);
  const logFile = path.join(tmpdir(), `pbx-e2e-acd-xfer-${ext}-${port}.log`);
  return runSipp([
    '-sf', path.join(REPO, 'test/e2e/sipp/xfer-blind.xml'), '-p', String(port), '-mp', String(await freePort(true)), '-i', '127.0.0.1', '-m', '1',
    '-key', 'target', target, '-timeout', '60s', '-timeout_error', '-nostdin', '-trace_logs', '-log_file', logFile, '-trace_msg', '-message_file', `${logFile}.msg`,
  ]);
}

/** A call from the desk phone `ext` (feature codes), with digits. */
async function fromPhone(ext: string, dialed: string, steps: CallerStep[], end: CallerEnd): Promise<SippResult> {
  const scenarioFile = await dtmfScenario(steps, end);
  return sippCall({ scenario: 'uac-long-call', scenarioFile, dialed, sipPort: world.sipPort, user: ext, password: passwords.get(ext)!, timeoutS: 60 });
}

/** A caller from outside, through the carrier, to the queue's DID. */
async function customer(end: CallerEnd): Promise<SippResult> {
  const scenarioFile = await dtmfScenario([], end);
  return sippCall({ scenario: 'uac-long-call', scenarioFile, dialed: DID, sipPort: world.sipPort, user: '4930222333', password: 'unused', localIp: CARRIER_IP, timeoutS: 90 });
}

/** *91 at the phone: agent number (ended by silence), PIN and '#'; the daemon says "logged in" and hangs up. */
async function login(ext: string, number: string, pin: string): Promise<void> {
  const steps: CallerStep[] = [{ pause: 800 }, ...[...number].map((digit) => ({ digit })), { pause: 3500 }, { pause: 800 }, ...[...`${pin}#`].map((digit) => ({ digit }))];
  const res = await fromPhone(ext, '*91', steps, { waitForBye: true });
  expect(res.code, res.output).toBe(0);
}

async function agent(number: string): Promise<{ state: string; extension: string | null; pauseCode: number | null; pauseReason: string | null }> {
  const res = await admin('GET', `/api/v1/agents/${number}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

const stateOf = async (number: string) => (await agent(number)).state;

/** The BLF lamp of agent `number` as Asterisk shows it: the hint *80<number>'s extension state. */
async function lamp(number: string): Promise<string> {
  const out = await asteriskInstance('rx', world.asteriskEnv, 'core show hints');
  const line = out.split('\n').find((l) => l.includes(`*80${number}@pbx-inbound`)) ?? '';
  return /State:(\S+)/.exec(line)?.[1] ?? 'no hint';
}
const waitLamp = (number: string, state: string) =>
  eventually(async () => ((await lamp(number)) === state ? true : undefined), 10_000, `lamp of agent ${number}: ${state}`);
const waitState = (number: string, state: string, ms = 15_000) =>
  eventually(async () => ((await stateOf(number)) === state ? true : undefined), ms, `agent ${number} ${state}`);
/** Until `count` callers wait in the support queue. */
const callersWaiting = (count: number, what: string) =>
  eventually(async () => ((await admin('GET', '/api/v1/queues/support/live')).body.waiting.length === count ? true : undefined), 10_000, what);

/**
 * The daemon's settings here: agents on a call that ended unseen are looked for every 2 s (30 by
 * default), so the restart test below is quick, and every other test runs with that check busy.
 */
const daemonEnv = () => ({ ...world.daemonEnv, PBX_ACD_ENDED_CALL_CHECK_SECONDS: '2' });

/**
 * A `since` for trail(), taken once these agents have settled: a millisecond after the newest entry
 * of their logs (the log's own clock; the API gives milliseconds), so a trail from it holds only
 * the changes that come next.
 */
async function sinceSettled(...numbers: string[]): Promise<Date> {
  let newest = 0;
  for (const number of numbers) {
    const res = await admin('GET', `/api/v1/agents/${number}/log`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    for (const e of res.body.items as { at: string }[]) newest = Math.max(newest, Date.parse(e.at));
  }
  return new Date(newest + 1);
}

async function trail(number: string, since: Date): Promise<string[]> {
  const res = await admin('GET', `/api/v1/agents/${number}/log?from=${encodeURIComponent(since.toISOString())}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  // Newest first from the API: oldest first here.
  return (res.body.items as { from: string; to: string }[]).map((e) => `${e.from}->${e.to}`).reverse();
}

interface QueueCdr {
  endedBy: string;
  answeredBy: string | null;
  agent: string | null;
  queue: string | null;
  waitSeconds: number | null;
  talkSeconds: number | null;
  billableSeconds: number;
  durationSeconds: number;
}

/** The CDR of the customer's call to the support line placed after `since`. */
function customerCdr(since: Date): Promise<QueueCdr> {
  const from = encodeURIComponent(since.toISOString());
  return eventually(async () => (await admin('GET', `/api/v1/cdrs?dialed=${DID}&from=${from}&limit=1`)).body.items?.[0] as QueueCdr | undefined, 15_000, 'the customer call CDR');
}

interface QueueEventSeen {
  type: string;
  agent: string | null;
  callerNumber: string | null;
  waitMs: number | null;
  talkMs: number | null;
  holdMs: number | null;
  wrapUpMs: number | null;
  details: Record<string, unknown> | null;
}

/**
 * The queue events (docs/queue-events.md) of the first caller who joined the support queue after
 * `since`, in order (by time; a join and the offer of the same millisecond: the join first), once
 * the last one is of type `last`; agents by number.
 */
async function queueEventsOfCaller(since: Date, last: string): Promise<QueueEventSeen[]> {
  const db = openDb(world.db);
  try {
    return await eventually(async () => {
      const rows = await sql<{ type: string; agent: string | null; caller_number: string | null; wait_ms: number | null; talk_ms: number | null; hold_ms: number | null; wrap_up_ms: number | null; details: Record<string, unknown> | null }>`
        select e.type, a.number as agent, e.caller_number, e.wait_ms, e.talk_ms, e.hold_ms, e.wrap_up_ms, e.details
        from queue_events e left join agents a on a.id = e.agent_id
        where e.call_id = (
          select j.call_id from queue_events j join queues q on q.id = j.queue_id
          where q.name = 'support' and j.type = 'join' and j.at >= ${since} order by j.at, j.id limit 1)
        order by e.at, e.type <> 'join', e.id`.execute(db);
      const seen = rows.rows.map((r) => ({ type: r.type, agent: r.agent, callerNumber: r.caller_number, waitMs: r.wait_ms, talkMs: r.talk_ms, holdMs: r.hold_ms, wrapUpMs: r.wrap_up_ms, details: r.details }));
      return seen.at(-1)?.type === last ? seen : undefined;
    }, 15_000, `queue events up to ${last}`);
  } finally {
    await db.destroy();
  }
}

/** A customer's call answered by agent 23's phone (PHONE_1): the INVITE that phone received (SIPp's message trace). */
async function inviteAtAgentPhone(): Promise<string> {
  const port = ports.get(PHONE_1) ?? (await freePort(true));
  ports.set(PHONE_1, port);
  expect((await registerPhone({ sipPort: world.sipPort, ext: PHONE_1, password: passwords.get(PHONE_1)!, port })).code).toBe(0);
  const logFile = path.join(tmpdir(), `pbx-e2e-acd-pop-${PHONE_1}-${port}-${Date.now()}.log`);
  const phone = await startPhone('phone-answer', port, logFile);
  const caller = await customer({ hangUpAfter: 1500 });
  expect(caller.code, caller.output).toBe(0);
  expect((await phone.done).code).toBe(0);
  const invite = await lastInvite(`${logFile}.msg`);
  await waitState('23', 'ready', 15_000);
  return invite;
}

/** The last INVITE in a SIPp message trace (-trace_msg). */
async function lastInvite(file: string): Promise<string> {
  const invite = (await readFile(file, 'utf8')).split(/-{20,}[^\n]*\n/).filter((m) => /^INVITE sip:/m.test(m)).at(-1);
  if (!invite) throw new Error(`no INVITE in ${file}`);
  return invite;
}

/** A header's value in a SIP message (the first of that name; compact forms not used by Asterisk here); null if absent. */
function header(message: string, name: string): string | null {
  const line = message.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line === undefined ? null : line.slice(name.length + 1).trim();
}

/** The quoted display name of a From / P-Asserted-Identity header. */
function displayName(message: string, name: string): string | null {
  const value = header(message, name);
  return value === null ? null : (/^"((?:[^"\\]|\\.)*)"/.exec(value)?.[1] ?? null);
}

beforeAll(async () => {
  ({ daemon, admin } = await startReadyDaemon(daemonEnv()));
  for (const [number, name] of [[PHONE_1, 'Desk One'], [PHONE_2, 'Desk Two']] as const) {
    passwords.set(number, await createScriptedExtension(admin, world.db, { number, displayName: name }));
  }
  carrierPort = await freePort(true);
  const trunk = await admin('POST', '/api/v1/trunks', { name: 'acd-carrier', kind: 'ip', host: CARRIER_IP, port: carrierPort, codecs: ['ulaw'] });
  expect(trunk.status, JSON.stringify(trunk.body)).toBe(201);
  // Callbacks go out through this carrier: numbers like the callers' (49...).
  const out = await admin('POST', '/api/v1/outbound-routes', { name: 'acd callbacks', pattern: '_49X.', trunkId: trunk.body.id, requiredClass: 'national', priority: 30 });
  expect(out.status, JSON.stringify(out.body)).toBe(201);
  const q = await admin('POST', '/api/v1/queues', { name: 'support', strategy: 'longest-idle', ringTimeoutSeconds: 5, wrapUpSeconds: 2, missedOffersPause: 1, announceSeconds: 0 });
  expect(q.status, JSON.stringify(q.body)).toBe(201);
  for (const [number, name, pin] of [['23', 'Ada Agent', '4579'], ['24', 'Bo Agent', '5689']] as const) {
    const a = await admin('POST', '/api/v1/agents', { number, name, pin });
    expect(a.status, JSON.stringify(a.body)).toBe(201);
    expect((await admin('PUT', '/api/v1/queues/support/members', { agent: number, penalty: 0 })).status).toBeLessThan(300);
  }
  const route = await admin('POST', '/api/v1/inbound-routes', { name: 'support line', didPattern: DID, target: { kind: 'queue', queue: 'support' } });
  expect(route.status, JSON.stringify(route.body)).toBe(201);
});

afterAll(async () => {
  for (const r of (await admin('GET', '/api/v1/inbound-routes')).body.items ?? []) await admin('DELETE', `/api/v1/inbound-routes/${r.id}`);
  await daemon?.stop();
  // For a failed run: what the daemon said.
  await writeFile(path.join(tmpdir(), 'pbx-e2e-acd-daemon.log'), (daemon?.logs ?? []).map((l) => JSON.stringify(l)).join('\n')).catch(() => undefined);
});

describe('ACD: agents on desk phones', () => {
  it('an agent logs in by *91, agent number and PIN; a wrong PIN is refused', async () => {
    const wrong = await fromPhone(PHONE_1, '*91', [{ pause: 800 }, { digit: '2' }, { digit: '3' }, { pause: 3500 }, { digit: '8' }, { digit: '9' }, { digit: '#' }], { hangUpAfter: 1500 });
    expect(wrong.code, wrong.output).toBe(0);
    expect(await agent('23')).toMatchObject({ state: 'logged-out' });
    await login(PHONE_1, '23', '4579');
    expect(await agent('23')).toMatchObject({ state: 'ready', extension: PHONE_1 });
    await waitLamp('23', 'Idle'); // a BLF key on *8023 shows the agent free
  });

  it('a caller is routed to the ready agent; after the call the agent wraps up, then is ready again', async () => {
    const since = await sinceSettled('23');
    const placed = new Date(Date.now() - 50);
    // The screen pop (docs/events.md): agent.offered with the caller's number, before the answer.
    const ticket = await admin('POST', '/api/v1/events/tickets');
    const stream = await openEventStream(world.daemonEnv['PBX_HTTP_PORT']!, ticket.body.ticket, 'types=agent.offered,call.answered&queue=support');
    const phone = await agentPhone(PHONE_1, 'phone-answer');
    const caller = await customer({ hangUpAfter: 3000 });
    expect(caller.code, caller.output).toBe(0);
    expect((await phone.done).code).toBe(0);
    const pop = await stream.next((e) => e.type === 'agent.offered', 5_000, 'agent.offered');
    expect(pop).toMatchObject({ queue: 'support', agent: '23', extension: PHONE_1, callerNumber: '4930222333' });
    const answered = await stream.next((e) => e.type === 'call.answered' && e['callId'] === pop['callId'], 5_000, 'call.answered');
    expect(answered).toMatchObject({ agent: '23', queue: 'support' });
    expect(Number(pop['id'])).toBeLessThan(Number(answered['id']));
    stream.close();
    await waitState('23', 'wrap-up', 5_000);
    await waitState('23', 'ready', 10_000);
    expect(await trail('23', since)).toEqual(['ready->reserved', 'reserved->on-call', 'on-call->wrap-up', 'wrap-up->ready']);
    // Its queue events: join, offer, answer, and the end once wrap-up (2 s) is over.
    const events = await queueEventsOfCaller(placed, 'end');
    expect(events.map((e) => `${e.type}:${e.agent ?? ''}`)).toEqual(['join:', 'offer:23', 'answer:23', 'end:23']);
    expect(events[0]!.callerNumber).toBe('4930222333');
    const [, , answer, end] = events;
    expect(answer!.waitMs).toBeGreaterThanOrEqual(0);
    const cdr = await customerCdr(placed);
    expect(cdr).toMatchObject({ queue: 'support', agent: '23' });
    // The caller hangs up 3 s after being answered, the agent's phone answers before: talk is the CDR's.
    expect(end!.talkMs).toBeGreaterThan(1_000);
    expect(Math.abs(end!.talkMs! / 1000 - cdr.talkSeconds!)).toBeLessThanOrEqual(1);
    expect(end).toMatchObject({ holdMs: 0, details: { endedBy: 'wrap-up-done' } });
    expect(end!.wrapUpMs).toBeGreaterThanOrEqual(2_000);
  });

  it('screen pop on the handset: the INVITE to the agent phone shows the queue template in From and P-Asserted-Identity, with the Alert-Info; a headset agent is sent auto-answer', async () => {
    const bad = await admin('PATCH', '/api/v1/queues/support', { callerIdTemplate: 'SUP:{caller} {a} {b}' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { code: 'validation-failed', details: { field: 'body.callerIdTemplate' } } });
    const badRing = await admin('PATCH', '/api/v1/queues/support', { alertInfo: 'info=ring2\r\nX-Evil: 1' });
    expect(badRing.body).toMatchObject({ error: { details: { field: 'body.alertInfo' } } });
    const set = await admin('PATCH', '/api/v1/queues/support', { callerIdTemplate: 'SUP:{caller}', alertInfo: '<http://127.0.0.1/Bellcore-dr2>' });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(set.body).toMatchObject({ callerIdTemplate: 'SUP:{caller}', alertInfo: '<http://127.0.0.1/Bellcore-dr2>' });
    try {
      await waitState('23', 'ready');
      let invite = await inviteAtAgentPhone();
      // The carrier's caller sends no name: {caller} is their number.
      expect(displayName(invite, 'From')).toBe('SUP:4930222333');
      expect(displayName(invite, 'P-Asserted-Identity')).toBe('SUP:4930222333');
      expect(header(invite, 'Alert-Info')).toBe('<http://127.0.0.1/Bellcore-dr2>');
      expect(header(invite, 'Call-Info')).toBeNull();
      // Agent 23 works on a headset: auto-answer replaces the queue's ring.
      expect((await admin('PATCH', '/api/v1/agents/23', { autoAnswer: true })).body).toMatchObject({ autoAnswer: true });
      await waitState('23', 'ready');
      invite = await inviteAtAgentPhone();
      expect(header(invite, 'Alert-Info')).toBe('<http://127.0.0.1>;info=alert-autoanswer');
      expect(header(invite, 'Call-Info')).toBe('<sip:127.0.0.1>;answer-after=0');
      expect(displayName(invite, 'From')).toBe('SUP:4930222333');
    } finally {
      await admin('PATCH', '/api/v1/queues/support', { callerIdTemplate: null, alertInfo: null });
      await admin('PATCH', '/api/v1/agents/23', { autoAnswer: false });
    }
  });

  it('a caller who hangs up while waiting is an abandon, with the wait', async () => {
    await admin('POST', '/api/v1/agents/23/state', { state: 'paused', pauseCode: 1 }); // logged in (the queue is staffed), not ready
    const placed = new Date(Date.now() - 50);
    const calling = customer({ hangUpAfter: 3000 });
    await callersWaiting(1, 'the caller waiting');
    const caller = await calling;
    expect(caller.code, caller.output).toBe(0);
    const events = await queueEventsOfCaller(placed, 'abandon');
    expect(events.map((e) => e.type)).toEqual(['join', 'abandon']);
    const cdr = await customerCdr(placed);
    expect(cdr).toMatchObject({ queue: 'support', agent: null });
    // Answered at once (nobody to ring), then 3 s of waiting: the wait is the CDR's.
    expect(events[1]!.waitMs).toBeGreaterThanOrEqual(3_000);
    expect(Math.abs(events[1]!.waitMs! / 1000 - cdr.waitSeconds!)).toBeLessThanOrEqual(1);
    await admin('POST', '/api/v1/agents/23/state', { state: 'ready' });
    await waitState('23', 'ready');
  });

  it('the agent puts the caller on hold for 2 s: the end\'s hold_ms, talk without it', async () => {
    await waitState('23', 'ready');
    const placed = new Date(Date.now() - 50);
    const phone = await agentPhone(PHONE_1, 'phone-hold'); // answers, 1 s, hold 2 s, resume
    const caller = await customer({ hangUpAfter: 6000 });
    expect(caller.code, caller.output).toBe(0);
    expect((await phone.done).code).toBe(0);
    const end = (await queueEventsOfCaller(placed, 'end')).at(-1)!;
    expect(end.holdMs).toBeGreaterThanOrEqual(1_900);
    expect(end.holdMs! + end.talkMs!).toBeLessThan(6_500); // both within the call
    const cdr = await customerCdr(placed);
    expect(Math.abs((end.holdMs! + end.talkMs!) / 1000 - cdr.talkSeconds!)).toBeLessThanOrEqual(1);
  });

  it('the agent blind-transfers the caller (REFER) to another desk phone: transfer, then the end after wrap-up', async () => {
    await waitState('23', 'ready');
    const placed = new Date(Date.now() - 50);
    const target = await agentPhone(PHONE_2, 'phone-answer');
    const agentSide = await transferringAgentPhone(PHONE_1, PHONE_2);
    const caller = await customer({ hangUpAfter: 8000 });
    expect(caller.code, caller.output).toBe(0);
    expect((await agentSide.done).code, (await agentSide.done).output).toBe(0); // told 200 OK, hung up
    expect((await target.done).code).toBe(0); // 6102 rang, answered, talked to the caller
    const events = await queueEventsOfCaller(placed, 'end');
    expect(events.map((e) => `${e.type}:${e.agent ?? ''}`)).toEqual(['join:', 'offer:23', 'answer:23', 'transfer:23', 'end:23']);
    expect(events[3]!.details).toEqual({ target: PHONE_2, kind: 'blind' });
    expect(events[4]!.wrapUpMs).toBeGreaterThanOrEqual(2_000);
    const cdr = await customerCdr(placed);
    expect(cdr).toMatchObject({ queue: 'support', agent: '23', endedBy: 'transfer' });
    await waitState('23', 'ready');
  });

  it('pause with a reason code (*932), an unknown code is refused by voice, a pause that cannot be stored is told, unpause (*94)', async () => {
    const unknown = await fromPhone(PHONE_1, '*939', [], { waitForBye: true });
    expect(unknown.code, unknown.output).toBe(0);
    expect(await agent('23')).toMatchObject({ state: 'ready' });
    // A pause Postgres refuses (a trigger raising, as if it were down): the agent hears that the
    // system is busy, not "paused", and stays ready.
    const conn = openDb(world.db);
    try {
      await sql`create function pbx_test_refuse_pause() returns trigger language plpgsql as $$ begin raise exception 'refused for the test'; end $$`.execute(conn);
      await sql`create trigger pbx_test_refuse_pause before update on agents for each row when (new.state = 'paused') execute function pbx_test_refuse_pause()`.execute(conn);
      const mark = daemon.logs.length;
      const refused = await fromPhone(PHONE_1, '*932', [], { waitForBye: true });
      expect(refused.code, refused.output).toBe(0);
      expect(daemon.logs.slice(mark).find((l) => l.msg === 'agent feature code')).toMatchObject({ said: ['sound:all-circuits-busy-now', 'sound:please-try-call-later'] });
      expect(await agent('23')).toMatchObject({ state: 'ready' });
    } finally {
      await sql`drop trigger if exists pbx_test_refuse_pause on agents`.execute(conn);
      await sql`drop function if exists pbx_test_refuse_pause()`.execute(conn);
      await conn.destroy();
    }
    expect((await fromPhone(PHONE_1, '*932', [], { waitForBye: true })).code).toBe(0);
    expect(await agent('23')).toMatchObject({ state: 'paused', pauseCode: 2 });
    await waitLamp('23', 'Hold');
    // A caller now waits: the only agent is paused.
    const phone = await agentPhone(PHONE_1, 'phone-answer');
    const caller = customer({ hangUpAfter: 9000 }); // the queue answers at once; the caller stays 9 s
    await callersWaiting(1, 'caller waiting');
    await holdFor(2000, 'room for a wrong offer to the paused agent to show (two decision ticks)');
    expect(await stateOf('23')).toBe('paused');
    expect((await admin('GET', '/api/v1/queues/support/live')).body.waiting).toHaveLength(1);
    expect((await fromPhone(PHONE_1, '*94', [], { waitForBye: true })).code).toBe(0);
    expect((await caller).code).toBe(0); // offered once the agent was back, answered, talked 2 s
    expect((await phone.done).code).toBe(0);
  });

  it('an unanswered offer goes to the next agent; the agent who missed it is paused (missed)', async () => {
    await waitState('23', 'ready');
    await login(PHONE_2, '24', '5689'); // logs in after 23: 23 has been idle longer and is offered first
    const ringing = await agentPhone(PHONE_1, 'phone-no-answer');
    const answering = await agentPhone(PHONE_2, 'phone-answer');
    const since = new Date(Date.now() - 50);
    const calling = customer({ hangUpAfter: 8000 }); // 5 s ringing agent 23, then agent 24
    // While 23's phone rings, the live views say so: the queue's names 23, the call's is ringing.
    const inQueue = await eventually(async () => {
      const w = ((await admin('GET', '/api/v1/queues/support/live')).body as { waiting: { state: string; agents: string[] }[] }).waiting;
      return w[0]?.state === 'ringing' ? w : undefined;
    }, 5_000, 'the caller listed as ringing');
    expect(inQueue).toEqual([expect.objectContaining({ state: 'ringing', agents: ['23'] })]);
    expect(await stateOf('23')).toBe('reserved');
    await eventually(async () => {
      const calls = (await admin('GET', '/api/v1/calls/live')).body.items as { callerNumber: string; state: string }[];
      return calls.some((c) => c.state === 'ringing') ? true : undefined;
    }, 5_000, 'the live call ringing');
    const caller = await calling;
    expect(caller.code, caller.output).toBe(0);
    expect((await ringing.done).code).toBe(0); // rang 5 s, cancelled
    expect((await answering.done).code).toBe(0);
    expect(await agent('23')).toMatchObject({ state: 'paused', pauseCode: 0, pauseReason: 'missed' });
    // The CDR names agent 24 on its desk phone; the 5 s and more before 24 answered are wait, not talk.
    const cdr = await customerCdr(since);
    expect(cdr).toMatchObject({ queue: 'support', agent: '24', answeredBy: PHONE_2, endedBy: 'caller' });
    expect(cdr.waitSeconds).toBeGreaterThanOrEqual(5);
    expect(cdr.talkSeconds).toBeGreaterThanOrEqual(1);
    expect(cdr.talkSeconds).toBeLessThanOrEqual(cdr.durationSeconds - 5);
    expect(cdr.billableSeconds).toBe(cdr.talkSeconds);
    expect(cdr.waitSeconds! + cdr.talkSeconds!).toBeGreaterThanOrEqual(cdr.durationSeconds - 1);
    await admin('POST', '/api/v1/agents/23/state', { state: 'ready' });
  });

  it('two calls and one agent: the second caller waits until the agent is free', async () => {
    await admin('POST', '/api/v1/agents/24/state', { state: 'logged-out' });
    await waitLamp('24', 'Unavailable'); // a supervisor's change reaches the lamp too
    await waitState('23', 'ready');
    const first = await agentPhone(PHONE_1, 'phone-answer');
    const one = customer({ hangUpAfter: 3000 });
    await eventually(async () => ((await stateOf('23')) === 'on-call' ? true : undefined), 10_000, 'first call connected');
    const two = customer({ hangUpAfter: 8000 });
    // the second one waits; nobody rings twice
    await callersWaiting(1, 'the second caller waiting');
    expect(await stateOf('23')).toBe('on-call');
    expect((await one).code).toBe(0);
    expect((await first.done).code).toBe(0);
    const second = await agentPhone(PHONE_1, 'phone-answer'); // the same desk phone, next call
    expect((await two).code).toBe(0);
    expect((await second.done).code).toBe(0);
  });

  it('the agent hangs up first: the CDR says the agent ended the call, and names the agent', async () => {
    await waitState('23', 'ready');
    const phone = await agentPhone(PHONE_1, 'phone-answer-hangup'); // answers, talks 4 s, hangs up
    const since = new Date(Date.now() - 50);
    const caller = await customer({ waitForBye: true });
    expect(caller.code, caller.output).toBe(0);
    expect((await phone.done).code).toBe(0);
    const cdr = await customerCdr(since);
    expect(cdr).toMatchObject({ queue: 'support', agent: '23', answeredBy: PHONE_1, endedBy: 'agent' });
    expect(cdr.talkSeconds).toBeGreaterThanOrEqual(3);
  });

  it('max wait: the caller hears the position announcement, then goes to the overflow (an extension)', async () => {
    const q = await admin('POST', '/api/v1/queues', {
      name: 'overflowing', strategy: 'longest-idle', slSeconds: 10, joinEmpty: true, leaveWhenEmpty: false, maxWaitSeconds: 14, announceSeconds: 10,
      overflow: { kind: 'extension', number: PHONE_2 },
    });
    expect(q.status, JSON.stringify(q.body)).toBe(201);
    const route = await admin('POST', '/api/v1/inbound-routes', { name: 'overflow line', didPattern: '4930777001', target: { kind: 'queue', queue: 'overflowing' } });
    expect(route.status, JSON.stringify(route.body)).toBe(201);
    const overflow = await agentPhone(PHONE_2, 'phone-answer');
    const mark = daemon.logs.length;
    const scenarioFile = await dtmfScenario([], { hangUpAfter: 18_000 });
    const caller = await sippCall({ scenario: 'uac-long-call', scenarioFile, dialed: '4930777001', sipPort: world.sipPort, user: '4930222333', password: 'unused', localIp: CARRIER_IP, timeoutS: 60 });
    expect(caller.code, caller.output).toBe(0);
    expect((await overflow.done).code).toBe(0); // rang and answered after 14 s in the queue
    const said = daemon.logs.slice(mark);
    expect(said.find((l) => l.msg === 'position announced')).toMatchObject({ position: 1 });
    expect(said.some((l) => l.msg === 'caller left queue' && l['outcome'] === 'timeout')).toBe(true);
  });

  it('a daemon restart with a caller waiting: the caller keeps their place and is served after', async () => {
    await admin('POST', '/api/v1/agents/23/state', { state: 'paused', pauseCode: 1 });
    // Served after the restart: the agent's phone answers, talks 4 s and hangs up; the caller gets
    // the PBX's BYE (no fixed call length to sit out).
    const phone = await agentPhone(PHONE_1, 'phone-answer-hangup');
    const caller = customer({ waitForBye: true });
    const joined = Date.now();
    await callersWaiting(1, 'caller waiting');
    await daemon.kill();
    ({ daemon, admin } = await startReadyDaemon(daemonEnv()));
    await daemon.waitForLog((l) => l.msg === 'caller joined queue', 15_000);
    const live = await admin('GET', '/api/v1/queues/support/live');
    expect(live.body.waiting).toHaveLength(1);
    expect(live.body.waiting[0].waitingSeconds).toBeGreaterThanOrEqual(Math.floor((Date.now() - joined) / 1000) - 1); // its place kept
    expect((await admin('POST', '/api/v1/agents/23/state', { state: 'ready' })).status).toBe(200);
    expect((await phone.done).code).toBe(0); // offered by the new daemon, answered, hung up
    expect((await caller).code).toBe(0); // connected to the agent, then the PBX's BYE
  });

  it('a call that ends while the daemon is down: after the restart its agent is on the call no more, and is offered the next', async () => {
    await waitState('23', 'ready');
    const since = await sinceSettled('23');
    const phone = await agentPhone(PHONE_1, 'phone-answer');
    const caller = customer({ hangUpAfter: 6000 });
    await eventually(async () => ((await stateOf('23')) === 'on-call' ? true : undefined), 10_000, 'call connected');
    await daemon.kill();
    expect((await caller).code).toBe(0); // hung up while no daemon was running
    ({ daemon, admin } = await startReadyDaemon(daemonEnv()));
    expect((await phone.done).code).toBe(0); // the agent's leg is hung up by the new daemon
    await waitState('23', 'ready');
    expect(await trail('23', since)).toEqual(['ready->reserved', 'reserved->on-call', 'on-call->ready']);
    // Free for the next caller.
    const next = await agentPhone(PHONE_1, 'phone-answer');
    const served = await customer({ hangUpAfter: 2000 });
    expect(served.code).toBe(0);
    expect((await next.done).code).toBe(0);
  });

  it('callback: after 10 s the caller presses * and hangs up keeping their place; the agent is rung first, then the caller is called back', async () => {
    const q = await admin('POST', '/api/v1/queues', { name: 'callbacks', strategy: 'longest-idle', callbackAfterSeconds: 10, callbackRetries: 1, announceSeconds: 0, wrapUpSeconds: 0 });
    expect(q.status, JSON.stringify(q.body)).toBe(201);
    expect((await admin('PUT', '/api/v1/queues/callbacks/members', { agent: '23', penalty: 0 })).status).toBeLessThan(300);
    expect((await admin('POST', '/api/v1/inbound-routes', { name: 'callback line', didPattern: '4930777002', target: { kind: 'queue', queue: 'callbacks' } })).status).toBe(201);
    await admin('POST', '/api/v1/agents/23/state', { state: 'paused', pauseCode: 1 }); // busy elsewhere: the caller waits
    const since = new Date(Date.now() - 100);
    const scenarioFile = await dtmfScenario([{ pause: 11_500 }, { digit: '*' }], { waitForBye: true });
    const caller = await sippCall({ scenario: 'uac-long-call', scenarioFile, dialed: '4930777002', sipPort: world.sipPort, user: '4930222333', password: 'unused', localIp: CARRIER_IP, timeoutS: 60 });
    expect(caller.code, caller.output).toBe(0); // thanked and hung up by the PBX

    const carrierLog = path.join(tmpdir(), `pbx-e2e-acd-carrier-${carrierPort}.log`);
    const customer = await startCarrier(CARRIER_IP, carrierPort, carrierLog);
    const phone = await agentPhone(PHONE_1, 'phone-answer-hangup');
    expect((await admin('POST', '/api/v1/agents/23/state', { state: 'ready' })).status).toBe(200);
    expect((await phone.done).code).toBe(0); // rang first, talked, hung up
    expect((await customer.done).code).toBe(0); // called back through the carrier
    expect(await readFile(carrierLog, 'utf8')).toContain('4930222333');

    const db = openDb(world.db);
    const cb = await eventually(async () => {
      const rows = await sql<{ state: string; attempts: number; call_id: string }>`select state, attempts, call_id from callbacks order by id desc limit 1`.execute(db);
      return rows.rows[0]?.state === 'done' ? rows.rows[0] : undefined;
    }, 15_000, 'callback done');
    await db.destroy();
    expect(cb.attempts).toBe(1);
    const original = cb.call_id.replace(/-cb$/, '');
    type CallbackCdr = { callId: string; linkedId: string; endedBy: string; dialedNumber: string; disposition: string; agent: string | null; queue: string | null; answeredBy: string | null; startedAt: string; answeredAt: string | null; waitSeconds: number; talkSeconds: number; billableSeconds: number; durationSeconds: number };
    const cdrOfCallback = async () => {
      const cdrs = (await admin('GET', `/api/v1/cdrs?from=${encodeURIComponent(since.toISOString())}&limit=20`)).body.items as CallbackCdr[];
      const callback = cdrs.find((c) => c.callId !== original && c.linkedId === original);
      return callback ? { cdrs, callback } : undefined;
    };
    const { cdrs, callback } = await eventually(cdrOfCallback, 15_000, "the callback's CDR");
    expect(cdrs.find((c) => c.callId === original)).toMatchObject({ endedBy: 'callback', queue: 'callbacks', agent: null, talkSeconds: 0 });
    // The callback's CDR names the agent, the queue and the customer; wait (the agent's phone and
    // the customer's ringing) is apart from talk (from the customer's answer); the agent hung up.
    expect(callback).toMatchObject({ dialedNumber: '4930222333', disposition: 'ANSWERED', agent: '23', queue: 'callbacks', answeredBy: '4930222333', endedBy: 'agent' });
    expect(callback.billableSeconds).toBe(callback.talkSeconds);
    expect(callback.waitSeconds + callback.talkSeconds).toBeGreaterThanOrEqual(callback.durationSeconds - 1);
    expect(new Date(callback.answeredAt!).getTime()).toBeGreaterThan(new Date(callback.startedAt).getTime());
    // One caller offered, who asked for a callback; the callback the agent took is counted apart.
    const live = (await admin('GET', '/api/v1/queues/callbacks/live')).body as { today: Record<string, number> };
    expect(live.today).toMatchObject({ offered: 1, answered: 0, abandoned: 0, callbacksRequested: 1, callbacksAnswered: 1 });
  });
  it('skills: an IVR flow asks for French; the agent who speaks it gets the call though the other has been idle longer', async () => {
    await waitState('23', 'ready');
    await login(PHONE_2, '24', '5689'); // 23 has been idle longer: longest-idle would pick 23
    // Skills changed through the API reach the running ACD (its routing view listens for changes).
    expect((await admin('PATCH', '/api/v1/agents/23', { skills: { french: 1 } })).status).toBe(200);
    expect((await admin('PATCH', '/api/v1/agents/24', { skills: { french: 4 } })).status).toBe(200);
    // The handset shows one variable the flow collected (screen pop on the handset).
    const q = await admin('POST', '/api/v1/queues', { name: 'skilled', strategy: 'skills', ringTimeoutSeconds: 10, wrapUpSeconds: 0, announceSeconds: 0, callerIdTemplate: 'FR:{caller} {account}' });
    expect(q.status, JSON.stringify(q.body)).toBe(201);
    for (const number of ['23', '24']) expect((await admin('PUT', '/api/v1/queues/skilled/members', { agent: number, penalty: 0 })).status).toBeLessThan(300);
    const flow = await admin('POST', '/api/v1/flows', {
      name: 'french-line',
      definition: {
        language: 'en',
        start: 'french',
        nodes: {
          french: { kind: 'set', variable: 'queue_skills', value: 'french:3', next: 'account' },
          account: { kind: 'set', variable: 'account', value: '98765', next: 'queue' },
          queue: { kind: 'transfer', target: { kind: 'queue', queue: 'skilled' } },
        },
      },
    });
    expect(flow.status, JSON.stringify(flow.body)).toBe(201);
    expect((await admin('POST', '/api/v1/flows/french-line/publish')).status).toBe(200);
    expect((await admin('POST', '/api/v1/inbound-routes', { name: 'french line', didPattern: '4930777003', target: { kind: 'flow', flow: 'french-line' } })).status).toBe(201);

    const since = await sinceSettled('24', '23');
    const phone = await agentPhone(PHONE_2, 'phone-answer');
    const scenarioFile = await dtmfScenario([], { hangUpAfter: 4000 });
    const caller = await sippCall({ scenario: 'uac-long-call', scenarioFile, dialed: '4930777003', sipPort: world.sipPort, user: '4930222333', password: 'unused', localIp: CARRIER_IP, timeoutS: 60 });
    expect(caller.code, caller.output).toBe(0);
    expect((await phone.done).code).toBe(0);
    const invite = await lastInvite(path.join(tmpdir(), `pbx-e2e-acd-${PHONE_2}-${ports.get(PHONE_2)}.log.msg`));
    expect(displayName(invite, 'From')).toBe('FR:4930222333 98765');
    await waitState('24', 'ready');
    expect(await trail('24', since)).toEqual(['ready->reserved', 'reserved->on-call', 'on-call->ready']);
    expect(await trail('23', since)).toEqual([]); // never offered: French 1 is below the 3 asked for
  });

  it('ring-all: both agents\' phones ring, the first to answer gets the call, the other stops ringing and stays ready', async () => {
    const q = await admin('POST', '/api/v1/queues', { name: 'everyone', strategy: 'ring-all', ringTimeoutSeconds: 10, wrapUpSeconds: 0, announceSeconds: 0 });
    expect(q.status, JSON.stringify(q.body)).toBe(201);
    for (const number of ['23', '24']) expect((await admin('PUT', '/api/v1/queues/everyone/members', { agent: number, penalty: 0 })).status).toBeLessThan(300);
    expect((await admin('POST', '/api/v1/inbound-routes', { name: 'everyone line', didPattern: '4930777004', target: { kind: 'queue', queue: 'everyone' } })).status).toBe(201);
    await waitState('23', 'ready');
    await waitState('24', 'ready');
    const since = await sinceSettled('24', '23');
    const ringing = await agentPhone(PHONE_1, 'phone-no-answer');
    const answering = await agentPhone(PHONE_2, 'phone-answer');
    const scenarioFile = await dtmfScenario([], { hangUpAfter: 4000 });
    const caller = await sippCall({ scenario: 'uac-long-call', scenarioFile, dialed: '4930777004', sipPort: world.sipPort, user: '4930222333', password: 'unused', localIp: CARRIER_IP, timeoutS: 60 });
    expect(caller.code, caller.output).toBe(0);
    expect((await answering.done).code).toBe(0);
    expect((await ringing.done).code).toBe(0); // its INVITE came, then the CANCEL once 24 answered
    await waitState('24', 'ready');
    expect(await trail('24', since)).toEqual(['ready->reserved', 'reserved->on-call', 'on-call->ready']);
    // Let go without a missed offer (no pause): ready again for the next call.
    expect(await trail('23', since)).toEqual(['ready->reserved', 'reserved->ready']);
    expect(await agent('23')).toMatchObject({ state: 'ready' });
  });
  it('a callback waiting when the daemon restarts is taken up by the new daemon at its place', async () => {
    await admin('POST', '/api/v1/agents/23/state', { state: 'paused', pauseCode: 1 }); // busy: the callback waits
    const scenarioFile = await dtmfScenario([{ pause: 11_500 }, { digit: '*' }], { waitForBye: true });
    const caller = await sippCall({ scenario: 'uac-long-call', scenarioFile, dialed: '4930777002', sipPort: world.sipPort, user: '4930222444', password: 'unused', localIp: CARRIER_IP, timeoutS: 60 });
    expect(caller.code, caller.output).toBe(0);
    const db = openDb(world.db);
    try {
      const newest = async () => (await sql<{ id: string; state: string; attempts: number }>`select id, state, attempts from callbacks where caller_number = '4930222444' order by id desc limit 1`.execute(db)).rows[0];
      expect(await newest()).toMatchObject({ state: 'waiting', attempts: 0 });
      await daemon.kill();
      ({ daemon, admin } = await startReadyDaemon(daemonEnv()));
      await daemon.waitForLog((l) => l.msg === 'callbacks waiting from before the restart taken up again', 15_000);

      const carrierLog = path.join(tmpdir(), `pbx-e2e-acd-carrier-restart-${carrierPort}.log`);
      const customerLeg = await startCarrier(CARRIER_IP, carrierPort, carrierLog);
      const phone = await agentPhone(PHONE_1, 'phone-answer-hangup');
      expect((await admin('POST', '/api/v1/agents/23/state', { state: 'ready' })).status).toBe(200);
      expect((await phone.done).code).toBe(0); // the new daemon rang the agent first
      expect((await customerLeg.done).code).toBe(0); // then called the customer back
      expect(await readFile(carrierLog, 'utf8')).toContain('4930222444');
      await eventually(async () => ((await newest())?.state === 'done' ? true : undefined), 15_000, 'callback done');
    } finally {
      await db.destroy();
    }
  });
});
