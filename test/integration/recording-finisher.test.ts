/**
 * The recording finisher (src/calls/recording-finisher.ts) against real Postgres, files and sox:
 * a recording whose call is over and for which Asterisk wrote no file (the caller gone before
 * MixMonitor began, a daemon killed between the row and the AMI action) is dropped at the first
 * retry that still finds nothing, not retried for ever in 'recording'; files that appear before that
 * retry are merged and kept.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Db } from '../../src/db/database.js';
import { createLogger } from '../../src/logger.js';
import { RecordingFinisher } from '../../src/calls/recording-finisher.js';
import { findRecording, insertCallRecording } from '../../src/calls/recording-repository.js';
import { directionFiles } from '../../src/calls/recorder.js';
import { openDb } from '../support/db.js';
import { eventually } from '../support/wait.js';

const run = promisify(execFile);
let db: Db;
let dir = '';
const finalized: string[] = [];

const finisher = () =>
  new RecordingFinisher({
    db, dir, mono: false, log: createLogger('silent'), retryFirstMs: 1_000,
    sink: { finalize: async (id) => void finalized.push(id), prepare: async (rel) => void (await mkdir(path.dirname(path.join(dir, rel)), { recursive: true })) },
  });

async function begun(): Promise<string> {
  const id = randomUUID();
  const callId = `it-fin-${id.slice(0, 8)}`;
  await insertCallRecording(db, id, { callId, linkedId: callId, channelId: `ch-${id.slice(0, 8)}`, agent: null, queue: null, caller: '+4930111', called: '100', parts: ['talk'], startedAt: new Date(), channels: 2 });
  return id;
}

beforeAll(async () => {
  db = openDb(inject('db'));
  dir = await mkdtemp(path.join(tmpdir(), 'pbx-it-finisher-'));
  await mkdir(path.join(dir, 'incoming'));
});
afterAll(async () => {
  await db?.destroy();
  await rm(dir, { recursive: true, force: true });
});

describe('recording finisher', () => {
  it('no file from Asterisk: the first try keeps the row and says why; the retry drops it', async () => {
    const id = await begun();
    const seen: (string | null)[] = [];
    await finisher().finish(id, new Date());
    // Between the first try and the retry (1 s): the row says why (written without waiting).
    await eventually(async () => {
      const row = await findRecording(db, id);
      if (row) seen.push(row.last_error);
      return row === undefined || row.last_error !== null ? true : undefined;
    }, 10_000, 'the first try noted');
    expect(seen).toContain('Asterisk wrote no recording file');
    await eventually(async () => ((await findRecording(db, id)) === undefined ? true : undefined), 10_000, 'the row dropped');
    expect(finalized).not.toContain(id);
  });

  it('files that appear before the retry are merged and kept', async () => {
    const id = await begun();
    const { rx, tx } = directionFiles(dir, id);
    // Made aside first, moved in between the first try and the retry (a rename: no race with it).
    for (const [file, freq] of [[rx, 440], [tx, 660]] as const) {
      await run('sox', ['-n', '-r', '8000', '-c', '1', '-b', '16', '-e', 'signed-integer', `${file}.aside.wav`, 'synth', '1', 'sine', String(freq)]);
    }
    await finisher().finish(id, new Date());
    await Promise.all([rename(`${rx}.aside.wav`, rx), rename(`${tx}.aside.wav`, tx)]);
    await eventually(async () => (finalized.includes(id) ? true : undefined), 10_000, 'the recording finalized');
    expect(await findRecording(db, id)).toMatchObject({ state: 'recording', last_error: null, duration_ms: 1000 });
  });
});
