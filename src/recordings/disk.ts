/**
 * The recordings folder on disk (adapter): hashing, free space, the day folders, the tree walk for
 * the orphan check, and sox (duration, MP3). Everything else in src/recordings works on what these
 * return. sox runs through runTool (no shell, a timeout).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, open, readdir, rename, rm, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { runTool } from '../prompts/media.js';
import { Mp3Length, parseWavHeader, wavDurationMs } from './audio-length.js';

/** Day folders: setgid and group-writable, so Asterisk (in the daemon's group) writes into them and the daemon may replace and delete what it wrote (Asterisk runs with umask 027). */
export const DAY_FOLDER_MODE = 0o2770;

export async function hashFile(file: string, each?: (chunk: Buffer) => void): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    each?.(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** sha256, size and play time of an MP3 file, in one read (the play time counted frame by frame: audio-length.ts). */
export async function hashMp3(file: string): Promise<{ sha256: string; bytes: number; durationMs: number }> {
  const length = new Mp3Length();
  const hashed = await hashFile(file, (chunk) => length.push(chunk));
  return { ...hashed, durationMs: length.ms };
}

/** Bytes free to an unprivileged writer on the disk holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return Number(s.bavail) * Number(s.bsize);
}

/** mkdir -p with DAY_FOLDER_MODE on each folder it makes (mkdir's mode is cut by the umask). */
export async function makeFolders(root: string, relativeDir: string): Promise<void> {
  let at = root;
  for (const part of relativeDir.split('/').filter(Boolean)) {
    at = path.join(at, part);
    try {
      await mkdir(at);
      await chmod(at, DAY_FOLDER_MODE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

export const fileExists = async (file: string): Promise<boolean> => (await stat(file).catch(() => null))?.isFile() ?? false;

/** Remove a file; one already gone is fine. */
export const removeFile = (file: string): Promise<void> => rm(file, { force: true });

export const replaceFile = (from: string, to: string): Promise<void> => rename(from, to);

/** Every file under root, as paths relative to it (a missing root: none). */
export async function walkFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (dir: string): Promise<void> => {
    const entries = await readdir(path.join(root, dir), { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    for (const e of entries) {
      const rel = dir ? `${dir}/${e.name}` : e.name;
      if (e.isDirectory()) await visit(rel);
      else if (e.isFile()) out.push(rel);
    }
  };
  await visit('');
  return out.sort();
}

const SOX_TIMEOUT_MS = 10 * 60_000;
/**
 * LAME's quality setting (0 best and slowest .. 9): 7 is `lame -f`, no noise shaping. On 8 kHz
 * call audio at 32 kbit/s it costs about half the CPU of LAME's default (3), the file is the same
 * size (constant bitrate) and measured no worse (docs/benchmarks.md#cpu-per-recording-the-sox-work).
 */
export const MP3_QUALITY = 7;
/** The compression's sox runs at this niceness: it yields the cores to call handling (Asterisk, the daemon) and takes what they leave. */
export const COMPRESS_NICENESS = 10;

/** Play time in ms of a WAV file from its header (no sox run); null when it is not a WAV file this reads. */
export async function wavFileDurationMs(file: string): Promise<number | null> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(512);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const format = parseWavHeader(head.subarray(0, bytesRead));
    return format ? wavDurationMs(format, (await handle.stat()).size) : null;
  } finally {
    await handle.close();
  }
}

/** Play time in ms (sox --i -D). */
export async function audioDurationMs(file: string): Promise<number> {
  const { stdout } = await runTool('sox', ['--i', '-D', file], { timeoutMs: 30_000 });
  const seconds = Number(stdout.trim());
  if (!Number.isFinite(seconds)) throw new Error(`sox --i -D ${file}: not a duration: ${stdout.trim()}`);
  return Math.round(seconds * 1000);
}

/** Encode to MP3 at `kbps` (constant bitrate; LAME through libsox-fmt-mp3, quality MP3_QUALITY), channels as the input has them; at COMPRESS_NICENESS. */
export async function encodeMp3(input: string, output: string, kbps: number): Promise<void> {
  await runTool('sox', ['-V1', input, '-t', 'mp3', '-C', `${kbps}.${MP3_QUALITY}`, output], { timeoutMs: SOX_TIMEOUT_MS, niceness: COMPRESS_NICENESS });
}
