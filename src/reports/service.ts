/**
 * Reports (docs/reporting.md): checks the question (range, interval, zone, queues or agents), reads
 * the rows (repository.ts) and hands them to the pure cores (queue-kpis.ts, agent-kpis.ts). Every
 * answer is computed from the events: no counters, so a restarted daemon answers the same. Reports
 * are computed at the time of the request; the live figures once per QUEUES_LIVE_SHARED_MS at most
 * for all who ask meanwhile, so they are at most that much older than the last committed event.
 */
import type { Db } from '../db/database.js';
import { invalid, notFound } from '../errors.js';
import { agentKpis, type AgentKpis } from './agent-kpis.js';
import { isTimeZone, zonedIso } from '../shared/zoned-time.js';
import { intervalsOf, parseRangeEdge, startOfLocalDay, type Interval, type IntervalKind } from './intervals.js';
import { byKey } from './kpi-math.js';
import { queueKpis, type QueueKpis } from './queue-kpis.js';
import * as repo from './repository.js';
import { SharedReads } from '../shared/shared-read.js';

/** The longest range a report covers. */
export const MAX_RANGE_DAYS = 400;
/** The most intervals a report answers (per queue or agent). */
export const MAX_INTERVALS = 10_000;
/** The most rows a report answers: intervals times queues (or agents). */
export const MAX_ROWS = 50_000;
/**
 * How long one computation of the live queue figures (per time zone and queue list) is shared by
 * the readers that come after it (src/shared/shared-read.ts, docs/api.md#live-views): each reads
 * every queue event of the day, tens of milliseconds of CPU, too much to do per request of a
 * wallboard polled by many screens.
 */
export const QUEUES_LIVE_SHARED_MS = 1_000;

export interface ReportQuery {
  readonly from: string;
  readonly to?: string | undefined;
  readonly interval: IntervalKind;
  readonly tz?: string | undefined;
}

export interface QueueReportRow extends QueueKpis {
  readonly queue: string;
  /** The interval, local time with offset in the report's zone. */
  readonly from: string;
  readonly to: string;
}

export type LiveWindow = 'last-15m' | 'last-60m' | 'today';

export interface QueueLiveRow extends QueueKpis {
  readonly queue: string;
  readonly window: LiveWindow;
  readonly from: string;
  readonly to: string;
}

export interface AgentReportRow extends Omit<AgentKpis, 'paused'> {
  readonly agent: string;
  readonly name: string;
  readonly from: string;
  readonly to: string;
  readonly paused: readonly { code: number | null; reason: string | null; seconds: number }[];
}

export interface ReportServiceOptions {
  /** The site's time zone (PBX_TIMEZONE): the default of `tz`. */
  readonly timezone: string;
  /** The clock (epoch ms); Date.now by default. */
  readonly now?: () => number;
}

interface Range {
  readonly intervals: Interval[];
  readonly from: number;
  readonly to: number;
  readonly tz: string;
}

const H = 3_600_000;

/** An interval as a row shows it: local times with their offset in `tz`. */
function spanIn(tz: string): (i: Interval) => { from: string; to: string } {
  const iso = zonedIso(tz);
  return (i) => ({ from: iso(new Date(i.start)), to: iso(new Date(i.end)) });
}

function checkRows(range: Range, count: number, what: string): void {
  if (range.intervals.length * count > MAX_ROWS) {
    throw invalid('querystring.interval', `at most ${MAX_ROWS} rows (intervals x ${what}): ${range.intervals.length} intervals x ${count} ${what}; choose a longer interval, a shorter range or fewer ${what}`);
  }
}

export class ReportService {
  private readonly now: () => number;
  private readonly live: SharedReads<QueueLiveRow[]>;

  constructor(private readonly db: Db, private readonly options: ReportServiceOptions) {
    this.now = options.now ?? Date.now;
    this.live = new SharedReads(QUEUES_LIVE_SHARED_MS, 100, this.now);
  }

