/**
 * Overload control, the adapter (docs/operations.md#overload): samples the event loop's delay
 * (perf_hooks), keeps the policy's state (overload.ts), counts refusals by reason for the metrics
 * and logs them at most once per LOG_EVERY_MS, and once when the event loop has recovered.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Logger } from '../logger.js';
import {
  CALM,
  NO_REFUSALS,
  REFUSAL_REASONS,
  admission,
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
    const reason = admission(this.state, this.limits, signals);
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

  /** Refusals since start, by reason (the metrics' pbx_calls_refused_total). */
  get refused(): ReadonlyMap<RefusalReason, number> {
    return this.counts;
  }

  /** The event loop lags (refusing new calls until it recovers). */
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
      this.log.warn({ lagMs: Math.round(lagMs), maxLagMs: this.limits.maxLagMs }, this.state.lagging ? 'event loop lagging: new calls are refused' : 'event loop recovered: new calls are taken again');
    }
  }
}
