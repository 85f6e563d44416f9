/**
 * Call recordings after the file exists, against real Postgres, Redis (BullMQ), files and sox:
 * finalize (sha256, idempotent) -> compression job -> MP3 with its own sha256; a compression that
 * fails keeps the original, retries and ends 'failed'; retention deletes what is past due and not
 * held, and finishes a deletion cut short; erasure by caller number (files, rows, audit, CDR mark,
 * legal hold kept); the orphan check both ways; the free-space check on a small tmpfs.
 * The folder is the test daemons' (testConfig): their retention runs see the same files as this one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createHash, randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import type { Db } from '../../src/db/database.js';
import { createLogger } from '../../src/logger.js';
import { RecordingStore } from '../../src/recordings/service.js';
import { RecordingJobs } from '../../src/recordings/jobs.js';
import { recordingPath } from '../../src/recordings/layout.js';
import { openDb } from '../support/db.js';
import { testConfig } from '../support/app.js';
import { eventually } from '../support/wait.js';

const run = promisify(execFile);
const settings = testConfig().recordings;
let db: Db;
let store: RecordingStore;
let jobs: RecordingJobs;
const actor = { userId: null, tokenId: null, label: 'test:recordings', requestId: null };

const sha = async (file: string): Promise<string> => createHash('sha256').update(await readFile(file)).digest('hex');
const exists = async (file: string): Promise<boolean> => (await stat(file).catch(() => null)) !== null;

/** A stereo 8 kHz WAV of `seconds` (a tone on each side), as MixMonitor leaves it. */
async function toneWav(file: string, seconds: number): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await run('sox', ['-n', '-r', '8000', '-c', '2', '-b', '16', file, 'synth', String(seconds), 'sine', '440', 'sine', '660']);
}

/** A recording the call side has begun, with its original file written. */
async function recorded(opts: { seconds?: number; caller?: string; queue?: string; broken?: boolean } = {}) {
  const callId = `it-rec-${randomUUID().slice(0, 8)}`;
  const { row, file } = await store.begin({ callId, caller: opts.caller ?? '+4930111', called: '100', queue: opts.queue ?? null, parts: ['talk'] });
  if (opts.broken) await writeFile(file, Buffer.from('RIFF this is not audio at all'));
  else await toneWav(file, opts.seconds ?? 3);
  return { id: row.id, callId, file, rel: row.path };
}

beforeAll(async () => {
  db = openDb(inject('db'));
  store = new RecordingStore({ db, settings, log: createLogger('silent') });
  await store.ensureFolder();
  // Its own BullMQ prefix: the test daemons' workers (other files) must not take these jobs.
  jobs = new RecordingJobs(store, {
    redis: { url: testConfig().redis.url, password: testConfig().redis.password, prefix: `${inject('redisPrefix')}:rec-${randomUUID().slice(0, 6)}` },
    attempts: 3,
    retentionEveryMs: 24 * 3_600_000,
    backoffMs: 50,
  }, createLogger('silent'));
  store.useQueue(jobs);
  await jobs.start();
});

afterAll(async () => {
  await jobs?.stop();
  await db?.destroy();
});

