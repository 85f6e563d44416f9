/**
 * Overload control, the adapter (docs/operations.md#overload): samples the event loop's delay
 * (perf_hooks), keeps the policy's state (overload.ts), counts refusals by reason for the metrics
 * and logs them at most once per LOG_EVERY_MS, and once when the event loop has recovered. While
 * the loop lags it numbers the calls that arrive and refuses the share the dialplan does not shed
 * already (the shedder tells it what the dialplan sheds: dialplanSheds).
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Logger } from '../logger.js';
import {
  CALM,
  NO_REFUSALS,
  REFUSAL_REASONS,
  admission,
  lagRefusedShare,
  observeLag,
  tallyRefusal,
  type OverloadLimits,
  type OverloadSignals,
  type RefusalReason,
  type RefusalTally,
} from './overload.js';

/** The event loop's delay is sampled this often (the mean over the interval). */
const SAMPLE_MS = 1_000;
/** The histogram's timer: an idle loop shows about this much delay, which is not lag. */
const RESOLUTION_MS = 10;
const LOG_EVERY_MS = 10_000;

export class AdmissionControl {
  private state = CALM;
  private tally: RefusalTally = NO_REFUSALS;
  private readonly counts = new Map<RefusalReason, number>(REFUSAL_REASONS.map((r) => [r, 0]));
  private histogram: IntervalHistogram | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Calls arrived since the loop started lagging (their turns, refusesForLag). */
  private lagArrivals = 0;
  /** Share of new callers the dialplan sheds now (%), as the shedder last set it. */
  private shedPercent = 0;

  constructor(
    readonly limits: OverloadLimits,
    private readonly log: Logger,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /** Start sampling the event loop (only when its limit is set). */
  start(): void {
    if (this.limits.maxLagMs <= 0 || this.timer) return;
    this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.histogram.enable();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.histogram?.disable();
    this.histogram = null;
  }

  /** A new call arrives: null to admit it, or why it is refused (counted and logged here). */
  admit(signals: OverloadSignals): RefusalReason | null {
    const n = this.state.lagging ? this.lagArrivals++ : 0;
    const reason = admission(this.state, this.limits, signals, { n, share: lagRefusedShare(this.shedPercent) });
    if (!reason) return null;
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
    const { tally, log } = tallyRefusal(this.tally, reason, this.nowMs(), LOG_EVERY_MS);
    this.tally = tally;
    if (log) {
      this.log.warn(
        { refused: log, calls: signals.calls, callsInSetup: signals.callsInSetup, lagMs: Math.round(this.state.lagMs), limits: this.limits },
        'overloaded: new calls refused (503); calls in progress go on',
      );
    }
    return reason;
  }

  /** The dialplan sheds this share of new callers now (%): while the loop lags, the daemon refuses only what it does not. */
  dialplanSheds(percent: number): void {
    this.shedPercent = percent;
  }

  /** Refusals since start, by reason (the metrics' pbx_calls_refused_total). */
  get refused(): ReadonlyMap<RefusalReason, number> {
    return this.counts;
  }

  /** The event loop lags (a share of new calls refused until it recovers). */
  get lagging(): boolean {
    return this.state.lagging;
  }

  /** The event loop's mean delay over the last sample, ms (0 when not watched). */
  get lagMs(): number {
    return this.state.lagMs;
  }

  private sample(): void {
    const h = this.histogram;
    if (!h) return;
    const lagMs = h.count > 0 ? Math.max(0, h.mean / 1e6 - RESOLUTION_MS) : 0;
    h.reset();
    const before = this.state.lagging;
    this.state = observeLag(this.state, this.limits, lagMs);
    if (this.state.lagging !== before) {
      this.lagArrivals = 0;
      this.log.warn(
        { lagMs: Math.round(lagMs), maxLagMs: this.limits.maxLagMs },
        this.state.lagging ? 'event loop lagging: a share of new calls is refused' : 'event loop recovered: new calls are taken again',
      );
    }
  }
}
