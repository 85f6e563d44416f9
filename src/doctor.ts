/**
 * `pbx doctor`: check the configuration and each dependency, and say how to fix what is wrong.
 */
import { sql } from 'kysely';
import { Redis } from 'ioredis';
import { loadConfig, ConfigError, type Config } from './config.js';
import { createDb, createPool } from './db/database.js';
import { AmiConnection } from './telephony/ami.js';
import { createLogger } from './logger.js';
import { promptToolVersions } from './prompts/media.js';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { RecordingStore } from './recordings/service.js';

type Out = (line: string) => void;

export async function runDoctor(out: Out, env: Readonly<Record<string, string | undefined>>): Promise<boolean> {
  let config: Config;
  try {
    config = loadConfig(env);
    out('ok    configuration is valid');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) out(`FAIL  config: ${p}`);
    out('      fix: set the variables in /etc/pbx/pbx.env (written by deploy/install.sh) or the environment; `pbx config` lists them');
    return false;
  }
  const results = await Promise.all([checkPostgres(config), checkRedis(config), checkAri(config), checkAmi(config), checkPromptTools(), Promise.resolve(checkTls(config)), checkRecordings(config)]);
  for (const lines of results) for (const l of lines.lines) out(l);
  return results.every((r) => r.ok);
}

export interface Outcome {
  ok: boolean;
  lines: string[];
}

