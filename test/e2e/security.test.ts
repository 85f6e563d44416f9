/**
 * Secrets at rest (issue #21, finding 1). The config deploy/asterisk-instance.sh renders from the
 * env file holds the AMI and ARI secrets and the database password (which gives every SIP
 * password): no other local user may read it, Asterisk does not run as root, and the AMI user has
 * only the classes the daemon uses (deploy/README-site.md, "Users, permissions and secrets"). What
 * the daemon's user pbx needs in the instance (the prompts folder, the unserved-calls spool file)
 * still works.
 */
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { asteriskInstance } from '../support/asterisk.js';

const run = promisify(execFile);
const world = inject('e2e');
let inst = '';

/** Run a command as another local user; its exit code and output. */
async function asUser(user: string, cmd: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run('runuser', ['-u', user, '--', ...cmd], { timeout: 30_000 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

const userExists = async (user: string): Promise<boolean> =>
  run('id', ['-u', user]).then(
    () => true,
    () => false,
  );

/** The /proc/<pid>/status fields of this world's Asterisk process. */
async function asteriskStatus(): Promise<Record<string, string>> {
  const pid = (await readFile(path.join(inst, 'run/asterisk.pid'), 'utf8')).trim();
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Object.fromEntries(status.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
}

/** Log in to AMI with the daemon's credentials and send one action; the response block. */
async function amiAction(fields: Record<string, string>, user = world.asteriskEnv['PBX_AMI_USER']!): Promise<string> {
  const env = world.asteriskEnv;
  return new Promise((resolve, reject) => {
    const sock = connect(Number(env['PBX_AMI_PORT']), '127.0.0.1');
    let buf = '';
    const done = (err: Error | null, block = ''): void => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(block);
    };
    const timer = setTimeout(() => done(new Error(`no AMI answer: ${buf}`)), 10_000);
    const send = (f: Record<string, string>): void => {
      sock.write(`${Object.entries(f).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`);
    };
    sock.on('error', (err) => done(err));
    sock.on('data', (d) => {
      buf += d.toString();
      const blocks = buf.split('\r\n\r\n');
      const login = blocks.find((b) => b.includes('ActionID: login'));
      const probe = blocks.slice(0, -1).find((b) => b.includes('ActionID: probe'));
      if (login && !login.includes('Response: Success')) done(new Error(`AMI login refused: ${login}`));
      else if (login && probe) done(null, probe);
    });
    sock.once('connect', () => {
      send({ Action: 'Login', Username: user, Secret: env['PBX_AMI_PASSWORD']!, Events: 'off', ActionID: 'login' });
      send({ ...fields, ActionID: 'probe' });
    });
  });
}

beforeAll(async () => {
  inst = (await asteriskInstance('path', world.asteriskEnv)).trim();
});

describe('secrets at rest', () => {
  const secrets = (): string[] => [world.asteriskEnv['PBX_AMI_PASSWORD']!, world.asteriskEnv['PBX_ARI_PASSWORD']!, world.asteriskEnv['PBX_DB_PASSWORD']!].filter(Boolean);

  it('the rendered config holds the secrets, and user nobody can read none of it', async () => {
    const files = ['manager.conf', 'ari.conf', 'res_pgsql.conf'].map((f) => path.join(inst, 'etc', f));
    // The files do carry the secrets (else the rest proves nothing).
    const text = (await Promise.all(files.map((f) => readFile(f, 'utf8')))).join('\n');
    for (const s of secrets()) expect(text).toContain(s);

    for (const f of files) {
      const r = await asUser('nobody', ['cat', f]);
      expect(r.code, `nobody read ${f}: ${r.out}`).not.toBe(0);
      expect(r.out).toMatch(/Permission denied/);
    }
    // Nor anything else in the instance folder that holds a secret (logs, copies, backups).
    for (const s of secrets()) {
      const r = await asUser('nobody', ['grep', '-rlF', '--', s, inst]);
      expect(r.out, `a secret readable by nobody under ${inst}`).not.toMatch(new RegExp(`^${inst}/\\S+$`, 'm'));
    }
    const listing = await asUser('nobody', ['ls', path.join(inst, 'etc')]);
    expect(listing.code, `nobody listed etc/: ${listing.out}`).not.toBe(0);
  });

  it('Asterisk runs as a non-root user', async () => {
    const status = await asteriskStatus();
    const [ruid, euid, suid, fsuid] = status['Uid']!.split(/\s+/).map(Number);
    const gids = status['Gid']!.split(/\s+/).map(Number);
    const groups = (status['Groups'] ?? '').split(/\s+/).filter(Boolean).map(Number);
    expect([ruid, euid, suid, fsuid].every((u) => u !== 0), `Uid: ${status['Uid']}`).toBe(true);
    expect(gids.every((g) => g !== 0), `Gid: ${status['Gid']}`).toBe(true);
    expect(groups, `Groups: ${status['Groups']}`).not.toContain(0);
    // The config is that user's to read (group), not to change.
    const manager = await stat(path.join(inst, 'etc/manager.conf'));
    expect(manager.mode & 0o777).toBe(0o640);
    expect(manager.uid).toBe(0);
    expect([gids[0], ...groups]).toContain(manager.gid);
  });

  it('the AMI user gets only the classes the daemon uses: no originate, CLI commands or config writes', async () => {
    expect(await amiAction({ Action: 'CoreStatus' })).toMatch(/Response: Success/);
    expect(await amiAction({ Action: 'Command', Command: 'core show version' })).toMatch(/Permission denied/);
    expect(await amiAction({ Action: 'Originate', Channel: 'Local/s@nowhere', Application: 'Wait', Data: '1' })).toMatch(/Permission denied/);
    const update = { Action: 'UpdateConfig', SrcFilename: 'manager.conf', DstFilename: 'manager.conf', 'Action-000000': 'NewCat', 'Cat-000000': 'x' };
    expect(await amiAction(update)).toMatch(/Permission denied/);
  });

  it("the campaign dialer's AMI user may originate, but never into System() (no \"system\" class with it), nor run commands", async () => {
    const dialer = `${world.asteriskEnv['PBX_AMI_USER']!}-dialer`;
    // Asterisk refuses System (and Exec...) to a session without "system": "Originate Access Forbidden: app or data blacklisted"
    expect(await amiAction({ Action: 'Originate', Channel: 'Local/s@nowhere', Application: 'System', Data: 'touch /tmp/pbx-pwned', Async: 'true' }, dialer)).toMatch(/Response: Error[\s\S]*Originate Access Forbidden/);
    expect(await amiAction({ Action: 'Command', Command: 'core show version' }, dialer)).toMatch(/Permission denied/);
    expect(await amiAction({ Action: 'ModuleLoad', Module: 'app_system.so', LoadType: 'load' }, dialer)).toMatch(/Permission denied/);
    // an Originate of a harmless application is accepted (its channel just fails)
    expect(await amiAction({ Action: 'Originate', Channel: 'Local/s@nowhere', Application: 'Wait', Data: '1', Async: 'true' }, dialer)).toMatch(/Response: Success/);
  });

  it("the daemon's user pbx still writes the prompts folder and reads the unserved-calls file", async () => {
    if (!(await userExists('pbx'))) return; // deploy/install.sh makes it; without it the daemon runs as whoever starts it
    const prompts = world.daemonEnv['PBX_PROMPTS_DIR']!;
    const unserved = world.daemonEnv['PBX_UNSERVED_FILE']!;
    const probe = path.join(prompts, `.probe-${process.pid}`);
    const w = await asUser('pbx', ['sh', '-c', 'umask 077 && echo x >"$1" && rm "$1"', 'sh', probe]);
    expect(w.code, w.out).toBe(0);
    const r = await asUser('pbx', ['cat', unserved]);
    expect(r.code, r.out).toBe(0);
    // Asterisk reads what the daemon writes there: the folder's group is one of Asterisk's.
    const status = await asteriskStatus();
    const asteriskGids = [status['Gid']!.split(/\s+/)[0], ...(status['Groups'] ?? '').split(/\s+/)].filter(Boolean).map(Number);
    const folder = await stat(prompts);
    expect(asteriskGids).toContain(folder.gid);
    expect(folder.mode & 0o050).toBe(0o050);
  });
});
