/**
 * The only module that imports asterisk-manager. Keeps one AMI session alive with capped
 * exponential backoff (the library's own keepConnected() waits 10-60 s in fixed steps and
 * logs to stdout), and gives actions a timeout so a dropped connection never hangs a caller.
 */
import AsteriskManager from 'asterisk-manager';
import type { Logger } from '../logger.js';
import { AppError } from '../errors.js';
import { backoffDelay, type BackoffPolicy } from '../shared/backoff.js';

export interface AmiSettings {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
}

export type AmiEvent = Readonly<Record<string, string>> & { readonly event: string };
export type AmiResponse = Readonly<Record<string, string | undefined>>;

interface Manager {
  connect(port: number, host: string, cb: (err?: Error | null) => void): void;
  login(cb: (err?: Error | null) => void): void;
  action(action: Record<string, string>, cb: (err: unknown, res: AmiResponse) => void): string;
  disconnect(cb?: () => void): void;
  isConnected(): boolean;
  on(event: string, fn: (...args: unknown[]) => void): void;
  removeAllListeners(event?: string): void;
}

const ACTION_TIMEOUT_MS = 5_000;
const LOGIN_TIMEOUT_MS = 5_000;

export class AmiConnection {
  private manager: Manager | null = null;
  private attempt = 0;
  private stopped = true;
  private loggedIn = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly eventHandlers: ((e: AmiEvent) => void)[] = [];
  private readonly connectHandlers: (() => void)[] = [];

  constructor(
    private readonly settings: AmiSettings,
    private readonly backoff: BackoffPolicy,
    private readonly log: Logger,
  ) {}

  get isConnected(): boolean {
    return this.loggedIn;
  }

  onEvent(handler: (e: AmiEvent) => void): void {
    this.eventHandlers.push(handler);
  }

  /** Called after every successful login (first connect and each reconnect). */
  onConnected(handler: () => void): void {
    this.connectHandlers.push(handler);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const m = this.manager;
    this.manager = null;
    this.loggedIn = false;
    if (m) await new Promise<void>((resolve) => m.disconnect(resolve));
  }

  private connect(): void {
    if (this.stopped) return;
    const { host, port, user, password } = this.settings;
    // Events on: the daemon follows registrations and device states from AMI in later features.
    const m = new (AsteriskManager as unknown as new (...a: unknown[]) => Manager)(undefined, host, user, password, true);
    this.manager = m;
    let failed = false;
    const fail = (why: string): void => {
      clearTimeout(loginTimer);
      if (failed || this.manager !== m) return;
      failed = true;
      const was = this.loggedIn;
      this.loggedIn = false;
      m.removeAllListeners('close');
      m.disconnect();
      if (was) this.log.warn({ why }, 'AMI connection lost');
      this.scheduleReconnect(why);
    };
    m.on('error', (err) => fail(`error: ${(err as Error)?.message ?? String(err)}`));
    m.on('close', () => fail('connection closed'));
    m.on('managerevent', (e) => {
      for (const h of this.eventHandlers) h(e as AmiEvent);
    });
    // A half-booted Asterisk can accept TCP and never answer the login: give up and retry.
    const loginTimer = setTimeout(() => {
      if (!this.loggedIn) fail(`no login answer within ${LOGIN_TIMEOUT_MS} ms`);
    }, LOGIN_TIMEOUT_MS);
    m.connect(port, host, (err) => {
      if (err) return fail(`connect: ${err.message}`);
      m.login((loginErr) => {
        clearTimeout(loginTimer);
        if (loginErr) {
          const msg = (loginErr as { message?: string }).message ?? 'authentication failed';
          return fail(`login rejected: ${msg}`);
        }
        this.attempt = 0;
        this.loggedIn = true;
        this.log.info({ host, port }, 'AMI connected');
        for (const h of this.connectHandlers) h();
      });
    });
  }

  private scheduleReconnect(reason: string): void {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt++, this.backoff);
    this.log.warn({ reason, attempt: this.attempt, delayMs: delay }, 'AMI unavailable; reconnecting');
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Send an action. Values must already be validated: never pass caller-controlled text here. */
  action(fields: Record<string, string>, timeoutMs = ACTION_TIMEOUT_MS): Promise<AmiResponse> {
    const m = this.manager;
    if (!m || !this.loggedIn) {
      return Promise.reject(new AppError('asterisk-unavailable', 503, 'Asterisk AMI is not connected'));
    }
    for (const v of Object.values(fields)) {
      if (/[\r\n]/.test(v)) return Promise.reject(new AppError('validation-failed', 400, 'AMI field contains a line break'));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new AppError('asterisk-unavailable', 503, `AMI action ${fields['action'] ?? ''} timed out`)),
        timeoutMs,
      );
      m.action(fields, (err, res) => {
        clearTimeout(timer);
        if (err) {
          const message = (err as { message?: string }).message ?? 'AMI action failed';
          reject(new AppError('asterisk-unavailable', 503, message));
        } else resolve(res);
      });
    });
  }
}
