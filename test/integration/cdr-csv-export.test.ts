/**
 * CDR export as CSV through the real HTTP route (docs/api.md#csv-export), on a database of its own
 * holding ROWS generated CDRs (a year of them): every row arrives, newest first, with the header,
 * the site's or the asked time zone, the formula guard; the daemon's memory stays bounded while it
 * streams (RSS sampled in this process, where the daemon runs); the same filters as the JSON list;
 * a client that goes away mid-export gives the cursor and its connection back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inject } from 'vitest';
import { sql } from 'kysely';
import type { App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { CDR_CSV_HEADER, CSV_EXPORTS_AT_ONCE } from '../../src/calls/cdr-export.js';
import type { Db } from '../../src/db/database.js';
import { startTestApp } from '../support/app.js';
import { createTestDatabase, dropTestDatabase, openDb } from '../support/db.js';
import { runId } from '../support/env.js';
import { cdrAt, generateCdrs, type CdrHistory } from '../support/history.js';
import { eventually } from '../support/wait.js';

/** 1,000,000 takes about a minute here; PBX_CSV_EXPORT_ROWS=1000000 runs it (bench/reports.ts times it too). */
const ROWS = Number(process.env['PBX_CSV_EXPORT_ROWS'] ?? 200_000);
/** The daemon's RSS may grow by this much while it streams the whole table (the CSV alone is ~200 bytes a row). */
const RSS_GROWTH_LIMIT = 100 * 1024 * 1024;

const dbSettings = { ...inject('db'), name: `pbx_it_csv_${runId()}` };
const history: CdrHistory = { rows: ROWS, from: new Date('2025-12-01T00:00:00Z'), stepMs: (365 * 86_400_000) / ROWS, prefix: 'csv-' };
let app: App;
let db: Db;
let base: string;
let viewer: string;

beforeAll(async () => {
  await createTestDatabase(dbSettings);
  db = openDb(dbSettings);
  await generateCdrs(db, history);
  app = await startTestApp({ PBX_DB_NAME: dbSettings.name, PBX_TIMEZONE: 'Europe/Berlin' });
  base = `http://127.0.0.1:${(app.http.server.address() as AddressInfo).port}/api/v1`;
  viewer = (await new AuthService(app.db).createToken(CLI_ACTOR, { username: 'it-csv-viewer', name: 'it', ttlDays: 1, ensureRole: 'viewer' })).token;
}, 300_000);

afterAll(async () => {
  await app?.stop();
  await db?.destroy();
  await dropTestDatabase(dbSettings);
});

interface Export {
  status: number;
  headers: http.IncomingHttpHeaders;
  header: string;
  rows: number;
  /** the data rows asked for by number (1 = the first after the header), as text */
  picked: Map<number, string>;
  maxRssGrowth: number;
}

/**
 * GET over a real socket, reading the body as it comes without keeping it: counts the rows and
 * keeps the ones asked for; samples this process's RSS on every chunk and every 50 ms.
 */
function exportCsv(path: string, o: { headers?: Record<string, string>; pick?: number[] } = {}): Promise<Export> {
  const pick = new Set(o.pick ?? [1, 2, 3]);
  const rssBefore = process.memoryUsage().rss;
  let maxRss = rssBefore;
  const sample = () => void (maxRss = Math.max(maxRss, process.memoryUsage().rss));
  const timer = setInterval(sample, 50);
  return new Promise<Export>((resolve, reject) => {
    const req = http.get(`${base}${path}`, { headers: { authorization: `Bearer ${viewer}`, ...o.headers } }, (res) => {
      let line = 0;
      let partial = '';
      let header = '';
      const picked = new Map<number, string>();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        sample();
        const text = partial + chunk;
        let start = 0;
        for (let end = text.indexOf('\r\n'); end !== -1; end = text.indexOf('\r\n', start)) {
          if (line === 0) header = text.slice(start, end);
          else if (pick.has(line)) picked.set(line, text.slice(start, end));
          line++;
          start = end + 2;
        }
        partial = text.slice(start);
      });
      res.on('end', () => {
        clearInterval(timer);
        if (partial !== '') reject(new Error(`body does not end in CRLF: ${partial.slice(0, 80)}`));
        resolve({ status: res.statusCode ?? 0, headers: res.headers, header, rows: Math.max(0, line - 1), picked, maxRssGrowth: maxRss - rssBefore });
      });
      res.on('error', reject);
    });
    req.on('error', (err) => {
      clearInterval(timer);
      reject(err);
    });
  });
}

