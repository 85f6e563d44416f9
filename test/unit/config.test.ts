import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, describeConfig, loadConfig } from '../../src/config.js';

const minimal = { PBX_ARI_USER: 'pbx', PBX_ARI_PASSWORD: 'a', PBX_AMI_USER: 'pbx', PBX_AMI_PASSWORD: 'b', PBX_SECRET_KEY: Buffer.alloc(32).toString('base64') };

describe('pbx config (describeConfig)', () => {
  it('shows settings but hides passwords and PBX_SECRET_KEY', () => {
    const lines = describeConfig({ ...minimal, PBX_HTTP_PORT: '8443' }).join('\n');
    expect(lines).toMatch(/^PBX_HTTP_PORT\s+8443$/m);
    for (const name of ['PBX_ARI_PASSWORD', 'PBX_AMI_PASSWORD', 'PBX_SECRET_KEY']) expect(lines).toMatch(new RegExp(`^${name}\\s+\\(set, hidden\\)$`, 'm'));
    expect(lines).not.toContain(minimal.PBX_SECRET_KEY);
  });
});

describe('loadConfig', () => {
  it('applies defaults and freezes the result', () => {
    const c = loadConfig(minimal);
    expect(c.http.port).toBe(8080);
    expect(c.http.authFailures).toEqual({ limit: 20, windowSeconds: 60 });
    expect(c.ari).toMatchObject({ host: '127.0.0.1', port: 8088, app: 'pbx' });
    expect(c.redis.prefix).toBe('pbx');
    expect(Object.isFrozen(c.ari)).toBe(true);
  });

  it('names every missing required variable at once', () => {
    try {
      loadConfig({});
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems.join('\n');
      for (const v of ['PBX_ARI_USER', 'PBX_ARI_PASSWORD', 'PBX_AMI_USER', 'PBX_AMI_PASSWORD', 'PBX_SECRET_KEY']) expect(problems).toContain(v);
    }
  });

  it.each([
    ['PBX_HTTP_PORT', 'eighty', 'whole number'],
    ['PBX_HTTP_PORT', '70000', 'between 0 and 65535'],
    ['PBX_ARI_PORT', '0', 'between 1 and 65535'],
    ['PBX_LOG_LEVEL', 'loud', 'one of'],
    ['PBX_REDIS_URL', 'http://x', 'redis:// URL'],
    ['PBX_ARI_APP', 'my app', 'letters'],
    ['PBX_GREETING', 'sound:x;rm -rf', 'media URI'],
    ['PBX_ARI_PASSWORD', 'a\nb', 'single line'],
    ['PBX_AUTH_FAIL_LIMIT', '0', 'between 1 and'],
    ['PBX_AUTH_FAIL_WINDOW_SECONDS', 'a minute', 'whole number'],
    ['PBX_SECRET_KEY', 'too-short', '32 bytes in base64'],
    ['PBX_SECRET_KEY', Buffer.alloc(31).toString('base64'), '32 bytes in base64'],
  ])('rejects %s=%j naming it', (name, value, words) => {
    expect(() => loadConfig({ ...minimal, [name]: value })).toThrow(new RegExp(`${name}.*${words}`));
  });

  it('reads the overload limits: defaults, values, 0 for off, and rejects a bad one naming it', () => {
    expect(loadConfig(minimal).overload).toEqual({ maxCalls: 500, maxCallsInSetup: 40, maxLagMs: 500 });
    expect(loadConfig({ ...minimal, PBX_MAX_CALLS: '3', PBX_MAX_CALLS_IN_SETUP: '0', PBX_OVERLOAD_LAG_MS: '0' }).overload).toEqual({ maxCalls: 3, maxCallsInSetup: 0, maxLagMs: 0 });
    expect(() => loadConfig({ ...minimal, PBX_MAX_CALLS: '-1' })).toThrow(/PBX_MAX_CALLS must be a whole number/);
    expect(() => loadConfig({ ...minimal, PBX_OVERLOAD_LAG_MS: '90000' })).toThrow(/PBX_OVERLOAD_LAG_MS must be between 0 and 60000/);
  });

  it('reads the webhook retry window in hours, a fraction allowed, and rejects a bad one naming it', () => {
    expect(loadConfig(minimal).webhooks.retryForMs).toBe(24 * 3_600_000);
    expect(loadConfig({ ...minimal, PBX_WEBHOOK_RETRY_HOURS: '0.5' }).webhooks.retryForMs).toBe(1_800_000);
    expect(loadConfig({ ...minimal, PBX_WEBHOOK_RETRY_HOURS: '0' }).webhooks.retryForMs).toBe(0);
    expect(() => loadConfig({ ...minimal, PBX_WEBHOOK_RETRY_HOURS: 'a day' })).toThrow(/PBX_WEBHOOK_RETRY_HOURS must be a number/);
    expect(() => loadConfig({ ...minimal, PBX_WEBHOOK_RETRY_HOURS: '-1' })).toThrow(/PBX_WEBHOOK_RETRY_HOURS must be a number/);
    expect(() => loadConfig({ ...minimal, PBX_WEBHOOK_RETRY_HOURS: '168.5' })).toThrow(/PBX_WEBHOOK_RETRY_HOURS must be between 0 and 168/);
  });

  it('reads the failed-authentication limit', () => {
    expect(loadConfig({ ...minimal, PBX_AUTH_FAIL_LIMIT: '5', PBX_AUTH_FAIL_WINDOW_SECONDS: '300' }).http.authFailures).toEqual({ limit: 5, windowSeconds: 300 });
  });

  it('rejects a reconnect cap below the base delay', () => {
    expect(() => loadConfig({ ...minimal, PBX_RECONNECT_BASE_MS: '5000', PBX_RECONNECT_MAX_MS: '1000' })).toThrow(/PBX_RECONNECT_MAX_MS/);
  });
});

