/**
 * Asterisk serves PJSIP endpoints, auths and AORs from memory caches (asterisk/sorcery.conf), and
 * the daemon expires an extension's objects after each change over AMI (src/telephony/pjsip-cache.ts):
 * a changed password and a deleted extension take effect at the next REGISTER, not when the cached
 * copy ages out (docs/operations.md#sip-account-cache).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Daemon } from '../support/daemon.js';
import { asteriskInstance } from '../support/asterisk.js';
import { registerPhone } from '../support/sipp.js';
import { freePort } from '../support/ports.js';
import { apiClient, startReadyDaemon } from '../support/pbx.js';
import { openDb } from '../support/db.js';
import { sipPasswordDigest } from '../../src/extensions/sip-credentials.js';

const world = inject('e2e');
let daemon: Daemon;
let admin: ReturnType<typeof apiClient>;

const rx = (command: string) => asteriskInstance('rx', world.asteriskEnv, command);
/** The ids the named memory cache holds now (`sorcery memory cache dump`). */
async function cached(cache: string): Promise<string[]> {
  return (await rx(`sorcery memory cache dump ${cache}`)).split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean);
}
const register = async (ext: string, password: string) => (await registerPhone({ sipPort: world.sipPort, ext, password, port: await freePort(true), expires: 60 })).code;

beforeAll(async () => {
  ({ daemon, admin } = await startReadyDaemon(world.daemonEnv));
});

afterAll(async () => {
  for (const n of ['4301', '4302']) await admin('DELETE', `/api/v1/extensions/${n}`).catch(() => undefined);
  await daemon?.stop();
});

describe('the SIP account cache', () => {
  it('a rotated password is refused (old) and accepted (new) on the next REGISTER; a deleted extension can no longer register', async () => {
    const made = await admin('POST', '/api/v1/extensions', { number: '4301', displayName: 'Cache' });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const first = (made.body as { secret: string }).secret;
    expect(await register('4301', first)).toBe(0);
    // Asterisk now holds the extension's objects in memory: what the daemon must expire.
    expect(await cached('pbx-auth')).toContain('4301');
    expect(await cached('pbx-endpoint')).toContain('4301');

    const { secret: second } = (await admin('POST', '/api/v1/extensions/4301/rotate-password')).body as { secret: string };
    expect(await register('4301', first)).not.toBe(0);
    expect(await register('4301', second)).toBe(0);

    expect((await admin('DELETE', '/api/v1/extensions/4301')).status).toBe(204);
    expect(await cached('pbx-auth')).not.toContain('4301');
    expect(await register('4301', second)).not.toBe(0);
  });

  it('a manual edit of ps_auths is not seen until the object is expired (what docs/operations.md tells operators)', async () => {
    const made = await admin('POST', '/api/v1/extensions', { number: '4302', displayName: 'Manual' });
    const password = (made.body as { secret: string }).secret;
    expect(await register('4302', password)).toBe(0);
    const db = openDb(world.db);
    try {
      await db.updateTable('ps_auths').set({ password_digest: sipPasswordDigest('4302', 'edited-by-hand') }).where('id', '=', '4302').execute();
    } finally {
      await db.destroy();
    }
    // The cached auth still answers: the old password works, the new one not yet.
    expect(await register('4302', password)).toBe(0);
    await rx('sorcery memory cache expire pbx-auth 4302');
    expect(await register('4302', 'edited-by-hand')).toBe(0);
    expect(await register('4302', password)).not.toBe(0);
  });
});
