/**
 * Post-call survey end to end (docs/acd.md#post-call-survey): a queue with a survey flow, an agent
 * on a SIPp desk phone, a caller from a carrier (SIPp on 127.0.0.9). When the agent's phone hangs
 * up, the caller stays on the line and is asked the survey question; their key (RFC 4733) is stored
 * in survey_responses with the queue call, the queue and the agent. A caller who hangs up during
 * the question is stored as no response (null); a caller who hangs up on the agent is not surveyed.
 * The queue call's CDR stays the conversation (endedBy agent); the survey is the next part.
 *
 * Digits within one call go in ascending pcap order (test/support/sipp-dtmf.ts): agent number "12",
 * PIN "3579#".
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Daemon, eventually } from '../support/daemon.js';
import { registerPhone, sippCall, startPhone, type SippResult } from '../support/sipp.js';
import { openDb } from '../support/db.js';
import { freePort } from '../support/ports.js';
import { apiClient, createScriptedExtension, startReadyDaemon } from '../support/pbx.js';
import { publishCsatSurvey } from '../support/survey-flow.js';
import { dtmfScenario, type CallerEnd, type CallerStep } from '../support/sipp-dtmf.js';

const world = inject('e2e');
const CARRIER_IP = '127.0.0.9';
const DID = '4930777050';
const PHONE = '6151';
const AGENT = '12';
const QUEUE = 'survey-line';
const FLOW = 'after-call-survey';
let daemon: Daemon;
let admin: ReturnType<typeof apiClient>;
let password = '';
let db: ReturnType<typeof openDb>;
let queueId = '';
let agentId = '';

interface Cdr {
  callId: string;
  linkedId: string;
  endedBy: string;
  agent: string | null;
  queue: string | null;
  answeredBy: string | null;
  talkSeconds: number | null;
  durationSeconds: number;
  digits: string;
  ivrPath: { flows: { name: string; version: number }[]; path: { node: string; kind: string; digits?: string; score?: number | null; outcome?: string }[] } | null;
}

async function agentPhone(behaviour: 'phone-answer' | 'phone-answer-hangup') {
  const port = await freePort(true);
  expect((await registerPhone({ sipPort: world.sipPort, ext: PHONE, password, port })).code).toBe(0);
  return startPhone(behaviour, port, path.join(tmpdir(), `pbx-e2e-survey-${PHONE}-${port}.log`));
}

/** A caller from outside, through the carrier, to the queue's DID. */
async function customer(steps: CallerStep[], end: CallerEnd): Promise<SippResult> {
  const scenarioFile = await dtmfScenario(steps, end);
  return sippCall({ scenario: 'uac-long-call', scenarioFile, dialed: DID, sipPort: world.sipPort, user: '4930555777', password: 'unused', localIp: CARRIER_IP, timeoutS: 90 });
}

const stateOf = async () => (await admin('GET', `/api/v1/agents/${AGENT}`)).body.state as string;
const waitReady = () => eventually(async () => ((await stateOf()) === 'ready' ? true : undefined), 15_000, `agent ${AGENT} ready`);

/** The CDRs of the calls to the survey line since `since`, oldest first, once `count` are written. */
function cdrsSince(since: Date, count: number): Promise<Cdr[]> {
  const from = encodeURIComponent(since.toISOString());
  return eventually(async () => {
    const items = (await admin('GET', `/api/v1/cdrs?dialed=${DID}&from=${from}&limit=10`)).body.items as Cdr[] | undefined;
    return items && items.length >= count ? [...items].reverse() : undefined;
  }, 15_000, `${count} CDR(s) of the survey line`);
}

const responsesOf = (callId: string) => db.selectFrom('survey_responses').select(['call_id', 'queue_id', 'agent_id', 'question', 'scale', 'score']).where('call_id', '=', callId).execute();

beforeAll(async () => {
  ({ daemon, admin } = await startReadyDaemon(world.daemonEnv));
  db = openDb(world.db);
  password = await createScriptedExtension(admin, world.db, { number: PHONE, displayName: 'Survey Desk' });
  const trunk = await admin('POST', '/api/v1/trunks', { name: 'survey-carrier', kind: 'ip', host: CARRIER_IP, port: await freePort(true), codecs: ['ulaw'] });
  expect(trunk.status, JSON.stringify(trunk.body)).toBe(201);
  await publishCsatSurvey(admin, FLOW);
  const q = await admin('POST', '/api/v1/queues', { name: QUEUE, strategy: 'longest-idle', ringTimeoutSeconds: 10, wrapUpSeconds: 0, announceSeconds: 0, surveyFlow: FLOW });
  expect(q.status, JSON.stringify(q.body)).toBe(201);
  expect(q.body.surveyFlow).toBe(FLOW);
  queueId = q.body.id;
  const a = await admin('POST', '/api/v1/agents', { number: AGENT, name: 'Sue Survey', pin: '3579' });
  expect(a.status, JSON.stringify(a.body)).toBe(201);
  agentId = (await db.selectFrom('agents').select('id').where('number', '=', AGENT).executeTakeFirstOrThrow()).id; // the API shows numbers
  expect((await admin('PUT', `/api/v1/queues/${QUEUE}/members`, { agent: AGENT, penalty: 0 })).status).toBeLessThan(300);
  const route = await admin('POST', '/api/v1/inbound-routes', { name: 'survey line', didPattern: DID, target: { kind: 'queue', queue: QUEUE } });
  expect(route.status, JSON.stringify(route.body)).toBe(201);
  // *91, agent number (ended by silence), PIN and '#'.
  const steps: CallerStep[] = [{ pause: 800 }, { digit: '1' }, { digit: '2' }, { pause: 3500 }, { pause: 800 }, ...[...'3579#'].map((digit) => ({ digit }))];
  const login = await sippCall({ scenario: 'uac-long-call', scenarioFile: await dtmfScenario(steps, { waitForBye: true }), dialed: '*91', sipPort: world.sipPort, user: PHONE, password, timeoutS: 60 });
  expect(login.code, login.output).toBe(0);
  await waitReady();
});

