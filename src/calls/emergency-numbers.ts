/**
 * The emergency numbers overload control lets through (emergency-exempt.ts), kept in memory so a
 * new call's check costs no Postgres query: read at start, again every REFRESH_MS (a change by
 * another daemon or SQL is seen that late at most) and at once when this daemon's API changes them.
 * A failed read keeps the last list and is retried at the next interval.
 */
import type { Db } from '../db/database.js';
import type { Logger } from '../logger.js';
import { loadEmergencyNumbers } from '../trunks/repository.js';

export const REFRESH_MS = 10_000;

export class EmergencyNumbers {
  private numbers: ReadonlySet<string> = new Set();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
  ) {}

  /** The list as last read. */
  get current(): ReadonlySet<string> {
    return this.numbers;
  }

  start(): void {
    if (this.timer) return;
    // refresh() logs its own failures and never rejects.
    this.refresh().catch(() => undefined);
    this.timer = setInterval(() => {
      this.refresh().catch(() => undefined);
    }, REFRESH_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The list as this daemon's API just stored it. */
  set(numbers: readonly string[]): void {
    this.numbers = new Set(numbers);
  }

  async refresh(): Promise<void> {
    try {
      this.set(await loadEmergencyNumbers(this.db));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'emergency numbers not read; the last list is kept for overload control');
    }
  }
}
