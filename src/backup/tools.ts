/**
 * The system tools a backup runs (adapter): pg_dump, pg_restore, psql and GNU tar, each spawned
 * without a shell, its stderr kept for the error message. Postgres tools get the site database's
 * settings in their environment (PGPASSWORD there, never on a command line).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Transform } from 'node:stream';
import type { Config } from '../config.js';
import { BackupError, ProgressMeter } from './archive.js';

const INSTALL_HINT: Record<string, string> = {
  pg_dump: 'apt-get install postgresql-client',
  pg_restore: 'apt-get install postgresql-client',
  psql: 'apt-get install postgresql-client',
  tar: 'apt-get install tar',
};

export interface Running {
  readonly child: ChildProcess;
  /** Resolves with the exit code when it is one of okExitCodes (default 0); rejects with the last stderr lines otherwise. */
  readonly done: Promise<number>;
}

export function startTool(tool: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; stdin?: 'pipe' | 'ignore'; stdout?: 'pipe' | 'ignore'; okExitCodes?: readonly number[] } = {}): Running {
  const child = spawn(tool, args, { env: opts.env ?? process.env, stdio: [opts.stdin ?? 'ignore', opts.stdout ?? 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-8192);
  });
  const done = new Promise<number>((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) => {
      reject(new BackupError(err.code === 'ENOENT' ? `${tool} is not installed (${INSTALL_HINT[tool] ?? 'install it'})` : `${tool}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      if (code !== null && (opts.okExitCodes ?? [0]).includes(code)) return resolve(code);
      const why = stderr.split('\n').map((l) => l.trim()).filter(Boolean).slice(-3).join(' | ');
      reject(new BackupError(`${tool} failed (${signal ?? `exit ${String(code)}`}): ${why || 'no message'}`));
    });
  });
  return { child, done };
}

/** Run a tool to its end; its stdout as text (small outputs only). */
export async function runTool(tool: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const r = startTool(tool, args, { ...(env ? { env } : {}), stdout: 'pipe' });
  let out = '';
  r.child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
  });
  await r.done;
  return out;
}

/** The environment for pg_dump, pg_restore and psql to reach the site database. */
export function pgEnv(db: Config['db'], app: string): NodeJS.ProcessEnv {
  return { ...process.env, PGHOST: db.host, PGPORT: String(db.port), PGUSER: db.user, PGPASSWORD: db.password, PGDATABASE: db.name, PGAPPNAME: app };
}

/** A pass-through stream that counts bytes and says `<prefix>: <progress><suffix>` at most every `everyMs`. */
export function progressCounter(total: number, everyMs: number, say: (line: string) => void, prefix: string, suffix = ''): Transform {
  const meter = new ProgressMeter(total, everyMs, Date.now());
  let done = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      done += chunk.length;
      const line = meter.update(done, Date.now());
      if (line) say(`${prefix}: ${line}${suffix}`);
      cb(null, chunk);
    },
  });
}
