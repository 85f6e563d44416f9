/**
 * The only module that imports ari-client. REST calls go through ari-client; the event
 * WebSocket is ours, so that reconnection (capped exponential backoff with jitter) and
 * the "connected again, reconcile now" signal are under our control. ari-client's own
 * reconnect loop cannot be stopped once started and it hides the moment of reconnection.
 */
import ariClient from 'ari-client';
import WebSocket from 'ws';

// swagger-client (inside ari-client) assigns an implicit global `log` that console.logs a
// "deprecated Swagger" line on every connect (breaking our JSON log lines) and keeps every
// message in log.history forever. It looks the global up at call time, so replace it.
(globalThis as { log?: unknown }).log = () => undefined;
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { backoffDelay, type BackoffPolicy } from './backoff.js';
import {
  HANDLED_EVENT_TYPES,
  type AriBridge,
  type AriChannel,
  type AriEvent,
  type CallControl,
  type HangupReason,
  type RecordOptions,
  type TransferProgress,
  type DeviceStateValue,
} from './ari-types.js';

export interface AriSettings {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly app: string;
}

export interface AriListeners {
  /** The event socket is open and our Stasis app is registered (first time or after a reconnect). */
  onConnected(): void;
  onDisconnected(reason: string): void;
  onEvent(event: AriEvent): void;
}

type RestClient = {
  channels: Record<string, (args: Record<string, unknown>) => Promise<unknown>>;
  bridges: Record<string, (args?: Record<string, unknown>) => Promise<unknown>>;
  playbacks: Record<string, (args: Record<string, unknown>) => Promise<unknown>>;
  deviceStates: Record<string, (args: Record<string, unknown>) => Promise<unknown>>;
  applications: Record<string, (args: Record<string, unknown>) => Promise<unknown>>;
  asterisk: Record<string, (args?: Record<string, unknown>) => Promise<unknown>>;
  recordings: Record<string, (args: Record<string, unknown>) => Promise<unknown>>;
};

const RECORDING_NAME = /^[A-Za-z0-9_-]{1,120}$/;

