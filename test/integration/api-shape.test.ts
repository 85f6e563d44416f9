/**
 * One API shape (issue #19), over the whole OpenAPI document (GET /docs/json of the real app) and
 * through the routes against real Postgres:
 * - every list answers `{items, nextCursor}`: nextCursor is null-only where the list returns
 *   everything, a nullable string where the route pages by `cursor` (and then takes `limit`);
 * - every create's 201 is the resource itself, the same schema GET answers for one (no wrapper);
 *   rotate-password and rotate-credentials answer the resource too;
 * - keyset paging (src/http/paging.ts, src/db/keyset.ts): paging through more rows than `limit`,
 *   with ties on the time and times within one millisecond, gives every row once, in order; a
 *   cursor this API did not issue gets 400 cursor-invalid.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX } from '../../src/http/paging.js';
import { startTestApp } from '../support/app.js';

type Schema = Record<string, unknown> & { $ref?: string; properties?: Record<string, Schema>; items?: Schema; anyOf?: Schema[]; type?: string | string[] };
interface Operation {
  readonly parameters?: readonly { in: string; name: string }[];
  readonly responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
}
interface OpenApi {
  readonly paths: Record<string, Partial<Record<'get' | 'post' | 'put' | 'patch' | 'delete', Operation>>>;
  readonly components: { schemas: Record<string, Schema> };
}

/**
 * GET routes whose answer is one array but is a document, not a list of resources: the emergency
 * numbers are replaced as a whole by PUT.
 */
const DOCUMENTS = new Set(['GET /api/v1/emergency-numbers']);

let app: App;
let spec: OpenApi;
let admin: string;