async function checkPostgres(c: Config): Promise<Outcome> {
  const db = createDb(createPool(c.db, 1));
  const where = `${c.db.user}@${c.db.host}:${c.db.port}/${c.db.name}`;
  try {
    await sql`select 1`.execute(db);
    const lines = [`ok    postgres reachable (${where})`];
    const tables = await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = 'public'`.execute(db);
    const have = new Set(tables.rows.map((r) => r.name));
    const missing = ['cdrs', 'users', 'api_tokens', 'ps_endpoints', 'ps_auths', 'ps_aors'].filter((t) => !have.has(t));
    if (missing.length) {
      return { ok: false, lines: [...lines, `FAIL  postgres: tables missing: ${missing.join(', ')}`, '      fix: run `pbx migrate`'] };
    }
    lines.push('ok    postgres schema migrated (incl. PJSIP realtime tables)');
    return { ok: true, lines };
  } catch (err) {
    const msg = (err as Error).message;
    const hint = /ECONNREFUSED/.test(msg)
      ? 'is PostgreSQL running? `deploy/install.sh` installs and starts it'
      : /does not exist/.test(msg)
        ? 'create the database and role: `deploy/install.sh` does it'
        : /password|authentication/.test(msg)
          ? 'PBX_DB_PASSWORD does not match the role\'s password'
          : 'check PBX_DB_* variables';
    return { ok: false, lines: [`FAIL  postgres ${where}: ${msg}`, `      fix: ${hint}`] };
  } finally {
    await db.destroy().catch(() => undefined);
  }
}

async function checkRedis(c: Config): Promise<Outcome> {
  const redis = new Redis(c.redis.url, { ...(c.redis.password === null ? {} : { password: c.redis.password }), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2_000 });
  redis.on('error', () => undefined);
  const shown = c.redis.url.replace(/\/\/([^@/]*)@/, '//***@'); // never print a password from the URL
  try {
    await redis.connect();
    await redis.ping();
    const settings = await checkRedisQueueSettings(redis);
    return { ok: settings.ok, lines: [`ok    redis reachable (${shown}${c.redis.password === null ? ', no password' : ', with password'}, key prefix "${c.redis.prefix}:")`, ...settings.lines] };
  } catch (err) {
    const message = (err as Error).message;
    const fix = /NOAUTH|WRONGPASS|invalid password/i.test(message)
      ? '      fix: set PBX_REDIS_PASSWORD to the password of this Redis (its requirepass)'
      : '      fix: start redis-server (deploy/install.sh does) or set PBX_REDIS_URL';
    return { ok: false, lines: [`FAIL  redis ${shown}: ${message}`, fix] };
  } finally {
    redis.disconnect();
  }
}

/** What CONFIG GET said; null: CONFIG cannot be used here (renamed away, or not allowed to this user). */
export interface RedisQueueSettings {
  readonly appendonly: string;
  readonly maxmemoryPolicy: string;
  readonly maxmemory: number;
}

/**
 * The Redis settings the BullMQ job queues (recordings, webhooks, campaign attempts, list imports)
 * need (docs/operations.md, "Redis"): `maxmemory-policy noeviction` (an evicting Redis drops job
 * keys and locks silently: a FAIL) and `appendonly yes` (without it a Redis restart forgets the
 * queued jobs; the daemon queues them again from Postgres, so a WARN: work is late, not lost).
 */
export function judgeRedisSettings(s: RedisQueueSettings | null): Outcome {
  if (s === null) {
    return {
      ok: true,
      lines: [
        'WARN  redis: cannot tell appendonly and maxmemory-policy (CONFIG GET is disabled or not allowed here)',
        '      fix: check by hand that redis.conf has `appendonly yes` and `maxmemory-policy noeviction`',
      ],
    };
  }
  const lines: string[] = [];
  let ok = true;
  if (s.maxmemoryPolicy === 'noeviction') lines.push('ok    redis maxmemory-policy noeviction (job keys are never evicted)');
  else {
    ok = false;
    lines.push(
      `FAIL  redis maxmemory-policy ${s.maxmemoryPolicy}${s.maxmemory === 0 ? ' (maxmemory 0: nothing is evicted until a limit is set)' : ''}: BullMQ loses jobs and their locks when Redis evicts keys`,
      '      fix: `maxmemory-policy noeviction` in redis.conf (now: redis-cli CONFIG SET maxmemory-policy noeviction; CONFIG REWRITE)',
    );
  }
  if (s.appendonly === 'yes') lines.push('ok    redis appendonly yes (queued jobs survive a Redis restart)');
  else {
    lines.push(
      `WARN  redis appendonly ${s.appendonly}: a Redis restart forgets the queued jobs (campaign attempts, webhook deliveries and imports are queued again from Postgres, later)`,
      '      fix: `appendonly yes` in redis.conf (now: redis-cli CONFIG SET appendonly yes; CONFIG REWRITE)',
    );
  }
  return { ok, lines };
}

/** CONFIG GET through `redis` (connected); a refused CONFIG (renamed, ACL) reads as "cannot tell". */
export async function checkRedisQueueSettings(redis: Redis): Promise<Outcome> {
  const get = async (name: string): Promise<string | null> => {
    const reply = (await redis.call('CONFIG', 'GET', name)) as string[];
    return reply[1] ?? null;
  };
  let settings: RedisQueueSettings | null = null;
  try {
    const [appendonly, maxmemoryPolicy, maxmemory] = await Promise.all([get('appendonly'), get('maxmemory-policy'), get('maxmemory')]);
    if (appendonly !== null && maxmemoryPolicy !== null) settings = { appendonly, maxmemoryPolicy, maxmemory: Number(maxmemory ?? 0) };
  } catch (err) {
    if (!/unknown command|NOPERM|no permissions/i.test((err as Error).message)) throw err;
  }
  return judgeRedisSettings(settings);
}

async function checkAri(c: Config): Promise<Outcome> {
  const base = `http://${c.ari.host}:${c.ari.port}/ari`;
  const auth = `Basic ${Buffer.from(`${c.ari.user}:${c.ari.password}`).toString('base64')}`;
  try {
    const res = await fetch(`${base}/asterisk/info`, { headers: { authorization: auth }, signal: AbortSignal.timeout(3_000) });
    if (res.status === 401) {
      return { ok: false, lines: [`FAIL  ARI ${base}: credentials refused`, '      fix: PBX_ARI_USER/PBX_ARI_PASSWORD must match asterisk ari.conf; re-render with deploy/asterisk-instance.sh restart'] };
    }
    if (!res.ok) return { ok: false, lines: [`FAIL  ARI ${base}: HTTP ${res.status}`, '      fix: check that res_ari is loaded (asterisk modules.conf)'] };
    const info = (await res.json()) as { system?: { version?: string } };
    const version = info.system?.version ?? 'unknown';
    const lines = [`ok    ARI reachable, Asterisk ${version}`];
    let ok = true;
    if (!/^2[2-9]\./.test(version)) {
      lines.push(`WARN  Asterisk ${version}: this product is built and tested on Asterisk 22`);
    }
    // Whether an Asterisk module is loaded and running (ARI GET /asterisk/modules/<name>).
    const running = async (module: string): Promise<boolean> => {
      const res = await fetch(`${base}/asterisk/modules/${module}`, { headers: { authorization: auth }, signal: AbortSignal.timeout(3_000) });
      return res.ok && ((await res.json()) as { status?: string }).status === 'Running';
    };
    if (await running('res_config_pgsql.so')) lines.push('ok    res_config_pgsql running (PJSIP endpoints from Postgres)');
    else {
      ok = false;
      lines.push('FAIL  res_config_pgsql is not running: phones and trunks in Postgres are invisible to Asterisk', '      fix: check asterisk res_pgsql.conf and the Asterisk log');
    }
    // The dialplan fallback's modules (asterisk/modules.conf): without them calls are still answered, only their CDRs are lost.
    const fallback = [
      ['func_realtime', 'calls while no daemon is connected get a CDR', 'calls that arrive while no daemon is connected get no CDR'],
      ['func_env', 'such calls get a CDR also when Postgres was down', 'a call arriving while no daemon is connected and Postgres is down gets no CDR'],
    ] as const;
    for (const [module, works, lost] of fallback) {
      if (await running(`${module}.so`)) lines.push(`ok    ${module} running (${works})`);
      else lines.push(`WARN  ${module} is not loaded: ${lost}`, '      fix: re-render the Asterisk config (deploy/asterisk-instance.sh restart, or make run)');
    }
    return { ok, lines };
  } catch (err) {
    return {
      ok: false,
      lines: [`FAIL  ARI ${base}: ${(err as Error).cause ? String((err as Error & { cause: Error }).cause.message) : (err as Error).message}`, '      fix: is Asterisk running? `deploy/asterisk-instance.sh start` (or `make run`)'],
    };
  }
}

const CERT_RENEW_DAYS = 30;

/** The HTTPS certificate: readable, matching its key, and how long it is valid (a warning in its last 30 days). */
function checkTls(c: Config, now = new Date()): Outcome {
  const fix = '      fix: deploy/site-cert.sh create makes a self-signed site certificate (make setup runs it); see docs/operations.md, "HTTPS"';
  if (!c.http.tls) return { ok: true, lines: ['WARN  no TLS (PBX_TLS_CERT/PBX_TLS_KEY unset): the API and provisioning files (SIP passwords) go over plain HTTP', fix] };
  try {
    const cert = new X509Certificate(readFileSync(c.http.tls.certFile));
    if (!cert.checkPrivateKey(createPrivateKey(readFileSync(c.http.tls.keyFile)))) {
      return { ok: false, lines: [`FAIL  ${c.http.tls.keyFile} is not the key of ${c.http.tls.certFile}`, fix] };
    }
    const days = Math.floor((new Date(cert.validTo).getTime() - now.getTime()) / 86_400_000);
    const what = `HTTPS certificate ${c.http.tls.certFile} (${cert.subject.replace(/\n/g, ', ')}; ${cert.subjectAltName ?? 'no subjectAltName'})`;
    if (days < 0) return { ok: false, lines: [`FAIL  ${what} expired on ${cert.validTo}`, fix] };
    if (days < CERT_RENEW_DAYS) return { ok: true, lines: [`WARN  ${what} expires in ${days} days (${cert.validTo}): renew it, and trust the new one on the phones`, fix] };
    return { ok: true, lines: [`ok    ${what}, valid until ${cert.validTo} (${days} days)`] };
  } catch (err) {
    return { ok: false, lines: [`FAIL  HTTPS certificate: ${(err as Error).message}`, fix] };
  }
}

/** sox (with MP3) converts uploaded prompts; espeak-ng speaks text-to-speech prompts. */
async function checkPromptTools(): Promise<Outcome> {
  const fix = '      fix: deploy/install.sh installs sox, libsox-fmt-mp3 and espeak-ng (apt-get install sox libsox-fmt-mp3 espeak-ng)';
  try {
    const v = await promptToolVersions();
    const lines: string[] = [];
    if (v.sox === null) lines.push('FAIL  sox not found: prompt uploads cannot be converted');
    else if (!v.soxMp3) lines.push(`FAIL  ${v.sox.replace(/^sox:\s*/, '')} cannot read MP3: MP3 prompt uploads are refused`);
    else lines.push(`ok    ${v.sox.replace(/^sox:\s*/, '')} with MP3 (prompt uploads)`);
    if (v.espeak === null) lines.push('FAIL  espeak-ng not found: text-to-speech prompts cannot be made');
    else lines.push(`ok    ${v.espeak.replace(/\s+Data at:.*$/, '')} (text-to-speech prompts)`);
    const ok = lines.every((l) => l.startsWith('ok'));
    return { ok, lines: ok ? lines : [...lines, fix] };
  } catch (err) {
    return { ok: false, lines: [`FAIL  prompt tools: ${(err as Error).message}`, fix] };
  }
}

const MB = 1024 * 1024;
const SHOWN = 10;

/**
 * Call recordings: free space on their disk (below PBX_RECORDINGS_MIN_FREE_MB no recording starts),
 * and orphans both ways (a file no row names, a row whose file is gone). Deletion never leaves
 * either (src/recordings/service.ts), so each one is a fault to look into; a deletion cut short by
 * a crash (row 'deleting') is finished by the next retention run.
 */
async function checkRecordings(c: Config): Promise<Outcome> {
  const db = createDb(createPool(c.db, 1));
  const store = new RecordingStore({ db, settings: c.recordings, log: createLogger('silent') });
  const lines: string[] = [];
  let ok = true;
  try {
    const disk = await store.diskCheck();
    if (disk.freeBytes === null) {
      ok = false;
      lines.push(`FAIL  recordings folder ${disk.dir}: ${disk.error ?? 'unreadable'}`, '      fix: make setup makes it (deploy/asterisk-instance.sh env); or set PBX_RECORDINGS_DIR');
    } else if (!disk.ok) {
      ok = false;
      lines.push(
        `FAIL  recordings disk ${disk.dir}: ${Math.floor(disk.freeBytes / MB)} MB free, below PBX_RECORDINGS_MIN_FREE_MB (${Math.floor(disk.minFreeBytes / MB)}): new recordings are not started`,
        '      fix: free space, shorten retention (PBX_RECORDING_RETENTION_DAYS, a queue\'s recordingRetentionDays) or move PBX_RECORDINGS_DIR to a larger disk',
      );
    } else lines.push(`ok    recordings disk ${disk.dir}: ${Math.floor(disk.freeBytes / MB)} MB free (threshold ${Math.floor(disk.minFreeBytes / MB)} MB)`);
    const o = await store.orphans();
    const deleting = o.rowsWithoutFiles.filter((r) => r.state === 'deleting');
    const missing = o.rowsWithoutFiles.filter((r) => r.state !== 'deleting');
    if (o.filesWithoutRows.length > 0) {
      ok = false;
      lines.push(`FAIL  recordings: ${o.filesWithoutRows.length} file(s) without a row: ${o.filesWithoutRows.slice(0, SHOWN).join(', ')}${o.filesWithoutRows.length > SHOWN ? ', ...' : ''}`);
    }
    if (missing.length > 0) {
      ok = false;
      lines.push(`FAIL  recordings: ${missing.length} row(s) without a file: ${missing.slice(0, SHOWN).map((r) => `${r.id} (${r.path})`).join(', ')}${missing.length > SHOWN ? ', ...' : ''}`);
    }
    if (o.filesWithoutRows.length + missing.length > 0) lines.push('      fix: restore the files from a backup, or remove them / the rows by hand (docs/recording.md, "Orphans")');
    if (deleting.length > 0) lines.push(`WARN  recordings: ${deleting.length} deletion(s) cut short; the next retention run finishes them`);
    if (o.leftovers.length > 0) lines.push(`WARN  recordings: ${o.leftovers.length} leftover(s) of interrupted compressions (the job redoes it): ${o.leftovers.slice(0, SHOWN).join(', ')}`);
    if (o.filesWithoutRows.length + o.rowsWithoutFiles.length + o.leftovers.length === 0) lines.push('ok    recordings: every file has its row and every row its file');
    return { ok, lines };
  } catch (err) {
    return { ok: false, lines: [...lines, `FAIL  recordings check: ${(err as Error).message}`] };
  } finally {
    await db.destroy().catch(() => undefined);
  }
}

async function checkAmi(c: Config): Promise<Outcome> {
  const ami = new AmiConnection(c.ami, { baseMs: 10_000, maxMs: 10_000 }, createLogger('silent'));
  ami.start();
  try {
    const deadline = Date.now() + 3_000;
    while (!ami.isConnected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (!ami.isConnected) {
      return { ok: false, lines: [`FAIL  AMI ${c.ami.host}:${c.ami.port}: no login within 3 s`, '      fix: is Asterisk running, and do PBX_AMI_USER/PBX_AMI_PASSWORD match manager.conf?'] };
    }
    const res = await ami.action({ action: 'CoreStatus' });
    return { ok: true, lines: [`ok    AMI logged in (core up since ${res['corestartupdate'] ?? '?'} ${res['corestartuptime'] ?? ''})`.trimEnd()] };
  } finally {
    await ami.stop();
  }
}