describe('site settings', () => {
  it('accepts an IANA time zone and refuses a made-up one', () => {
    expect(loadConfig({ ...minimal, PBX_TIMEZONE: 'Europe/Berlin' }).site.timezone).toBe('Europe/Berlin');
    expect(() => loadConfig({ ...minimal, PBX_TIMEZONE: 'Mars/Olympus' })).toThrow(/PBX_TIMEZONE.*IANA/);
  });
});

describe('HTTPS settings (PBX_TLS_CERT, PBX_TLS_KEY, PBX_HTTP_PLAIN_PORT, PBX_PROVISION_PLAIN_HTTP)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pbx-config-tls-'));
  const cert = path.join(dir, 'site.crt');
  const key = path.join(dir, 'site.key');
  writeFileSync(cert, 'certificate');
  writeFileSync(key, 'key');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const problems = (env: Record<string, string>): string => {
    try {
      loadConfig({ ...minimal, ...env });
    } catch (err) {
      return (err as ConfigError).problems.join('\n');
    }
    return '';
  };

  it('without them: plain HTTP on PBX_HTTP_PORT, provisioning included, no second port', () => {
    expect(loadConfig(minimal).http).toMatchObject({ tls: null, plainPort: null, provisionPlain: true });
    expect(loadConfig({ ...minimal, PBX_TLS_CERT: '', PBX_TLS_KEY: '' }).http.tls).toBeNull();
  });

  it('with both: HTTPS, no plain port, provisioning over HTTPS only', () => {
    expect(loadConfig({ ...minimal, PBX_TLS_CERT: cert, PBX_TLS_KEY: key }).http).toMatchObject({
      tls: { certFile: cert, keyFile: key },
      plainPort: null,
      provisionPlain: false,
    });
  });

  it('takes the plain port and plain provisioning beside TLS', () => {
    const c = loadConfig({ ...minimal, PBX_TLS_CERT: cert, PBX_TLS_KEY: key, PBX_HTTP_PLAIN_PORT: '8081', PBX_PROVISION_PLAIN_HTTP: 'yes' });
    expect(c.http).toMatchObject({ plainPort: 8081, provisionPlain: true });
  });

  it.each([
    [{ PBX_TLS_CERT: cert }, /PBX_TLS_CERT and PBX_TLS_KEY go together/],
    [{ PBX_TLS_KEY: key }, /PBX_TLS_CERT and PBX_TLS_KEY go together/],
    [{ PBX_TLS_CERT: 'site.crt', PBX_TLS_KEY: key }, /PBX_TLS_CERT must be an absolute path/],
    [{ PBX_TLS_CERT: cert, PBX_TLS_KEY: path.join(dir, 'missing.key') }, /PBX_TLS_KEY: cannot read .*missing\.key \(ENOENT\)/],
    [{ PBX_HTTP_PLAIN_PORT: '8081' }, /PBX_HTTP_PLAIN_PORT needs PBX_TLS_CERT/],
    [{ PBX_TLS_CERT: cert, PBX_TLS_KEY: key, PBX_HTTP_PLAIN_PORT: '8080' }, /PBX_HTTP_PLAIN_PORT must differ/],
    [{ PBX_TLS_CERT: cert, PBX_TLS_KEY: key, PBX_HTTP_PLAIN_PORT: 'web' }, /PBX_HTTP_PLAIN_PORT must be a whole number/],
    [{ PBX_TLS_CERT: cert, PBX_TLS_KEY: key, PBX_PROVISION_PLAIN_HTTP: 'yes' }, /PBX_PROVISION_PLAIN_HTTP=yes needs PBX_HTTP_PLAIN_PORT/],
    [{ PBX_PROVISION_PLAIN_HTTP: 'maybe' }, /PBX_PROVISION_PLAIN_HTTP must be one of yes, no/],
  ])('refuses %j', (env, message) => {
    expect(problems(env)).toMatch(message);
  });

  it.skipIf(process.getuid?.() === 0)('refuses a key the daemon cannot read', () => {
    const locked = path.join(dir, 'locked.key');
    writeFileSync(locked, 'key', { mode: 0o000 });
    expect(problems({ PBX_TLS_CERT: cert, PBX_TLS_KEY: locked })).toMatch(/PBX_TLS_KEY: cannot read .* \(EACCES\)/);
  });
});
