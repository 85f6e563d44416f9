/**
 * Staffing (docs/staffing.md): the Erlang calculator and the per-interval forecast. Checks what
 * depends on several fields (400 naming the field), runs the pure cores (erlang.ts, forecast.ts)
 * and, for the forecast, the history query (repository.ts).
 */
import { IANAZone } from 'luxon';
import type { Db } from '../db/database.js';
import { AppError, invalid, notFound } from '../errors.js';
import { MAX_AGENTS, evaluate, offeredLoad, staff, unmet, withShrinkage, type Performance, type Targets, type Traffic } from './erlang.js';
import { daySlots, forecastDay, historyDates, weekWeight } from './forecast.js';
import { queueIdByName, slotHistory } from './repository.js';
import type { ErlangRequestBody, ForecastRequestBody } from './schemas.js';

/** Largest offered load the calculator takes, Erlangs (docs/staffing.md#limits). */
export const MAX_LOAD_ERLANGS = 10_000;
/** Largest calls-per-second x patience (the Erlang A series' length) it takes. */
export const MAX_PATIENCE_CALLS = 100_000;

type TargetBody = Pick<ErlangRequestBody, 'targetAnswerSeconds' | 'targetServiceLevel' | 'targetAsaSeconds' | 'maxOccupancy' | 'shrinkage' | 'patienceSeconds'>;

function targetsOf(body: TargetBody, needTarget: boolean): Targets {
  if (body.targetServiceLevel !== undefined && body.targetAnswerSeconds === undefined) {
    throw invalid('body.targetAnswerSeconds', 'is required with targetServiceLevel (the T of "answered within T seconds")');
  }
  if (needTarget && body.targetServiceLevel === undefined && body.targetAsaSeconds === undefined && body.maxOccupancy === undefined) {
    throw invalid('body.targetServiceLevel', 'give a target: targetServiceLevel with targetAnswerSeconds, targetAsaSeconds or maxOccupancy (or agents, to evaluate a staffing)');
  }
  return { answerSeconds: body.targetAnswerSeconds, serviceLevel: body.targetServiceLevel, asaSeconds: body.targetAsaSeconds, maxOccupancy: body.maxOccupancy };
}

function checkTraffic(t: Traffic, loadField: string): void {
  if (offeredLoad(t) > MAX_LOAD_ERLANGS) {
    throw invalid(loadField, `offered load ${offeredLoad(t).toFixed(1)} Erlangs is above the ${MAX_LOAD_ERLANGS} this calculator takes`);
  }
  if (t.patienceSeconds !== undefined && t.callsPerSecond * t.patienceSeconds > MAX_PATIENCE_CALLS) {
    throw invalid('body.patienceSeconds', `calls per second x patience is above ${MAX_PATIENCE_CALLS}: Erlang A would not end in time (use a shorter patience, or Erlang C)`);
  }
}

export type StaffingFigures = Performance & { readonly agentsWithShrinkage: number; readonly meetsTargets: boolean; readonly unmetTarget: string | null };

/** The fewest agents meeting `targets`, or 400 target-unreachable naming the target missed. */
function search(t: Traffic, targets: Targets, shrinkage: number): StaffingFigures {
  const found = staff(t, targets);
  if (!found.reachable) {
    throw new AppError('target-unreachable', 400, `body.${found.field}: not met even with ${MAX_AGENTS} agents`, { field: `body.${found.field}`, agents: MAX_AGENTS });
  }
  return { ...found.performance, agentsWithShrinkage: withShrinkage(found.performance.agents, shrinkage), meetsTargets: true, unmetTarget: null };
}

export class StaffingService {
  constructor(private readonly db: Db, private readonly siteTimezone: string) {}

  /** POST /staffing/erlang: search the fewest agents, or evaluate `agents`. */
  erlang(body: ErlangRequestBody): StaffingFigures & { model: 'erlang-c' | 'erlang-a'; offeredLoadErlangs: number } {
    const targets = targetsOf(body, body.agents === undefined);
    const t: Traffic = { callsPerSecond: body.callsPerInterval / (body.intervalMinutes * 60), ahtSeconds: body.ahtSeconds, patienceSeconds: body.patienceSeconds };
    checkTraffic(t, 'body.callsPerInterval');
    const shrinkage = body.shrinkage ?? 0;
    const head = { model: body.patienceSeconds === undefined ? ('erlang-c' as const) : ('erlang-a' as const), offeredLoadErlangs: offeredLoad(t) };
    if (body.agents !== undefined) {
      const p = evaluate(t, body.agents, targets.answerSeconds ?? 0);
      const missed = unmet(p, targets);
      return { ...head, ...p, agentsWithShrinkage: withShrinkage(p.agents, shrinkage), meetsTargets: missed === null, unmetTarget: missed === null ? null : `body.${missed}` };
    }
    return { ...head, ...search(t, targets, shrinkage) };
  }

  /** POST /staffing/forecast: a day's intervals from the history, each staffed. */
  async forecast(body: ForecastRequestBody) {
    const zone = body.timezone ?? this.siteTimezone;
    if (!IANAZone.isValidZone(zone)) throw invalid('body.timezone', `unknown time zone '${zone}' (use an IANA name such as 'Europe/Berlin')`);
    const targets = targetsOf(body, true);
    const weeks = body.weeks ?? 4;
    const intervalMinutes = body.intervalMinutes ?? 30;
    let queueId: string | null = null;
    if (body.queue !== undefined) {
      queueId = (await queueIdByName(this.db, body.queue)) ?? null;
      if (queueId === null) throw notFound('queue-not-found', 'queue', body.queue);
    }
    const dates = historyDates(body.date, weeks);
    const days = dates.map((d) => {
      const slots = daySlots(d, zone, intervalMinutes);
      return { start: slots[0]!.start, end: slots.at(-1)!.end };
    });
    const history = await slotHistory(this.db, { queueId, zone, intervalMinutes, days });
    const shrinkage = body.shrinkage ?? 0;
    const intervals = forecastDay(body.date, zone, intervalMinutes, weeks, history).map((slot) => {
      const seconds = (slot.end.getTime() - slot.start.getTime()) / 1000;
      const aht = body.ahtSeconds ?? slot.ahtSeconds;
      if (aht === null && slot.calls > 0) throw invalid('body.ahtSeconds', 'the history has calls but no ended (handled) call to take an AHT from: give ahtSeconds');
      const t: Traffic = { callsPerSecond: slot.calls / seconds, ahtSeconds: aht ?? 1, patienceSeconds: body.patienceSeconds };
      checkTraffic(t, 'body.date');
      return {
        start: slot.start.toISOString(),
        end: slot.end.toISOString(),
        localTime: slot.localTime,
        calls: slot.calls,
        ahtSeconds: aht,
        historyWeeks: slot.weeks,
        offeredLoadErlangs: offeredLoad(t),
        ...search(t, targets, shrinkage),
      };
    });
    return {
      date: body.date,
      queue: body.queue ?? null,
      timezone: zone,
      model: body.patienceSeconds === undefined ? ('erlang-c' as const) : ('erlang-a' as const),
      method: `weighted average of the same weekday over the last ${weeks} weeks, weights ${weeks}..1 (most recent heaviest); per real interval in ${zone}`,
      historyDates: dates,
      weights: dates.map((_, i) => weekWeight(i + 1, weeks)),
      intervals,
    };
  }
}
