/**
 * ACD data layer and API through the wired daemon (src/app.ts) against real Postgres: agents
 * (PIN never returned, skills), queues (impossible settings refused naming the field, overflow
 * targets checked), membership, pause reasons, inbound routes and IVR flows to queues and the
 * refusals to delete what is in use, a supervisor forcing states (also refused ones), the state
 * log, offers under the row lock (20 concurrent on separate connections), PIN lockout, live views,
 * and the routing snapshot fed to the pure router.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { sql } from 'kysely';
import type { App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { createDb, createPool, type Db } from '../../src/db/database.js';
import { listPauseReasons, listQueueCalls } from '../../src/acd/admin-repository.js';
import { applyAgentEvent, checkAgentPin, deleteQueueCall, findAgentByExtension, findAgentByNumber, loadQueueSettings, loadSnapshotAgents, logQueueCall, upsertQueueCall, waitingCallOf } from '../../src/acd/call-repository.js';
import { AcdService, type AgentChange } from '../../src/acd/service.js';
import { flowsUsingQueue } from '../../src/flows/repository.js';
import { routeCalls } from '../../src/acd/router.js';
import { waitingCalls } from '../../src/acd/waiting-calls.js';
import { startTestApp } from '../support/app.js';

let app: App;
let admin: string;
let supervisor: string;
let viewer: string;

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
const req = (method: Method, url: string, body?: unknown, token = admin) =>
  app.http.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body as object }) });

/** 400 validation-failed naming `field`. */
async function expectField(res: Awaited<ReturnType<typeof req>>, field: string): Promise<void> {
  expect(res.statusCode, res.body).toBe(400);
  const { error } = res.json();
  expect(error.code).toBe('validation-failed');
  expect(error.message.startsWith(`${field}:`) || error.message.startsWith(`${field} `), error.message).toBe(true);
}

// Numbers and names no other integration file uses (they share the run's database).
const EXT = '5701'; // voicemail on, PIN set: a mailbox
const EXT_NO_VM = '5702';
const A1 = '7001';
const A2 = '7002';
const A3 = '7003';
const Q = 'it-acd-sales';
const Q2 = 'it-acd-support';

const agentId = async (number: string): Promise<string> => (await findAgentByNumber(app.db, number))!.id;
const queueId = async (name: string): Promise<string> =>
  (await app.db.selectFrom('queues').select('id').where('name', '=', name).executeTakeFirstOrThrow()).id;

beforeAll(async () => {
  app = await startTestApp();
  const auth = new AuthService(app.db);
  admin = (await auth.createToken(CLI_ACTOR, { username: 'it-acd-admin', name: 'it', ttlDays: 1, ensureRole: 'admin' })).token;
  supervisor = (await auth.createToken(CLI_ACTOR, { username: 'it-acd-supervisor', name: 'it', ttlDays: 1, ensureRole: 'supervisor' })).token;
  viewer = (await auth.createToken(CLI_ACTOR, { username: 'it-acd-viewer', name: 'it', ttlDays: 1, ensureRole: 'viewer' })).token;
  expect((await req('POST', '/extensions', { number: EXT, displayName: 'ACD Desk', voicemailPin: '4711' })).statusCode).toBe(201);
  expect((await req('POST', '/extensions', { number: EXT_NO_VM, displayName: 'ACD Other' })).statusCode).toBe(201);
});

afterAll(async () => {
  await app?.stop();
});

describe('pause reasons', () => {
  it('lists the seeded reasons, adds one, refuses duplicates, built-in and unknown deletes', async () => {
    const list = await req('GET', '/pause-reasons', undefined, viewer);
    expect(list.statusCode).toBe(200);
    expect(list.json().items.slice(0, 6)).toEqual([
      { code: 0, name: 'missed', system: true },
      { code: 1, name: 'break', system: false },
      { code: 2, name: 'lunch', system: false },
      { code: 3, name: 'meeting', system: false },
      { code: 4, name: 'training', system: false },
      { code: 5, name: 'after-call work', system: false },
    ]);
    const created = await req('POST', '/pause-reasons', { code: 7, name: 'coaching' });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toEqual({ code: 7, name: 'coaching', system: false });
    const dupCode = await req('POST', '/pause-reasons', { code: 7, name: 'other' });
    expect(dupCode.statusCode).toBe(409);
    expect(dupCode.json().error).toMatchObject({ code: 'pause-reason-exists', details: { field: 'body.code' } });
    const dupName = await req('POST', '/pause-reasons', { code: 8, name: 'lunch' });
    expect(dupName.json().error).toMatchObject({ code: 'pause-reason-exists', details: { field: 'body.name' } });
    await expectField(await req('POST', '/pause-reasons', { code: 0, name: 'zero' }), 'body.code');
    await expectField(await req('POST', '/pause-reasons', { code: 100, name: 'hundred' }), 'body.code');
    expect((await req('POST', '/pause-reasons', { code: 9, name: 'x' }, viewer)).statusCode).toBe(403);

    const system = await req('DELETE', '/pause-reasons/0');
    expect(system.statusCode).toBe(409);
    expect(system.json().error).toMatchObject({ code: 'pause-reason-in-use', details: { system: true } });
    const unknown = await req('DELETE', '/pause-reasons/98');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('pause-reason-not-found');
    expect((await req('DELETE', '/pause-reasons/7')).statusCode).toBe(204);
    expect((await listPauseReasons(app.db)).map((r) => r.code)).not.toContain(7);
  });
});

