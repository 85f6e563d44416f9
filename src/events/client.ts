/**
 * One stream client: its view of the events (filter and role) and a bounded queue in front of its
 * connection. Delivering never waits: frames are queued and written on the next turn of the event
 * loop, all at once. A client whose connection holds more than `maxBufferedBytes` the socket could
 * not send (written on earlier turns, not read by the client) is a slow consumer: it is sent a
 * last `close` frame with the reason and dropped, so it never holds the publisher or the other
 * clients up, nor the daemon's memory. What one turn queues is bounded too (QUEUED_LIMIT_FACTOR
 * times the limit), so a burst from the publisher alone never drops a client that reads.
 * Frames are Server-Sent Events (text/event-stream).
 */
import type { PbxEvent, Resync } from './model.js';

/** The connection, as the client needs it (the HTTP response in src/events/routes.ts). */
export interface StreamSink {
  write(chunk: string): void;
  /** Bytes written but not yet taken by the socket. */
  buffered(): number;
  /** Write `last`, then end the connection (and make sure it goes, read or not). */
  end(last: string): void;
}

export type CloseReason = 'slow-consumer' | 'shutdown';

export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;
/** Frames queued within one turn of the event loop may reach this many times the limit. */
const QUEUED_LIMIT_FACTOR = 16;

export const eventFrame = (e: PbxEvent): string => `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
export const resyncFrame = (r: Resync): string => `event: resync\ndata: ${JSON.stringify(r)}\n\n`;
export const closeFrame = (reason: CloseReason, detail: Record<string, unknown> = {}): string =>
  `event: close\ndata: ${JSON.stringify({ type: 'close', reason, ...detail })}\n\n`;
export interface Frame {
  readonly text: string;
  readonly bytes: number;
}
export const frameOf = (e: PbxEvent): Frame => {
  const text = eventFrame(e);
  return { text, bytes: Buffer.byteLength(text) };
};

/** A comment line: keeps proxies from closing an idle stream. */
export const PING_FRAME = ': ping\n\n';

export class StreamClient {
  private queued: string[] = [];
  private queuedBytes = 0;
  private scheduled = false;
  private closed = false;
  /** A replay on connect may be larger than the limit: allowed until the socket has taken it. */
  private allowance = 0;
  delivered = 0;

  constructor(
    private readonly sink: StreamSink,
    private readonly view: (event: PbxEvent) => PbxEvent | null,
    private readonly options: {
      readonly maxBufferedBytes: number;
      readonly onClose: (client: StreamClient, reason: CloseReason) => void;
      readonly schedule?: (fn: () => void) => void;
      /** The event's frame; the stream serializes an event once for all clients that see it alike. */
      readonly frame?: (e: PbxEvent) => Frame;
    },
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  /** The first frames, before any live event: a resync notice or the events missed. */
  start(first: readonly string[]): void {
    const text = first.join('');
    this.allowance = Buffer.byteLength(text);
    if (text) this.sink.write(text);
  }

  deliver(event: PbxEvent): void {
    if (this.closed) return;
    const seen = this.view(event);
    if (!seen) return;
    this.delivered++;
    this.send((this.options.frame ?? frameOf)(seen));
  }

  ping(): void {
    if (!this.closed) this.send({ text: PING_FRAME, bytes: PING_FRAME.length });
  }

  close(reason: CloseReason, detail: Record<string, unknown> = {}): void {
    if (this.closed) return;
    this.closed = true;
    const rest = this.queued.join('');
    this.queued = [];
    this.queuedBytes = 0;
    this.sink.end(rest + closeFrame(reason, detail));
    this.options.onClose(this, reason);
  }

  /** The connection went away by itself (client disconnected). */
  gone(): void {
    this.closed = true;
    this.queued = [];
    this.queuedBytes = 0;
  }

  private send(frame: Frame): void {
    this.queued.push(frame.text);
    this.queuedBytes += frame.bytes;
    const backlog = this.sink.buffered();
    if (backlog === 0) this.allowance = 0;
    const { maxBufferedBytes } = this.options;
    if (backlog > maxBufferedBytes + this.allowance || this.queuedBytes > maxBufferedBytes * QUEUED_LIMIT_FACTOR) {
      this.close('slow-consumer', { unsentBytes: this.queuedBytes + backlog, limitBytes: maxBufferedBytes });
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    (this.options.schedule ?? setImmediate)(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    if (this.closed || this.queued.length === 0) return;
    const text = this.queued.join('');
    this.queued = [];
    this.queuedBytes = 0;
    this.sink.write(text);
  }
}
