/**
 * The in-process event bus: features publish through `EventPublisher` (handed to them by
 * src/app.ts), the bus numbers each event (ids.ts), keeps it for resume (ring.ts) and hands it to
 * every stream client, which queue it without waiting (client.ts). Publishing never blocks and
 * never throws. Until the first id block is reserved (Postgres down at start) events wait here,
 * at most `maxHeld`, oldest dropped first.
 */
import type { Logger } from '../logger.js';
import type { EventIds } from './ids.js';
import type { EventInput, PbxEvent } from './model.js';
import type { EventRing, Replay } from './ring.js';

/** What a feature is given to publish with. Call it once the change is committed. */
export interface EventPublisher {
  publish(event: EventInput): void;
}

export interface Subscriber {
  deliver(event: PbxEvent): void;
}

const MAX_HELD = 10_000;

export class EventBus implements EventPublisher {
  private readonly subscribers = new Set<Subscriber>();
  private held: { event: EventInput; at: string }[] = [];
  private droppedWhileHeld = 0;

  constructor(
    private readonly ids: EventIds,
    private readonly ring: EventRing,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
    private readonly maxHeld = MAX_HELD,
  ) {}

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  publish(event: EventInput): void {
    const at = this.now().toISOString();
    if (!this.ids.ready || this.held.length) {
      this.held.push({ event, at });
      if (this.held.length > this.maxHeld) {
        this.held.shift();
        this.droppedWhileHeld++;
      }
      if (this.ids.ready) this.release();
      return;
    }
    this.emit(event, at);
  }

  /** The first id block is there: number and send what waited. */
  release(): void {
    const held = this.held;
    this.held = [];
    if (this.droppedWhileHeld) this.log.warn({ dropped: this.droppedWhileHeld }, 'events dropped while no event ids could be reserved');
    this.droppedWhileHeld = 0;
    for (const h of held) this.emit(h.event, h.at);
  }

  /** Subscribe, with what a client resuming after `lastId` missed; nothing is published in between. */
  subscribe(subscriber: Subscriber, lastId: number | null): { replay: Replay | null; unsubscribe: () => void } {
    const replay = lastId === null ? null : this.ring.since(lastId);
    this.subscribers.add(subscriber);
    return { replay, unsubscribe: () => this.subscribers.delete(subscriber) };
  }

  private emit(input: EventInput, at: string): void {
    const id = this.ids.next();
    if (id === null) return;
    const event = { ...input, id, at } as PbxEvent;
    this.ring.push(event);
    for (const s of this.subscribers) {
      try {
        s.deliver(event);
      } catch (err) {
        this.log.warn({ err: (err as Error).message, type: event.type }, 'event not delivered to a stream client');
      }
    }
  }
}
