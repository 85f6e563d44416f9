/**
 * Work queued under one key runs one piece after another, in the order queued; different keys run
 * independently. A lamp's updates, say: the latest one must be the one that lands.
 */
export class SerialByKey {
  private readonly tails = new Map<string, Promise<void>>();

  /** Run `work` once the work queued before it under `key` is through. Never rejects. */
  run(key: string, work: () => Promise<void>): Promise<void> {
    const next: Promise<void> = (this.tails.get(key) ?? Promise.resolve())
      .then(work)
      .catch(() => undefined)
      .then(() => {
        if (this.tails.get(key) === next) this.tails.delete(key);
      });
    this.tails.set(key, next);
    return next;
  }
}