describe('agents', () => {
  it('creates agents: 201 without the PIN; duplicate number 409', async () => {
    const res = await req('POST', '/agents', { number: A1, name: 'Ada Agent', pin: '4826', skills: { billing: 3, french: 2 } });
    expect(res.statusCode, res.body).toBe(201);
    const body = res.json();
    expect(body).toMatchObject({
      number: A1, name: 'Ada Agent', skills: { billing: 3, french: 2 }, queues: [], state: 'logged-out', pauseCode: null, pending: null,
      extension: null, callId: null, missedOffers: 0, locked: false, lockedUntil: null,
    });
    expect(JSON.stringify(body)).not.toMatch(/pin|4826|scrypt/i);
    const row = await findAgentByNumber(app.db, A1);
    expect(row!.pin_hash).toMatch(/^scrypt\$/);

    expect((await req('POST', '/agents', { number: A2, name: 'Bo Agent', pin: '9163', skills: { billing: 1 } })).statusCode).toBe(201);
    expect((await req('POST', '/agents', { number: A3, name: 'Cy Agent', pin: '5093' })).statusCode).toBe(201);
    const dup = await req('POST', '/agents', { number: A1, name: 'Again', pin: '4826' });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error).toMatchObject({ code: 'agent-exists', details: { field: 'body.number' } });
  });

  it('refuses bad input naming the field', async () => {
    await expectField(await req('POST', '/agents', { number: '7', name: 'X', pin: '4826' }), 'body.number');
    await expectField(await req('POST', '/agents', { number: '7090', name: 'X', pin: '12' }), 'body.pin');
    await expectField(await req('POST', '/agents', { number: '7090', name: 'X', pin: '123456789' }), 'body.pin');
    await expectField(await req('POST', '/agents', { number: '7090', name: 'X', pin: '1111' }), 'body.pin');
    await expectField(await req('POST', '/agents', { number: '7090', name: 'X', pin: '4826', skills: { 'Bad Skill': 2 } }), 'body.skills.Bad Skill');
    await expectField(await req('POST', '/agents', { number: '7090', name: 'X', pin: '4826', skills: { billing: 6 } }), 'body.skills.billing');
    await expectField(await req('POST', '/agents', { number: '7090', name: 'X<y>', pin: '4826' }), 'body.name');
    const extra = await req('POST', '/agents', { number: '7090', name: 'X', pin: '4826', color: 'red' });
    expect(extra.json().error.details.problems[0]).toEqual({ field: 'body.color', message: 'unknown field "color"' });
    expect((await req('GET', '/agents/7090')).json().error.code).toBe('agent-not-found');
    expect((await req('POST', '/agents', { number: '7090', name: 'X', pin: '4826' }, viewer)).statusCode).toBe(403);
  });

  it('reads, changes and lists agents; every change audited', async () => {
    const patched = await req('PATCH', `/agents/${A1}`, { name: 'Ada Lovelace', skills: { billing: 4, german: 1 } });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({ name: 'Ada Lovelace', skills: { billing: 4, german: 1 } });
    expect(patched.json().skills.french).toBeUndefined();
    const one = await req('GET', `/agents/${A1}`, undefined, viewer);
    expect(one.json()).toMatchObject({ number: A1, name: 'Ada Lovelace' });
    const list = await req('GET', '/agents', undefined, viewer);
    expect(list.json().items.map((a: { number: string }) => a.number)).toEqual(expect.arrayContaining([A1, A2, A3]));
    expect((await req('PATCH', `/agents/${A1}`, {})).statusCode).toBe(400);
    expect((await req('PATCH', '/agents/7099', { name: 'Nobody' })).statusCode).toBe(404);

    const audit = await sql<{ action: string; actor_label: string; details: Record<string, unknown> }>`
      select action, actor_label, details from audit_log where entity = 'agent' and entity_id = ${await agentId(A1)} order by id`.execute(app.db);
    expect(audit.rows.map((r) => r.action)).toEqual(['agent.create', 'agent.update']);
    expect(audit.rows[1]).toMatchObject({ actor_label: 'user:it-acd-admin', details: { changed: ['name', 'skills'] } });
    expect(JSON.stringify(audit.rows)).not.toContain('4826');
  });
});

