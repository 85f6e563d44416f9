/**
 * Where a recording's file is, relative to PBX_RECORDINGS_DIR (pure): `YYYY/MM/DD/<call id>-<id>.<ext>`,
 * the day the recording started (UTC). A person can back the folder up by day, and a file names
 * its call and its row. The compressed file keeps the name and changes the extension.
 */
import path from 'node:path';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const FILE = /^(.+)-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.(?:part\.)?([a-z0-9]{1,8})$/;

export const isRecordingId = (id: string): boolean => UUID.test(id);

/** A call id as a file name part: letters, digits, _ . - (anything else becomes _). */
export const safeCallId = (callId: string): string => callId.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 100) || 'call';

const pad = (n: number): string => String(n).padStart(2, '0');

/** The day folder of a recording that started at `startedAt`: YYYY/MM/DD (UTC). */
export const dayFolder = (startedAt: Date): string =>
  `${startedAt.getUTCFullYear()}/${pad(startedAt.getUTCMonth() + 1)}/${pad(startedAt.getUTCDate())}`;

export function recordingPath(startedAt: Date, callId: string, id: string, ext: string): string {
  return `${dayFolder(startedAt)}/${safeCallId(callId)}-${id}.${ext}`;
}

/** The same path with another extension (the compressed file beside its original). */
export const withExtension = (relative: string, ext: string): string => relative.replace(/\.[a-z0-9]{1,8}$/, '') + `.${ext}`;

/** The recording id a file name carries (`<call id>-<uuid>.<ext>`, or `.part.mp3` while compressing); null for any other file. */
export function idOfFile(name: string): string | null {
  const m = FILE.exec(path.basename(name));
  return m ? m[2]! : null;
}

/** A stored relative path inside `root`; throws for one that leaves it (.., absolute). */
export function resolveInside(root: string, relative: string): string {
  const full = path.resolve(root, relative);
  if (path.isAbsolute(relative) || !full.startsWith(path.resolve(root) + path.sep)) throw new Error(`recording path ${relative} is outside ${root}`);
  return full;
}

/**
 * Where Asterisk writes the two directions of a call in progress (the call side: MixMonitor r()/t(),
 * `incoming/<id>-rx.wav` and `-tx.wav`), merged into the recording's file after the call.
 */
export const INCOMING = 'incoming';
const INCOMING_FILE = /^incoming\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-(rx|tx)\.[a-z0-9]{1,8}$/;

/** The recording id of a direction file in incoming/; null for any other path. */
export function incomingId(relative: string): string | null {
  return INCOMING_FILE.exec(relative)?.[1] ?? null;
}
