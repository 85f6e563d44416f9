/**
 * Faults for the tests under load (test/load/faults.test.ts), each scoped to one world: the
 * machine's Postgres and Redis are shared with other worlds and test runs, so neither server is
 * stopped; only this world's connections are cut and refused.
 *
 * - postgresOutage(): what a Postgres restart does to the world's database, for every client of
 *   it (the daemon and Asterisk's realtime alike): each connection is terminated by the server
 *   (57P01 "terminating connection due to administrator command", as a fast shutdown sends), and
 *   new ones are refused (the database's connection limit 0: 53300) until restore().
 * - Redis: the daemon reaches it through a TCP gate (test/support/tcp-gate.ts), closed and opened.
 * - killAsterisk(): SIGKILL to the world's own Asterisk instance; asteriskInstance('start') brings
 *   it back.
 * - recordingsDisk(): a small tmpfs of its own as the recordings folder, filled to its last byte
 *   (and kept full) and emptied again.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, statfs } from 'node:fs/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import type { DbSettings } from './env.js';
import { asteriskInstance } from './asterisk.js';
import { eventually } from './wait.js';

const run = promisify(execFile);

async function asAdmin<T>(db: DbSettings, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  // The maintenance database, not the world's: this connection must not be refused or cut itself.
  const client = new pg.Client({ host: db.host, port: db.port, user: db.user, password: db.password, database: 'postgres' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const ident = (name: string): string => {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`bad database name ${name}`);
  return name;
};

/** The world's database's connections, by application name (the daemon's pool has none; Asterisk's is asterisk-<instance>). */
export async function pgConnections(db: DbSettings): Promise<{ application: string; count: number }[]> {
  return asAdmin(db, async (c) => {
    const res = await c.query<{ application: string; count: string }>(
      'select application_name as application, count(*) as count from pg_stat_activity where datname = $1 group by 1 order by 1',
      [db.name],
    );
    return res.rows.map((r) => ({ application: r.application, count: Number(r.count) }));
  });
}

/**
 * Postgres goes away for the world's database: its connections are terminated and new ones
 * refused until restore(). Returns how many were cut. The role owns the database (it made it),
 * so no superuser is needed; superusers (none of ours) would not be refused.
 */
export async function postgresOutage(db: DbSettings): Promise<{ terminated: number; restore: () => Promise<void> }> {
  const name = ident(db.name);
  const terminated = await asAdmin(db, async (c) => {
    await c.query(`alter database ${name} connection limit 0`);
    const res = await c.query<{ ok: boolean }>('select pg_terminate_backend(pid) as ok from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [name]);
    return res.rows.filter((r) => r.ok).length;
  });
  return {
    terminated,
    restore: () => asAdmin(db, async (c) => void (await c.query(`alter database ${name} connection limit -1`))),
  };
}

/** Asterisk's process id for the world's instance (its pid file). */
export async function asteriskPid(asteriskEnv: Record<string, string>): Promise<number> {
  const dir = (await asteriskInstance('path', asteriskEnv)).trim();
  const pid = Number((await readFile(`${dir}/run/asterisk.pid`, 'utf8')).trim());
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`no Asterisk pid in ${dir}/run/asterisk.pid`);
  return pid;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** SIGKILL the world's Asterisk (no shutdown of any kind: calls, ARI and AMI vanish at once); resolves once it is gone. */
export async function killAsterisk(asteriskEnv: Record<string, string>): Promise<number> {
  const pid = await asteriskPid(asteriskEnv);
  process.kill(pid, 'SIGKILL');
  await eventually(async () => (alive(pid) ? undefined : true), 10_000, `Asterisk ${pid} gone after SIGKILL`, 20);
  return pid;
}

/**
 * A recordings folder on a tmpfs of its own (`sizeMb`), owned as make setup makes the real one
 * (asterisk:pbx 2770: Asterisk writes through the group). fill() takes every free byte with filler
 * files and keeps taking what the daemon frees (it deletes merged and compressed originals) every
 * 100 ms; free() stops that and removes them; remove() unmounts.
 */
export async function recordingsDisk(dir: string, sizeMb: number): Promise<{
  fill: () => Promise<void>;
  free: () => Promise<void>;
  freeBytes: () => Promise<number>;
  remove: () => Promise<void>;
}> {
  await mkdir(dir, { recursive: true });
  await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m,mode=2770`, 'pbx-load-recordings', dir]);
  await run('chown', ['asterisk:pbx', dir]);
  const freeBytes = async (): Promise<number> => {
    const s = await statfs(dir);
    return Number(s.bavail) * Number(s.bsize);
  };
  let fillers = 0;
  let keeping: NodeJS.Timeout | null = null;
  // dd stops with "No space left on device" (exit 1) once the disk is full: that is the point.
  const takeTheRest = () => run('dd', ['if=/dev/zero', `of=${dir}/filler-${fillers++}`, 'bs=4k']).catch(() => undefined);
  let taking: Promise<unknown> = Promise.resolve();
  return {
    fill: async () => {
      await takeTheRest();
      if ((await freeBytes()) > 1024 * 1024) throw new Error(`${dir} not full after the filler`);
      keeping = setInterval(() => {
        taking = taking.then(async () => ((await freeBytes()) > 0 ? takeTheRest() : undefined));
      }, 100);
    },
    free: async () => {
      if (keeping) clearInterval(keeping);
      keeping = null;
      await taking;
      for (let i = 0; i < fillers; i++) await rm(`${dir}/filler-${i}`, { force: true });
    },
    freeBytes,
    remove: async () => {
      if (keeping) clearInterval(keeping);
      await taking;
      await run('umount', [dir]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