describe('queues', () => {
  it('creates a queue with defaults filled in; duplicate 409', async () => {
    const res = await req('POST', '/queues', {
      name: Q, strategy: 'skills', requiredSkills: [{ skill: 'billing', minLevel: 3 }],
      widening: [{ afterSeconds: 30, lowerBy: 1 }, { afterSeconds: 90, lowerBy: 'any' }], maxWaitSeconds: 600, callbackAfterSeconds: 120,
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({
      name: Q, strategy: 'skills', ringTimeoutSeconds: 15, wrapUpSeconds: 10, maxWaitSeconds: 600, maxLength: null, overflow: null, joinEmpty: false,
      leaveWhenEmpty: true, slSeconds: 20, slPercent: 80, announceSeconds: 30, missedOffersPause: 3, requiredSkills: [{ skill: 'billing', minLevel: 3 }],
      widening: [{ afterSeconds: 30, lowerBy: 1 }, { afterSeconds: 90, lowerBy: 'any' }], callbackAfterSeconds: 120, callbackRetries: 2, musicClass: 'default',
    });
    expect((await req('POST', '/queues', { name: Q2 })).statusCode).toBe(201);
    const dup = await req('POST', '/queues', { name: Q });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error.code).toBe('queue-exists');
    expect((await req('GET', `/queues/${Q}`, undefined, viewer)).json().name).toBe(Q);
    expect((await req('GET', '/queues', undefined, viewer)).json().items.map((q: { name: string }) => q.name)).toEqual(expect.arrayContaining([Q, Q2]));
    const missing = await req('GET', '/queues/it-acd-nope');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('queue-not-found');
  });

  it('refuses impossible settings naming the field', async () => {
    const bad = (extra: Record<string, unknown>) => req('POST', '/queues', { name: 'it-acd-bad', ...extra });
    await expectField(await bad({ slPercent: 120 }), 'body.slPercent');
    await expectField(await bad({ ringTimeoutSeconds: 0 }), 'body.ringTimeoutSeconds');
    await expectField(await bad({ wrapUpSeconds: 601 }), 'body.wrapUpSeconds');
    await expectField(await bad({ maxWaitSeconds: 5 }), 'body.maxWaitSeconds');
    await expectField(await bad({ maxLength: 0 }), 'body.maxLength');
    await expectField(await bad({ callbackAfterSeconds: 0 }), 'body.callbackAfterSeconds');
    await expectField(await bad({ announceSeconds: 5 }), 'body.announceSeconds');
    await expectField(await bad({ missedOffersPause: 11 }), 'body.missedOffersPause');
    await expectField(await bad({ strategy: 'fastest' }), 'body.strategy');
    await expectField(await bad({ callbackAfterSeconds: 60, callbackRetries: 9 }), 'body.callbackRetries');
    await expectField(await bad({ callbackAfterSeconds: 600, maxWaitSeconds: 300 }), 'body.callbackAfterSeconds');
    await expectField(await bad({ overflow: { kind: 'queue', queue: 'it-acd-bad' } }), 'body.overflow.queue');
    await expectField(await bad({ overflow: { kind: 'queue', queue: 'it-acd-nope' } }), 'body.overflow.queue');
    await expectField(await bad({ overflow: { kind: 'flow', flow: 'it-acd-nope' } }), 'body.overflow.flow');
    await expectField(await bad({ overflow: { kind: 'voicemail', mailbox: EXT_NO_VM } }), 'body.overflow.mailbox');
    await expectField(await bad({ overflow: { kind: 'voicemail', mailbox: '5799' } }), 'body.overflow.mailbox');
    await expectField(await bad({ overflow: { kind: 'extension', number: '5799' } }), 'body.overflow.number');
    await expectField(await bad({ widening: [{ afterSeconds: 30, lowerBy: 2 }, { afterSeconds: 60, lowerBy: 1 }] }), 'body.widening.1.lowerBy');
    await expectField(await bad({ widening: [{ afterSeconds: 30, lowerBy: 'any' }, { afterSeconds: 60, lowerBy: 2 }] }), 'body.widening.1.lowerBy');
    await expectField(await bad({ widening: [{ afterSeconds: 60, lowerBy: 1 }, { afterSeconds: 30, lowerBy: 2 }] }), 'body.widening.1.afterSeconds');
    await expectField(await bad({ requiredSkills: [{ skill: 'Billing', minLevel: 2 }] }), 'body.requiredSkills.0.skill');
    await expectField(await bad({ requiredSkills: [{ skill: 'billing', minLevel: 2 }, { skill: 'billing', minLevel: 3 }] }), 'body.requiredSkills.1.skill');
    await expectField(await bad({ requiredSkills: [{ skill: 'billing', minLevel: 6 }] }), 'body.requiredSkills.0.minLevel');
    await expectField(await req('POST', '/queues', { name: 'Bad Name' }), 'body.name');
    expect((await req('GET', '/queues/it-acd-bad')).statusCode).toBe(404);
  });

  it('changes settings, checked together with the ones kept; overflow targets that exist; no overflow loops', async () => {
    await expectField(await req('PATCH', `/queues/${Q}`, { maxWaitSeconds: 60 }), 'body.callbackAfterSeconds');
    const ok = await req('PATCH', `/queues/${Q}`, { overflow: { kind: 'voicemail', mailbox: EXT }, slPercent: 90 });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toMatchObject({ overflow: { kind: 'voicemail', mailbox: EXT }, slPercent: 90, strategy: 'skills', callbackAfterSeconds: 120 });
    expect((await req('PATCH', `/queues/${Q2}`, { overflow: { kind: 'queue', queue: Q } })).statusCode).toBe(200);
    const loop = await req('PATCH', `/queues/${Q}`, { overflow: { kind: 'queue', queue: Q2 } });
    await expectField(loop, 'body.overflow.queue');
    expect(loop.json().error.message).toContain(`${Q} -> ${Q2} -> ${Q}`);
    expect((await req('PATCH', `/queues/${Q2}`, { name: 'renamed' })).statusCode).toBe(400);
    expect((await req('PATCH', `/queues/${Q2}`, { slPercent: 50 }, viewer)).statusCode).toBe(403);
    // The extension is a queue's overflow: it cannot be deleted.
    const delExt = await req('DELETE', `/extensions/${EXT}`);
    expect(delExt.statusCode).toBe(409);
    expect(delExt.json().error.message).toContain(`queue ${Q} (overflow)`);
  });

  it('manages members: add, change penalty, list, remove', async () => {
    const put = await req('PUT', `/queues/${Q}/members`, { agent: A1, penalty: 2 });
    expect(put.statusCode, put.body).toBe(200);
    expect(put.json()).toEqual({ agent: A1, name: 'Ada Lovelace', penalty: 2, state: 'logged-out' });
    expect((await req('PUT', `/queues/${Q}/members`, { agent: A1, penalty: 0 })).json().penalty).toBe(0);
    expect((await req('PUT', `/queues/${Q}/members`, { agent: A2 })).statusCode).toBe(200);
    expect((await req('PUT', `/queues/${Q}/members`, { agent: A3, penalty: 5 })).statusCode).toBe(200);
    expect((await req('PUT', `/queues/${Q2}/members`, { agent: A3 })).statusCode).toBe(200);
    await expectField(await req('PUT', `/queues/${Q}/members`, { agent: '7099' }), 'body.agent');
    await expectField(await req('PUT', `/queues/${Q}/members`, { agent: A1, penalty: 101 }), 'body.penalty');
    expect((await req('PUT', '/queues/it-acd-nope/members', { agent: A1 })).json().error.code).toBe('queue-not-found');
    const members = await req('GET', `/queues/${Q}/members`, undefined, viewer);
    expect(members.json().items.map((m: { agent: string; penalty: number }) => [m.agent, m.penalty])).toEqual([[A1, 0], [A2, 0], [A3, 5]]);
    expect((await req('GET', `/agents/${A3}`)).json().queues).toEqual([{ queue: Q, penalty: 5 }, { queue: Q2, penalty: 0 }]);
    expect((await req('DELETE', `/queues/${Q2}/members/${A3}`)).statusCode).toBe(204);
    const again = await req('DELETE', `/queues/${Q2}/members/${A3}`);
    expect(again.statusCode).toBe(404);
    const audit = await sql<{ action: string }>`select action from audit_log where entity = 'queue' and entity_id = ${await queueId(Q)} order by id`.execute(app.db);
    expect(audit.rows.map((r) => r.action)).toEqual(['queue.create', 'queue.update', 'queue.member.add', 'queue.member.update', 'queue.member.add', 'queue.member.add']);
  });
});

describe('queues as targets, and what cannot be deleted while in use', () => {
  it('inbound routes send calls to a queue; the queue cannot be deleted while they do', async () => {
    const route = await req('POST', '/inbound-routes', { name: 'it-acd-did', didPattern: '4930888001', target: { kind: 'queue', queue: Q2 } });
    expect(route.statusCode, route.body).toBe(201);
    expect(route.json().target).toEqual({ kind: 'queue', queue: Q2 });
    expect((await req('GET', `/inbound-routes/${route.json().id}`, undefined, viewer)).json().target).toEqual({ kind: 'queue', queue: Q2 });
    await expectField(await req('POST', '/inbound-routes', { name: 'it-acd-bad', didPattern: '4930888002', target: { kind: 'queue', queue: 'it-acd-nope' } }), 'body.target.queue');

    // Q overflows to nothing that blocks; Q2 is used by the route and overflows to Q.
    const del = await req('DELETE', `/queues/${Q2}`);
    expect(del.statusCode).toBe(409);
    expect(del.json().error).toMatchObject({ code: 'queue-in-use', details: { inboundRoutes: ['it-acd-did'], flows: [], queues: [] } });
    const delQ = await req('DELETE', `/queues/${Q}`);
    expect(delQ.json().error).toMatchObject({ code: 'queue-in-use', details: { queues: [Q2] } });
    expect((await req('DELETE', `/inbound-routes/${route.json().id}`)).statusCode).toBe(204);
  });

  it('IVR flows may transfer to known queues only; a published flow keeps its queue from being deleted', async () => {
    const def = (queue: string) => ({ language: 'en', start: 'q', nodes: { q: { kind: 'transfer', target: { kind: 'queue', queue } } } });
    const unknown = await req('POST', '/flows', { name: 'it-acd-flow', definition: def('it-acd-nope') });
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json().error.details.problems).toEqual([expect.objectContaining({ node: 'q', field: 'target.queue', code: 'unknown-target' })]);
    expect((await req('POST', '/flows', { name: 'it-acd-flow', definition: def(Q2) })).statusCode).toBe(201);
    expect((await req('POST', '/flows/it-acd-flow/publish')).statusCode).toBe(200);
    const del = await req('DELETE', `/queues/${Q2}`);
    expect(del.statusCode).toBe(409);
    expect(del.json().error).toMatchObject({ code: 'queue-in-use', details: { flows: ['it-acd-flow'], inboundRoutes: [] } });

    // A queue overflowing to the flow keeps the flow.
    expect((await req('PATCH', `/queues/${Q2}`, { overflow: { kind: 'flow', flow: 'it-acd-flow' } })).statusCode).toBe(200);
    const delFlow = await req('DELETE', '/flows/it-acd-flow');
    expect(delFlow.statusCode).toBe(409);
    expect(delFlow.json().error).toMatchObject({ code: 'flow-in-use', details: { queues: [Q2] } });
  });

  it('callers in a queue keep it', async () => {
    const q = await req('POST', '/queues', { name: 'it-acd-busy' });
    expect(q.statusCode).toBe(201);
    await upsertQueueCall(app.db, { callId: 'it-acd-busy-1', queueId: q.json().id, callerNumber: '+4930123' });
    const del = await req('DELETE', '/queues/it-acd-busy');
    expect(del.statusCode).toBe(409);
    expect(del.json().error).toMatchObject({ code: 'queue-in-use', details: { waitingCalls: 1 } });
    expect(await deleteQueueCall(app.db, 'it-acd-busy-1')).toBe(true);
    expect((await req('DELETE', '/queues/it-acd-busy')).statusCode).toBe(204);
    expect((await req('GET', '/queues/it-acd-busy')).statusCode).toBe(404);
  });
});

