/**
 * Contact and do-not-call lists against the real app (Postgres, Redis, the BullMQ import worker):
 * an import with every kind of bad row (reasons and line numbers; the rest imported), uploads that
 * are refused (not CSV, no number column, too large, wrong type), progress seen while a 50,000-row
 * import runs, a 20 MB file imported by a process whose heap may not exceed 24 MB, a job stopped
 * mid-way and run again (nothing counted or imported twice, also with two runs at once), an upload
 * while Redis is down (queued, imported once it is back), and DNC entries, removal and import.
 * Numbers: +1 406 2xx-xxxx (contacts), +1 406 555 01xx / 09xx (DNC); names cl-<run>.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { isDoNotCall } from '../../src/campaigns/dnc.js';
import { createImport } from '../../src/campaigns/import-store.js';
import { Importer, spoolFile } from '../../src/campaigns/importer.js';
import type { Config } from '../../src/config.js';
import { createApp } from '../../src/app.js';
import { createLogger } from '../../src/logger.js';
import { insertTrunk } from '../../src/trunks/repository.js';
import { startTestApp, testConfig } from '../support/app.js';
import { REDIS_URL } from '../support/env.js';
import { tcpGate } from '../support/tcp-gate.js';
import { eventually, holdFor } from '../support/wait.js';

const run = Date.now().toString(36);
let app: App;
let config: Config;
let admin = '';
let supervisor = '';
let viewer = '';
let trunkId = '';
const BASE = '/api/v1';

type Res = Awaited<ReturnType<App['http']['inject']>>;
const call = (method: 'GET' | 'POST' | 'DELETE', url: string, opts: { body?: unknown; csv?: string | Buffer | Readable; token?: string; headers?: Record<string, string> } = {}): Promise<Res> =>
  app.http.inject({
    method, url: BASE + url,
    headers: { authorization: `Bearer ${opts.token ?? admin}`, ...(opts.csv === undefined ? {} : { 'content-type': 'text/csv' }), ...opts.headers },
    ...(opts.csv !== undefined ? { payload: opts.csv } : opts.body === undefined ? {} : { payload: opts.body as object }),
  });

async function newCampaign(name: string, country = 'US'): Promise<string> {
  const c = await app.db.insertInto('campaigns').values({
    name: `cl-${name}-${run}`, mode: 'progressive', trunk_id: trunkId, caller_id: '+14065550199', default_country: country,
    retry_rules: JSON.stringify({}),
  }).returning('id').executeTakeFirstOrThrow();
  return c.id;
}

interface ImportJson { id: string; state: string; rowsRead: number; accepted: number; rejected: number; rejectedByReason: Record<string, number>; error: string | null }
const importOf = async (campaignId: string, id: string): Promise<ImportJson> => (await call('GET', `/campaigns/${campaignId}/imports/${id}`)).json<ImportJson>();
const finished = (campaignId: string, id: string, timeoutMs = 30_000) =>
  eventually(async () => {
    const i = await importOf(campaignId, id);
    return i.state === 'done' || i.state === 'failed' ? i : undefined;
  }, timeoutMs, `import ${id} finished`, 50);
const contactsOf = (campaignId: string) => app.db.selectFrom('campaign_contacts').selectAll().where('campaign_id', '=', campaignId).orderBy('line').execute();
const spooled = async () => (await readdir(config.campaignImports.dir).catch(() => [] as string[])).filter((f) => f.endsWith('.csv'));

beforeAll(async () => {
  config = testConfig({ PBX_CAMPAIGN_IMPORT_MAX_MB: '20' });
  app = await createApp(config, createLogger(config.log.level));
  await app.start();
  const auth = new AuthService(app.db);
  admin = (await auth.createToken(CLI_ACTOR, { username: 'it-lists-admin', name: 'it', ttlDays: 1, ensureRole: 'admin' })).token;
  supervisor = (await auth.createToken(CLI_ACTOR, { username: 'it-lists-supervisor', name: 'it', ttlDays: 1, ensureRole: 'supervisor' })).token;
  viewer = (await auth.createToken(CLI_ACTOR, { username: 'it-lists-viewer', name: 'it', ttlDays: 1, ensureRole: 'viewer' })).token;
  trunkId = (await insertTrunk(app.db, {
    name: `cl-${run}`, kind: 'ip', host: '192.0.2.141', port: 5060, transport: 'udp', codecs: ['ulaw'], max_channels: 10, enabled: true,
    username: null, password: null, from_user: null, from_domain: null,
  })).id;
});

afterAll(async () => {
  await app?.stop();
});

describe('contact list import', () => {
  it('rejects each bad row with its reason and line, and imports the rest', async () => {
    const id = await newCampaign('rows');
    // Already in the campaign before the file comes.
    await app.db.insertInto('campaign_contacts').values({ campaign_id: id, number: '+14062000105', tz_source: 'unknown' }).execute();
    const csv = [
      'number,name,timezone,account', //                       1
      '(406) 200-0100,Ann,,A1', //                              2 ok
      '', //                                                    3 empty
      ',,,', //                                                 4 empty
      '406-200-0101,Bob', //                                    5 column-count
      'not-a-number,Cy,,', //                                   6 bad-number
      '406 200 0102,Di,Mars/Base,', //                          7 bad-time-zone
      '+1 406 200 0100,Ann again,,', //                         8 duplicate of line 2
      '"406 200 0103","Eve, ""the"" one",Europe/Paris,"two', // 9 ok (to line 10)
      'lines"',
      '406 200 0105,Fay,,A5', //                                11 duplicate: already in the campaign
      '+14062000106,Gus,,', //                                  12 ok
    ].join('\r\n');
    const res = await call('POST', `/campaigns/${id}/imports?fileName=rows.csv`, { csv, token: supervisor });
    expect(res.statusCode, res.body).toBe(202);
    const started = res.json<ImportJson & { fileName: string; bytes: number }>();
    expect(started).toMatchObject({ state: 'queued', fileName: 'rows.csv', bytes: Buffer.byteLength(csv) });

    const done = await finished(id, started.id);
    expect(done).toMatchObject({
      state: 'done', rowsRead: 10, accepted: 3, rejected: 7,
      rejectedByReason: { 'empty': 2, 'column-count': 1, 'bad-number': 1, 'bad-time-zone': 1, 'duplicate': 2 },
    });

    const report = await call('GET', `/campaigns/${id}/imports/${started.id}/rejects`);
    expect(report.statusCode).toBe(200);
    expect(report.headers['content-type']).toMatch(/^text\/csv/);
    const lines = report.body.trim().split('\r\n');
    expect(lines[0]).toBe('line,reason,detail,raw');
    expect(lines.slice(1).map((l) => l.split(',').slice(0, 2).join(','))).toEqual([
      '3,empty', '4,empty', '5,column-count', '6,bad-number', '7,bad-time-zone', '8,duplicate', '11,duplicate',
    ]);
    expect(report.body).toContain('the same number as line 2');
    expect(report.body).toContain('already in the campaign');
    expect(report.body).toContain('406 200 0102,Di,Mars/Base,');

    const contacts = (await contactsOf(id)).filter((c) => c.import_id === started.id);
    expect(contacts.map((c) => [c.line, c.number, c.name, c.time_zones, c.tz_source, c.data, c.state])).toEqual([
      [2, '+14062000100', 'Ann', ['America/Denver'], 'number', { account: 'A1' }, 'ready'],
      [9, '+14062000103', 'Eve, "the" one', ['Europe/Paris'], 'column', { account: 'two\r\nlines' }, 'ready'],
      [12, '+14062000106', 'Gus', ['America/Denver'], 'number', { account: '' }, 'ready'],
    ]);

    const page = await call('GET', `/campaigns/${id}/contacts?state=ready&limit=2`, { token: supervisor });
    expect(page.statusCode).toBe(200);
    const first = page.json<{ items: { number: string }[]; nextCursor: string }>();
    expect(first.items).toHaveLength(2);
    const rest = (await call('GET', `/campaigns/${id}/contacts?state=ready&limit=2&cursor=${first.nextCursor}`)).json<{ items: { number: string }[]; nextCursor: null }>();
    expect([...first.items, ...rest.items].map((c) => c.number).sort()).toEqual(['+14062000100', '+14062000103', '+14062000105', '+14062000106']);
    expect(rest.nextCursor).toBeNull();
    expect((await call('GET', `/campaigns/${id}/contacts?state=dnc`)).json<{ items: unknown[] }>().items).toEqual([]);

    const list = (await call('GET', `/campaigns/${id}/imports`)).json<{ items: { id: string }[] }>();
    expect(list.items.map((i) => i.id)).toEqual([started.id]);
    expect(await spooled()).toEqual([]);
  });

  it('refuses what is not a CSV list, too large, or not text/csv, and keeps nothing of it', async () => {
    const id = await newCampaign('refused');
    const binary = await call('POST', `/campaigns/${id}/imports`, { csv: Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0x08]) });
    expect(binary.statusCode).toBe(400);
    expect(binary.json()).toMatchObject({ error: { code: 'not-csv', message: expect.stringContaining('NUL byte') } });

    const noNumber = await call('POST', `/campaigns/${id}/imports`, { csv: 'name,email\nAnn,ann@example.com\n' });
    expect(noNumber.statusCode).toBe(400);
    expect(noNumber.json()).toMatchObject({ error: { code: 'missing-number-column', message: expect.stringContaining('"number"') } });

    const latin = await call('POST', `/campaigns/${id}/imports`, { csv: Buffer.from('n\xfamero,name\n1,2\n', 'latin1') });
    expect(latin.statusCode).toBe(400);

    const declared = await call('POST', `/campaigns/${id}/imports`, { csv: 'number\n+14062000100\n', headers: { 'content-length': String(21 * 1024 * 1024) } });
    expect(declared.statusCode).toBe(413);
    expect(declared.json()).toMatchObject({ error: { code: 'payload-too-large' } });

    // No length declared: refused as the bytes pass the limit.
    const chunk = `${'+14062000100,'.repeat(5000)}\n`;
    async function* big() {
      yield 'number,x\n';
      for (let sent = 0; sent < 21 * 1024 * 1024; sent += chunk.length) yield chunk;
    }
    const streamed = await call('POST', `/campaigns/${id}/imports`, { csv: Readable.from(big()) });
    expect(streamed.statusCode).toBe(413);

    const json = await call('POST', `/campaigns/${id}/imports`, { body: { number: '+14062000100' } });
    expect(json.statusCode).toBe(415);
    expect((await call('POST', '/campaigns/999999999/imports', { csv: 'number\n+14062000100\n' })).statusCode).toBe(404);
    expect((await call('POST', `/campaigns/${id}/imports`, { csv: 'number\n+14062000100\n', token: viewer })).statusCode).toBe(403);

    expect((await call('GET', `/campaigns/${id}/imports`)).json<{ items: unknown[] }>().items).toEqual([]);
    expect(await spooled()).toEqual([]);
  });

  it('shows progress while a 50,000-row import runs', async () => {
    const id = await newCampaign('big');
    const rows = 50_000;
    async function* file() {
      yield 'number,name,note\n';
      for (let i = 0; i < rows; i += 1000) {
        let chunk = '';
        for (let j = i; j < i + 1000; j += 1) chunk += `+1406${2_100_000 + j},Contact ${j},note ${j}\n`;
        yield chunk;
      }
    }
    const res = await call('POST', `/campaigns/${id}/imports`, { csv: Readable.from(file()) });
    expect(res.statusCode, res.body).toBe(202);
    const importId = res.json<{ id: string }>().id;
    const seen: ImportJson[] = [];
    const done = await eventually(async () => {
      const i = await importOf(id, importId);
      seen.push(i);
      return i.state === 'done' ? i : undefined;
    }, 120_000, 'the 50,000-row import done', 25);
    expect(done).toMatchObject({ rowsRead: rows, accepted: rows, rejected: 0 });
    // Progress was visible: looks in the middle, each with consistent counters.
    const middle = seen.filter((i) => i.state === 'running' && i.rowsRead > 0 && i.rowsRead < rows);
    expect(middle.length).toBeGreaterThan(0);
    for (const i of middle) expect(i.accepted + i.rejected).toBe(i.rowsRead);
    const count = await app.db.selectFrom('campaign_contacts').select((eb) => eb.fn.countAll<string>().as('n')).where('campaign_id', '=', id).executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(rows);
  }, 180_000);

  it('imports a file larger than the heap it may use (streamed, never held)', () => {
    // bench/campaign-import.ts --child in its own process, its V8 heap capped at 24 MB (it starts at about 14 MB); the file
    // (5,000 rows of 4 kB) is 20 MB: holding it, or its rows, would not fit.
    const script = fileURLToPath(new URL('../../bench/campaign-import.ts', import.meta.url));
    const out = execFileSync(process.execPath, ['--max-old-space-size=24', '--import', 'tsx', script, '--child', '--rows', '5000', '--pad', '4000', '--db', inject('db').name], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PBX_LOG_LEVEL: 'silent' },
    });
    const r = JSON.parse(out.trim().split('\n').pop()!) as { bytes: number; state: string; accepted: number; peakRssMb: number };
    expect(r).toMatchObject({ state: 'done', accepted: 5000 });
    expect(r.bytes).toBeGreaterThan(20_000_000);
  }, 180_000);
});

describe('an import stopped mid-way and run again', () => {
  /** A file with duplicates and bad numbers spread through it; returns what a full import must count. */
  async function spool(campaignId: string, rows: number): Promise<{ importId: string; good: number; bad: number; dups: number }> {
    const importId = randomUUID();
    let text = 'number,name\n';
    let good = 0;
    let bad = 0;
    let dups = 0;
    for (let i = 0; i < rows; i += 1) {
      if (i % 97 === 0) {
        text += `12,bad ${i}\n`;
        bad += 1;
      } else if (i % 89 === 0 && (i - 1) % 97 !== 0) {
        text += `+1406${2_300_000 + i - 1},dup of ${i - 1}\n`;
        dups += 1;
      } else {
        text += `+1406${2_300_000 + i},name ${i}\n`;
        good += 1;
      }
    }
    await writeFile(spoolFile(config.campaignImports.dir, importId), text);
    await createImport(app.db, importId, { kind: 'contacts', campaignId }, 'resume.csv', Buffer.byteLength(text));
    return { importId, good, bad, dups };
  }
  const log = createLogger('silent');

  it('resumes after the last committed batch: every row counted once, no contact twice', async () => {
    const id = await newCampaign('resume');
    const { importId, good, bad, dups } = await spool(id, 20_000);
    const importer = new Importer({ db: app.db, dir: config.campaignImports.dir, log, batchRows: 100 });
    const stop = new AbortController();
    const first = importer.run(importId, stop.signal);
    await eventually(async () => ((await importOf(id, importId)).rowsRead >= 300 ? true : undefined), 30_000, 'three batches in', 5);
    stop.abort();
    await first;
    const mid = await importOf(id, importId);
    expect(mid.state).toBe('running');
    expect(mid.rowsRead).toBeLessThan(20_000);
    expect(mid.rowsRead % 100).toBe(0);
    expect((await contactsOf(id)).length).toBe(mid.accepted);

    await importer.run(importId);
    const done = await importOf(id, importId);
    expect(done).toMatchObject({ state: 'done', rowsRead: 20_000, accepted: good, rejected: bad + dups });
    expect(done.rejectedByReason).toEqual({ 'bad-number': bad, ...(dups > 0 ? { duplicate: dups } : {}) });
    expect((await contactsOf(id)).length).toBe(good);
    const rejects = await app.db.selectFrom('campaign_import_rejects').select((eb) => eb.fn.countAll<string>().as('n')).where('import_id', '=', importId).executeTakeFirstOrThrow();
    expect(Number(rejects.n)).toBe(bad + dups);
  }, 60_000);

  it('two runs of the same import at once still count every row once', async () => {
    const id = await newCampaign('twice');
    const { importId, good, bad, dups } = await spool(id, 5_000);
    const a = new Importer({ db: app.db, dir: config.campaignImports.dir, log, batchRows: 100 });
    const b = new Importer({ db: app.db, dir: config.campaignImports.dir, log, batchRows: 100 });
    await Promise.all([a.run(importId), b.run(importId)]);
    expect(await importOf(id, importId)).toMatchObject({ state: 'done', rowsRead: 5_000, accepted: good, rejected: bad + dups });
    expect((await contactsOf(id)).length).toBe(good);
  }, 60_000);
});

