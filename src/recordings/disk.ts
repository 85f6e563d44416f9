/**
 * The recordings folder on disk (adapter): hashing, free space, the day folders, the tree walk for
 * the orphan check, and sox (duration, MP3). Everything else in src/recordings works on what these
 * return. sox runs through runTool (no shell, a timeout).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, readdir, rename, rm, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { runTool } from '../prompts/media.js';

/** Day folders: setgid and group-writable, so Asterisk (in the daemon's group) writes into them and the daemon may replace and delete what it wrote (Asterisk runs with umask 027). */
export const DAY_FOLDER_MODE = 0o2770;

export async function hashFile(file: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
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

/** Play time in ms (sox --i -D). */
export async function audioDurationMs(file: string): Promise<number> {
  const { stdout } = await runTool('sox', ['--i', '-D', file], { timeoutMs: 30_000 });
  const seconds = Number(stdout.trim());
  if (!Number.isFinite(seconds)) throw new Error(`sox --i -D ${file}: not a duration: ${stdout.trim()}`);
  return Math.round(seconds * 1000);
}

/** Encode to MP3 at `kbps` (constant bitrate; LAME through libsox-fmt-mp3), channels as the input has them. */
export async function encodeMp3(input: string, output: string, kbps: number): Promise<void> {
  await runTool('sox', ['-V1', input, '-t', 'mp3', '-C', String(kbps), output], { timeoutMs: SOX_TIMEOUT_MS });
}
