/**
 * A site backup archive (pure: no I/O). One tar.gz holding
 *
 *   manifest.json               what is inside: version, schema migration, row counts, folders
 *   database.pgdump             pg_dump of the site database (custom format), one snapshot
 *   pbx.env                     the env file, only with --with-env (secret: the archive is 0600)
 *   files/recordings/...        the folders, as relative trees
 *   files/voicemail/...
 *   files/prompts/...
 *
 * The manifest's counts are taken in the transaction whose snapshot pg_dump reads, so they are
 * the dump's counts exactly; restore compares them with what it finds after migrating.
 */

export const MANIFEST_FORMAT = 'pbx-backup/1';
export const MANIFEST_FILE = 'manifest.json';
export const DUMP_FILE = 'database.pgdump';
export const ENV_FILE = 'pbx.env';
export const FILES_DIR = 'files';

export const FOLDERS = ['recordings', 'voicemail', 'prompts'] as const;
export type FolderName = (typeof FOLDERS)[number];

export interface FolderSummary {
  /** Where the folder was on the backed-up machine. */
  readonly from: string;
  /** false: the folder did not exist (nothing of it is in the archive). */
  readonly present: boolean;
  readonly files: number;
  readonly bytes: number;
}

export interface Manifest {
  readonly format: typeof MANIFEST_FORMAT;
  /** The pbx version that wrote the archive (package.json). */
  readonly version: string;
  readonly createdAt: string;
  readonly host: string;
  readonly database: {
    readonly name: string;
    /** The last migration applied when the dump was taken (null: none). */
    readonly migration: string | null;
    readonly serverVersion: string;
    readonly file: typeof DUMP_FILE;
    readonly dumpFormat: 'custom';
    readonly bytes: number;
    /** Rows of every table in schema public, in the dump's snapshot. */
    readonly counts: Readonly<Record<string, number>>;
  };
  readonly folders: Readonly<Record<FolderName, FolderSummary>>;
  /** The env file, when --with-env: it holds passwords and PBX_SECRET_KEY. */
  readonly env: null | { readonly file: typeof ENV_FILE; readonly from: string; readonly secret: true };
}

export class BackupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupError';
  }
}

/**
 * Tables whose rows make a database a site (what `pbx restore` refuses to replace without
 * --force). Migrations seed others (pause reasons, emergency numbers): a freshly migrated
 * database, as `make setup` leaves it, is empty in this sense.
 */
export const SITE_TABLES = ['extensions', 'ps_endpoints', 'trunks', 'queues', 'agents', 'flows', 'cdrs', 'recordings', 'voicemail_messages', 'prompts', 'users', 'webhooks'] as const;

/** The site tables of `counts` that hold rows. */
export function siteTablesWithRows(counts: Readonly<Record<string, number>>): string[] {
  return SITE_TABLES.filter((t) => (counts[t] ?? 0) > 0);
}

export interface CountRow {
  readonly table: string;
  /** null: the table was not in the backup (a later migration made it). */
  readonly backup: number | null;
  /** null: the table is gone after migrating. */
  readonly now: number | null;
}

/** Every table of either side with both counts, sorted by name. */
export function compareCounts(backup: Readonly<Record<string, number>>, now: Readonly<Record<string, number>>): CountRow[] {
  const tables = [...new Set([...Object.keys(backup), ...Object.keys(now)])].sort();
  return tables.map((table) => ({ table, backup: backup[table] ?? null, now: now[table] ?? null }));
}

/** The comparison as lines: tables with rows or a difference, then a verdict. */
export function countLines(rows: readonly CountRow[]): string[] {
  const shown = rows.filter((r) => (r.backup ?? 0) > 0 || (r.now ?? 0) > 0 || r.backup !== r.now);
  const width = Math.max(5, ...shown.map((r) => r.table.length));
  const lines = [`${'table'.padEnd(width)}  ${'backup'.padStart(9)}  ${'now'.padStart(9)}`];
  for (const r of shown) {
    const mark = r.backup === r.now ? '' : r.backup === null ? '  (new table)' : r.now === null ? '  (table gone)' : '  DIFFERS';
    lines.push(`${r.table.padEnd(width)}  ${String(r.backup ?? '-').padStart(9)}  ${String(r.now ?? '-').padStart(9)}${mark}`);
  }
  const differ = rows.filter((r) => r.backup !== null && r.now !== null && r.backup !== r.now);
  lines.push(differ.length ? `counts: ${differ.length} table(s) differ from the backup (a migration may move rows; see above)` : `counts: every table as in the backup (${rows.filter((r) => r.backup !== null).length} tables)`);
  return lines;
}

