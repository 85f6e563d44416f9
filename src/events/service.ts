/**
 * The event stream (docs/events.md): the bus features publish to, the replay window, the id
 * blocks, the connected clients and their tickets. One per daemon, built in src/app.ts.
 */
import type { Logger } from '../logger.js';
import { backoffDelay, type BackoffPolicy } from '../shared/backoff.js';
import { EventBus } from './bus.js';
import { DEFAULT_MAX_BUFFERED_BYTES, StreamClient, frameOf, resyncFrame, type CloseReason, type Frame, type StreamSink } from './client.js';
import { viewFor, type StreamFilter } from './filter.js';
import { EventIds, type IdBlocks } from './ids.js';
import type { PbxEvent, StreamRole } from './model.js';
import { DEFAULT_WINDOW, EventRing, type ReplayWindow } from './ring.js';
import { TicketStore } from './tickets.js';

export interface EventStreamOptions {
  readonly blocks: IdBlocks;
  readonly log: Logger;
  readonly backoff: BackoffPolicy;
  readonly window?: ReplayWindow;
  /** A client with more unsent than this is dropped (slow-consumer). */
  readonly maxBufferedBytes?: number;
  /** A comment line this often keeps idle streams open through proxies. */
  readonly pingMs?: number;
}

const PING_MS = 15_000;

export class EventStream {
  readonly bus: EventBus;
  readonly tickets = new TicketStore();
  private readonly ids: EventIds;
  private readonly ring: EventRing;
  private readonly clients = new Set<StreamClient>();
  private readonly closedFor = new Map<CloseReason, number>();
  /** Each event serialized once for every client that sees it as published (viewers' redacted copies are their own). */
  private readonly frames = new WeakMap<PbxEvent, Frame>();
  private readonly frame = (e: PbxEvent): Frame => {
    let f = this.frames.get(e);
    if (!f) this.frames.set(e, (f = frameOf(e)));
    return f;
  };
  private pingTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly options: EventStreamOptions) {
    this.ring = new EventRing(options.window ?? DEFAULT_WINDOW);
    this.ids = new EventIds(options.blocks, (err) => options.log.warn({ err: err.message }, 'next event id block not reserved; retried when due'));
    this.bus = new EventBus(this.ids, this.ring, options.log);
  }

  /** Clients connected now, and how many were closed by the daemon, by reason. */
  get stats(): { readonly clients: number; readonly closed: Readonly<Record<string, number>> } {
    return { clients: this.clients.size, closed: Object.fromEntries(this.closedFor) };
  }

  /** Reserve the first id block (retried with backoff while Postgres is unreachable); pings. */
  start(): void {
    this.stopped = false;
    const attempt = (n: number): void => {
      this.ids.start().then(
        () => this.bus.release(),
        (err: Error) => {
          if (this.stopped) return;
          const delay = backoffDelay(n, this.options.backoff);
          this.options.log.warn({ err: err.message, retryInMs: delay }, 'event ids not reserved; events wait');
          this.retryTimer = setTimeout(() => attempt(n + 1), delay);
        },
      );
    };
    attempt(0);
    this.pingTimer ??= setInterval(() => {
      for (const c of this.clients) c.ping();
    }, this.options.pingMs ?? PING_MS);
    this.pingTimer.unref();
  }

  /** Every client is told the daemon is stopping (reason shutdown); they reconnect to the next one. */
  stop(): void {
    this.stopped = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.pingTimer = this.retryTimer = null;
    for (const c of [...this.clients]) c.close('shutdown');
  }

  /**
   * A client connects: a resync notice or the events it missed after `lastId` (filtered, as its
   * role sees them) go first, then live events. Returns what to call when the connection closes.
   */
  connect(sink: StreamSink, role: StreamRole, filter: StreamFilter, lastId: number | null): () => void {
    const view = viewFor(role, filter);
    const client = new StreamClient(sink, view, {
      maxBufferedBytes: this.options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES,
      frame: this.frame,
      onClose: (c, reason) => {
        this.clients.delete(c);
        unsubscribe();
        this.closedFor.set(reason, (this.closedFor.get(reason) ?? 0) + 1);
        if (reason === 'slow-consumer') this.options.log.info({ role, reason }, 'event stream client dropped');
      },
    });
    const { replay, unsubscribe } = this.bus.subscribe(client, lastId);
    this.clients.add(client);
    const first: string[] = [];
    if (replay?.kind === 'resync') first.push(resyncFrame({ type: 'resync', reason: replay.reason, oldestId: replay.oldestId, newestId: replay.newestId }));
    if (replay?.kind === 'replay') {
      for (const e of replay.events) {
        const seen = view(e);
        if (seen) first.push(this.frame(seen).text);
      }
    }
    // An empty comment: the client sees the stream open before the first event.
    client.start([': connected\n\n', ...first]);
    return () => {
      client.gone();
      this.clients.delete(client);
      unsubscribe();
    };
  }
}