const req = (method: 'GET' | 'POST', url: string, body?: unknown) =>
  app.http.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${admin}` }, ...(body === undefined ? {} : { payload: body as object }) });

beforeAll(async () => {
  app = await startTestApp();
  admin = (await new AuthService(app.db).createToken(CLI_ACTOR, { username: 'it-shape-admin', name: 'it', ttlDays: 1, ensureRole: 'admin' })).token;
  const res = await app.http.inject({ method: 'GET', url: '/docs/json' });
  expect(res.statusCode).toBe(200);
  spec = res.json();
});

afterAll(async () => {
  await app?.stop();
});

/** The schema with every $ref replaced by what it names. */
function deref(s: Schema | undefined): Schema | undefined {
  if (!s) return s;
  if (s.$ref) return deref(spec.components.schemas[s.$ref.replace('#/components/schemas/', '')]);
  const out: Schema = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'properties') out.properties = Object.fromEntries(Object.entries(v as Record<string, Schema>).map(([p, ps]) => [p, deref(ps)!]));
    else if (k === 'items' || k === 'additionalProperties') out[k] = (typeof v === 'object' ? deref(v as Schema) : v) as Schema;
    else if (k === 'anyOf' || k === 'oneOf' || k === 'allOf') out[k] = (v as Schema[]).map((x) => deref(x)!);
    else out[k] = v;
  }
  return out;
}

const answer = (op: Operation | undefined, status: string): Schema | undefined => deref(op?.responses[status]?.content?.['application/json']?.schema);
const ops = (method: 'get' | 'post' | 'put' | 'patch' | 'delete') =>
  Object.entries(spec.paths).flatMap(([path, byMethod]) => (byMethod[method] ? [{ path, op: byMethod[method] }] : []));
/** The JSON types a schema allows, as the OpenAPI 3.0 document spells them (null: `nullable`, or `enum: [null]` alone). */
function typesOf(s: Schema | undefined): string[] {
  if (!s) return [];
  if (s.anyOf) return [...new Set(s.anyOf.flatMap(typesOf))];
  if (JSON.stringify(s['enum']) === '[null]') return ['null'];
  const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  return s['nullable'] === true ? [...types, 'null'] : types;
}
const takesQuery = (op: Operation, name: string) => (op.parameters ?? []).some((p) => p.in === 'query' && p.name === name);

/** The schema GET answers for one resource of a collection path: GET path/{id}, else an item of GET path. */
function resourceSchema(collection: string): Schema | undefined {
  const one = Object.keys(spec.paths).find((p) => p.startsWith(`${collection}/{`) && /^\/\{[^}/]+\}$/.test(p.slice(collection.length)) && spec.paths[p]!.get);
  if (one) return answer(spec.paths[one]!.get, '200');
  return answer(spec.paths[collection]?.get, '200')?.properties?.['items']?.items;
}

describe('the OpenAPI document: one shape', () => {
  it('every list answers {items, nextCursor}; paged lists take limit and cursor, the others always say null', () => {
    // A list: an array, an object with `items`, or an object whose one property is an array (`{messages: [...]}`).
    const lists = ops('get').filter(({ path, op }) => {
      const ok = answer(op, '200');
      const props = Object.values(ok?.properties ?? {});
      const oneArray = props.length === 1 && typesOf(props[0]).includes('array');
      return !DOCUMENTS.has(`GET ${path}`) && (ok?.type === 'array' || ok?.properties?.['items'] !== undefined || oneArray);
    });
    expect(lists.length).toBeGreaterThan(15);
    const wrong = lists.flatMap(({ path, op }) => {
      const ok = answer(op, '200')!;
      const paged = takesQuery(op, 'cursor');
      const cursorTypes = typesOf(ok.properties?.['nextCursor']).sort();
      const problems = [
        ok.type === 'object' ? null : 'not an object',
        JSON.stringify(Object.keys(ok.properties ?? {}).sort()) === '["items","nextCursor"]' ? null : `properties ${Object.keys(ok.properties ?? {}).join(',')}`,
        JSON.stringify([...((ok.required as string[] | undefined) ?? [])].sort()) === '["items","nextCursor"]' ? null : 'items and nextCursor not both required',
        typesOf(ok.properties?.['items']).includes('array') ? null : 'items is not an array',
        JSON.stringify(cursorTypes) === (paged ? '["null","string"]' : '["null"]') ? null : `nextCursor types ${cursorTypes.join('|')} (paged: ${paged})`,
        paged === takesQuery(op, 'limit') ? null : 'cursor without limit or limit without cursor',
      ].filter((p): p is string => p !== null);
      return problems.length ? [`GET ${path}: ${problems.join('; ')}`] : [];
    });
    expect(wrong).toEqual([]);
  });

  it('the lists that grow without bound are paged by cursor', () => {
    for (const path of ['/api/v1/cdrs', '/api/v1/audit', '/api/v1/agents/{number}/log', '/api/v1/extensions/{number}/voicemail', '/api/v1/recordings']) {
      const op = spec.paths[path]!.get!;
      expect([path, takesQuery(op, 'cursor'), takesQuery(op, 'limit')]).toEqual([path, true, true]);
    }
  });

  it('every create answers 201 with the resource itself: the schema GET answers for one, no wrapper', () => {
    const creates = ops('post').filter(({ op }) => op.responses['201']);
    expect(creates.length).toBeGreaterThan(10);
    const wrong = creates.flatMap(({ path, op }) => {
      // POST /prompts/tts makes a prompt: its collection is /prompts.
      const resource = resourceSchema(path) ?? resourceSchema(path.slice(0, path.lastIndexOf('/')));
      if (!resource) return [`POST ${path}: no GET for its resource`];
      return JSON.stringify(answer(op, '201')) === JSON.stringify(resource) ? [] : [`POST ${path}: 201 is not the resource GET answers`];
    });
    expect(wrong).toEqual([]);
  });

  it('rotating a secret answers the resource, the secret in its `secret` field', () => {
    for (const [action, collection] of [
      ['/api/v1/extensions/{number}/rotate-password', '/api/v1/extensions'],
      ['/api/v1/devices/{id}/rotate-credentials', '/api/v1/devices'],
    ] as const) {
      const ok = answer(spec.paths[action]!.post, '200');
      expect(JSON.stringify(ok)).toBe(JSON.stringify(resourceSchema(collection)));
      expect(ok?.properties).toHaveProperty('secret');
    }
    expect(answer(spec.paths['/api/v1/tokens']!.post, '201')?.properties).toHaveProperty('secret');
  });
});

describe('creates answer the resource; a secret only in `secret`, once', () => {
  it('POST /tokens: the token in secret, the same fields GET /tokens lists, never the secret again', async () => {
    const res = await req('POST', '/tokens', { username: 'it-shape-admin', name: 'shape' });
    expect(res.statusCode).toBe(201);
    const made = res.json();
    expect(made.secret).toMatch(/^pbx_/);
    expect(made).toMatchObject({ username: 'it-shape-admin', role: 'admin', name: 'shape', revokedAt: null, lastUsedAt: null });
    expect(made.secret.startsWith(made.prefix)).toBe(true);
    const listed = (await req('GET', '/tokens')).json();
    expect(listed.nextCursor).toBeNull();
    const same = listed.items.find((t: { id: string }) => t.id === made.id);
    const { secret: _secret, ...withoutSecret } = made;
    expect(same).toEqual(withoutSecret);
    expect(JSON.stringify(listed)).not.toContain(made.secret);
  });
});

describe('keyset paging', () => {
  // Times with ties and within one millisecond: a cursor that kept only milliseconds would skip or repeat rows.
  const TIMES = [
    '2026-02-01T10:00:00.000900Z',
    '2026-02-01T10:00:00.000500Z',
    '2026-02-01T10:00:00.000500Z',
    '2026-02-01T10:00:00.000500Z',
    '2026-02-01T10:00:00.000100Z',
    '2026-02-01T09:59:59Z',
    '2026-02-01T09:59:59Z',
  ];

  /** Every page of a list, `limit` at a time: the items in order and how many pages. */
  async function walk(url: string, limit: number): Promise<{ items: Record<string, unknown>[]; pages: number }> {
    const items: Record<string, unknown>[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const sep = url.includes('?') ? '&' : '?';
      const res = await req('GET', `${url}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(res.statusCode).toBe(200);
      const page = res.json();
      expect(page.items.length).toBeLessThanOrEqual(limit);
      items.push(...page.items);
      cursor = page.nextCursor;
      pages++;
      expect(pages).toBeLessThan(500);
    } while (cursor);
    return { items, pages };
  }

  describe('voicemail messages', () => {
    const MAILBOX = '3977';
    let expected: string[];

    beforeAll(async () => {
      expect((await req('POST', '/extensions', { number: MAILBOX, displayName: 'Paging Box', voicemailPin: '2580' })).statusCode).toBe(201);
      // Many rows at the same time, then the crafted ones: more than one default page.
      const many = Array.from({ length: PAGE_LIMIT_DEFAULT + 3 }, (_, i) => ({ at: '2026-01-01T00:00:00.000001Z', n: `m${i}` }));
      const crafted = TIMES.map((at, i) => ({ at, n: `t${i}` }));
      for (const { at, n } of [...many, ...crafted]) {
        await sql`insert into voicemail_messages (mailbox, call_id, duration_ms, recording_name, file_path, size_bytes, sha256, created_at)
                  values (${MAILBOX}, ${`shape-${n}`}, 1000, ${`shape-${MAILBOX}-${n}`}, '/nonexistent', 0, '', ${at}::timestamptz)`.execute(app.db);
      }
      const rows = await sql<{ id: string }>`select id from voicemail_messages where mailbox = ${MAILBOX} order by created_at desc, id desc`.execute(app.db);
      expected = rows.rows.map((r) => r.id);
    });

    it.each([1, 3, 7, PAGE_LIMIT_MAX])('limit %i: every message once, newest first, no gaps', async (limit) => {
      const { items, pages } = await walk(`/extensions/${MAILBOX}/voicemail`, limit);
      expect(items.map((m) => m['id'])).toEqual(expected);
      expect(pages).toBe(Math.ceil(expected.length / limit));
    });

    it(`without limit: pages of ${PAGE_LIMIT_DEFAULT}`, async () => {
      const first = (await req('GET', `/extensions/${MAILBOX}/voicemail`)).json();
      expect(first.items).toHaveLength(PAGE_LIMIT_DEFAULT);
      expect(first.nextCursor).toEqual(expect.any(String));
    });
  });

  describe("an agent's state log", () => {
    const AGENT = '7977';

    beforeAll(async () => {
      expect((await req('POST', '/agents', { number: AGENT, name: 'Paging Agent', pin: '4826' })).statusCode).toBe(201);
      const { id } = await app.db.selectFrom('agents').select('id').where('number', '=', AGENT).executeTakeFirstOrThrow();
      for (const [i, at] of TIMES.entries()) {
        await sql`insert into agent_state_log (agent_id, from_state, to_state, cause, details, at)
                  values (${id}, 'logged-out', 'ready', 'login', ${JSON.stringify({ n: i })}::jsonb, ${at}::timestamptz)`.execute(app.db);
      }
    });

    it('pages through more entries than the limit, each once, newest first (with from and to)', async () => {
      const { items, pages } = await walk(`/agents/${AGENT}/log?from=2026-02-01T00:00:00Z&to=2026-02-02T00:00:00Z`, 2);
      expect(pages).toBe(4);
      const ns = items.map((e) => (e['details'] as { n: number }).n);
      expect(ns).toHaveLength(TIMES.length);
      expect(new Set(ns).size).toBe(TIMES.length);
      // Newest first; within one time, the later row (higher id) first.
      expect(ns).toEqual([0, 3, 2, 1, 4, 6, 5]);
    });
  });

  describe('the audit log', () => {
    it('pages newest first, each entry once', async () => {
      for (let i = 0; i < 5; i++) expect((await req('POST', '/users', { username: `it-shape-u${i}`, role: 'viewer' })).statusCode).toBe(201);
      const first = (await req('GET', '/audit?limit=3')).json();
      const second = (await req('GET', `/audit?limit=3&cursor=${encodeURIComponent(first.nextCursor)}`)).json();
      const ids = [...first.items, ...second.items].map((e: { id: string }) => e.id);
      expect(ids).toHaveLength(6);
      expect(new Set(ids).size).toBe(6);
      const ats = [...first.items, ...second.items].map((e: { at: string }) => e.at);
      expect([...ats].sort().reverse()).toEqual(ats);
      // The five users made above, among the newest entries.
      const mine = (await walk('/audit', 100)).items.filter((e) => e['action'] === 'user.create' && String((e['details'] as { username?: string }).username).startsWith('it-shape-u'));
      expect(mine.map((e) => (e['details'] as { username: string }).username)).toEqual(['it-shape-u4', 'it-shape-u3', 'it-shape-u2', 'it-shape-u1', 'it-shape-u0']);
    });
  });

  describe('a cursor the API did not issue', () => {
    const bad = ['garbage', Buffer.from('2026-01-01T00:00:00Z|x').toString('base64url'), Buffer.from('yesterday|12').toString('base64url'), Buffer.from('2026-01-01T00:00:00Z|1|2').toString('base64url')];
    it.each(['/cdrs', '/audit', '/agents/7977/log', '/extensions/3977/voicemail', '/recordings'])('%s: 400 cursor-invalid', async (url) => {
      for (const cursor of bad) {
        const res = await req('GET', `${url}?cursor=${encodeURIComponent(cursor)}`);
        expect(res.statusCode).toBe(400);
        expect(res.json().error).toMatchObject({ code: 'cursor-invalid', details: { field: 'querystring.cursor' } });
      }
      const tooMany = await req('GET', `${url}?limit=${PAGE_LIMIT_MAX + 1}`);
      expect([tooMany.statusCode, tooMany.json().error.code]).toEqual([400, 'validation-failed']);
    });
  });
});
