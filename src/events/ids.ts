/**
 * Event ids (docs/events.md#ids): increasing across restarts without a write per event. Each run
 * of the daemon reserves a block of 2^32 ids from a Postgres sequence (event_id_blocks) and counts
 * within it; half-way through a block it reserves the next. A later block is always higher, so ids
 * grow across restarts; two daemons never share a block. The id is a JSON-safe integer (block
 * numbers up to 2^21). Until the first block arrives (Postgres down at start), `next` says null
 * and the bus holds events back.
 */
export const BLOCK_SIZE = 2 ** 32;

export interface IdBlocks {
  /** The next block number (1, 2, ...): ids block * BLOCK_SIZE .. + BLOCK_SIZE - 1 are this daemon's. */
  reserve(): Promise<number>;
}

export class EventIds {
  private last = 0;
  private end = 0;
  private reserving: Promise<void> | null = null;
  private nextBlock: number | null = null;

  constructor(
    private readonly blocks: IdBlocks,
    private readonly onError: (err: Error) => void,
    private readonly blockSize = BLOCK_SIZE,
  ) {}

  get ready(): boolean {
    return this.end > 0;
  }

  /** Reserve the first block (retried by the caller until it succeeds). */
  async start(): Promise<void> {
    if (this.ready) return;
    this.take(await this.blocks.reserve());
  }

  /** The next id; null before the first block. */
  next(): number | null {
    if (!this.ready) return null;
    if (this.last + 1 >= this.end && this.nextBlock !== null) {
      this.take(this.nextBlock);
      this.nextBlock = null;
    }
    if (this.last + 1 >= this.end - this.blockSize / 2) this.reserveNext();
    // A block used up before the next arrived (Postgres down for billions of events): go on counting.
    return ++this.last;
  }

  private take(block: number): void {
    const start = block * this.blockSize;
    if (start <= this.last) return;
    this.last = start - 1;
    this.end = start + this.blockSize;
  }

  private reserveNext(): void {
    if (this.reserving || this.nextBlock !== null) return;
    this.reserving = this.blocks
      .reserve()
      .then((b) => {
        this.nextBlock = b;
      }, this.onError)
      .finally(() => {
        this.reserving = null;
      });
  }
}