describe('finalize and compression', () => {
  it('finalize stores sha256 and size, the job compresses to MP3 with its own sha256, the original goes', async () => {
    const r = await recorded({ seconds: 4 });
    const originalSha = await sha(r.file);
    const stored = await store.finalize(r.id);
    expect(stored).toMatchObject({ state: 'stored', sha256: originalSha, bytes: String((await stat(r.file)).size), format: 'wav' });
    expect(stored.duration_ms).toBe(4000);
    expect(stored.retain_until!.getTime() - stored.ended_at!.getTime()).toBe(settings.retentionDays * 86_400_000);

    const done = await eventually(async () => {
      const row = await db.selectFrom('recordings').selectAll().where('id', '=', r.id).executeTakeFirstOrThrow();
      return row.state === 'compressed' ? row : undefined;
    }, 20_000, 'compressed');
    expect(done.format).toBe('mp3');
    expect(done.path).toBe(r.rel.replace(/\.wav$/, '.mp3'));
    const mp3 = path.join(settings.dir, done.path);
    expect(done.sha256).toBe(await sha(mp3));
    expect(Number(done.bytes)).toBe((await stat(mp3)).size);
    expect(await exists(r.file)).toBe(false);
    const { stdout } = await run('sox', ['--i', '-c', mp3]);
    expect(stdout.trim()).toBe('2');
    expect((await run('sox', ['--i', '-r', mp3])).stdout.trim()).toBe('8000');
    const { stdout: d } = await run('sox', ['--i', '-D', mp3]);
    expect(Math.abs(Number(d) - 4)).toBeLessThan(0.5);
    // The channels stay apart through the encoder (joint stereo at LAME's quality 7): 440 Hz on the left only, 660 Hz on the right only.
    const band = async (channel: number, freq: number) =>
      Number(/RMS\s+amplitude:\s+([0-9.]+)/.exec((await run('sox', [mp3, '-n', 'remix', String(channel), 'sinc', `${freq - 40}-${freq + 40}`, 'stat'])).stderr)![1]);
    const [l440, l660, r440, r660] = [await band(1, 440), await band(1, 660), await band(2, 440), await band(2, 660)];
    expect(l440).toBeGreaterThan(0.2);
    expect(r660).toBeGreaterThan(0.2);
    expect(l660).toBeLessThan(l440 / 100);
    expect(r440).toBeLessThan(r660 / 100);
  });

  it('finalize twice (a restart) has one effect', async () => {
    const r = await recorded();
    const [a, b] = await Promise.all([store.finalize(r.id), store.finalize(r.id)]);
    expect(a.sha256).toBe(b.sha256);
    const again = await store.finalize(r.id);
    expect(again.sha256).toBe(a.sha256);
    const rows = await db.selectFrom('recordings').select(['state']).where('call_id', '=', r.callId).execute();
    expect(rows).toHaveLength(1);
    await eventually(async () => ((await store.get(r.id)).state === 'compressed' ? true : undefined), 20_000, 'compressed');
  });

  it('a queue\'s recordingRetentionDays sets retain_until', async () => {
    const name = `it-rq-${randomUUID().slice(0, 6)}`;
    await db.insertInto('queues').values({ name, required_skills: '[]', widening: '[]', recording_retention_days: 7 }).execute();
    const r = await recorded({ queue: name });
    const row = await store.finalize(r.id);
    expect(row.retain_until!.getTime() - row.ended_at!.getTime()).toBe(7 * 86_400_000);
  });

  it('finalize of an unknown id is 404 recording-not-found; of a missing file, recording-file-missing', async () => {
    await expect(store.finalize(randomUUID())).rejects.toMatchObject({ code: 'recording-not-found', status: 404 });
    const { row } = await store.begin({ callId: 'it-rec-nofile' });
    await expect(store.finalize(row.id)).rejects.toMatchObject({ code: 'recording-file-missing' });
  });

  it('a bad file: the original is kept, the job retries with attempts and last_error recorded, then the row says failed', async () => {
    const r = await recorded({ broken: true });
    const originalSha = await sha(r.file);
    await store.finalize(r.id);
    const failed = await eventually(async () => {
      const row = await store.get(r.id);
      return row.state === 'failed' ? row : undefined;
    }, 20_000, 'failed');
    expect(failed.attempts).toBe(3);
    expect(failed.last_error).toMatch(/sox/);
    expect(failed.format).toBe('wav');
    expect(failed.path).toBe(r.rel);
    expect(await sha(r.file)).toBe(originalSha);
    expect(await exists(r.file.replace(/\.wav$/, '.part.mp3'))).toBe(false);
    expect(await exists(r.file.replace(/\.wav$/, '.mp3'))).toBe(false);
  });
});

