/**
 * `pbx` command line: serve, migrate, token create, user create, doctor, test-call, backup, restore, config.
 */
import { parseArgs } from 'node:util';
import { loadConfig, loadEnvFile, loadEnvFileFromEnvironment, describeConfig, ConfigError, type Config } from './config.js';
import { createLogger } from './logger.js';
import { createDb, createPool } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { AuthService, CLI_ACTOR } from './auth/service.js';
import { ROLES, type Role } from './auth/tables.js';
import { isAppError } from './errors.js';
import { runDoctor } from './doctor.js';
import { VERSION } from './version.js';

const USAGE = `pbx ${VERSION}: PBX and contact-center control plane

usage: pbx [--env-file FILE] <command>

commands:
  serve                          run the daemon (API, ARI/AMI connections, call handling)
  migrate                        apply database migrations
  token create --role ROLE       create an API token and print it once
      [--user NAME] [--name LABEL] [--ttl-days N | --no-expiry]
  user create NAME --role ROLE   create a user (admin | supervisor | viewer)
  doctor                         check Asterisk, Postgres and Redis and say how to fix problems
  test-call [--number N]         place a real SIP call (SIPp) to the *99 test service and show its CDR
  backup [--out FILE] [--with-env]
                                 write one archive (tar.gz, 0600) of the database, recordings,
                                 voicemail and prompts; --with-env adds the env file (secret)
  restore FILE [--force]         restore an archive into this machine's database and folders,
                                 then migrate; --force replaces a database that holds a site
  config                         list every environment variable and its current value

The environment is read from the process; --env-file (or PBX_ENV_FILE) loads a file first.`;

function fail(message: string, code = 2): never {
  process.stderr.write(`pbx: ${message}\n`);
  process.exit(code);
}

function config(): Config {
  try {
    return loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) fail(`${err.message}\nSee README "Configuration" or run \`pbx config\`.`, 78);
    throw err;
  }
}

async function withDb<T>(cfg: Config, fn: (db: ReturnType<typeof createDb>) => Promise<T>): Promise<T> {
  const db = createDb(createPool(cfg.db, 2));
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

async function migrate(cfg: Config): Promise<void> {
  await withDb(cfg, async (db) => {
    const { error, results } = await migrateToLatest(db);
    for (const r of results ?? []) process.stdout.write(`${r.status === 'Success' ? 'applied' : r.status}: ${r.migrationName}\n`);
    if (error) fail(`migration failed: ${(error as Error).message}`, 1);
    if (!results?.length) process.stdout.write('database is up to date\n');
  });
}

/** The env file this command loaded (--env-file, else PBX_ENV_FILE), or null. */
function envFileInUse(flag: string | undefined): string | null {
  return flag ?? process.env['PBX_ENV_FILE'] ?? null;
}

function parseRole(value: string | undefined): Role {
  if (!value || !(ROLES as readonly string[]).includes(value)) fail(`--role must be one of ${ROLES.join(', ')}`);
  return value as Role;
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'env-file': { type: 'string' },
      role: { type: 'string' },
      user: { type: 'string' },
      name: { type: 'string' },
      'ttl-days': { type: 'string' },
      'no-expiry': { type: 'boolean' },
      number: { type: 'string' },
      out: { type: 'string' },
      'with-env': { type: 'boolean' },
      force: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  try {
    const envFile = values['env-file'];
    if (envFile) loadEnvFile(envFile);
    else loadEnvFileFromEnvironment();
  } catch (err) {
    fail((err as Error).message, 78);
  }
  const [command, sub, arg] = positionals;
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }

  switch (command) {
    case 'serve': {
      const { serve } = await import('./main.js');
      return serve(config());
    }
    case 'migrate':
      return migrate(config());
    case 'token': {
      if (sub !== 'create') fail('usage: pbx token create --role ROLE [--user NAME] [--name LABEL] [--ttl-days N | --no-expiry]');
      const role = parseRole(values.role);
      const ttl = values['no-expiry'] ? null : values['ttl-days'] ? Number(values['ttl-days']) : 90;
      if (ttl !== null && (!Number.isInteger(ttl) || ttl < 1 || ttl > 3650)) fail('--ttl-days must be a whole number from 1 to 3650');
      const username = values.user ?? role;
      if (!/^[a-z0-9][a-z0-9._-]{1,63}$/.test(username)) fail('--user must be 2-64 lower-case letters, digits, . _ -');
      const cfg = config();
      await withDb(cfg, async (db) => {
        const created = await new AuthService(db).createToken(CLI_ACTOR, {
          username,
          name: values.name ?? 'created with pbx token create',
          ttlDays: ttl,
          ensureRole: role,
        });
        process.stderr.write(
          `token for ${created.username} (${created.role}), id ${created.id}, ${created.expiresAt ? `expires ${created.expiresAt.toISOString()}` : 'never expires'}.\nIt is shown only now; store it safely.\n`,
        );
        process.stdout.write(`${created.token}\n`);
      });
      return;
    }
    case 'user': {
      if (sub !== 'create' || !arg) fail('usage: pbx user create NAME --role ROLE');
      const role = parseRole(values.role);
      await withDb(config(), async (db) => {
        const user = await new AuthService(db).createUser(CLI_ACTOR, arg, role);
        process.stdout.write(`created user ${user.username} (${user.role}), id ${user.id}\n`);
      });
      return;
    }
    case 'doctor': {
      const ok = await runDoctor((line) => process.stdout.write(`${line}\n`), process.env);
      return process.exit(ok ? 0 : 1);
    }
    case 'test-call': {
      const { testCall } = await import('./selftest.js');
      const cfg = config();
      const ok = await withDb(cfg, (db) => testCall(cfg, db, values.number ?? '*99', (line) => process.stdout.write(`${line}\n`)));
      return process.exit(ok ? 0 : 1);
    }
    case 'backup': {
      const { createBackup, defaultBackupName } = await import('./backup/backup.js');
      const cfg = config();
      const say = (line: string) => process.stdout.write(`${line}\n`);
      await withDb(cfg, (db) => createBackup(cfg, db, { out: values.out ?? defaultBackupName(), withEnv: values['with-env'] ?? false, envFile: envFileInUse(values['env-file']) }, say));
      return;
    }
    case 'restore': {
      if (!sub) fail('usage: pbx restore FILE [--force]');
      const { restoreBackup } = await import('./backup/restore.js');
      const cfg = config();
      const say = (line: string) => process.stdout.write(`${line}\n`);
      await withDb(cfg, (db) => restoreBackup(cfg, db, { file: sub, force: values.force ?? false, envFile: envFileInUse(values['env-file']) }, say));
      return;
    }
    case 'config':
      process.stdout.write(`${describeConfig(process.env).join('\n')}\n`);
      return;
    default:
      fail(`unknown command "${command}"\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (isAppError(err)) fail(`${err.code}: ${err.message}`, 1);
  if (err instanceof Error && err.name === 'BackupError') fail(err.message, 1);
  const logger = createLogger('error');
  logger.fatal({ err }, 'command failed');
  process.exit(1);
});
