/**
 * Asterisk over ARI: REST requests (ari-rest.ts) and the event WebSocket. Both are ours, so that
 * reconnection (capped exponential backoff with jitter) and the "connected again, reconcile now"
 * signal are under our control (ari-client's reconnect loop cannot be stopped once started and
 * hides the moment of reconnection), and a request costs a fraction of a millisecond.
 */
import WebSocket from 'ws';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { logRejection } from '../shared/log-rejection.js';
import { AriRest, seg, type AriRequestTimer } from './ari-rest.js';
import { backoffDelay, type BackoffPolicy } from '../shared/backoff.js';
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
  /** Each REST request's time (the metrics); optional. */
  onRequestTimed?: AriRequestTimer;
}

const RECORDING_NAME = /^[A-Za-z0-9_-]{1,120}$/;

const PING_INTERVAL_MS = 10_000;
const CONNECT_TIMEOUT_MS = 5_000;

export class AriConnection implements CallControl {
  private readonly rest: AriRest;
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
  ) {
    this.rest = new AriRest(settings, listeners.onRequestTimed);
  }

  get isConnected(): boolean {
    return this.connected;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    logRejection(this.connect(), this.log, 'ARI connect failed');
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
    this.rest.close();
    this.connected = false;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const { host, port, user, password, app } = this.settings;
    try {
      // While Asterisk boots, its HTTP server answers before res_ari is loaded (and a half-booted
      // one can accept the connection and never answer): open the event socket once ARI answers.
      await this.rest.json('GET', '/asterisk/info', undefined, undefined, CONNECT_TIMEOUT_MS);
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
      this.filterEvents(app);
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

  /**
   * Asterisk 22's per-application event filter: only the event types the daemon reads are sent
   * (the daemon drops the others anyway). On the `*99` path that is 7 of 15 events per call and
   * more than half of the bytes (ChannelVarset x6, ChannelDialplan), which Asterisk would otherwise
   * serialize and write. An Asterisk without it (older than 20.x) answers an error: all events come, as before.
   */
  private filterEvents(app: string): void {
    const allowed = [...HANDLED_EVENT_TYPES].map((type) => ({ type }));
    this.rest
      .json('PUT', `/applications/${seg(app)}/eventFilter`, undefined, { allowed })
      .catch((err: unknown) => this.log.info({ err: errorText(err) }, 'ARI event filter not set; every event type is sent'));
  }

  private handleMessage(data: WebSocket.RawData): void {
    let event: { type?: unknown };
    try {
      event = JSON.parse(data.toString()) as { type?: unknown };
    } catch {
      this.log.warn('ARI sent a message that is not JSON; ignored');
      return;
    }
    // Never a DTMF digit, even at trace: card numbers typed during a PCI pause must not reach a log.
    if (this.log.isLevelEnabled('trace')) this.log.trace({ event: event.type === 'ChannelDtmfReceived' ? { ...event, digit: '-' } : event }, 'ARI event');
    if (typeof event.type === 'string' && HANDLED_EVENT_TYPES.has(event.type)) {
      this.listeners.onEvent(event as AriEvent);
    }
  }

  private scheduleReconnect(reason: string): void {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt++, this.backoff);
    this.log.warn({ reason, attempt: this.attempt, delayMs: delay }, 'ARI unavailable; reconnecting');
    this.retryTimer = setTimeout(() => logRejection(this.connect(), this.log, 'ARI reconnect failed'), delay);
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

  /** The REST side, once the event socket is up (a request to a half-started Asterisk would only time out). */
  private api(): AriRest {
    if (!this.connected) throw new AppError('asterisk-unavailable', 503, 'Asterisk ARI is not connected');
    return this.rest;
  }

  async answer(channelId: string): Promise<void> {
    await this.api().json('POST', `/channels/${seg(channelId)}/answer`);
  }

  async play(channelId: string, media: string | readonly string[], playbackId: string, lang?: string): Promise<void> {
    // A list goes as one comma-separated value (ARI's allowMultiple); our URIs never hold a comma.
    const list = typeof media === 'string' ? media : media.join(',');
    await this.api().json('POST', `/channels/${seg(channelId)}/play/${seg(playbackId)}`, { media: list, lang });
  }

  async stopPlayback(playbackId: string): Promise<void> {
    await this.api().json('DELETE', `/playbacks/${seg(playbackId)}`);
  }

  async hangup(channelId: string, reason: HangupReason = 'normal'): Promise<void> {
    await this.api().json('DELETE', `/channels/${seg(channelId)}`, { reason });
  }

  async ring(channelId: string): Promise<void> {
    await this.api().json('POST', `/channels/${seg(channelId)}/ring`);
  }

  async ringStop(channelId: string): Promise<void> {
    await this.api().json('DELETE', `/channels/${seg(channelId)}/ring`);
  }

  async originate(o: { channelId: string; endpoint: string; callerId: string; timeoutSeconds: number; appArgs: string; variables?: Readonly<Record<string, string>> }): Promise<void> {
    await this.api().json(
      'POST',
      `/channels/${seg(o.channelId)}`,
      { endpoint: o.endpoint, callerId: o.callerId, timeout: o.timeoutSeconds, app: this.settings.app, appArgs: o.appArgs },
      // A REFER from the dialed phone raises ChannelTransfer for us instead of a core transfer.
      { variables: { ...o.variables, 'PJSIP_TRANSFER_HANDLING()': 'ari-only' } },
    );
  }

  /**
   * A snoop on `channelId` (live supervision): a `Snoop/...` channel named `snoopId`, answered, that
   * enters our app with `appArgs`. `spy`: audio taken from the channel (in = from its phone, out = to
   * it); `whisper`: where audio written to the snoop goes. Its directions are fixed for its life.
   */
  async snoop(channelId: string, o: { snoopId: string; spy: 'none' | 'in' | 'out' | 'both'; whisper: 'none' | 'in' | 'out' | 'both'; appArgs: string }): Promise<void> {
    await this.api().json('POST', `/channels/${seg(channelId)}/snoop`, { spy: o.spy, whisper: o.whisper, app: this.settings.app, appArgs: o.appArgs, snoopId: o.snoopId });
  }

  /** POST /channels/{id}/transfer_progress (Asterisk 22.3+). */
  async transferProgress(channelId: string, state: TransferProgress): Promise<void> {
    await this.api().json('POST', `/channels/${seg(channelId)}/transfer_progress`, { states: state });
  }

  /**
   * A mixing bridge, with `dtmf_events` unless told otherwise. With it Asterisk decodes the media,
   * so a key pressed on either channel raises ChannelDtmfReceived (the handset's recording key,
   * docs/recording.md#from-the-handset). Without it two RTP channels get the native_rtp
   * technology, which relays their packets, key presses included, from one RTP instance to the
   * other without decoding them (cheaper: docs/benchmarks.md) and without raising DTMF events.
   */
  async createBridge(bridgeId: string, o: { readonly dtmfEvents: boolean } = { dtmfEvents: true }): Promise<void> {
    await this.api().json('POST', `/bridges/${seg(bridgeId)}`, { type: o.dtmfEvents ? 'mixing,dtmf_events' : 'mixing' });
  }

  async addToBridge(bridgeId: string, channelIds: readonly string[]): Promise<void> {
    await this.api().json('POST', `/bridges/${seg(bridgeId)}/addChannel`, { channel: channelIds.join(',') });
  }

  async destroyBridge(bridgeId: string): Promise<void> {
    await this.api().json('DELETE', `/bridges/${seg(bridgeId)}`);
  }

  async setDeviceState(name: string, state: DeviceStateValue): Promise<void> {
    await this.api().json('PUT', `/deviceStates/${seg(`Stasis:${name}`)}`, { deviceState: state });
  }

  async startMoh(channelId: string): Promise<void> {
    await this.api().json('POST', `/channels/${seg(channelId)}/moh`);
  }

  async stopMoh(channelId: string): Promise<void> {
    await this.api().json('DELETE', `/channels/${seg(channelId)}/moh`);
  }

  async followChannel(channelId: string): Promise<void> {
    await this.api().json('POST', `/applications/${seg(this.settings.app)}/subscription`, { eventSource: `channel:${channelId}` });
  }

  async listChannels(): Promise<AriChannel[]> {
    return this.api().json<AriChannel[]>('GET', '/channels');
  }

  async listBridges(): Promise<AriBridge[]> {
    return this.api().json<AriBridge[]>('GET', '/bridges');
  }

  async appChannelIds(): Promise<string[]> {
    const app = await this.api().json<{ channel_ids?: string[] }>('GET', `/applications/${seg(this.settings.app)}`);
    return [...(app.channel_ids ?? [])];
  }

  async record(channelId: string, o: RecordOptions): Promise<void> {
    if (!RECORDING_NAME.test(o.name)) throw new AppError('validation-failed', 400, `bad recording name ${o.name}`);
    await this.api().json('POST', `/channels/${seg(channelId)}/record`, {
      name: o.name,
      format: o.format,
      maxDurationSeconds: o.maxDurationSeconds,
      maxSilenceSeconds: o.maxSilenceSeconds,
      beep: o.beep,
      terminateOn: o.terminateOn,
      ifExists: 'fail',
    });
  }

  async storedRecordingFile(name: string): Promise<Buffer | null> {
    if (!RECORDING_NAME.test(name)) throw new AppError('validation-failed', 400, `bad recording name ${name}`);
    return this.api().binary(`/recordings/stored/${seg(name)}/file`);
  }

  async deleteStoredRecording(name: string): Promise<void> {
    if (!RECORDING_NAME.test(name)) return;
    await this.api().json('DELETE', `/recordings/stored/${seg(name)}`).catch((err: unknown) => {
      if (!(err instanceof AppError && err.code === 'call-not-found')) throw err;
    });
  }

  async callerAddress(channelId: string): Promise<string | null> {
    const r = await this.api().json<{ value?: string }>('GET', `/channels/${seg(channelId)}/variable`, { variable: 'CHANNEL(pjsip,remote_addr)' });
    return sipHost(r?.value);
  }

  /** Set an Asterisk global variable (the dialplan reads it); an empty value clears it. */
  async setGlobal(name: string, value: string): Promise<void> {
    await this.api().json('POST', '/asterisk/variable', { variable: name, value });
  }

  async asteriskInfo(): Promise<Record<string, unknown>> {
    return this.api().json<Record<string, unknown>>('GET', '/asterisk/info');
  }
}

/** "192.0.2.5:5060" -> "192.0.2.5", "[2001:db8::5]:5060" -> "2001:db8::5"; anything else -> null. */
export function sipHost(remoteAddr: string | undefined): string | null {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3}))(?::\d{1,5})?$/.exec(remoteAddr ?? '');
  return m ? (m[1] ?? m[2] ?? null) : null;
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
