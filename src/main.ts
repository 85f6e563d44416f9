import type { Config } from './config.js';
import { createLogger } from './logger.js';
import { createApp } from './app.js';
import { VERSION } from './version.js';

/** `pbx serve`: run until SIGTERM/SIGINT, then shut down gracefully. */
export async function serve(config: Config): Promise<void> {
  const log = createLogger(config.log.level);
  log.info({ version: VERSION, http: `${config.http.host}:${config.http.port}`, ari: `${config.ari.host}:${config.ari.port}`, app: config.ari.app }, 'starting pbx');
  const app = await createApp(config, log);

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (++signals > 1) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    log.info({ signal }, 'signal received');
    const force = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownGraceMs + 5_000);
    force.unref();
    app.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // Faults in adapters are recovered where they happen; an unexpected rejection is logged, not fatal.
  process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'unhandled promise rejection'));

  try {
    await app.start();
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'could not start (is the HTTP port free?)');
    await app.stop().catch(() => undefined);
    process.exit(1);
  }
  const scheme = config.http.tls ? 'https' : 'http';
  const plain = config.http.tls && config.http.plainPort !== null ? { plainHttp: `http://${config.http.host}:${config.http.plainPort}`, provisionPlain: config.http.provisionPlain } : {};
  log.info({ address: `${scheme}://${config.http.host}:${config.http.port}`, ...plain }, 'pbx is serving; API docs at /docs');
}
