/**
 * IVR flows API through the wired daemon (src/app.ts) against real Postgres: create, drafts checked
 * against the catalog (422 flow-invalid naming node and field), publish, versions, rollback (checked
 * again), loadPublishedFlow for the call runtime, inbound routes to a flow, refusals to delete a
 * flow or a prompt that is in use, audit rows, unknown fields and roles.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { flowNameById, flowsUsingPrompt, loadPublishedFlow } from '../../src/flows/repository.js';
import { startTestApp } from '../support/app.js';

let app: App;
let admin: string;
let viewer: string;
let promptId: string;

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
const req = (method: Method, url: string, body?: unknown, token = admin) =>
  app.http.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body as object }) });

// Numbers no other integration file uses (they share the run's database).
const EXT = '5601'; // voicemail on, PIN set: also a mailbox
const EXT_NO_VM = '5602'; // no PIN: not a mailbox

const v1 = {
  language: 'en',
  start: 'menu',
  nodes: {
    menu: { kind: 'menu', prompt: { sound: 'vm-intro' }, options: { '1': 'sales', '2': 'vm' }, fallback: 'bye' },
    sales: { kind: 'transfer', target: { kind: 'extension', number: EXT } },
    vm: { kind: 'transfer', target: { kind: 'voicemail', mailbox: EXT } },
    bye: { kind: 'hangup' },
  },
};
const v2 = () => ({
  ...v1,
  nodes: { ...v1.nodes, menu: { ...v1.nodes.menu, prompt: [{ prompt: promptId }, { sound: 'vm-intro' }], maxRetries: 1 } },
});

beforeAll(async () => {
  app = await startTestApp();
  const auth = new AuthService(app.db);
  admin = (await auth.createToken(CLI_ACTOR, { username: 'it-flow-admin', name: 'it', ttlDays: 1, ensureRole: 'admin' })).token;
  viewer = (await auth.createToken(CLI_ACTOR, { username: 'it-flow-viewer', name: 'it', ttlDays: 1, ensureRole: 'viewer' })).token;
  expect((await req('POST', '/extensions', { number: EXT, displayName: 'Flow Sales', voicemailPin: '4711' })).statusCode).toBe(201);
  expect((await req('POST', '/extensions', { number: EXT_NO_VM, displayName: 'Flow Other' })).statusCode).toBe(201);
  // A prompt row (no audio files needed: flows only check the id; delete removes files with force).
  promptId = randomUUID();
  await app.db
    .insertInto('prompts')
    .values({ id: promptId, name: `it-flow-prompt-${promptId.slice(0, 8)}`, source: 'upload', text: null, language: null, voice: null, tts_key: null, checksum: 'a'.repeat(64), duration_ms: 1000, bytes: 8044 })
    .execute();
});

afterAll(async () => {
  await app?.stop();
});

describe('flows: create, draft, publish, versions, rollback', () => {
  it('creates a flow without a definition', async () => {
    const res = await req('POST', '/flows', { name: 'it-main', description: 'Main menu' });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ name: 'it-main', description: 'Main menu', publishedVersion: null, draftVersion: null, hasDraft: false, published: null, draft: null });
    const dup = await req('POST', '/flows', { name: 'it-main' });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error.code).toBe('flow-exists');
  });

  it('refuses an invalid draft: 422 flow-invalid, every problem naming node and field', async () => {
    const bad = {
      ...v1,
      nodes: {
        ...v1.nodes,
        menu: { ...v1.nodes.menu, options: { '1': 'sales', '2': 'vm', '3': 'nowhere' } },
        sales: { kind: 'transfer', target: { kind: 'extension', number: '5699' } },
        vm: { kind: 'transfer', target: { kind: 'voicemail', mailbox: EXT_NO_VM } },
      },
    };
    const res = await req('PUT', '/flows/it-main/draft', { definition: bad });
    expect(res.statusCode).toBe(422);
    const { error } = res.json();
    expect(error.code).toBe('flow-invalid');
    expect(error.details.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ node: 'menu', field: 'options.3', code: 'unknown-node' }),
        expect.objectContaining({ node: 'sales', field: 'target.number', code: 'unknown-target' }),
        expect.objectContaining({ node: 'vm', field: 'target.mailbox', code: 'unknown-target' }),
      ]),
    );
    expect(error.details.problems).toHaveLength(3);
    expect(error.message).toBe(`flow it-main has 3 problems; the first: ${error.details.problems[0].message}`);
    // Shape problems too (checked by checkFlow, not by the route schema).
    const shape = await req('PUT', '/flows/it-main/draft', { definition: { language: 'en', start: 'a', nodes: { a: { kind: 'hangup', color: 'red' } } } });
    expect(shape.statusCode).toBe(422);
    expect(shape.json().error.details.problems).toEqual([expect.objectContaining({ node: 'a', field: 'color', code: 'unknown-field' })]);
    const notObject = await req('PUT', '/flows/it-main/draft', { definition: 'hello' });
    expect(notObject.json().error.details.problems[0]).toMatchObject({ node: null, code: 'not-an-object' });
    // Nothing was saved.
    expect((await req('GET', '/flows/it-main/versions')).json().items).toEqual([]);
  });

  it('saves a valid draft as version 1 and publishes it', async () => {
    const saved = await req('PUT', '/flows/it-main/draft', { definition: v1 });
    expect(saved.statusCode).toBe(200);
    expect(saved.json()).toMatchObject({ draftVersion: 1, hasDraft: true, publishedVersion: null, draft: { version: 1, state: 'draft', publishedAt: null, createdBy: 'user:it-flow-admin', definition: v1 } });

    const pub = await req('POST', '/flows/it-main/publish');
    expect(pub.statusCode).toBe(200);
    expect(pub.json()).toMatchObject({ publishedVersion: 1, hasDraft: false, draft: null, published: { version: 1, state: 'published', definition: v1 } });
    expect(pub.json().published.publishedAt).toEqual(expect.any(String));

    const again = await req('POST', '/flows/it-main/publish');
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('flow-no-draft');

    const versions = await req('GET', '/flows/it-main/versions', undefined, viewer);
    expect(versions.statusCode).toBe(200);
    expect(versions.json().items).toEqual([expect.objectContaining({ version: 1, state: 'published', createdAt: expect.any(String), publishedAt: expect.any(String) })]);
    expect(await loadPublishedFlow(app.db, 'it-main')).toEqual({ name: 'it-main', version: 1, definition: v1 });
  });

  it('saves a second draft (replaced in place while it is the draft) and publishes it; v1 is retired', async () => {
    const first = await req('PUT', '/flows/it-main/draft', { definition: { ...v1, language: 'de' } });
    expect(first.json()).toMatchObject({ draftVersion: 2, publishedVersion: 1 });
    const replaced = await req('PUT', '/flows/it-main/draft', { definition: v2() });
    expect(replaced.json()).toMatchObject({ draftVersion: 2, draft: { version: 2, definition: v2() }, published: { version: 1, definition: v1 } });
    // The draft plays the prompt: it cannot be deleted.
    expect(await flowsUsingPrompt(app.db, promptId)).toEqual(['it-main']);
    const del = await req('DELETE', `/prompts/${promptId}`);
    expect(del.statusCode).toBe(409);
    expect(del.json().error).toMatchObject({ code: 'prompt-in-use', details: { flows: ['it-main'] } });

    const pub = await req('POST', '/flows/it-main/publish');
    expect(pub.json()).toMatchObject({ publishedVersion: 2, draft: null, published: { version: 2 } });
    expect((await req('GET', '/flows/it-main/versions')).json().items.map((v: { version: number; state: string }) => [v.version, v.state])).toEqual([
      [2, 'published'],
      [1, 'retired'],
    ]);
    expect((await loadPublishedFlow(app.db, 'it-main'))?.version).toBe(2);
    // Published, it still plays the prompt.
    expect((await req('DELETE', `/prompts/${promptId}`)).json().error.code).toBe('prompt-in-use');
  });

  it('rolls back to v1 (the draft is kept); the runtime then loads v1', async () => {
    await req('PUT', '/flows/it-main/draft', { definition: { ...v1, language: 'fr' } });
    const res = await req('POST', '/flows/it-main/rollback', { version: 1 });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ publishedVersion: 1, draftVersion: 3, published: { version: 1, state: 'published', definition: v1 }, draft: { version: 3 } });
    expect((await req('GET', '/flows/it-main/versions')).json().items.map((v: { version: number; state: string }) => [v.version, v.state])).toEqual([
      [3, 'draft'],
      [2, 'retired'],
      [1, 'published'],
    ]);
    expect(await loadPublishedFlow(app.db, 'it-main')).toEqual({ name: 'it-main', version: 1, definition: v1 });
    expect(await loadPublishedFlow(app.db, 'it-nope')).toBeNull();

    const one = await req('GET', '/flows/it-main/versions/2', undefined, viewer);
    expect(one.statusCode).toBe(200);
    expect(one.json()).toMatchObject({ version: 2, state: 'retired', definition: v2() });

    const unknown = await req('POST', '/flows/it-main/rollback', { version: 99 });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('flow-version-not-found');
    expect((await req('GET', '/flows/it-main/versions/99')).statusCode).toBe(404);
    const toDraft = await req('POST', '/flows/it-main/rollback', { version: 3 });
    expect(toDraft.statusCode).toBe(400);
    expect(toDraft.json().error.details.field).toBe('body.version');
  });

  it('checks a rollback again: a prompt deleted since makes it 422', async () => {
    // v2 is retired and the draft no longer plays the prompt: it may go now.
    expect(await flowsUsingPrompt(app.db, promptId)).toEqual([]);
    expect((await req('DELETE', `/prompts/${promptId}`)).statusCode).toBe(204);
    const res = await req('POST', '/flows/it-main/rollback', { version: 2 });
    expect(res.statusCode).toBe(422);
    expect(res.json().error.code).toBe('flow-invalid');
    expect(res.json().error.details.problems).toEqual([expect.objectContaining({ node: 'menu', field: 'prompt[0].prompt', code: 'unknown-prompt' })]);
    expect((await loadPublishedFlow(app.db, 'it-main'))?.version).toBe(1);
  });

  it('refuses a transfer to the flow itself', async () => {
    const res = await req('PUT', '/flows/it-main/draft', { definition: { language: 'en', start: 'go', nodes: { go: { kind: 'transfer', target: { kind: 'flow', flow: 'it-main' } } } } });
    expect(res.statusCode).toBe(422);
    expect(res.json().error.details.problems).toEqual([expect.objectContaining({ node: 'go', field: 'target.flow', code: 'self-flow' })]);
  });

  it('lists flows and shows one with its published and draft definitions', async () => {
    const list = await req('GET', '/flows', undefined, viewer);
    expect(list.statusCode).toBe(200);
    expect(list.json().items).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'it-main', publishedVersion: 1, hasDraft: true, draftVersion: 3 })]));
    const one = await req('GET', '/flows/it-main', undefined, viewer);
    expect(one.json()).toMatchObject({ name: 'it-main', published: { version: 1, definition: v1 }, draft: { version: 3, definition: { ...v1, language: 'fr' } } });
    expect((await req('GET', '/flows/it-unknown')).json().error.code).toBe('flow-not-found');
  });

  it('writes an audit row for every change', async () => {
    const { rows } = await sql<{ action: string; actor_label: string; details: Record<string, unknown> }>`
      select a.action, a.actor_label, a.details from audit_log a join flows f on f.id::text = a.entity_id
      where a.entity = 'flow' and f.name = 'it-main' order by a.id`.execute(app.db);
    expect(rows.map((r) => r.action)).toEqual([
      'flow.create', 'flow.draft.save', 'flow.publish', 'flow.draft.save', 'flow.draft.save', 'flow.publish', 'flow.draft.save', 'flow.rollback',
    ]);
    expect(rows.every((r) => r.actor_label === 'user:it-flow-admin')).toBe(true);
    expect(rows.at(-1)!.details).toMatchObject({ name: 'it-main', version: 1, previousVersion: 2 });
  });
});

describe('flows: inbound routes and deleting', () => {
  let routeId: string;

  it('an inbound route sends calls to a published flow, by name', async () => {
    const res = await req('POST', '/inbound-routes', { name: 'it-flow-did', didPattern: '4930777001', target: { kind: 'flow', flow: 'it-main' } });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ didPattern: '4930777001', target: { kind: 'flow', flow: 'it-main' } });
    routeId = res.json().id;
    expect((await req('GET', `/inbound-routes/${routeId}`, undefined, viewer)).json().target).toEqual({ kind: 'flow', flow: 'it-main' });
    const row = (await sql<{ target_flow: string }>`select target_flow from inbound_routes where id = ${routeId}`.execute(app.db)).rows[0]!;
    expect(await flowNameById(app.db, row.target_flow)).toBe('it-main');
    expect(await flowNameById(app.db, '999999999')).toBeNull();
  });

  it('refuses a route to an unknown flow or one never published, naming body.target.flow', async () => {
    const unknown = await req('POST', '/inbound-routes', { name: 'it-flow-bad', didPattern: '4930777002', target: { kind: 'flow', flow: 'it-nope' } });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error).toMatchObject({ code: 'validation-failed', message: 'body.target.flow: flow it-nope does not exist', details: { field: 'body.target.flow' } });
    expect((await req('POST', '/flows', { name: 'it-empty' })).statusCode).toBe(201);
    const unpublished = await req('POST', '/inbound-routes', { name: 'it-flow-bad', didPattern: '4930777002', target: { kind: 'flow', flow: 'it-empty' } });
    expect(unpublished.statusCode).toBe(400);
    expect(unpublished.json().error.details.field).toBe('body.target.flow');
    const patched = await req('PATCH', `/inbound-routes/${routeId}`, { target: { kind: 'flow', flow: 'it-empty' } });
    expect(patched.statusCode).toBe(400);
    const badName = await req('POST', '/inbound-routes', { name: 'it-flow-bad', didPattern: '4930777002', target: { kind: 'flow', flow: 'Not A Name' } });
    expect(badName.statusCode).toBe(400);
    expect(badName.json().error.message).toMatch(/^body\.target/);
  });

  it('refuses to delete an extension a flow sends callers to, naming the flow', async () => {
    const res = await req('DELETE', `/extensions/${EXT}`);
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe('extension-in-use');
    expect(res.json().error.message).toContain('IVR flow it-main');
    expect((await req('DELETE', `/extensions/${EXT_NO_VM}`)).statusCode).toBe(204); // no flow uses it
  });

  it('refuses to delete a flow a route or another published flow uses, naming them', async () => {
    const byRoute = await req('DELETE', '/flows/it-main');
    expect(byRoute.statusCode).toBe(409);
    expect(byRoute.json().error).toMatchObject({ code: 'flow-in-use', details: { inboundRoutes: ['it-flow-did'], flows: [] } });
    expect(byRoute.json().error.message).toContain('it-flow-did');

    const other = { language: 'en', start: 'go', nodes: { go: { kind: 'transfer', target: { kind: 'flow', flow: 'it-main' } } } };
    expect((await req('POST', '/flows', { name: 'it-other', definition: other })).statusCode).toBe(201);
    expect((await req('POST', '/flows/it-other/publish')).statusCode).toBe(200);
    // The route moves to hang up; the other flow still transfers here.
    expect((await req('PATCH', `/inbound-routes/${routeId}`, { target: { kind: 'hangup' } })).json().target).toEqual({ kind: 'hangup' });
    const byFlow = await req('DELETE', '/flows/it-main');
    expect(byFlow.statusCode).toBe(409);
    expect(byFlow.json().error.details).toMatchObject({ inboundRoutes: [], flows: ['it-other'] });

    expect((await req('DELETE', '/flows/it-other')).statusCode).toBe(204);
    expect((await req('DELETE', '/flows/it-main')).statusCode).toBe(204);
    expect((await req('GET', '/flows/it-main')).statusCode).toBe(404);
    expect((await sql`select 1 from flow_versions v left join flows f on f.id = v.flow_id where f.id is null`.execute(app.db)).rows).toEqual([]);
    expect(await loadPublishedFlow(app.db, 'it-main')).toBeNull();
    expect((await req('DELETE', '/flows/it-main')).json().error.code).toBe('flow-not-found');
  });
});

describe('flows: bad input and roles', () => {
  it('refuses unknown fields, bad names and bad versions, naming the field', async () => {
    const extra = await req('POST', '/flows', { name: 'it-x', colour: 'red' });
    expect(extra.statusCode).toBe(400);
    expect(extra.json().error).toMatchObject({ code: 'validation-failed', message: 'body.colour: unknown field "colour"' });
    const badName = await req('POST', '/flows', { name: 'Main Menu' });
    expect(badName.statusCode).toBe(400);
    expect(badName.json().error.details.field).toBe('body.name');
    const draftExtra = await req('PUT', '/flows/it-empty/draft', { definition: v1, publish: true });
    expect(draftExtra.statusCode).toBe(400);
    expect(draftExtra.json().error.message).toMatch(/^body\.publish/);
    const noDefinition = await req('PUT', '/flows/it-empty/draft', {});
    expect(noDefinition.json().error.message).toMatch(/^body\.definition/);
    const rollbackExtra = await req('POST', '/flows/it-empty/rollback', { version: 1, force: true });
    expect(rollbackExtra.statusCode).toBe(400);
    expect((await req('POST', '/flows/it-empty/rollback', { version: 0 })).json().error.message).toMatch(/^body\.version/);
    expect((await req('GET', '/flows/it-empty/versions/x')).json().error.message).toMatch(/^params\.version/);
    expect((await req('GET', '/flows/Bad_Name')).statusCode).toBe(400);
    const tooLong = await req('POST', '/flows', { name: 'it-x', description: 'x'.repeat(201) });
    expect(tooLong.json().error.message).toMatch(/^body\.description/);
  });

  it('refuses a definition over 256 kB', async () => {
    const big = { ...v1, nodes: { ...v1.nodes, bye: { kind: 'hangup' }, pad: { kind: 'set', variable: 'pad', value: 'x'.repeat(1000), next: 'bye' } } };
    const nodes: Record<string, unknown> = { ...big.nodes };
    for (let i = 0; i < 190; i++) nodes[`p${i}`] = { kind: 'play', prompt: Array.from({ length: 20 }, () => ({ say: 'y'.repeat(80) })), next: 'bye' };
    const res = await req('PUT', '/flows/it-empty/draft', { definition: { ...big, nodes } });
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe('payload-too-large');
  });

  it('viewers read but cannot change', async () => {
    expect((await req('GET', '/flows', undefined, viewer)).statusCode).toBe(200);
    expect((await req('POST', '/flows', { name: 'it-viewer' }, viewer)).statusCode).toBe(403);
    expect((await req('PUT', '/flows/it-empty/draft', { definition: v1 }, viewer)).statusCode).toBe(403);
    expect((await req('POST', '/flows/it-empty/publish', undefined, viewer)).statusCode).toBe(403);
    expect((await req('DELETE', '/flows/it-empty', undefined, viewer)).statusCode).toBe(403);
    expect((await req('GET', '/flows')).statusCode).toBe(200);
    expect((await app.http.inject({ method: 'GET', url: '/api/v1/flows' })).statusCode).toBe(401);
  });

  it('documents the routes in OpenAPI', async () => {
    const paths = Object.keys((await app.http.inject({ method: 'GET', url: '/docs/json' })).json().paths);
    for (const p of ['/api/v1/flows', '/api/v1/flows/{name}', '/api/v1/flows/{name}/draft', '/api/v1/flows/{name}/publish', '/api/v1/flows/{name}/rollback', '/api/v1/flows/{name}/versions', '/api/v1/flows/{name}/versions/{version}']) {
      expect(paths).toContain(p);
    }
  });
});
