/**
 * Post-call survey, the API side, through the wired daemon against real Postgres: survey nodes are
 * checked when a flow is saved (422 flow-invalid naming node and field), a queue's surveyFlow
 * (400 naming body.surveyFlow for a flow that does not exist or is not published; null clears it),
 * a flow a queue surveys with cannot be deleted (409 flow-in-use naming the queue), and the
 * survey port the calls use (the queue's flow with its ids; answers stored once per call and
 * question, a score replacing no response but never the other way).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import type { App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { surveyPort } from '../../src/surveys/repository.js';
import { startTestApp } from '../support/app.js';

let app: App;
let admin: string;

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
const req = (method: Method, url: string, body?: unknown) =>
  app.http.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${admin}` }, ...(body === undefined ? {} : { payload: body as object }) });

const run = randomUUID().slice(0, 6);
const FLOW = `it-survey-${run}`;
const DRAFT_ONLY = `it-survey-draft-${run}`;
const QUEUE = `it-survey-q-${run}`;
const AGENT = `77${Math.floor(Math.random() * 9000 + 1000)}`;

const surveyFlow = (node: Record<string, unknown> = {}) => ({
  language: 'en',
  start: 'csat',
  nodes: {
    csat: { kind: 'survey', question: 'csat', scale: '1-5', prompt: { say: 'Rate us from 1 to 5.' }, next: 'nps', ...node },
    nps: { kind: 'survey', question: 'nps', scale: '0-10', prompt: { say: 'Would you recommend us? 0 to 10.' }, timeoutMs: 4000, maxRetries: 2, next: 'bye' },
    bye: { kind: 'hangup' },
  },
});

beforeAll(async () => {
  app = await startTestApp();
  admin = (await new AuthService(app.db).createToken(CLI_ACTOR, { username: 'it-survey-admin', name: 'it', ttlDays: 1, ensureRole: 'admin' })).token;
});

afterAll(async () => {
  await app?.stop();
});

describe('survey nodes in the flows API', () => {
  it('a flow with survey nodes is saved and published, defaults filled in', async () => {
    const created = await req('POST', '/flows', { name: FLOW, definition: surveyFlow() });
    expect(created.statusCode, created.body).toBe(201);
    expect((await req('POST', `/flows/${FLOW}/publish`)).statusCode).toBe(200);
    const got = (await req('GET', `/flows/${FLOW}`)).json<{ published: { definition: { nodes: Record<string, unknown> } } }>();
    expect(got.published.definition.nodes['csat']).toMatchObject({ kind: 'survey', scale: '1-5', question: 'csat' });
  });

  it.each([
    [{ scale: '1-7' }, 'scale', 'bad-shape'],
    [{ question: 'Customer Sat' }, 'question', 'bad-value'],
    [{ maxRetries: 9 }, 'maxRetries', 'bad-value'],
    [{ next: 'missing' }, 'next', 'unknown-node'],
    [{ question: 'nps' }, 'question', 'duplicate-question'],
    [{ prompt: { prompt: 'no-such-prompt' } }, 'prompt.prompt', 'unknown-prompt'],
  ])('a bad survey node %j is refused: 422 flow-invalid naming %s', async (patch, field, code) => {
    const r = await req('PUT', `/flows/${FLOW}/draft`, { definition: surveyFlow(patch) });
    expect(r.statusCode, r.body).toBe(422);
    const body = r.json<{ error: { code: string; details: { problems: { node: string; field: string; code: string }[] } } }>().error;
    expect(body.code).toBe('flow-invalid');
    const node = code === 'duplicate-question' ? 'nps' : 'csat';
    expect(body.details.problems).toContainEqual(expect.objectContaining({ node, field, code }));
  });
});

describe('a queue surveyFlow', () => {
  it('is set by name, shown by name, refused naming body.surveyFlow when unknown or unpublished, cleared with null', async () => {
    expect((await req('POST', '/flows', { name: DRAFT_ONLY, definition: surveyFlow() })).statusCode).toBe(201);
    const unknown = await req('POST', '/queues', { name: QUEUE, surveyFlow: `nope-${run}` });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json()).toMatchObject({ error: { code: 'validation-failed', details: { field: 'body.surveyFlow' } } });
    const created = await req('POST', '/queues', { name: QUEUE, surveyFlow: FLOW });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ name: QUEUE, surveyFlow: FLOW });
    expect((await req('GET', `/queues/${QUEUE}`)).json()).toMatchObject({ surveyFlow: FLOW });
    const unpublished = await req('PATCH', `/queues/${QUEUE}`, { surveyFlow: DRAFT_ONLY });
    expect(unpublished.statusCode).toBe(400);
    expect(unpublished.json()).toMatchObject({ error: { details: { field: 'body.surveyFlow' } } });
    expect((await req('PATCH', `/queues/${QUEUE}`, { surveyFlow: 'Not A Name' })).statusCode).toBe(400);
    // Other settings change without touching it.
    expect((await req('PATCH', `/queues/${QUEUE}`, { wrapUpSeconds: 5 })).json()).toMatchObject({ wrapUpSeconds: 5, surveyFlow: FLOW });
    const list = (await req('GET', '/queues')).json<{ items: { name: string; surveyFlow: string | null }[] }>();
    expect(list.items.find((q) => q.name === QUEUE)?.surveyFlow).toBe(FLOW);
  });

  it('the flow cannot be deleted while the queue surveys with it (409 naming the queue)', async () => {
    const r = await req('DELETE', `/flows/${FLOW}`);
    expect(r.statusCode).toBe(409);
    expect(r.json()).toMatchObject({ error: { code: 'flow-in-use', details: { surveyQueues: [QUEUE] } } });
  });

  it('the survey port finds the flow with the queue and agent ids, and stores answers once per call and question', async () => {
    const agent = await req('POST', '/agents', { number: AGENT, name: 'Survey Agent', pin: '2468' });
    expect(agent.statusCode, agent.body).toBe(201);
    const port = surveyPort(app.db);
    const queue = await app.db.selectFrom('queues').select('id').where('name', '=', QUEUE).executeTakeFirstOrThrow();
    const agentRow = await app.db.selectFrom('agents').select('id').where('number', '=', AGENT).executeTakeFirstOrThrow();
    expect(await port.surveyFor(QUEUE, AGENT)).toEqual({ flow: FLOW, queueId: queue.id, agentId: agentRow.id });
    expect(await port.surveyFor(QUEUE, null)).toEqual({ flow: FLOW, queueId: queue.id, agentId: null });
    expect(await port.surveyFor(`other-${run}`, AGENT)).toBeNull();

    const callId = `it-survey-call-${run}`;
    const base = { callId, queueId: queue.id, agentId: agentRow.id, scale: '1-5' as const };
    await port.record({ ...base, question: 'csat', score: null });
    await port.record({ ...base, question: 'csat', score: 4 }); // asked again, answered: replaces no response
    await port.record({ ...base, question: 'csat', score: null }); // never the other way
    await port.record({ ...base, question: 'nps', scale: '0-10', score: 10 });
    const rows = await app.db.selectFrom('survey_responses').select(['question', 'scale', 'score', 'queue_id', 'agent_id']).where('call_id', '=', callId).orderBy('question').execute();
    expect(rows).toEqual([
      { question: 'csat', scale: '1-5', score: 4, queue_id: queue.id, agent_id: agentRow.id },
      { question: 'nps', scale: '0-10', score: 10, queue_id: queue.id, agent_id: agentRow.id },
    ]);
  });

  it('cleared with null, the flow can be deleted', async () => {
    expect((await req('PATCH', `/queues/${QUEUE}`, { surveyFlow: null })).json()).toMatchObject({ surveyFlow: null });
    expect(await surveyPort(app.db).surveyFor(QUEUE, null)).toBeNull();
    expect((await req('DELETE', `/flows/${FLOW}`)).statusCode).toBe(204);
    await req('DELETE', `/queues/${QUEUE}`);
    await req('DELETE', `/agents/${AGENT}`);
    await req('DELETE', `/flows/${DRAFT_ONLY}`);
  });
});