/** The tar member names of a folder in the archive. */
export const folderMember = (name: FolderName): string => `${FILES_DIR}/${name}`;

const TRANSFORM_DELIMITER = '\u0001';

/**
 * A GNU tar --transform expression that renames the members read from the absolute folder
 * `dir` (tar names them without the leading slash) to files/<name>, the folder and what is under
 * it only: `s^A^var/lib/pbx/recordings\(/.*\)\{0,1\}$^Afiles/recordings\1^AS` (S: symlink
 * targets are left as they are). The delimiter is the control character U+0001 (^A), so any
 * printable path is taken; the path is escaped for a basic regular expression.
 */
export function tarTransform(dir: string, name: FolderName): string {
  if (dir.includes(TRANSFORM_DELIMITER)) throw new BackupError(`the ${name} folder's path holds a control character (U+0001): rename it`);
  const rel = dir.replace(/^\/+/, '').replace(/\/+$/, '');
  const escaped = rel.replace(/[\\.[\]*^$]/g, (c) => `\\${c}`);
  const d = TRANSFORM_DELIMITER;
  return `s${d}^${escaped}\\(/.*\\)\\{0,1\\}$${d}${folderMember(name)}\\1${d}S`;
}

/**
 * The reverse of tarTransform for extraction from the root (tar -C /): files/<name> and what is
 * under it become the absolute folder `dir` of this machine (without its leading slash). The
 * path is escaped for the replacement (\\ and &).
 */
export function tarRestoreTransform(name: FolderName, dir: string): string {
  if (dir.includes(TRANSFORM_DELIMITER)) throw new BackupError(`the ${name} folder's path holds a control character (U+0001): rename it`);
  const rel = dir.replace(/^\/+/, '').replace(/\/+$/, '');
  const escaped = rel.replace(/[\\&]/g, (c) => `\\${c}`);
  const d = TRANSFORM_DELIMITER;
  return `s${d}^${folderMember(name)}\\(/.*\\)\\{0,1\\}$${d}${escaped}\\1${d}S`;
}

/** Two folders where one holds the other cannot be archived side by side. */
export function overlappingFolders(dirs: ReadonlyArray<{ name: string; dir: string }>): string | null {
  const norm = dirs.map((d) => ({ ...d, dir: `${d.dir.replace(/\/+$/, '')}/` }));
  for (const a of norm) {
    for (const b of norm) {
      if (a !== b && b.dir.startsWith(a.dir)) return `the ${b.name} folder ${b.dir} is inside the ${a.name} folder ${a.dir}`;
    }
  }
  return null;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** The manifest of an archive, checked: a file that is not a pbx backup is refused here. */
export function parseManifest(text: string): Manifest {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    throw new BackupError(`${MANIFEST_FILE} is not JSON: not a pbx backup`);
  }
  if (!isRecord(m) || m['format'] !== MANIFEST_FORMAT) throw new BackupError(`not a pbx backup (${MANIFEST_FILE} format is not ${MANIFEST_FORMAT})`);
  const db = m['database'];
  if (!isRecord(db) || !isRecord(db['counts']) || !Object.values(db['counts']).every(isCount) || db['file'] !== DUMP_FILE) {
    throw new BackupError(`${MANIFEST_FILE}: database section is malformed`);
  }
  const folders = m['folders'];
  if (!isRecord(folders) || !FOLDERS.every((f) => isRecord(folders[f]) && isCount(folders[f]['files']) && isCount(folders[f]['bytes']))) {
    throw new BackupError(`${MANIFEST_FILE}: folders section is malformed`);
  }
  if (m['env'] !== null && !(isRecord(m['env']) && m['env']['file'] === ENV_FILE)) throw new BackupError(`${MANIFEST_FILE}: env section is malformed`);
  return m as unknown as Manifest;
}

/** 1536 -> "1.5 KB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/**
 * When to print progress of a long copy: at most every `everyMs`, and at the end. Pure: it is
 * given the time.
 */
export class ProgressMeter {
  private lastAt: number;

  constructor(
    private readonly total: number,
    private readonly everyMs: number,
    now: number,
  ) {
    this.lastAt = now;
  }

  /** A line to print for `done` bytes at `now`, or null. */
  update(done: number, now: number): string | null {
    if (now - this.lastAt < this.everyMs) return null;
    this.lastAt = now;
    const pct = this.total > 0 ? Math.min(99, Math.floor((done / this.total) * 100)) : 0;
    return `${pct}% (${formatBytes(done)} of about ${formatBytes(this.total)})`;
  }
}