/** A whole-table export whose client read one chunk and stopped reading: the server waits, its cursor open. */
async function stalledExport(): Promise<http.ClientRequest & { response: http.IncomingMessage }> {
  const req = http.get(`${base}/cdrs?format=csv`, { headers: { authorization: `Bearer ${viewer}` } });
  const response = await new Promise<http.IncomingMessage>((resolve) => req.on('response', resolve));
  await new Promise((resolve) => response.once('data', resolve));
  response.pause();
  return Object.assign(req, { response });
}

/** Export queries running in Postgres now (this test's own connection aside). */
async function busy(): Promise<number> {
  const exporting = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM pg_stat_activity
    WHERE datname = ${dbSettings.name} AND pid <> pg_backend_pid() AND state <> 'idle' AND query LIKE '%from "cdrs"%'`.execute(db);
  return exporting.rows[0]!.n;
}

/** The CSV line generateCdrs' row g becomes, with times in the zone's offset for those instants. */
function expectedLine(g: number, time: (d: Date) => string): string {
  const c = cdrAt(history, g);
  const name = c.callerName.startsWith('=') ? `"'${c.callerName.replace(/"/g, '""')}"` : c.callerName.includes(',') ? `"${c.callerName.replace(/"/g, '""')}"` : c.callerName;
  return [
    String(g), c.callId, c.direction, `'${c.callerNumber}`, name, c.dialedNumber,
    time(c.startedAt), c.answeredAt ? time(c.answeredAt) : '', time(c.endedAt),
    c.durationSeconds, c.billableSeconds, c.waitSeconds, c.talkSeconds ?? '',
    c.agent ?? '', c.agent ?? '', c.queue ?? '', 16, 'Normal Clearing', c.disposition, 'caller', '', 'false', c.callId, 'false', 'false',
  ].join(',');
}

/** ISO local time with offset, as a tiny independent oracle for the zones used here (fixed DST rules of the EU and US). */
const inZone = (offsetOf: (d: Date) => number) => (d: Date): string => {
  const off = offsetOf(d);
  const l = new Date(Math.floor(d.getTime() / 1000) * 1000 + off * 3_600_000);
  return `${l.toISOString().slice(0, 19)}${off < 0 ? '-' : '+'}${String(Math.abs(off)).padStart(2, '0')}:00`;
};
/** Europe/Berlin: +2 from the last Sunday of March 01:00 UTC to the last Sunday of October 01:00 UTC (2026: 29 March, 25 October). */
const berlin = inZone((d) => (d >= new Date('2026-03-29T01:00:00Z') && d < new Date('2026-10-25T01:00:00Z') ? 2 : 1));
/** America/New_York in 2026: -4 from 8 March 07:00 UTC to 1 November 06:00 UTC. */
const newYork = inZone((d) => (d >= new Date('2026-03-08T07:00:00Z') && d < new Date('2026-11-01T06:00:00Z') ? -4 : -5));