afterAll(async () => {
  for (const r of (await admin('GET', '/api/v1/inbound-routes')).body.items ?? []) if (r.didPattern === DID) await admin('DELETE', `/api/v1/inbound-routes/${r.id}`);
  await db?.destroy();
  await daemon?.stop();
  await writeFile(path.join(tmpdir(), 'pbx-e2e-survey-daemon.log'), (daemon?.logs ?? []).map((l) => JSON.stringify(l)).join('\n')).catch(() => undefined);
});

describe('post-call survey', () => {
  it('the agent hangs up; the caller stays, hears the question, presses 4: score 4 with the call, queue and agent', async () => {
    const since = new Date(Date.now() - 50);
    const phone = await agentPhone('phone-answer-hangup'); // answers, talks 4 s, hangs up
    // The agent hangs up about 4.5 s in; the key goes a few seconds later, into the question.
    const caller = await customer([{ pause: 8_000 }, { digit: '4' }], { waitForBye: true });
    expect(caller.code, caller.output).toBe(0); // thanked, then hung up by the flow
    expect((await phone.done).code).toBe(0);

    const [call, survey] = await cdrsSince(since, 2);
    // The queue call's CDR is the conversation: the agent ended it.
    expect(call).toMatchObject({ endedBy: 'agent', queue: QUEUE, agent: AGENT, answeredBy: PHONE, ivrPath: null });
    expect(call!.talkSeconds).toBeGreaterThanOrEqual(3);
    // The survey is the next part, linked to it; the flow hung up.
    expect(survey).toMatchObject({ callId: `${call!.callId}-s1`, linkedId: call!.callId, endedBy: 'system', queue: null, agent: null, answeredBy: null, digits: '4' });
    expect(survey!.ivrPath?.flows).toEqual([{ name: FLOW, version: 1 }]);
    expect(survey!.ivrPath?.path.map((p) => [p.node, p.kind, p.digits ?? null, p.score, p.outcome])).toEqual([
      ['csat', 'survey', '4', 4, 'next'],
      ['thanks', 'play', null, undefined, 'next'],
      ['bye', 'hangup', null, undefined, 'hangup'],
    ]);

    const rows = await eventually(async () => ((await responsesOf(call!.callId)).length > 0 ? responsesOf(call!.callId) : undefined), 10_000, 'the survey answer');
    expect(rows).toEqual([{ call_id: call!.callId, queue_id: queueId, agent_id: agentId, question: 'csat', scale: '1-5', score: 4 }]);
  });

  it('the caller hangs up during the question: no response (score null)', async () => {
    await waitReady();
    const since = new Date(Date.now() - 50);
    const phone = await agentPhone('phone-answer-hangup');
    const caller = await customer([], { hangUpAfter: 7_000 }); // the agent hung up about 4.5 s in
    expect(caller.code, caller.output).toBe(0);
    expect((await phone.done).code).toBe(0);

    const [call, survey] = await cdrsSince(since, 2);
    expect(call).toMatchObject({ endedBy: 'agent', queue: QUEUE, agent: AGENT });
    expect(survey).toMatchObject({ callId: `${call!.callId}-s1`, linkedId: call!.callId, endedBy: 'caller', digits: '' });
    expect(survey!.ivrPath?.path).toEqual([expect.objectContaining({ node: 'csat', kind: 'survey', score: null, outcome: 'caller-hangup' })]);
    const rows = await eventually(async () => ((await responsesOf(call!.callId)).length > 0 ? responsesOf(call!.callId) : undefined), 10_000, 'the no-response row');
    expect(rows).toEqual([{ call_id: call!.callId, queue_id: queueId, agent_id: agentId, question: 'csat', scale: '1-5', score: null }]);
  });

  it('the caller hangs up on the agent: nothing is surveyed', async () => {
    await waitReady();
    const since = new Date(Date.now() - 50);
    const phone = await agentPhone('phone-answer'); // stays until the caller hangs up
    const caller = await customer([], { hangUpAfter: 3_000 });
    expect(caller.code, caller.output).toBe(0);
    expect((await phone.done).code).toBe(0);
    const [call] = await cdrsSince(since, 1);
    expect(call).toMatchObject({ endedBy: 'caller', queue: QUEUE, agent: AGENT });
    await waitReady(); // the call is over on every side (wrap-up 0)
    const all = (await admin('GET', `/api/v1/cdrs?dialed=${DID}&from=${encodeURIComponent(since.toISOString())}&limit=10`)).body.items as Cdr[];
    expect(all.map((c) => c.callId)).toEqual([call!.callId]);
    expect(await responsesOf(call!.callId)).toEqual([]);
  });
});