describe('agent state: supervisor, state machine, claims', () => {
  it('refuses forcing a logged-out agent ready; the agent logs in at a phone', async () => {
    const res = await req('POST', `/agents/${A1}/state`, { state: 'ready' }, supervisor);
    expect(res.statusCode).toBe(409);
    expect(res.json().error).toMatchObject({ code: 'invalid-agent-transition', details: { from: 'logged-out', to: 'ready' } });
    const out = await req('POST', `/agents/${A1}/state`, { state: 'logged-out' }, supervisor);
    expect(out.json().error).toMatchObject({ code: 'invalid-agent-transition', details: { from: 'logged-out', to: 'logged-out' } });

    const login = await applyAgentEvent(app.db, await agentId(A1), { type: 'login' }, { fields: { extension: EXT } });
    expect(login?.ok).toBe(true);
    expect(login!.agent).toMatchObject({ state: 'ready', extension: EXT });
    expect(login!.agent.idle_since).toBeInstanceOf(Date);
    expect((await findAgentByExtension(app.db, EXT))?.number).toBe(A1);
  });

  it('forces paused (with a reason) and ready; checks the body; viewers may not', async () => {
    await expectField(await req('POST', `/agents/${A1}/state`, { state: 'paused' }, supervisor), 'body.pauseCode');
    await expectField(await req('POST', `/agents/${A1}/state`, { state: 'paused', pauseCode: 42 }, supervisor), 'body.pauseCode');
    await expectField(await req('POST', `/agents/${A1}/state`, { state: 'ready', pauseCode: 1 }, supervisor), 'body.pauseCode');
    await expectField(await req('POST', `/agents/${A1}/state`, { state: 'on-call' }, supervisor), 'body.state');
    expect((await req('POST', `/agents/${A1}/state`, { state: 'paused', pauseCode: 2 }, viewer)).statusCode).toBe(403);

    const paused = await req('POST', `/agents/${A1}/state`, { state: 'paused', pauseCode: 2 }, supervisor);
    expect(paused.statusCode, paused.body).toBe(200);
    expect(paused.json()).toMatchObject({ state: 'paused', pauseCode: 2, pauseReason: 'lunch', extension: EXT });
    // A reason in use cannot be deleted. The database is shared with the other integration files,
    // which may have their own agents paused for lunch at this moment: A1 must be among those named.
    const delReason = await req('DELETE', '/pause-reasons/2');
    expect(delReason.json().error).toMatchObject({ code: 'pause-reason-in-use', details: { agents: expect.arrayContaining([A1]) } });
    const ready = await req('POST', `/agents/${A1}/state`, { state: 'ready' }, admin);
    expect(ready.json()).toMatchObject({ state: 'ready', pauseCode: null, pauseReason: null });
  });

  it('never cuts a call: forcing ready while on-call is refused; a pause is parked, and can be taken back', async () => {
    const id = await agentId(A1);
    const qid = await queueId(Q);
    expect((await applyAgentEvent(app.db, id, { type: 'offer', callId: 'it-acd-call-1', queueId: qid }))?.ok).toBe(true);
    expect((await applyAgentEvent(app.db, id, { type: 'offer', callId: 'it-acd-call-2', queueId: qid }))?.ok).toBe(false);
    const answered = await applyAgentEvent(app.db, id, { type: 'answer', callId: 'it-acd-call-1' });
    expect(answered).toMatchObject({ ok: true, agent: { state: 'on-call', call_id: 'it-acd-call-1', queue_id: qid } });

    const refused = await req('POST', `/agents/${A1}/state`, { state: 'ready' }, supervisor);
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error).toMatchObject({ code: 'invalid-agent-transition', details: { from: 'on-call', to: 'ready' } });
    expect(refused.json().error.message).toContain('on-call');

    const parked = await req('POST', `/agents/${A1}/state`, { state: 'paused', pauseCode: 1 }, supervisor);
    expect(parked.statusCode).toBe(200);
    expect(parked.json()).toMatchObject({ state: 'on-call', callId: 'it-acd-call-1', pending: { kind: 'pause', pauseCode: 1, pauseReason: 'break' } });
    const busy = await req('DELETE', `/agents/${A1}`);
    expect(busy.statusCode).toBe(409);
    expect(busy.json().error).toMatchObject({ code: 'agent-busy', details: { state: 'on-call' } });
    const takenBack = await req('POST', `/agents/${A1}/state`, { state: 'ready' }, supervisor);
    expect(takenBack.json()).toMatchObject({ state: 'on-call', pending: null });

    // The call ends with no wrap-up: ready again (the parked pause was taken back).
    const ended = await applyAgentEvent(app.db, id, { type: 'call-ended', callId: 'it-acd-call-1', wrapUpSeconds: 0 });
    expect(ended).toMatchObject({ ok: true, agent: { state: 'ready', call_id: null, queue_id: null } });
  });

  it('writes the state log (cause, by, reason, call) and serves it newest first, by time range', async () => {
    const res = await req('GET', `/agents/${A1}/log`, undefined, viewer);
    expect(res.statusCode).toBe(200);
    const items = res.json().items as { from: string; to: string; cause: string; by: string | null; pauseReason: string | null; callId: string | null; queue: string | null }[];
    expect(items.map((i) => [i.from, i.to, i.cause]).reverse()).toEqual([
      ['logged-out', 'ready', 'feature-code'],
      ['ready', 'paused', 'supervisor'],
      ['paused', 'ready', 'supervisor'],
      ['ready', 'reserved', 'offer'],
      ['reserved', 'on-call', 'answer'],
      ['on-call', 'on-call', 'supervisor'],
      ['on-call', 'on-call', 'supervisor'],
      ['on-call', 'ready', 'call-ended'],
    ]);
    const [ended, takenBack, parked, answered, offered, , paused] = items;
    expect(paused).toMatchObject({ by: 'user:it-acd-supervisor', pauseReason: 'lunch' });
    expect(offered).toMatchObject({ callId: 'it-acd-call-1', queue: Q });
    expect(answered).toMatchObject({ callId: 'it-acd-call-1', queue: Q });
    expect(parked).toMatchObject({ by: 'user:it-acd-supervisor', pauseReason: 'break' });
    expect(takenBack!.by).toBe('user:it-acd-supervisor');
    expect(ended).toMatchObject({ callId: 'it-acd-call-1' });

    expect((await req('GET', `/agents/${A1}/log?to=2000-01-01T00:00:00Z`)).json().items).toEqual([]);
    expect((await req('GET', `/agents/${A1}/log?limit=2`)).json().items).toHaveLength(2);
    await expectField(await req('GET', `/agents/${A1}/log?from=2030-01-01T00:00:00Z&to=2020-01-01T00:00:00Z`), 'querystring.from');
    await expectField(await req('GET', `/agents/${A1}/log?from=yesterday`), 'querystring.from');

    const audit = await sql<{ action: string; details: Record<string, unknown> }>`
      select action, details from audit_log where action = 'agent.state.force' and entity_id = ${await agentId(A1)} order by id`.execute(app.db);
    expect(audit.rows.map((r) => [r.details['from'], r.details['to'], r.details['requested']])).toEqual([
      ['ready', 'paused', 'paused'], ['paused', 'ready', 'ready'], ['on-call', 'on-call', 'paused'], ['on-call', 'on-call', 'ready'],
    ]);
  });

  it('tells listeners about forced changes with the effects for the call runtime', async () => {
    const acd = new AcdService(app.db, { flowsUsingQueue });
    const changes: AgentChange[] = [];
    const off = acd.onAgentChange((c) => changes.push(c));
    const id = await agentId(A1);
    expect((await applyAgentEvent(app.db, id, { type: 'offer', callId: 'it-acd-call-3', queueId: await queueId(Q) }))?.ok).toBe(true);
    const forced = await acd.forceState(CLI_ACTOR, A1, { state: 'paused', pauseCode: 3 });
    expect(forced.agent).toMatchObject({ state: 'paused', pause_name: 'meeting', call_id: null });
    expect(changes).toEqual([
      expect.objectContaining({
        agentId: id, number: A1, record: expect.objectContaining({ from: 'reserved', to: 'paused' }),
        effects: [{ kind: 'withdraw-offer', callId: 'it-acd-call-3', queueId: await queueId(Q), requeue: true }],
      }),
    ]);
    off();
    await acd.forceState(CLI_ACTOR, A1, { state: 'ready' });
    expect(changes).toHaveLength(1);
  });

  it('offers under the row lock: 20 concurrent offers on separate connections, exactly one wins', async () => {
    const settings = inject('db');
    const pool = createPool({ host: settings.host, port: settings.port, user: settings.user, password: settings.password, name: settings.name }, 20);
    const db: Db = createDb(pool);
    try {
      // Open all 20 connections first, so the offers really run side by side.
      const clients = await Promise.all(Array.from({ length: 20 }, () => pool.connect()));
      clients.forEach((c) => c.release());
      expect(pool.totalCount).toBe(20);

      const id = await agentId(A2);
      const qid = await queueId(Q);
      expect((await applyAgentEvent(db, id, { type: 'login' }, { fields: { extension: EXT_NO_VM } }))?.ok).toBe(true);
      // The engine's path when its row is stale (src/acd/store.ts; the one-statement path is in
      // acd-store.test.ts): the state machine's 'offer' event under the row lock, 20 at once on
      // separate connections, as several daemons would: one offer only.
      const offers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => applyAgentEvent(db, id, { type: 'offer', callId: `it-acd-offer-${i}`, queueId: qid })),
      );
      expect(offers.filter((r) => r?.ok)).toHaveLength(1);
      expect(offers.filter((r) => r && !r.ok).map((r) => r!.step.ok === false && r!.step.code)).toEqual(Array(19).fill('invalid-transition'));
      const offered = offers.find((r) => r?.ok)!;
      expect(await findAgentByNumber(app.db, A2)).toMatchObject({ state: 'reserved', call_id: offered.agent.call_id, queue_id: qid });
      const logs = await sql<{ call_id: string; cause: string; from_state: string; to_state: string }>`
        select call_id, cause, from_state, to_state from agent_state_log where agent_id = ${id} and call_id like 'it-acd-offer-%'`.execute(app.db);
      expect(logs.rows).toEqual([{ call_id: offered.agent.call_id, cause: 'offer', from_state: 'ready', to_state: 'reserved' }]);
      expect((await applyAgentEvent(db, id, { type: 'call-ended', callId: offered.agent.call_id!, wrapUpSeconds: 0 }))?.ok).toBe(true); // back to ready
    } finally {
      await db.destroy();
    }
  });
});