describe('lost compressions', () => {
  it('a stored recording whose job never reached Redis is enqueued again by the retention run', async () => {
    const r = await recorded();
    const noRedis = new RecordingStore({ db, settings, log: createLogger('silent') }); // no queue: the enqueue is lost
    await noRedis.finalize(r.id);
    await db.updateTable('recordings').set({ updated_at: new Date(Date.now() - 3_600_000) }).where('id', '=', r.id).execute();
    expect((await store.runRetention()).requeued).toBeGreaterThanOrEqual(1);
    await eventually(async () => ((await store.get(r.id)).state === 'compressed' ? true : undefined), 20_000, 'compressed');
  });

  it('after a job BullMQ gave up on, a row set back to stored is compressed on the next run', async () => {
    const r = await recorded({ broken: true });
    await store.finalize(r.id);
    await eventually(async () => ((await store.get(r.id)).state === 'failed' ? true : undefined), 20_000, 'failed');
    await toneWav(r.file, 2); // the file repaired by hand, the row set back (docs/recording.md)
    await db.updateTable('recordings').set({ state: 'stored', updated_at: new Date(Date.now() - 3_600_000) }).where('id', '=', r.id).execute();
    await store.runRetention();
    const row = await eventually(async () => {
      const x = await store.get(r.id);
      return x.state === 'compressed' ? x : undefined;
    }, 20_000, 'compressed');
    expect(row.last_error).toBeNull();
  });
});

describe('compression retried by hand (POST /recordings/:id/compress)', () => {
  it('a failed compression, its file repaired: back to stored with attempts from 0, audited, then compressed by the job', async () => {
    const r = await recorded({ broken: true });
    await store.finalize(r.id);
    const failed = await eventually(async () => {
      const row = await store.get(r.id);
      return row.state === 'failed' ? row : undefined;
    }, 20_000, 'failed');
    // The cause fixed (here: the file), then the retry.
    await toneWav(r.file, 2);
    const retried = await store.retryCompression(actor, r.id);
    expect(retried).toMatchObject({ state: 'stored', attempts: 0, last_error: null, format: 'wav' });
    const audit = await db.selectFrom('audit_log').select(['action', 'actor_label', 'details']).where('entity_id', '=', r.id).where('action', '=', 'recording.compress-retry').execute();
    expect(audit).toEqual([{ action: 'recording.compress-retry', actor_label: 'test:recordings', details: expect.objectContaining({ callId: r.callId, attempts: 3, lastError: failed.last_error }) }]);
    const row = await eventually(async () => {
      const x = await store.get(r.id);
      return x.state === 'compressed' ? x : undefined;
    }, 20_000, 'compressed after the retry');
    expect(row).toMatchObject({ format: 'mp3', attempts: 1, last_error: null });
    expect(await sha(path.join(settings.dir, row.path))).toBe(row.sha256);
    expect(await exists(r.file)).toBe(false);
  });

  it('only a failed one: 409 recording-not-failed for stored or compressed (nothing changes), 404 for an unknown id', async () => {
    const r = await recorded();
    await store.finalize(r.id);
    const compressed = await eventually(async () => {
      const x = await store.get(r.id);
      return x.state === 'compressed' ? x : undefined;
    }, 20_000, 'compressed');
    await expect(store.retryCompression(actor, r.id)).rejects.toMatchObject({ code: 'recording-not-failed', status: 409 });
    expect(await store.get(r.id)).toEqual(compressed);
    await expect(store.retryCompression(actor, randomUUID())).rejects.toMatchObject({ code: 'recording-not-found', status: 404 });
  });
});

