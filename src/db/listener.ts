/**
 * LISTEN on one Postgres channel over a connection of its own, kept open: when it drops (Postgres
 * restarted, network) it is opened again with capped backoff, and `onConnected` runs each time it
 * is (re)established, because notifications sent while it was down are lost and the listener's
 * owner must reload what it keeps.
 */
import pg from 'pg';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { logRejection } from '../shared/log-rejection.js';
import { backoffDelay, type BackoffPolicy } from '../shared/backoff.js';

const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;

export interface ListenerHandlers {
  onNotification(payload: string): void;
  onConnected(): void;
  /** The connection is gone (dropped, failed to open, or stopped): notices may be missed from now. */
  onLost?(): void;
}

export class PgListener {
  private client: pg.Client | null = null;
  private stopped = true;
  private attempt = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Config['db'],
    private readonly channel: string,
    private readonly backoff: BackoffPolicy,
    private readonly handlers: ListenerHandlers,
    private readonly log: Logger,
  ) {
    if (!CHANNEL.test(channel)) throw new Error(`bad LISTEN channel name ${channel}`);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    logRejection(this.connect(), this.log, 'Postgres LISTEN connect failed', { channel: this.channel });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const client = this.client;
    this.client = null;
    this.handlers.onLost?.();
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const { host, port, name, user, password } = this.db;
    const client = new pg.Client({ host, port, database: name, user, password, application_name: 'pbx-listen', connectionTimeoutMillis: 5_000, keepAlive: true });
    let lost = false;
    const retry = (err?: Error): void => {
      if (lost) return;
      lost = true;
      if (this.client === client) this.client = null;
      logRejection(client.end(), this.log, 'Postgres LISTEN connection not closed', { channel: this.channel });
      if (this.stopped) return;
      this.handlers.onLost?.();
      const delay = backoffDelay(this.attempt++, this.backoff);
      this.log.warn({ channel: this.channel, err: err?.message, retryInMs: delay }, 'Postgres LISTEN connection lost; reconnecting');
      this.timer = setTimeout(() => logRejection(this.connect(), this.log, 'Postgres LISTEN reconnect failed', { channel: this.channel }), delay);
      this.timer.unref();
    };
    client.on('error', retry);
    client.on('end', () => retry());
    client.on('notification', (n) => {
      if (n.channel === this.channel && n.payload !== undefined) this.handlers.onNotification(n.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
    } catch (err) {
      retry(err as Error);
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.attempt = 0;
    this.handlers.onConnected();
  }
}
