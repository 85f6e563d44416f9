/**
 * A value read from Postgres and kept in memory for as long as a LISTEN connection can tell us it
 * changed. It is served from memory only while that listener is connected and no change has been
 * announced since it was read; otherwise each caller reads it again. So a lost listener never
 * leaves a stale copy in use: at worst a change is seen as late as its notice takes to arrive.
 *
 * A read that was under way when a change was announced is handed to its callers (it is as fresh
 * as a read without the cache would have been) but not kept.
 */
export class WarmValue<T> {
  private listening = false;
  private kept: { readonly value: T } | null = null;
  private reading: Promise<T> | null = null;

  constructor(private readonly read: () => Promise<T>) {}

  /** A change was announced: the next caller reads again. */
  changed(): void {
    this.kept = null;
    this.reading = null;
  }

  /** The listener connected (true) or was lost (false); either way, what was kept may be stale. */
  listenerUp(up: boolean): void {
    this.listening = up;
    this.changed();
  }

  get(): Promise<T> {
    if (this.kept && this.listening) return Promise.resolve(this.kept.value);
    if (this.reading) return this.reading;
    // A change announced meanwhile drops `reading` (changed()): then the value is not kept.
    const reading = this.read().then(
      (value) => {
        if (this.reading === reading) {
          this.reading = null;
          if (this.listening) this.kept = { value };
        }
        return value;
      },
      (err: unknown) => {
        if (this.reading === reading) this.reading = null;
        throw err;
      },
    );
    this.reading = reading;
    return reading;
  }
}
