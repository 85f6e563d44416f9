/**
 * The replay window (docs/events.md#resume): the last events published, at most `maxEvents` and
 * none older than `maxAgeMs` (whichever keeps fewer). A client reconnecting with the id of the
 * last event it saw gets every later one still here; one whose id is older than the window, or
 * is no id of this daemon's run (a restart, another daemon, a made-up id), is told to resync.
 * Pure: time comes from `now`.
 */
import type { PbxEvent, Resync } from './model.js';

export interface ReplayWindow {
  readonly maxEvents: number;
  readonly maxAgeMs: number;
}

export const DEFAULT_WINDOW: ReplayWindow = { maxEvents: 10_000, maxAgeMs: 5 * 60_000 };

export type Replay = { readonly kind: 'replay'; readonly events: readonly PbxEvent[] } | ({ readonly kind: 'resync' } & Omit<Resync, 'type'>);

export class EventRing {
  private readonly events: (PbxEvent | undefined)[];
  private readonly times: number[];
  private head = 0;
  private size = 0;
  /** Every event with an id up to this one has left the window (null: none published yet). */
  private floor: number | null = null;

  constructor(
    private readonly window: ReplayWindow = DEFAULT_WINDOW,
    private readonly now: () => number = Date.now,
  ) {
    this.events = new Array<PbxEvent | undefined>(window.maxEvents);
    this.times = new Array<number>(window.maxEvents).fill(0);
  }

  get length(): number {
    this.expire();
    return this.size;
  }

  get oldestId(): number | null {
    this.expire();
    return this.size ? this.at(0).id : null;
  }

  get newestId(): number | null {
    return this.size ? this.at(this.size - 1).id : this.floor;
  }

  push(event: PbxEvent): void {
    if (this.floor === null) this.floor = event.id - 1;
    if (this.size === this.window.maxEvents) this.dropOldest();
    const i = (this.head + this.size) % this.window.maxEvents;
    this.events[i] = event;
    this.times[i] = this.now();
    this.size++;
  }

  /** What a client whose last event was `lastId` missed, or why it cannot be told. */
  since(lastId: number): Replay {
    this.expire();
    const newest = this.newestId;
    const window = { oldestId: this.size ? this.at(0).id : null, newestId: newest };
    if (this.floor === null || newest === null || lastId > newest) return { kind: 'resync', reason: 'unknown-id', ...window };
    if (lastId < this.floor) return { kind: 'resync', reason: 'too-old', ...window };
    // Newest first until lastId: a resume is usually a few events back.
    let from = this.size;
    while (from > 0 && this.at(from - 1).id > lastId) from--;
    const events: PbxEvent[] = [];
    for (let k = from; k < this.size; k++) events.push(this.at(k));
    return { kind: 'replay', events };
  }

  private at(k: number): PbxEvent {
    return this.events[(this.head + k) % this.window.maxEvents]!;
  }

  private dropOldest(): void {
    this.floor = this.at(0).id;
    this.events[this.head] = undefined;
    this.head = (this.head + 1) % this.window.maxEvents;
    this.size--;
  }

  private expire(): void {
    const oldest = this.now() - this.window.maxAgeMs;
    while (this.size > 0 && this.times[this.head]! < oldest) this.dropOldest();
  }
}
