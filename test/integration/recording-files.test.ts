/**
 * After a recorded call (src/calls/recording-files.ts), with real files and sox: a direction file
 * still being written (WAV header not final, as Asterisk leaves it until it closes the file) is
 * "open"; closed files merge to stereo (caller left, other side right) or to mixed mono; one file
 * alone still makes a recording; a merge that cannot be written (a full disk) fails and leaves
 * neither the target nor a partial file; files Asterisk never closed (killed) merge read to their end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { directionFilesState, mergeDirections, wavClosed } from '../../src/calls/recording-files.js';
import { directionFiles } from '../../src/calls/recorder.js';

const run = promisify(execFile);
let dir = '';

/** A mono 8 kHz 16-bit WAV of `freq` Hz for `seconds`. */
const tone = (file: string, freq: number, seconds = 1) => run('sox', ['-n', '-r', '8000', '-c', '1', '-b', '16', '-e', 'signed-integer', file, 'synth', String(seconds), 'sine', String(freq), 'vol', '0.5']);

/** `sox stat` RMS of one channel after a band-pass around `freq`. */
async function bandRms(file: string, channel: number, freq: number): Promise<number> {
  const { stderr } = await run('sox', [file, '-n', 'remix', String(channel), 'sinc', `${freq - 40}-${freq + 40}`, 'stat']);
  return Number(/RMS\s+amplitude:\s+([0-9.]+)/.exec(stderr)![1]);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pbx-it-recfiles-'));
  await mkdir(path.join(dir, 'incoming'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('recording files', () => {
  it('a WAV whose header does not yet say its length is open; once it does, closed; none: null', async () => {
    const { rx, tx } = directionFiles(dir, 'open-1');
    await tone(rx, 440);
    expect(await wavClosed(rx)).toBe(true);
    const bytes = await readFile(rx);
    bytes.writeUInt32LE(0, 40); // what format_wav.c writes at the start: data size 0 until close
    await writeFile(rx, bytes);
    expect(await wavClosed(rx)).toBe(false);
    expect(await wavClosed(tx)).toBeNull();
    expect(await directionFilesState(dir, 'open-1')).toMatchObject({ kind: 'open', files: [rx] });
    expect(await directionFilesState(dir, 'none')).toEqual({ kind: 'missing' });
  });

  it('two closed files merge to stereo: the caller on channel 1, the other side on channel 2; or to one mixed channel', async () => {
    const { rx, tx } = directionFiles(dir, 'two');
    await tone(rx, 440, 2);
    await tone(tx, 1000, 2);
    const state = await directionFilesState(dir, 'two');
    expect(state).toEqual({ kind: 'closed', files: [rx, tx] });
    const stereo = path.join(dir, '2026/12/06/call-two.wav');
    const ms = await mergeDirections([rx, tx], stereo, false);
    expect(ms).toBe(2000);
    expect((await run('soxi', ['-c', stereo])).stdout.trim()).toBe('2');
    const levels = { c1at440: await bandRms(stereo, 1, 440), c1at1000: await bandRms(stereo, 1, 1000), c2at1000: await bandRms(stereo, 2, 1000), c2at440: await bandRms(stereo, 2, 440) };
    expect(levels.c1at440).toBeGreaterThan(0.2);
    expect(levels.c2at1000).toBeGreaterThan(0.2);
    expect(levels.c1at1000).toBeLessThan(0.02);
    expect(levels.c2at440).toBeLessThan(0.02);

    const mono = path.join(dir, '2026/12/06/call-two-mono.wav');
    expect(await mergeDirections([rx, tx], mono, true)).toBe(2000);
    expect((await run('soxi', ['-c', mono])).stdout.trim()).toBe('1');
    expect(await bandRms(mono, 1, 440)).toBeGreaterThan(0.1);
    expect(await bandRms(mono, 1, 1000)).toBeGreaterThan(0.1);
  });

  it('one file alone (the other never written) still makes a two-channel recording', async () => {
    const { rx } = directionFiles(dir, 'one');
    await tone(rx, 440);
    const state = await directionFilesState(dir, 'one');
    expect(state).toEqual({ kind: 'closed', files: [rx] });
    const out = path.join(dir, 'one.wav');
    expect(await mergeDirections([rx], out, false)).toBe(1000);
    expect((await run('soxi', ['-c', out])).stdout.trim()).toBe('2');
  });

  it('a full disk fails the merge (sox itself exits 0 then): no target, no partial file, the direction files kept', async () => {
    const { rx, tx } = directionFiles(dir, 'full');
    await tone(rx, 440);
    await tone(tx, 1000);
    const out = path.join(dir, 'full/call-full.wav');
    await mkdir(path.dirname(out), { recursive: true });
    // Every write to /dev/full fails with ENOSPC, as on a full disk; the partial file is where sox writes.
    await symlink('/dev/full', `${out}.part`);
    await expect(mergeDirections([rx, tx], out, false)).rejects.toThrow(/No space left on device/);
    expect(await readdir(path.dirname(out))).toEqual([]);
    expect(await directionFilesState(dir, 'full')).toEqual({ kind: 'closed', files: [rx, tx] });
  });

  it('files Asterisk never closed (killed mid-call: header length 0) stay open, and merge read to their end', async () => {
    const { rx, tx } = directionFiles(dir, 'killed');
    for (const [file, freq] of [[rx, 440], [tx, 1000]] as const) {
      await tone(file, freq, 2);
      const bytes = await readFile(file);
      bytes.writeUInt32LE(0, 40); // the data size format_wav.c writes first and fixes on close
      await writeFile(file, bytes);
    }
    const state = await directionFilesState(dir, 'killed');
    expect(state).toMatchObject({ kind: 'open', files: [rx, tx] });
    expect(state.kind === 'open' && Date.now() - state.lastWriteAt).toBeLessThan(60_000);
    const out = path.join(dir, 'killed.wav');
    expect(await mergeDirections([rx, tx], out, false, { unclosed: true })).toBe(2000);
    expect(await mergeDirections([rx, tx], path.join(dir, 'killed-as-closed.wav'), false)).toBe(0); // what a plain merge makes of them
  });
});
