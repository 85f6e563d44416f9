/**
 * One read shared by the readers that ask at about the same time, for the live views polled by
 * many clients at once (GET /agents/live, /reports/queues/live: docs/api.md#live-views): readers
 * that come while a read runs wait for that read; a value is then served without reading again
 * until `ttlMs` after its read began, so no value served is older than that. `invalidate` (a change
 * this daemon made or was told of) makes the next reader read again, and keeps a read that began
 * before it from being served to later readers or kept. A failed read is not kept: its waiting
 * readers get the error, the next reader reads again.
 *
 * Pure but for the read itself: the clock is passed in.
 */
export class SharedRead<T> {
  private kept: { readonly value: T; readonly until: number } | null = null;
  private inFlight: Promise<T> | null = null;
  private generation = 0;

  constructor(
    private readonly read: () => Promise<T>,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(): Promise<T> {
    const began = this.now();
    if (this.kept && this.kept.until > began) return Promise.resolve(this.kept.value);
    if (this.inFlight) return this.inFlight;
    const generation = this.generation;
    const read = this.read().then(
      (value) => {
        if (generation === this.generation) this.kept = { value, until: began + this.ttlMs };
        return value;
      },
    );
    const settled = (): void => {
      if (this.inFlight === read) this.inFlight = null;
    };
    read.then(settled, settled);
    this.inFlight = read;
    return read;
  }

  /** Something the value shows changed: the next reader reads again. */
  invalidate(): void {
    this.generation++;
    this.kept = null;
    this.inFlight = null;
  }
}

/** SharedReads by key (e.g. a query's parameters), at most `maxKeys` kept (then all are dropped: a bound on memory). */
export class SharedReads<T> {
  private readonly byKey = new Map<string, SharedRead<T>>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxKeys = 100,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string, read: () => Promise<T>): Promise<T> {
    let shared = this.byKey.get(key);
    if (!shared) {
      if (this.byKey.size >= this.maxKeys) this.byKey.clear();
      shared = new SharedRead(read, this.ttlMs, this.now);
      this.byKey.set(key, shared);
    }
    return shared.get();
  }

  invalidate(): void {
    for (const s of this.byKey.values()) s.invalidate();
  }
}