describe('GET /cdrs as CSV', () => {
  it(`streams all ${ROWS} CDRs newest first, header, values and the site's zone, with bounded memory`, async () => {
    // one small export first, so what any request allocates once is not counted as growth
    await exportCsv('/cdrs?format=csv&callId=csv-1');
    const guarded = 100_000;
    const summer = Math.round((new Date('2026-07-01T12:00:00Z').getTime() - history.from.getTime()) / history.stepMs) + 1;
    const pick = [1, 2, ROWS, ROWS + 1 - guarded, ROWS + 1 - summer];
    const started = Date.now();
    const res = await exportCsv('/cdrs', { headers: { accept: 'text/csv' }, pick });
    const seconds = (Date.now() - started) / 1000;
    console.log(`[csv] ${ROWS} rows in ${seconds.toFixed(1)} s, RSS growth max ${(res.maxRssGrowth / 1048576).toFixed(1)} MB`);

    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="cdrs_start_\d{4}-\d{2}-\d{2}\.csv"$/);
    expect(res.header).toBe(CDR_CSV_HEADER.join(','));
    expect(res.rows).toBe(ROWS);
    // newest first: data row n is generated row ROWS + 1 - n
    expect(res.picked.get(1)).toBe(expectedLine(ROWS, berlin));
    expect(res.picked.get(2)).toBe(expectedLine(ROWS - 1, berlin));
    expect(res.picked.get(ROWS)).toBe(expectedLine(1, berlin));
    expect(res.picked.get(ROWS + 1 - guarded)).toContain(`,"'=HYPERLINK(""http://x.invalid"")",`);
    expect(res.picked.get(ROWS + 1 - summer)).toMatch(/,2026-07-01T1\d:\d\d:\d\d\+02:00,/);
    expect(res.picked.get(1)).toMatch(/,2026-12-01T00:\d\d:\d\d\+01:00,/);
    expect(res.maxRssGrowth).toBeLessThan(RSS_GROWTH_LIMIT);
  }, 300_000);

  it('takes the JSON list filters and the cursor, and tz; the same rows as the JSON pages', async () => {
    // a day around the autumn DST change (Berlin's 02:00-03:00 twice, 01:00 UTC)
    const from = '2026-10-24T12:00:00Z';
    const to = '2026-10-25T12:00:00Z';
    const filter = `from=${from}&to=${to}&disposition=NO%20ANSWER&direction=inbound`;
    const json: { id: string }[] = [];
    let cursor: string | null = null;
    do {
      const page = await fetch(`${base}/cdrs?${filter}&limit=3${cursor ? `&cursor=${cursor}` : ''}`, { headers: { authorization: `Bearer ${viewer}` } });
      const body = (await page.json()) as { items: { id: string }[]; nextCursor: string | null };
      json.push(...body.items);
      cursor = body.nextCursor;
    } while (cursor);
    expect(json.length).toBeGreaterThan(2);
    const all = json.map((r) => Number(r.id));
    const res = await exportCsv(`/cdrs?${filter}&format=csv&tz=America/New_York`, { pick: all.map((_, i) => i + 1) });
    expect(res.rows).toBe(all.length);
    expect(res.headers['content-disposition']).toBe('attachment; filename="cdrs_2026-10-24_2026-10-25.csv"');
    all.forEach((g, i) => expect(res.picked.get(i + 1)).toBe(expectedLine(g, newYork)));

    // the cursor of a JSON page is a filter for CSV too: the rows after it
    const firstPage = (await (await fetch(`${base}/cdrs?${filter}&limit=2`, { headers: { authorization: `Bearer ${viewer}` } })).json()) as { nextCursor: string };
    const rest = await exportCsv(`/cdrs?${filter}&format=csv&cursor=${firstPage.nextCursor}`, { pick: [1] });
    expect(rest.rows).toBe(all.length - 2);
    expect(rest.picked.get(1)).toBe(expectedLine(all[2]!, berlin));
  });

  it('answers JSON unless asked for CSV; bad tz is 400 naming it; needs a token', async () => {
    const one = `/cdrs?callId=csv-${ROWS}`;
    const asJson = await fetch(`${base}${one}`, { headers: { authorization: `Bearer ${viewer}`, accept: 'application/json, text/csv' } });
    expect(asJson.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await asJson.json()) as { items: unknown[] }).items).toHaveLength(1);
    const forced = await fetch(`${base}${one}&format=json`, { headers: { authorization: `Bearer ${viewer}`, accept: 'text/csv' } });
    expect(forced.headers.get('content-type')).toMatch(/^application\/json/);

    const bad = await fetch(`${base}${one}&format=csv&tz=Mars/Olympus`, { headers: { authorization: `Bearer ${viewer}` } });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'validation-failed', details: { field: 'querystring.tz' } } });
    const badFormat = await fetch(`${base}${one}&format=xml`, { headers: { authorization: `Bearer ${viewer}` } });
    expect(badFormat.status).toBe(400);
    const reversed = await fetch(`${base}/cdrs?format=csv&from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z`, { headers: { authorization: `Bearer ${viewer}` } });
    expect(reversed.status).toBe(400);

    const anonymous = await fetch(`${base}${one}&format=csv`);
    expect(anonymous.status).toBe(401);
  });

  it('HEAD answers the CSV headers without running the export', async () => {
    const head = await fetch(`${base}/cdrs?format=csv`, { method: 'HEAD', headers: { authorization: `Bearer ${viewer}` } });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(head.headers.get('content-disposition')).toMatch(/^attachment; filename="cdrs_start_/);
    // a HEAD whose body were made would read the whole table in the background now
    expect(await busy()).toBe(0);
  });

  it('a client that goes away mid-export frees the cursor and its connection', async () => {
    expect(await busy()).toBe(0);
    const req = await stalledExport();
    await eventually(async () => ((await busy()) === 1 ? true : undefined), 20_000, 'the export cursor open in Postgres');
    req.destroy();
    await eventually(async () => ((await busy()) === 0 ? true : undefined), 20_000, 'the export cursor closed after the client left');
    // and the daemon's pool still serves
    const after = await exportCsv(`/cdrs?format=csv&callId=csv-1`);
    expect(after.rows).toBe(1);
  });

  it('a database failure mid-export cuts the download (never a short file that looks whole)', async () => {
    const res = (await stalledExport()).response;
    const killed = await eventually(async () => {
      const r = await sql<{ ok: boolean }>`
        SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
        WHERE datname = ${dbSettings.name} AND pid <> pg_backend_pid() AND state <> 'idle' AND query LIKE '%from "cdrs"%'`.execute(db);
      return r.rows.length === 1 && r.rows[0]!.ok ? true : undefined;
    }, 20_000, 'the export backend terminated');
    expect(killed).toBe(true);
    const outcome = await new Promise<string>((resolve) => {
      res.on('end', () => resolve('end'));
      res.on('aborted', () => resolve('aborted'));
      res.on('error', () => resolve('error'));
      res.resume();
    });
    expect(outcome).not.toBe('end');
    // the pool gives out a working connection again
    expect((await exportCsv('/cdrs?format=csv&callId=csv-1')).rows).toBe(1);
  });

  it(`runs ${CSV_EXPORTS_AT_ONCE} exports at once; one more is 429 rate-limited until one ends`, async () => {
    const running = await Promise.all(Array.from({ length: CSV_EXPORTS_AT_ONCE }, () => stalledExport()));
    const refused = await fetch(`${base}/cdrs?format=csv&callId=csv-1`, { headers: { authorization: `Bearer ${viewer}` } });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('10');
    expect(await refused.json()).toMatchObject({ error: { code: 'rate-limited' } });
    // JSON is not an export
    expect((await fetch(`${base}/cdrs?callId=csv-1`, { headers: { authorization: `Bearer ${viewer}` } })).status).toBe(200);
    running[0]!.destroy();
    await eventually(async () => ((await exportCsv('/cdrs?format=csv&callId=csv-1').catch(() => null))?.status === 200 ? true : undefined), 20_000, 'an export slot free again');
    for (const req of running) req.destroy();
    await eventually(async () => ((await busy()) === 0 ? true : undefined), 20_000, 'every export cursor closed');
  });
});
