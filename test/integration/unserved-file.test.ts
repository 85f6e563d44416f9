/**
 * The spool file Asterisk writes when Postgres refused an unserved call's row: its lines become
 * unserved_calls rows (then CDRs) once each, across passes, partial lines, another file at the
 * same path and two daemons reading at once.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { collectUnservedCalls } from '../../src/calls/unserved.js';
import { importUnservedFile } from '../../src/calls/unserved-file.js';
import type { Db } from '../../src/db/database.js';
import { openDb } from '../support/db.js';

let db: Db;
let dir: string;
let file: string;
beforeAll(async () => {
  db = openDb(inject('db'));
  dir = await mkdtemp(path.join(tmpdir(), 'pbx-unserved-file-'));
});
afterAll(async () => {
  await db.destroy();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  file = path.join(dir, `pbx-unserved-${Date.now()}-${Math.random().toString(36).slice(2)}.log`);
  await sql`delete from unserved_calls`.execute(db);
  await sql`delete from cdrs where call_id like 'file-test-%'`.execute(db);
});

const start = (id: string, at: string, dialed = '4930777') => `start|${at}|file-test-${id}|PJSIP/trunk-carrier-0000002a|4930123456|${dialed}\n`;
const end = (id: string, at: string, cause = '41') => `end|${at}|file-test-${id}|${cause}\n`;
const rows = () => db.selectFrom('unserved_calls').selectAll().where('uniqueid', 'like', 'file-test-%').orderBy('uniqueid').execute();

describe('unserved calls from the spool file', () => {
  it('a start and an end line become one finished row with the lines\' times, then one CDR', async () => {
    await writeFile(file, start('a', '1795475957.250') + end('a', '1795475961.750'));
    expect(await importUnservedFile(db, file)).toEqual({ taken: 2, skipped: 0 });
    expect(await rows()).toMatchObject([
      { uniqueid: 'file-test-a', caller: '4930123456', dialed: '4930777', cause: '41', started_at: new Date(1795475957250), ended_at: new Date(1795475961750) },
    ]);
    expect(await collectUnservedCalls(db)).toBe(1);
    const cdr = await db.selectFrom('cdrs').selectAll().where('call_id', '=', 'file-test-a').executeTakeFirstOrThrow();
    expect(cdr).toMatchObject({ disposition: 'FAILED', hangup_cause: 41, ended_by: 'system', duration_seconds: 4 });
  });

  it('reads only what was appended since, leaves a line being written for the next pass, and takes the end of a call started earlier', async () => {
    await writeFile(file, start('b', '1795475957.000'));
    expect((await importUnservedFile(db, file)).taken).toBe(1);
    expect((await importUnservedFile(db, file)).taken).toBe(0); // nothing new
    await appendFile(file, end('b', '1795475960.000') + 'start|1795475961.000|file-test-c|PJSIP/x-1|1|2'); // no newline yet
    expect((await importUnservedFile(db, file)).taken).toBe(1);
    expect((await rows()).map((r) => [r.uniqueid, r.cause])).toEqual([['file-test-b', '41']]);
    await appendFile(file, '\n');
    expect((await importUnservedFile(db, file)).taken).toBe(1);
    expect((await rows()).map((r) => r.uniqueid)).toEqual(['file-test-b', 'file-test-c']);
  });

  it('another file at the same path (rotated) is read from its start; lines not ours are skipped and counted', async () => {
    await writeFile(file, start('d', '1795475957.000') + start('e', '1795475958.000'));
    expect((await importUnservedFile(db, file)).taken).toBe(2);
    await rm(file);
    await writeFile(file, 'garbage line\n' + start('f', '1795475959.000') + 'start|x|y\n');
    expect(await importUnservedFile(db, file)).toEqual({ taken: 1, skipped: 2 });
    expect((await rows()).map((r) => r.uniqueid)).toEqual(['file-test-d', 'file-test-e', 'file-test-f']);
  });

  it('a stretch with no line end as long as a whole read is skipped, and reading goes on after it', async () => {
    await writeFile(file, 'x'.repeat(300) + start('h', '1795475957.000'));
    expect(await importUnservedFile(db, file, 256)).toEqual({ taken: 0, skipped: 1 });
    expect(await importUnservedFile(db, file, 256)).toEqual({ taken: 0, skipped: 1 }); // the rest of that stretch, up to its line end
    expect(await importUnservedFile(db, file, 256)).toEqual({ taken: 0, skipped: 0 });
    await appendFile(file, start('i', '1795475958.000'));
    expect(await importUnservedFile(db, file, 256)).toEqual({ taken: 1, skipped: 0 });
    expect((await rows()).map((r) => r.uniqueid)).toEqual(['file-test-i']);
  });

  it('two daemons reading at once take each line once; a missing file is nothing to read', async () => {
    expect(await importUnservedFile(db, path.join(dir, 'never-written.log'))).toEqual({ taken: 0, skipped: 0 });
    await writeFile(file, Array.from({ length: 50 }, (_, i) => start(`g${String(i).padStart(2, '0')}`, '1795475957.000')).join(''));
    const other = openDb(inject('db'));
    try {
      const [a, b] = await Promise.all([importUnservedFile(db, file), importUnservedFile(other, file)]);
      expect(a.taken + b.taken).toBe(50);
    } finally {
      await other.destroy();
    }
    expect(await rows()).toHaveLength(50);
  });
});