describe('PIN lockout', () => {
  it('locks the agent for 5 minutes after 5 wrong PINs; a right PIN resets the count; a new PIN lifts the lock', async () => {
    expect(await checkAgentPin(app.db, '7099', '4826')).toEqual({ ok: false, reason: 'unknown-agent' });
    expect(await checkAgentPin(app.db, A3, '0000')).toEqual({ ok: false, reason: 'wrong-pin', failures: 1 });
    expect((await checkAgentPin(app.db, A3, '5093')).ok).toBe(true);
    expect((await findAgentByNumber(app.db, A3))!.pin_failures).toBe(0);
    for (let i = 1; i <= 4; i++) expect(await checkAgentPin(app.db, A3, '0000')).toEqual({ ok: false, reason: 'wrong-pin', failures: i });
    const locked = await checkAgentPin(app.db, A3, '0000');
    expect(locked).toMatchObject({ ok: false, reason: 'locked' });
    const until = (locked as { lockedUntil: Date }).lockedUntil.getTime();
    expect(until - Date.now()).toBeGreaterThan(290_000);
    expect(until - Date.now()).toBeLessThanOrEqual(300_000 + 5_000);
    // Even the right PIN is refused while locked.
    expect(await checkAgentPin(app.db, A3, '5093')).toMatchObject({ ok: false, reason: 'locked' });
    expect((await req('GET', `/agents/${A3}`)).json()).toMatchObject({ locked: true, lockedUntil: expect.any(String) });

    // The lock runs out: the right PIN works and clears it.
    await app.db.updateTable('agents').set({ locked_until: new Date(Date.now() - 1000) }).where('number', '=', A3).execute();
    expect((await checkAgentPin(app.db, A3, '5093')).ok).toBe(true);
    expect(await findAgentByNumber(app.db, A3)).toMatchObject({ pin_failures: 0, locked_until: null });

    // Locked again, then an admin sets a new PIN: unlocked, the new PIN works, the old one not.
    for (let i = 0; i < 5; i++) await checkAgentPin(app.db, A3, '0000');
    expect((await req('GET', `/agents/${A3}`)).json().locked).toBe(true);
    const patched = await req('PATCH', `/agents/${A3}`, { pin: '7382' });
    expect(patched.json()).toMatchObject({ locked: false, lockedUntil: null });
    expect((await checkAgentPin(app.db, A3, '7382')).ok).toBe(true);
    expect((await checkAgentPin(app.db, A3, '5093')).ok).toBe(false);
  });
});