describe('an upload while Redis is down', () => {
  it('answers at once, is kept queued in Postgres and imported once Redis is back', async () => {
    // A second daemon (its own key prefix and spool folder) started while its Redis, reached
    // through a TCP gate, is down: its queue has never connected (BullMQ would wait for it).
    const redis = new URL(REDIS_URL());
    const gate = tcpGate({ host: redis.hostname, port: Number(redis.port || 6379) });
    await gate.open();
    await gate.close();
    const through = new URL(redis.href);
    through.hostname = '127.0.0.1';
    through.port = String(gate.port);
    const b = await startTestApp({ PBX_REDIS_URL: through.href, PBX_REDIS_PREFIX: `${inject('redisPrefix')}:lists-b` });
    try {
      const id = await newCampaign('redis-down');
      const res = await b.http.inject({
        method: 'POST', url: `${BASE}/campaigns/${id}/imports`, headers: { authorization: `Bearer ${admin}`, 'content-type': 'text/csv' },
        payload: 'number,name\n+14062000900,Ann\n+14062000901,Bob\n',
      });
      expect(res.statusCode, res.body).toBe(202);
      const importId = res.json<{ id: string }>().id;
      await holdFor(500, 'Redis is down: the job cannot be queued, the import waits');
      expect((await importOf(id, importId)).state).toBe('queued');
      await gate.open();
      expect(await finished(id, importId)).toMatchObject({ state: 'done', accepted: 2 });
    } finally {
      await b.stop();
      await gate.close().catch(() => undefined);
    }
  }, 60_000);
});

