/**
 * Pieces the call benches share (bench/acd-vs-app-queue.ts, bench/recording.ts): SIPp runs,
 * API calls that must succeed, and carrier trunks whose calls go to a dialplan context of the
 * bench's choosing (the dialplan-only baselines) or to the daemon.
 */
import { spawn } from 'node:child_process';
import { sql } from 'kysely';
import type { Db } from '../../src/db/database.js';
import type { Reply } from '../../test/support/pbx.js';
import { freePort } from '../../test/support/ports.js';

/** SIPp with these arguments in `cwd` (it looks for pcap files there): its exit code and a way to stop it. */
export function sipp(args: string[], cwd: string): { done: Promise<number | null>; kill: () => void } {
  const proc = spawn('sipp', args, { cwd, stdio: 'ignore' });
  const done = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { done, kill: () => proc.kill('SIGTERM') };
}

type ApiCall = (method: string, url: string, body?: unknown) => Promise<Reply>;

/** The API client, throwing on any answer but 2xx: a bench cannot go on after a refused set-up step. */
export function strict(api: ApiCall): (method: string, url: string, body?: unknown) => Promise<Reply['body']> {
  return async (method, url, body) => {
    const res = await api(method, url, body);
    if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
}

/**
 * IP-identified carrier trunks made through the API (no OPTIONS keep-alives); a trunk given a
 * context has its endpoint moved there (a bench-only dialplan context) instead of the daemon's.
 */
export async function carrierTrunks(api: ApiCall, conn: Db, trunks: readonly { name: string; host: string; context?: string }[]): Promise<void> {
  const ok = strict(api);
  for (const t of trunks) {
    await ok('POST', '/api/v1/trunks', { name: t.name, kind: 'ip', host: t.host, port: await freePort(true), codecs: ['ulaw'] });
    await sql`update ps_aors set qualify_frequency = 0 where id = ${`trunk-${t.name}`}`.execute(conn);
    if (t.context) await sql`update ps_endpoints set context = ${t.context} where id = ${`trunk-${t.name}`}`.execute(conn);
  }
}