describe('live views and the routing snapshot', () => {
  it('queue live: callers waiting, agents by state, today with the service level', async () => {
    const qid = await queueId(Q);
    const now = Date.now();
    await upsertQueueCall(app.db, { callId: 'it-acd-w1', queueId: qid, callerNumber: '+4930111', callerName: 'First', enqueuedAt: new Date(now - 40_000) });
    await upsertQueueCall(app.db, { callId: 'it-acd-w2', queueId: qid, callerNumber: '+4930222', priority: 5, enqueuedAt: new Date(now - 10_000) });
    // An update keeps what it does not name (enqueued_at: the caller's place).
    await upsertQueueCall(app.db, { callId: 'it-acd-w1', queueId: qid, state: 'offered', agentId: await agentId(A2) });
    const calls = await listQueueCalls(app.db, qid);
    expect(calls.map((c) => [c.call_id, c.state, c.caller_name])).toEqual([['it-acd-w2', 'waiting', null], ['it-acd-w1', 'offered', 'First']]);
    expect(calls[1]!.enqueued_at.getTime()).toBe(now - 40_000);

    const a1 = await agentId(A1);
    const a2 = await agentId(A2);
    const log = (callId: string, outcome: 'answered' | 'abandoned', wait: number, agentId: string | null, talk: number | null) =>
      logQueueCall(app.db, { queueId: qid, callId, enqueuedAt: new Date(now - (wait + (talk ?? 0)) * 1000), answeredAt: outcome === 'answered' ? new Date(now - (talk ?? 0) * 1000) : null, endedAt: new Date(now), outcome, agentId, talkSeconds: talk });
    expect((await log('it-acd-l1', 'answered', 5, a1, 60)).wait_seconds).toBe(5);
    await log('it-acd-l2', 'answered', 12, a1, 100);
    await log('it-acd-l3', 'answered', 45, a2, 30);
    await log('it-acd-l4', 'abandoned', 25, null, null);

    const res = await req('GET', `/queues/${Q}/live`, undefined, viewer);
    expect(res.statusCode, res.body).toBe(200);
    const live = res.json();
    // Ringing or waiting is what the agents' rows say (an agent reserved for the call), not the
    // stored row's state: nobody is reserved for it-acd-w1 (A2 is ready), so it waits.
    expect(live.waiting).toEqual([
      { callId: 'it-acd-w2', callerNumber: '+4930222', callerName: null, waitingSeconds: expect.any(Number), priority: 5, state: 'waiting', agents: [] },
      { callId: 'it-acd-w1', callerNumber: '+4930111', callerName: 'First', waitingSeconds: expect.any(Number), priority: 0, state: 'waiting', agents: [] },
    ]);
    expect(live.waiting[1].waitingSeconds).toBeGreaterThanOrEqual(40);
    expect(live.longestWaitSeconds).toBe(live.waiting[1].waitingSeconds);
    // Members: A1 ready, A2 ready (after the race test), A3 logged out.
    expect(live.agents).toEqual({ ready: 2, reserved: 0, onCall: 0, wrapUp: 0, paused: 0, loggedOut: 1 });
    // Offered: the two callers in the queue and the four that left it; the service level is over those four.
    expect(live.today).toEqual({ offered: 6, answered: 3, abandoned: 1, answeredWithinSl: 2, serviceLevelPercent: 50, slSeconds: 20, slPercentTarget: 90, callbacksRequested: 0, callbacksAnswered: 0 });

    const agents = await req('GET', '/agents/live', undefined, viewer);
    expect(agents.statusCode).toBe(200);
    const byNumber = Object.fromEntries(agents.json().items.map((a: { number: string }) => [a.number, a]));
    expect(byNumber[A1]).toMatchObject({ name: 'Ada Lovelace', state: 'ready', pauseReason: null, extension: EXT, callsHandledToday: 2, talkSecondsToday: 160, secondsInState: expect.any(Number) });
    expect(byNumber[A2]).toMatchObject({ state: 'ready', callsHandledToday: 1, talkSecondsToday: 30 });
    expect(byNumber[A3]).toMatchObject({ state: 'logged-out', extension: null, callsHandledToday: 0 });
  });

  it('loadSnapshotAgents and loadQueueSettings give the router what it needs', async () => {
    const at = Date.now();
    const snap = { agents: await loadSnapshotAgents(app.db), queues: await loadQueueSettings(app.db), at };
    const a1 = snap.agents.find((a) => a.number === A1)!;
    const a2 = snap.agents.find((a) => a.number === A2)!;
    expect(snap.agents.find((a) => a.number === A3)).toBeUndefined(); // logged out
    const qid = await queueId(Q);
    expect(a1).toMatchObject({ state: 'ready', skills: { billing: 4, german: 1 }, memberships: [{ queueId: qid, penalty: 0 }], callsHandled: 2, talkSeconds: 160, extension: EXT });
    expect(a1.agentState).toMatchObject({ status: 'ready', pause: null, call: null, pending: null });
    expect(a2).toMatchObject({ skills: { billing: 1 }, callsHandled: 1 });
    const q = snap.queues.find((x) => x.name === Q)!;
    expect(q).toMatchObject({ id: qid, strategy: 'skills', requiredSkills: [{ skill: 'billing', minLevel: 3 }], missedOffersPause: 3, overflow: { kind: 'voicemail', mailbox: EXT } });

    // The waiting callers, through the pure router: billing >= 3 -> only A1 qualifies.
    const waiting = waitingCalls((await listQueueCalls(app.db, qid)).filter((c) => c.state === 'waiting').map(waitingCallOf));
    const decision = routeCalls({ queues: snap.queues, waiting, agents: snap.agents, now: snap.at, rng: () => 0 });
    expect(decision.assignments).toEqual([{ callId: 'it-acd-w2', queueId: qid, agentIds: [a1.id] }]);

    await deleteQueueCall(app.db, 'it-acd-w1');
    await deleteQueueCall(app.db, 'it-acd-w2');
  });

  it('deletes an agent once logged out (its memberships and log go with it)', async () => {
    expect((await req('POST', `/agents/${A2}/state`, { state: 'logged-out' }, supervisor)).json()).toMatchObject({ state: 'logged-out', extension: null });
    const id = await agentId(A2);
    expect((await req('DELETE', `/agents/${A2}`)).statusCode).toBe(204);
    expect((await req('GET', `/agents/${A2}`)).statusCode).toBe(404);
    expect((await sql`select 1 from queue_members where agent_id = ${id} union all select 1 from agent_state_log where agent_id = ${id}`.execute(app.db)).rows).toEqual([]);
    expect((await req('DELETE', `/agents/${A2}`)).json().error.code).toBe('agent-not-found');
  });
});
