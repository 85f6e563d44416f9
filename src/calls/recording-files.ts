/**
 * After a recorded call: the two direction files MixMonitor wrote (recorder.ts) become one file,
 * stereo by default (channel 1: the caller, what Asterisk received from the caller's phone;
 * channel 2: what the caller heard, i.e. the agent or extension, and prompts and music before
 * them) or mixed mono (PBX_RECORDING_MIXED_MONO). sox merges them; the result goes where the
 * recording's row says (config.recordings.dir + path), and the store takes it from there
 * (sha256, size, compression: src/recordings).
 */
import { execFile } from 'node:child_process';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { failLine } from '../prompts/media.js';
import { parseWavHeader } from '../recordings/audio-length.js';
import { wavFileDurationMs } from '../recordings/disk.js';
import { directionFiles } from './recorder.js';

const run = promisify(execFile);
const WAV_HEADER = 44;

/**
 * True once Asterisk has closed the WAV file: its header's data size is written only on close
 * (format_wav.c update_header), so a file still being recorded says 0 (or less than it holds).
 * Null when the file does not exist.
 */
export async function wavClosed(file: string): Promise<boolean | null> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const { size } = await handle.stat();
    if (size < WAV_HEADER) return false;
    const header = Buffer.alloc(WAV_HEADER);
    await handle.read(header, 0, WAV_HEADER, 0);
    const format = parseWavHeader(header);
    return format !== null && format.dataOffset + format.dataBytes >= size;
  } finally {
    await handle.close();
  }
}

export type FilesState =
  | { readonly kind: 'closed'; readonly files: readonly string[] }
  /** Not closed (yet): the files there, and when either was last written (ms since the epoch). */
  | { readonly kind: 'open'; readonly files: readonly string[]; readonly lastWriteAt: number }
  | { readonly kind: 'missing' };

/** Where the two files of recording `id` are (host paths), and whether Asterisk is done with them. */
export async function directionFilesState(dir: string, id: string): Promise<FilesState> {
  const { rx, tx } = directionFiles(dir, id);
  const [r, t] = await Promise.all([wavClosed(rx), wavClosed(tx)]);
  const files = [r !== null ? rx : null, t !== null ? tx : null].filter((f): f is string => f !== null);
  if (r === false || t === false) {
    const times = await Promise.all(files.map(async (f) => (await stat(f).catch(() => null))?.mtimeMs ?? 0));
    return { kind: 'open', files, lastWriteAt: Math.max(0, ...times) };
  }
  return files.length === 0 ? { kind: 'missing' } : { kind: 'closed', files };
}

/**
 * Merge the direction files into `target` (a WAV file; its folders are made). Two files: stereo
 * (`-M`: caller left, other side right) or mixed mono (`-m`); one file (the other never written):
 * that one, as is, on both channels when stereo. Written beside the target first, then renamed.
 * `unclosed`: files whose header Asterisk never finished (killed while recording), read to their
 * end. Returns the duration in ms. sox exits 0 even when it could not write its output (a full disk:
 * "sox FAIL sox: ... error writing output file: No space left on device"), so its FAIL line is a
 * failure too: the partial file is removed and the direction files stay for the next try.
 */
export async function mergeDirections(files: readonly string[], target: string, mono: boolean, o: { unclosed?: boolean } = {}): Promise<number> {
  await mkdir(path.dirname(target), { recursive: true });
  const partial = `${target}.part`;
  // Files Asterisk never closed (it was killed) say 0 bytes of audio in their header: read to the end.
  const named = o.unclosed ? files.flatMap((f) => ['--ignore-length', f]) : [...files];
  const inputs = files.length === 2 ? [mono ? '-m' : '-M', ...named] : named;
  const channels = mono ? ['channels', '1'] : files.length === 2 ? [] : ['channels', '2'];
  try {
    const { stderr } = await run('sox', [...inputs, '-t', 'wav', '-e', 'signed-integer', '-b', '16', partial, ...channels], { timeout: 300_000 });
    const failed = failLine(stderr);
    if (/ FAIL /.test(failed)) throw new Error(`sox: ${failed}`);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
  await rename(partial, target);
  // Its length from the header sox wrote (no soxi run: a process start costs more than the read).
  return (await wavFileDurationMs(target)) ?? 0;
}

export async function removeFiles(files: readonly string[]): Promise<void> {
  await Promise.all(files.map((f) => rm(f, { force: true })));
}

export async function fileExists(file: string): Promise<boolean> {
  return stat(file).then(() => true, () => false);
}
