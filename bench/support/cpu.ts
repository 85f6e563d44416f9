/**
 * CPU time used so far by the processes a bench cares about, read from /proc (Linux): user +
 * system, in ms, at the kernel's clock-tick resolution (10 ms). Processes that exit between two
 * readings drop out of the sum, so read around runs of long-lived processes only.
 */
import { readFile, readdir } from 'node:fs/promises';

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** CPU ms of every process whose command name (`comm`) is `name`, or of the process `pid`. */
export async function cpuMs(which: { name: string } | { pid: number }): Promise<number> {
  const pids = 'pid' in which ? [String(which.pid)] : (await readdir('/proc')).filter((p) => /^\d+$/.test(p));
  let ticks = 0;
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
    if (!stat) continue;
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    if ('name' in which && comm !== which.name) continue;
    const fields = stat.slice(close + 2).split(' '); // fields[0] is field 3 (state)
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime: fields 14 and 15
  }
  return ticks * TICK_MS;
}

/**
 * CPU ms of the PostgreSQL backends serving database `db` (their command line reads
 * `postgres: [<cluster>: ]<user> <db> ...`), so that other databases' work on a shared server is left out.
 * Backends that end between two readings drop out of the sum: read around long-lived pools.
 */
export async function postgresCpuMs(db: string): Promise<number> {
  let ticks = 0;
  for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (/^postgres: (?:\S+: )?\S+ (\S+) /.exec(cmdline)?.[1] !== db) continue;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
    if (!stat) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * TICK_MS;
}

/**
 * CPU ms of the process `pid` itself (utime + stime) and of its children it has waited for
 * (cutime + cstime: e.g. the daemon's sox runs), 10 ms ticks. null when the process is gone.
 */
export async function processCpuMs(pid: number): Promise<{ self: number; children: number } | null> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (!stat) return null;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3 (state)
  return {
    self: (Number(fields[11]) + Number(fields[12])) * TICK_MS, // utime, stime: fields 14, 15
    children: (Number(fields[13]) + Number(fields[14])) * TICK_MS, // cutime, cstime: fields 16, 17
  };
}
