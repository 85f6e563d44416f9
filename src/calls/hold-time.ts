/**
 * Time a connected call spends on hold: from the first side putting it on hold until neither side
 * holds it any more (both holding at once counts once). Times are epoch ms.
 */
export class HoldTime {
  private readonly holders = new Set<string>();
  private since: number | null = null;
  private total = 0;

  /** `channelId` put the call on hold (on) or took it off (off). */
  set(channelId: string, on: boolean, now: number): void {
    if (on) {
      if (this.holders.size === 0) this.since = now;
      this.holders.add(channelId);
      return;
    }
    if (!this.holders.delete(channelId) || this.holders.size > 0 || this.since === null) return;
    this.total += Math.max(0, now - this.since);
    this.since = null;
  }

  /** Milliseconds on hold until `now` (a hold still going counts until now). */
  ms(now: number): number {
    return this.total + (this.since === null ? 0 : Math.max(0, now - this.since));
  }
}