  /** Queue figures per interval, one row per (queue, interval), queues by name then time. 404 queue-not-found for a name that is no queue. */
  async queueReport(q: ReportQuery & { readonly queues?: readonly string[] | undefined }): Promise<QueueReportRow[]> {
    const range = this.range(q);
    const queues = await this.queues(q.queues);
    checkRows(range, queues.length, 'queues');
    const perQueue = await this.queueFigures(queues, [range.intervals], range.from, range.to);
    const span = spanIn(range.tz);
    return queues.flatMap((queue, n) => perQueue[n]![0]!.map((k, i) => ({ queue: queue.name, ...span(range.intervals[i]!), ...k })));
  }

  /**
   * A caller joined or left a queue on this daemon: the next reader of the live figures computes
   * them again (what another daemon logged is counted within QUEUES_LIVE_SHARED_MS). A wallboard
   * fetches its figures just after such an event: a computation shared from before it would keep
   * showing the old counts until the next event.
   */
  queueEventLogged(): void {
    this.live.invalidate();
  }

  /**
   * Live figures per queue: the last 15 and 60 minutes and today so far (since local midnight in
   * the zone), computed from the events at most QUEUES_LIVE_SHARED_MS ago (a computation shared
   * by the readers of the same zone and queues), and after this daemon's last queue event.
   */
  async queueLive(q: { readonly queues?: readonly string[] | undefined; readonly tz?: string | undefined }): Promise<QueueLiveRow[]> {
    const tz = this.zone(q.tz);
    const names = q.queues;
    return this.live.get(`${tz} ${names?.join(',') ?? '*'}`, () => this.queueLiveNow(tz, names));
  }

  /** The live figures computed now (queueLive shares them for QUEUES_LIVE_SHARED_MS). */
  private async queueLiveNow(tz: string, names: readonly string[] | undefined): Promise<QueueLiveRow[]> {
    const now = this.now();
    const windows: [LiveWindow, Interval][] = [
      ['last-15m', { start: now - 15 * 60_000, end: now + 1 }],
      ['last-60m', { start: now - H, end: now + 1 }],
      ['today', { start: startOfLocalDay(now, tz), end: now + 1 }],
    ];
    const queues = await this.queues(names);
    const from = Math.min(...windows.map(([, w]) => w.start));
    // One read for all three windows (the widest, up to now: one index range scan), then the core once per window.
    const perQueue = await this.queueFigures(queues, windows.map(([, w]) => [w]), from, now + 1, 'since');
    const span = spanIn(tz);
    return queues.flatMap((queue, n) => windows.map(([window, w], i) => ({ queue: queue.name, window, ...span({ start: w.start, end: now }), ...perQueue[n]![i]![0]! })));
  }

  /** Agent figures per interval, one row per (agent, interval). 404 agent-not-found for a number that is no agent. */
  async agentReport(q: ReportQuery & { readonly agents?: readonly string[] | undefined }): Promise<AgentReportRow[]> {
    const range = this.range(q);
    const agents = await repo.reportAgents(this.db, q.agents);
    if (q.agents) {
      const missing = q.agents.find((n) => !agents.some((a) => a.number === n));
      if (missing !== undefined) throw notFound('agent-not-found', 'agent', missing);
    }
    checkRows(range, agents.length, 'agents');
    const ids = agents.map((a) => a.id);
    const from = new Date(range.from);
    const to = new Date(range.to);
    const [changes, events, surveys, reasons] = await Promise.all([
      repo.agentStateChanges(this.db, ids, from, to),
      repo.agentEvents(this.db, ids, from, to),
      repo.surveysOf(this.db, 'agent', ids, from, to),
      repo.pauseReasonNames(this.db),
    ]);
    const now = this.now();
    const span = spanIn(range.tz);
    const changesOf = byKey(changes, (c) => c.agentId);
    const eventsOf = byKey(events, (e) => e.agentId);
    const surveysOf = byKey(surveys, (s) => s.owner);
    return agents.flatMap((agent) => {
      const figures = agentKpis({
        intervals: range.intervals,
        changes: changesOf.get(agent.id) ?? [],
        events: eventsOf.get(agent.id) ?? [],
        surveys: surveysOf.get(agent.id) ?? [],
        now,
      });
      return figures.map((k, i) => ({
        agent: agent.number,
        name: agent.name,
        ...span(range.intervals[i]!),
        ...k,
        paused: k.paused.map((p) => ({ code: p.code, reason: p.code === null ? null : reasons.get(p.code) ?? null, seconds: p.seconds })),
      }));
    });
  }