const PING_INTERVAL_MS = 10_000;
const CONNECT_TIMEOUT_MS = 5_000;

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export class AriConnection implements CallControl {
  private rest: RestClient | null = null;
  private socket: WebSocket | null = null;
  private attempt = 0;
  private stopped = true;
  private connected = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private awaitingPong = false;

  constructor(
    private readonly settings: AriSettings,
    private readonly backoff: BackoffPolicy,
    private readonly listeners: AriListeners,
    private readonly log: Logger,
  ) {}

  get isConnected(): boolean {
    return this.connected;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.clearPing();
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.close(1000, 'shutdown');
        setTimeout(resolve, 1000).unref();
      });
    }
    this.connected = false;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const { host, port, user, password, app } = this.settings;
    try {
      // While Asterisk boots, its HTTP server answers before res_ari is loaded; ari-client would then
      // build its REST model from an error page (swagger-client can throw from a callback there).
      // Hand over only once ARI itself answers.
      const probe = await fetch(`http://${host}:${port}/ari/asterisk/info`, {
        headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
        signal: AbortSignal.timeout(CONNECT_TIMEOUT_MS),
      });
      await probe.arrayBuffer();
      if (!probe.ok) throw new Error(`ARI answered HTTP ${probe.status}${probe.status === 401 ? ' (check PBX_ARI_USER/PBX_ARI_PASSWORD)' : ''}`);
      // Loading the REST model again after every reconnect copes with an Asterisk upgrade.
      // A half-booted Asterisk can accept the connection and never answer: never wait forever.
      this.rest = (await withDeadline(ariClient.connect(`http://${host}:${port}`, user, password), CONNECT_TIMEOUT_MS, 'ARI REST model load')) as unknown as RestClient;
    } catch (err) {
      this.scheduleReconnect(`ARI REST not reachable: ${errorText(err)}`);
      return;
    }
    if (this.stopped) return;
    const url = `ws://${host}:${port}/ari/events?app=${encodeURIComponent(app)}&api_key=${encodeURIComponent(
      `${user}:${password}`,
    )}`;
    const socket = new WebSocket(url, { handshakeTimeout: 5_000 });
    this.socket = socket;
    socket.on('open', () => {
      this.attempt = 0;
      this.connected = true;
      this.startPing(socket);
      this.log.info({ app }, 'ARI event socket connected');
      this.listeners.onConnected();
    });
    socket.on('message', (data) => this.handleMessage(data));
    socket.on('pong', () => {
      this.awaitingPong = false;
    });
    socket.on('error', (err) => {
      this.log.debug({ err: errorText(err) }, 'ARI socket error');
    });
    socket.on('close', (code, reason) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.clearPing();
      const wasConnected = this.connected;
      this.connected = false;
      const why = `socket closed (${code}${reason.length ? ` ${reason.toString()}` : ''})`;
      if (wasConnected) this.listeners.onDisconnected(why);
      this.scheduleReconnect(why);
    });
  }

  private handleMessage(data: WebSocket.RawData): void {
    let event: { type?: unknown };
    try {
      event = JSON.parse(data.toString()) as { type?: unknown };
    } catch {
      this.log.warn('ARI sent a message that is not JSON; ignored');
      return;
    }
    if (this.log.isLevelEnabled('trace')) this.log.trace({ event }, 'ARI event');
    if (typeof event.type === 'string' && HANDLED_EVENT_TYPES.has(event.type)) {
      this.listeners.onEvent(event as AriEvent);
    }
  }

  private scheduleReconnect(reason: string): void {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt++, this.backoff);
    this.log.warn({ reason, attempt: this.attempt, delayMs: delay }, 'ARI unavailable; reconnecting');
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }

  /** A half-open TCP connection shows no close event; a missed pong forces a reconnect. */
  private startPing(socket: WebSocket): void {
    this.clearPing();
    this.awaitingPong = false;
    this.pingTimer = setInterval(() => {
      if (this.awaitingPong) {
        this.log.warn('ARI socket missed a pong; dropping it');
        socket.terminate();
        return;
      }
      this.awaitingPong = true;
      socket.ping();
    }, PING_INTERVAL_MS);
  }

  private clearPing(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  private client(): RestClient {
    if (!this.rest || !this.connected) throw new AppError('asterisk-unavailable', 503, 'Asterisk ARI is not connected');
    return this.rest;
  }

  async answer(channelId: string): Promise<void> {
    await this.call(() => this.client().channels.answer!({ channelId }));
  }

  async play(channelId: string, media: string | readonly string[], playbackId: string, lang?: string): Promise<void> {
    // A list goes as one comma-separated value (ARI's allowMultiple); our URIs never hold a comma.
    const list = typeof media === 'string' ? media : media.join(',');
    await this.call(() => this.client().channels.play!({ channelId, media: list, playbackId, ...(lang ? { lang } : {}) }));
  }

  async stopPlayback(playbackId: string): Promise<void> {
    await this.call(() => this.client().playbacks.stop!({ playbackId }));
  }

  async hangup(channelId: string, reason: HangupReason = 'normal'): Promise<void> {
    await this.call(() => this.client().channels.hangup!({ channelId, reason }));
  }

  async ring(channelId: string): Promise<void> {
    await this.call(() => this.client().channels.ring!({ channelId }));
  }

  async originate(o: { channelId: string; endpoint: string; callerId: string; timeoutSeconds: number; appArgs: string }): Promise<void> {
    await this.call(() =>
      this.client().channels.originate!({
        channelId: o.channelId,
        endpoint: o.endpoint,
        callerId: o.callerId,
        timeout: o.timeoutSeconds,
        app: this.settings.app,
        appArgs: o.appArgs,
        // A REFER from the dialed phone raises ChannelTransfer for us instead of a core transfer.
        variables: { 'PJSIP_TRANSFER_HANDLING()': 'ari-only' },
      }),
    );
  }

  /** POST /channels/{id}/transfer_progress (Asterisk 22.3+); straight over HTTP when ari-client lacks it. */
  async transferProgress(channelId: string, state: TransferProgress): Promise<void> {
    const op = this.client().channels.transfer_progress;
    if (op) {
      await this.call(() => op({ channelId, states: state }));
      return;
    }
    const { host, port, user, password } = this.settings;
    let res: Response;
    try {
      res = await fetch(`http://${host}:${port}/ari/channels/${encodeURIComponent(channelId)}/transfer_progress?states=${state}`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      throw new AppError('asterisk-unavailable', 503, `ARI request failed: ${errorText(err)}`);
    }
    if (res.status === 404) throw new AppError('call-not-found', 404, 'Channel not found');
    if (!res.ok) throw new AppError('asterisk-unavailable', 503, `ARI transfer_progress ${channelId}: HTTP ${res.status}`);
  }

  async createBridge(bridgeId: string): Promise<void> {
    await this.call(() => this.client().bridges.create!({ bridgeId, type: 'mixing' }));
  }

  async addToBridge(bridgeId: string, channelIds: readonly string[]): Promise<void> {
    await this.call(() => this.client().bridges.addChannel!({ bridgeId, channel: channelIds.join(',') }));
  }

  async destroyBridge(bridgeId: string): Promise<void> {
    await this.call(() => this.client().bridges.destroy!({ bridgeId }));
  }

  async setDeviceState(name: string, state: DeviceStateValue): Promise<void> {
    await this.call(() => this.client().deviceStates.update!({ deviceName: `Stasis:${name}`, deviceState: state }));
  }

  async startMoh(channelId: string): Promise<void> {
    await this.call(() => this.client().channels.startMoh!({ channelId }));
  }

  async stopMoh(channelId: string): Promise<void> {
    await this.call(() => this.client().channels.stopMoh!({ channelId }));
  }

  async followChannel(channelId: string): Promise<void> {
    await this.call(() =>
      this.client().applications.subscribe!({ applicationName: this.settings.app, eventSource: `channel:${channelId}` }),
    );
  }

  async listChannels(): Promise<AriChannel[]> {
    const list = (await this.call(() => this.client().channels.list!({}))) as unknown[];
    return list.map(plain<AriChannel>);
  }

  async listBridges(): Promise<AriBridge[]> {
    const list = (await this.call(() => this.client().bridges.list!())) as unknown[];
    return list.map(plain<AriBridge>);
  }

  async appChannelIds(): Promise<string[]> {
    const app = (await this.call(() =>
      this.client().applications.get!({ applicationName: this.settings.app }),
    )) as { channel_ids?: string[] };
    return [...(app.channel_ids ?? [])];
  }

  async record(channelId: string, o: RecordOptions): Promise<void> {
    if (!RECORDING_NAME.test(o.name)) throw new AppError('validation-failed', 400, `bad recording name ${o.name}`);
    await this.call(() =>
      this.client().channels.record!({
        channelId,
        name: o.name,
        format: o.format,
        maxDurationSeconds: o.maxDurationSeconds,
        maxSilenceSeconds: o.maxSilenceSeconds,
        beep: o.beep,
        terminateOn: o.terminateOn,
        ifExists: 'fail',
      }),
    );
  }

  /** ari-client cannot fetch binary bodies: GET /ari/recordings/stored/{name}/file directly. */
  async storedRecordingFile(name: string): Promise<Buffer | null> {
    if (!RECORDING_NAME.test(name)) throw new AppError('validation-failed', 400, `bad recording name ${name}`);
    if (!this.connected) throw new AppError('asterisk-unavailable', 503, 'Asterisk ARI is not connected');
    const { host, port, user, password } = this.settings;
    let res: Response;
    try {
      res = await fetch(`http://${host}:${port}/ari/recordings/stored/${name}/file`, {
        headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      throw new AppError('asterisk-unavailable', 503, `ARI request failed: ${errorText(err)}`);
    }
    if (res.status === 404) return null;
    if (!res.ok) throw new AppError('asterisk-unavailable', 503, `ARI stored recording ${name}: HTTP ${res.status}`);
    return Buffer.from(await res.arrayBuffer());
  }

  async deleteStoredRecording(name: string): Promise<void> {
    if (!RECORDING_NAME.test(name)) return;
    await this.call(() => this.client().recordings.deleteStored!({ recordingName: name })).catch((err: unknown) => {
      if (!(err instanceof AppError && err.code === 'call-not-found')) throw err;
    });
  }

  async asteriskInfo(): Promise<Record<string, unknown>> {
    return plain(await this.call(() => this.client().asterisk.getInfo!()));
  }

  /** Translate ari-client failures (which carry only the response body) into AppErrors. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof AppError) throw err;
      const body = errorText(err);
      // ARI's 404 bodies are {"message":"Channel not found"} / "Playback not found" and similar.
      if (/not found/i.test(body)) throw new AppError('call-not-found', 404, body);
      throw new AppError('asterisk-unavailable', 503, `ARI request failed: ${body}`);
    }
  }
}

/** ari-client resources carry a back-reference to the client (`_client`); keep the data only. */
function plain<T>(resource: unknown): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(resource as Record<string, unknown>)) {
    if (!key.startsWith('_') && typeof value !== 'function') out[key] = value;
  }
  return out as T;
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