describe('retention', () => {
  it('deletes recordings past retain_until (file and row), keeps those under legal hold and those not due', async () => {
    const due = await recorded();
    const held = await recorded();
    const kept = await recorded();
    for (const r of [due, held, kept]) await store.finalize(r.id);
    await eventually(async () => {
      const rows = await db.selectFrom('recordings').select('state').where('id', 'in', [due.id, held.id, kept.id]).execute();
      return rows.every((x) => x.state === 'compressed') ? true : undefined;
    }, 20_000, 'all compressed');
    await store.setLegalHold(actor, held.id, true);
    await db.updateTable('recordings').set({ retain_until: new Date(Date.now() - 1000) }).where('id', 'in', [due.id, held.id]).execute();
    const paths = Object.fromEntries(
      (await db.selectFrom('recordings').select(['id', 'path']).where('id', 'in', [due.id, held.id, kept.id]).execute()).map((x) => [x.id, path.join(settings.dir, x.path)]),
    );

    const result = await store.runRetention();
    expect(result.deleted).toBeGreaterThanOrEqual(1);
    const left = (await db.selectFrom('recordings').select('id').where('id', 'in', [due.id, held.id, kept.id]).execute()).map((x) => x.id).sort();
    expect(left).toEqual([held.id, kept.id].sort());
    expect(await exists(paths[due.id]!)).toBe(false);
    expect(await exists(paths[held.id]!)).toBe(true);
    expect(await exists(paths[kept.id]!)).toBe(true);
  });

  it('a deletion cut short after marking (a crash) is finished by the next run; the orphan check shows it meanwhile', async () => {
    const r = await recorded();
    await store.finalize(r.id);
    await db.updateTable('recordings').set({ state: 'deleting' }).where('id', '=', r.id).execute();
    await rm(r.file); // the crash came after the file went, before the row did
    const before = await store.orphans();
    expect(before.rowsWithoutFiles).toContainEqual({ id: r.id, path: r.rel, state: 'deleting' });
    await store.runRetention();
    expect(await db.selectFrom('recordings').select('id').where('id', '=', r.id).executeTakeFirst()).toBeUndefined();
  });
});

describe('erasure by caller number', () => {
  it('deletes files and rows of that caller, marks the CDRs, writes an audit row, and keeps what is under legal hold', async () => {
    const caller = `+49301${Math.floor(Math.random() * 1e6)}`;
    const a = await recorded({ caller });
    const b = await recorded({ caller });
    const held = await recorded({ caller });
    const other = await recorded({ caller: '+4930999' });
    for (const r of [a, b, held, other]) await store.finalize(r.id);
    await eventually(async () => {
      const rows = await db.selectFrom('recordings').select('state').where('id', 'in', [a.id, b.id, held.id, other.id]).execute();
      return rows.every((x) => x.state === 'compressed') ? true : undefined;
    }, 20_000, 'all compressed');
    await store.setLegalHold(actor, held.id, true);
    // b's CDR (a recording names its CDR by call_id)
    for (const r of [a, b, held]) {
      await db.insertInto('cdrs').values({
        call_id: r.callId, direction: 'inbound', caller_number: caller, caller_name: null, dialed_number: '100', started_at: new Date(), answered_at: new Date(), ended_at: new Date(),
        duration_seconds: 3, billable_seconds: 3, hangup_cause: 16, hangup_cause_text: 'Normal Clearing', disposition: 'ANSWERED', ended_by: 'caller', digits: '', reconciled: false, linked_id: r.callId,
      }).execute();
    }
    const files = Object.fromEntries((await db.selectFrom('recordings').select(['id', 'path']).where('id', 'in', [a.id, b.id, held.id, other.id]).execute()).map((x) => [x.id, path.join(settings.dir, x.path)]));

    const result = await store.eraseByCaller(actor, caller);
    expect(result.erased.sort()).toEqual([a.id, b.id].sort());
    expect(result.legalHold).toEqual([held.id]);
    expect(result.cdrsMarked).toBe(2);
    const left = (await db.selectFrom('recordings').select('id').where('id', 'in', [a.id, b.id, held.id, other.id]).execute()).map((x) => x.id).sort();
    expect(left).toEqual([held.id, other.id].sort());
    for (const id of [a.id, b.id]) expect(await exists(files[id]!)).toBe(false);
    expect(await exists(files[held.id]!)).toBe(true);
    expect(await exists(files[other.id]!)).toBe(true);
    const cdrs = await db.selectFrom('cdrs').select(['call_id', 'recording_erased']).where('call_id', 'in', [a.callId, b.callId, held.callId]).execute();
    expect(Object.fromEntries(cdrs.map((c) => [c.call_id, c.recording_erased]))).toEqual({ [a.callId]: true, [b.callId]: true, [held.callId]: false });
    const audit = await db.selectFrom('audit_log').selectAll().where('action', '=', 'recordings.erase').where(sql<boolean>`details->>'callerNumber' = ${caller}`).execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]!.actor_label).toBe('test:recordings');
    expect(audit[0]!.details).toMatchObject({ erased: expect.arrayContaining([a.id, b.id]), legalHold: [held.id] });
  });
});

