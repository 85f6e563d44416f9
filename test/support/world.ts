/**
 * A throwaway world for e2e tests and benchmarks: a fresh database, a unique Redis prefix and
 * an Asterisk 22 instance of its own (own ports and dirs) reading PJSIP endpoints from that database,
 * plus the environment a daemon needs to join it. teardown() removes all of it.
 */
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { baseDbSettings, REDIS_OPTIONS, REDIS_PASSWORD_ENV, REDIS_URL, runId, TEST_SECRET_KEY, type DbSettings } from './env.js';
import { createTestDatabase, dropTestDatabase } from './db.js';
import { asteriskInstance } from './asterisk.js';
import { freePort } from './ports.js';

export interface World {
  id: string;
  db: DbSettings;
  redisPrefix: string;
  asteriskEnv: Record<string, string>;
  daemonEnv: Record<string, string>;
  sipPort: number;
  /** SIP over TLS (transport-tls): its port and the world's self-signed certificate for 127.0.0.1 (PEM file). */
  sipTls: { port: number; certFile: string };
}

export const secret = (): string => randomBytes(18).toString('base64url');

export async function createWorld(kind: 'e2e' | 'bench', daemonOverrides: Record<string, string> = {}): Promise<World & { teardown: () => Promise<void> }> {
  const id = runId();
  const db: DbSettings = { ...baseDbSettings(), name: `pbx_${kind}_${id}` };
  const redisPrefix = `pbx-${kind}-${id}`;
  await createTestDatabase(db);
  const [sipPort, ariPort, amiPort, httpPort, sipTlsPort] = [await freePort(true), await freePort(), await freePort(), await freePort(), await freePort()];
  // The world's own site certificate for SIP over TLS (like deploy/site-cert.sh's, for 127.0.0.1).
  const tlsDir = await mkdtemp(path.join(tmpdir(), `pbx-${kind}-tls-`));
  const sipTls = { port: sipTlsPort, certFile: path.join(tlsDir, 'pbx.crt') };
  const keyFile = path.join(tlsDir, 'pbx.key');
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/O=pbx test/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', keyFile, '-out', sipTls.certFile,
  ]);
  const common = {
    PBX_ARI_PORT: String(ariPort),
    PBX_AMI_PORT: String(amiPort),
    PBX_ARI_USER: 'pbx',
    PBX_ARI_PASSWORD: secret(),
    PBX_AMI_USER: 'pbx',
    PBX_AMI_PASSWORD: secret(),
    PBX_ARI_APP: `pbx-${kind}-${id}`,
    PBX_DB_HOST: db.host,
    PBX_DB_PORT: String(db.port),
    PBX_DB_NAME: db.name,
    PBX_DB_USER: db.user,
    PBX_DB_PASSWORD: db.password,
  };
  const asteriskEnv = {
    ...common, PBX_AST_INSTANCE: `${kind}-${id}`, PBX_SIP_PORT: String(sipPort), PBX_SIP_BIND: '127.0.0.1',
    PBX_SIP_TLS_PORT: String(sipTlsPort), PBX_TLS_CERT: sipTls.certFile, PBX_TLS_KEY: keyFile,
  };
  await asteriskInstance('start', asteriskEnv);
  // Where prompts go so that this (possibly chrooted) Asterisk plays them: PBX_PROMPTS_DIR{,_ASTERISK}.
  const instanceEnv = Object.fromEntries(
    (await asteriskInstance('env', asteriskEnv))
      .split('\n')
      .map((line) => /^(PBX_[A-Z_]+)=(.*)$/.exec(line.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1]!, m[2]!]),
  );
  const dataDir = await mkdtemp(path.join(tmpdir(), `pbx-${kind}-data-`));
  const daemonEnv = {
    ...common,
    PBX_DATA_DIR: dataDir,
    PBX_HTTP_HOST: '127.0.0.1',
    PBX_HTTP_PORT: String(httpPort),
    PBX_REDIS_URL: REDIS_URL(),
    ...REDIS_PASSWORD_ENV(),
    PBX_REDIS_PREFIX: redisPrefix,
    PBX_SECRET_KEY: TEST_SECRET_KEY,
    PBX_SIP_TLS_PORT: String(sipTlsPort),
    ...instanceEnv,
    ...daemonOverrides,
  };

  const teardown = async (): Promise<void> => {
    let dir = '';
    try {
      dir = (await asteriskInstance('path', asteriskEnv)).trim();
      await asteriskInstance('stop', asteriskEnv);
    } finally {
      if (dir.includes(`pbx-instances/${kind}-`)) await rm(dir, { recursive: true, force: true });
      await dropTestDatabase(db);
      await rm(dataDir, { recursive: true, force: true });
      await rm(tlsDir, { recursive: true, force: true });
      const redis = new Redis(REDIS_URL(), REDIS_OPTIONS());
      const keys = await redis.keys(`${redisPrefix}:*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
  };
  return { id, db, redisPrefix, asteriskEnv, daemonEnv, sipPort, sipTls, teardown };
}
