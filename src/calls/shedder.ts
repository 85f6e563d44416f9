/**
 * Shedding before Stasis, the adapter (shedding.ts, docs/operations.md#overload): once a tick it
 * reads the daemon's refusals (admission.ts), sets the dialplan's SHED_VARIABLE over ARI when it
 * changes and renews it while shedding (and before it, EXEMPT_VARIABLE, the emergency numbers
 * never shed, when they changed), clears it when the daemon (re)connects and when it stops;
 * counts the calls the dialplan shed (its AMI UserEvent PbxShed) for pbx_calls_refused_total{reason="shed"}
 * and logs them at most once per LOG_EVERY_MS, and logs when shedding starts and ends.
 */
import type { Logger } from '../logger.js';
import { tallyRefusal, type OverloadLimits, type RefusalReason, type RefusalTally } from './overload.js';
import { EXEMPT_VARIABLE } from './emergency-exempt.js';
import { NOT_SHEDDING, SHED_TICK_MS, SHED_VARIABLE, nextShed, refusalsSince, shedValue, type ShedState } from './shedding.js';

const LOG_EVERY_MS = 10_000;

export interface ShedderDeps {
  /** The daemon's own admission control: its limits, refusals so far and lag state. */
  readonly admission: {
    readonly limits: OverloadLimits;
    readonly refused: ReadonlyMap<RefusalReason, number>;
    readonly lagging: boolean;
    /** What the dialplan sheds now (%): while the loop lags, the daemon refuses only the rest of its share. */
    dialplanSheds(percent: number): void;
  };
  /** Calls the daemon carries now. */
  readonly calls: () => number;
  /** Set an Asterisk global variable (ARI POST /asterisk/variable). */
  readonly setGlobal: (name: string, value: string) => Promise<void>;
  /** ARI is connected (else nothing is sent: connected() sets the value again). */
  readonly reachable: () => boolean;
  readonly log: Logger;
  /** The emergency numbers the dialplan lets through while shedding (emergency-exempt.ts's exemptValue). */
  readonly exempt?: () => string;
  readonly nowMs?: () => number;
}

export class DialplanShedder {
  private state: ShedState = NOT_SHEDDING;
  private seen = new Map<RefusalReason, number>();
  /** The value Asterisk holds as far as we know; null: unknown (not yet set, or the last set failed). */
  private pushed: string | null = null;
  /** The exempt numbers Asterisk holds as far as we know; null: unknown. */
  private pushedExempt: string | null = null;
  private shedCount = 0;
  private tally: RefusalTally<'shed'> = { lastLoggedMs: null, unlogged: {} };
  private timer: NodeJS.Timeout | null = null;
  private readonly nowMs: () => number;

  constructor(private readonly deps: ShedderDeps) {
    this.nowMs = deps.nowMs ?? Date.now;
  }

  start(): void {
    if (this.timer) return;
    this.seen = new Map(this.deps.admission.refused);
    this.timer = setInterval(() => this.tick(), SHED_TICK_MS);
    this.timer.unref();
  }

  /** Stops ticking and clears the variable (best effort: a value left behind expires by itself). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.state = NOT_SHEDDING;
    this.deps.admission.dialplanSheds(0);
    if (this.pushed !== '') await this.push('', 0).catch(() => undefined);
  }

  /** ARI (re)connected: Asterisk's value is unknown (a daemon before this one, an Asterisk restart); set ours. */
  connected(): void {
    this.pushed = null;
    this.pushedExempt = null;
    this.sync();
  }

  /** The dialplan shed a call (AMI UserEvent PbxShed). */
  shed(caller: string | undefined): void {
    this.shedCount++;
    const { tally, log } = tallyRefusal(this.tally, 'shed', this.nowMs(), LOG_EVERY_MS);
    this.tally = tally;
    if (log) this.deps.log.warn({ shed: log['shed'], percent: this.state.percent, caller }, 'overloaded: new calls shed in the dialplan (503) before reaching the daemon');
  }

  /** Calls the dialplan shed since start. */
  get shedTotal(): number {
    return this.shedCount;
  }

  /** Share of new callers the dialplan is told to refuse now (%). */
  get percent(): number {
    return this.state.percent;
  }

  private tick(): void {
    const { admission } = this.deps;
    const refused = refusalsSince(this.seen, admission.refused);
    this.seen = new Map(admission.refused);
    const before = this.state;
    this.state = nextShed(before, admission.limits, { refused, calls: this.deps.calls(), lagging: admission.lagging });
    if (before.percent === 0 && this.state.percent > 0) {
      this.deps.log.warn({ percent: this.state.percent, all: this.state.all, lag: this.state.lag, refused }, 'overloaded: the dialplan sheds new calls before Stasis');
    } else if (before.percent > 0 && this.state.percent === 0) {
      this.deps.log.info({ shed: this.shedCount }, 'overload over: the dialplan sheds no more calls');
    }
    this.sync();
  }

  /** Tell Asterisk: a changed value, a renewal while shedding, or the clear it may have missed. */
  private sync(): void {
    if (!this.deps.reachable()) return;
    const value = shedValue(this.state, this.nowMs());
    if (value === '' && this.pushed === '') return;
    this.push(value, this.state.percent).catch((err: Error) => {
      this.deps.admission.dialplanSheds(0);
      this.deps.log.warn({ value, err: err.message }, 'overload shedding not set in Asterisk; again at the next tick');
    });
  }

  /** `percent`: the share the value sheds (0 for the empty value). */
  private async push(value: string, percent: number): Promise<void> {
    this.pushed = null;
    // The exemptions first: the first caller shed must already find them (renewed each tick while shedding).
    const exempt = this.deps.exempt?.() ?? '';
    if (value !== '' && exempt !== this.pushedExempt) {
      this.pushedExempt = null;
      await this.deps.setGlobal(EXEMPT_VARIABLE, exempt);
      this.pushedExempt = exempt;
    }
    await this.deps.setGlobal(SHED_VARIABLE, value);
    this.pushed = value;
    this.deps.admission.dialplanSheds(value === '' ? 0 : percent);
  }
}