describe('orphan check', () => {
  it('reports a file without a row and a row without a file', async () => {
    const stray = recordingPath(new Date(), 'it-stray', randomUUID(), 'wav');
    await toneWav(path.join(settings.dir, stray), 1);
    const gone = await recorded();
    await store.finalize(gone.id);
    const row = await eventually(async () => {
      const x = await store.get(gone.id);
      return x.state === 'compressed' ? x : undefined;
    }, 20_000, 'compressed');
    await rm(path.join(settings.dir, row.path));
    const report = await store.orphans();
    expect(report.filesWithoutRows).toContain(stray);
    expect(report.rowsWithoutFiles).toContainEqual({ id: gone.id, path: row.path, state: 'compressed' });
    // A recording in progress has no final file yet, only its two directions in incoming/: no orphans.
    const { row: live } = await store.begin({ callId: 'it-rec-live' });
    const rx = `incoming/${live.id}-rx.wav`;
    await toneWav(path.join(settings.dir, rx), 1);
    // A direction left after its recording was stored is a leftover; one without a row, a file without a row.
    const strayRx = `incoming/${randomUUID()}-tx.wav`;
    await toneWav(path.join(settings.dir, strayRx), 1);
    let now = await store.orphans();
    expect(now.rowsWithoutFiles.map((x) => x.id)).not.toContain(live.id);
    expect([...now.filesWithoutRows, ...now.leftovers]).not.toContain(rx);
    expect(now.filesWithoutRows).toContain(strayRx);
    await db.updateTable('recordings').set({ state: 'stored' }).where('id', '=', live.id).execute();
    now = await store.orphans();
    expect(now.leftovers).toContain(rx);
    // tidy for the other tests: nothing is left behind
    for (const f of [stray, rx, strayRx]) await rm(path.join(settings.dir, f));
    await db.deleteFrom('recordings').where('id', 'in', [gone.id, live.id]).execute();
  });
});

describe('free space', () => {
  const mountPoint = path.join(tmpdir(), `pbx-it-recfull-${randomUUID().slice(0, 6)}`);
  let mounted = false;

  afterAll(async () => {
    if (mounted) await run('umount', [mountPoint]).catch(() => undefined);
    await rm(mountPoint, { recursive: true, force: true });
  });

  it('on a 2 MB tmpfs with a 1 MB threshold: ok while empty, refused once filled past it (and it says why)', async () => {
    await mkdir(mountPoint, { recursive: true });
    await run('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mountPoint]);
    mounted = true;
    const small = new RecordingStore({ db, settings: { ...settings, dir: mountPoint, minFreeBytes: 1024 * 1024 }, log: createLogger('silent') });
    expect(await small.canStartRecording()).toMatchObject({ ok: true });
    await writeFile(path.join(mountPoint, 'filler'), Buffer.alloc(1536 * 1024));
    const full = await small.canStartRecording();
    expect(full.ok).toBe(false);
    expect(full.freeBytes).toBeLessThan(1024 * 1024);
    expect(full.error).toMatch(/MB free, below 1 MB/);
  });
});