  /**
   * The figures of each queue (first index) for each list of intervals in `groups` (second: a
   * report's intervals, or the live windows, which overlap), per interval (third), from one read
   * of [from, to) (`since`: `to` is now, every event from `from` on is read by one range scan).
   */
  private async queueFigures(queues: readonly repo.ReportQueue[], groups: readonly Interval[][], from: number, to: number, read: 'calls' | 'since' = 'calls'): Promise<QueueKpis[][][]> {
    const ids = queues.map((q) => q.id);
    const [events, surveys] = await Promise.all([
      read === 'since' ? repo.queueEventsSince(this.db, ids, new Date(from)) : repo.queueEventsOfCalls(this.db, ids, new Date(from), new Date(to)),
      repo.surveysOf(this.db, 'queue', ids, new Date(from), new Date(to)),
    ]);
    // First-call resolution: later joins of the answered callers whose window is over (the others
    // are not judged yet: none in the live windows with the default 24 h), up to the end of the last window.
    const now = this.now();
    const windowOf = new Map(queues.map((q) => [q.id, q.settings.fcrWindowHours * H]));
    const answeredAt = new Map<string, number>();
    for (const e of events) if (e.type === 'answer') answeredAt.set(`${e.queueId}:${e.callId}`, e.at);
    const callers = new Set<string>();
    let first = Infinity;
    let last = -Infinity;
    for (const e of events) {
      const at = e.type === 'join' && e.callerNumber ? answeredAt.get(`${e.queueId}:${e.callId}`) : undefined;
      const until = at === undefined ? undefined : at + windowOf.get(e.queueId)!;
      if (until === undefined || until > now) continue;
      callers.add(e.callerNumber!);
      first = Math.min(first, at!);
      last = Math.max(last, until);
    }
    const laterJoins = callers.size ? await repo.callerJoins(this.db, [...callers], new Date(first), new Date(last)) : [];
    const eventsOf = byKey(events, (e) => e.queueId);
    const surveysOf = byKey(surveys, (s) => s.owner);
    return queues.map((queue) => {
      const own = eventsOf.get(queue.id) ?? [];
      const ownSurveys = surveysOf.get(queue.id) ?? [];
      return groups.map((intervals) => queueKpis({ intervals, events: own, surveys: ownSurveys, laterJoins, settings: queue.settings, now }));
    });
  }

  private async queues(names: readonly string[] | undefined): Promise<repo.ReportQueue[]> {
    const queues = await repo.reportQueues(this.db, names);
    if (names) {
      const missing = names.find((n) => !queues.some((q) => q.name === n));
      if (missing !== undefined) throw notFound('queue-not-found', 'queue', missing);
    }
    return queues;
  }

  private zone(tz: string | undefined): string {
    const zone = tz ?? this.options.timezone;
    if (!isTimeZone(zone)) throw invalid('querystring.tz', `unknown time zone '${zone}' (an IANA name such as 'Europe/Berlin')`);
    return zone;
  }

  /** The question's range and intervals; 400 naming the field for a bad edge, a reversed or too long range, too many intervals. */
  private range(q: ReportQuery): Range {
    const tz = this.zone(q.tz);
    const from = parseRangeEdge(q.from, tz);
    if (from === null) throw invalid('querystring.from', 'a date-time with its offset (2026-03-29T08:00:00+02:00 or ...Z) or a local date (2026-03-29)');
    const to = q.to === undefined ? this.now() : parseRangeEdge(q.to, tz);
    if (to === null) throw invalid('querystring.to', 'a date-time with its offset (2026-03-29T08:00:00+02:00 or ...Z) or a local date (2026-03-30: its midnight, excluded)');
    if (to <= from) throw invalid('querystring.to', 'must be after from');
    if (to - from > MAX_RANGE_DAYS * 24 * H) throw invalid('querystring.to', `the range is at most ${MAX_RANGE_DAYS} days`);
    const intervals = intervalsOf(from, to, q.interval, tz, MAX_INTERVALS);
    if (intervals === null) throw invalid('querystring.interval', `at most ${MAX_INTERVALS} intervals per report: choose a longer interval or a shorter range`);
    return { intervals, from, to, tz };
  }
}