describe('do-not-call lists', () => {
  it('adds, finds and removes numbers site-wide and per campaign; ready contacts become dnc', async () => {
    const id = await newCampaign('dnc');
    const other = await newCampaign('dnc-other');
    await app.db.insertInto('campaign_contacts').values([
      { campaign_id: id, number: '+14065550901', tz_source: 'unknown' },
      { campaign_id: other, number: '+14065550901', tz_source: 'unknown' },
      { campaign_id: id, number: '+14065550902', tz_source: 'unknown', state: 'done' },
      { campaign_id: other, number: '+14065550903', tz_source: 'unknown' },
    ]).execute();
    const state = async (campaignId: string, number: string) =>
      (await app.db.selectFrom('campaign_contacts').select('state').where('campaign_id', '=', campaignId).where('number', '=', number).executeTakeFirstOrThrow()).state;

    // A campaign's list: read against its default country; only its contacts change.
    const mine = await call('POST', '/dnc', { body: { number: '(406) 555-0901', campaignId: id, note: 'asked' }, token: supervisor });
    expect(mine.statusCode, mine.body).toBe(201);
    expect(mine.json()).toMatchObject({ number: '+14065550901', campaignId: id, source: 'api', note: 'asked' });
    expect(await state(id, '+14065550901')).toBe('dnc');
    expect(await state(other, '+14065550901')).toBe('ready');
    expect(await isDoNotCall(app.db, id, '+14065550901')).toBe(true);
    expect(await isDoNotCall(app.db, other, '+14065550901')).toBe(false);
    const again = await call('POST', '/dnc', { body: { number: '+1 406 555 0901', campaignId: id } });
    expect(again.statusCode).toBe(200);
    expect(again.json<{ id: string }>().id).toBe(mine.json<{ id: string }>().id);

    // Site-wide: every campaign; a done contact stays done.
    expect((await call('POST', '/dnc', { body: { number: '4065550902' } })).json()).toMatchObject({ error: { code: 'validation-failed', details: { field: 'body.number' } } });
    const site = await call('POST', '/dnc', { body: { number: '+1 406 555 0903' } });
    expect(site.statusCode).toBe(201);
    expect(await state(other, '+14065550903')).toBe('dnc');
    expect(await isDoNotCall(app.db, id, '+14065550903')).toBe(true);
    expect(await isDoNotCall(app.db, other, '+14065550903')).toBe(true);

    const found = (await call('GET', '/dnc?number=%2B1%20406%20555%200903')).json<{ items: { id: string; campaignId: string | null }[] }>();
    expect(found.items).toEqual([expect.objectContaining({ id: site.json<{ id: string }>().id, campaignId: null })]);
    const ofCampaign = (await call('GET', `/dnc?campaignId=${id}`)).json<{ items: { number: string }[] }>();
    expect(ofCampaign.items.map((i) => i.number)).toEqual(['+14065550901']);
    expect((await call('GET', '/dnc', { token: viewer })).statusCode).toBe(403);
    expect((await call('POST', '/dnc', { body: { number: '+14065550904', extra: 1 } })).statusCode).toBe(400);
    expect((await call('POST', '/dnc', { body: { number: '+14065550904', campaignId: '999999999' } })).statusCode).toBe(404);

    const siteId = site.json<{ id: string }>().id;
    expect((await call('DELETE', `/dnc/${siteId}`)).statusCode).toBe(204);
    expect(await isDoNotCall(app.db, other, '+14065550903')).toBe(false);
    expect((await call('DELETE', `/dnc/${siteId}`)).json()).toMatchObject({ error: { code: 'dnc-not-found' } });
  });

  it('imports a DNC list with its rejects; the numbers\' ready contacts become dnc', async () => {
    const id = await newCampaign('dnc-import');
    await app.db.insertInto('campaign_contacts').values([
      { campaign_id: id, number: '+14065550911', tz_source: 'unknown' },
      { campaign_id: id, number: '+14065550912', tz_source: 'unknown', state: 'callback' },
    ]).execute();
    await call('POST', '/dnc', { body: { number: '+14065550913', campaignId: id } });
    const csv = 'Phone,Note\n406 555 0911,asked\n406-555-0912,\n+14065550913,already\n(406) 555-0911,again\nnope,\n\n';
    const res = await call('POST', `/dnc/imports?campaignId=${id}&fileName=dnc.csv`, { csv, token: supervisor });
    expect(res.statusCode, res.body).toBe(202);
    const importId = res.json<{ id: string }>().id;
    const done = await eventually(async () => {
      const i = (await call('GET', `/dnc/imports/${importId}`)).json<ImportJson>();
      return i.state === 'done' ? i : undefined;
    }, 30_000, 'DNC import done', 50);
    expect(done).toMatchObject({ rowsRead: 6, accepted: 2, rejected: 4, rejectedByReason: { duplicate: 2, 'bad-number': 1, empty: 1 } });
    const report = (await call('GET', `/dnc/imports/${importId}/rejects`)).body.trim().split('\r\n').slice(1).map((l) => l.split(',').slice(0, 2).join(','));
    expect(report).toEqual(['4,duplicate', '5,duplicate', '6,bad-number', '7,empty']);
    const states = await app.db.selectFrom('campaign_contacts').select(['number', 'state']).where('campaign_id', '=', id).orderBy('number').execute();
    expect(states).toEqual([{ number: '+14065550911', state: 'dnc' }, { number: '+14065550912', state: 'dnc' }]);
    expect((await call('GET', `/dnc?campaignId=${id}`)).json<{ items: unknown[] }>().items).toHaveLength(3);
    // A site-wide file needs country codes; a contact import id is not a DNC import.
    expect((await call('GET', `/dnc/imports/${randomUUID()}`)).statusCode).toBe(404);
  });
});
