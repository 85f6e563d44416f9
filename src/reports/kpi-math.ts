/**
 * What the queue and agent KPI cores share (pure): finding an instant's interval, rounding, the
 * survey figures (CSAT, NPS). docs/reporting.md.
 */
import type { Interval } from './intervals.js';
import type { SurveyScale } from './tables.js';

/** A survey answer as the cores take it; score null = no response. */
export interface SurveyFact {
  readonly at: number;
  readonly scale: SurveyScale;
  readonly score: number | null;
}

/** What both cores take besides their own facts. */
export interface KpiInput {
  readonly intervals: readonly Interval[];
  /** Survey answers (of the queue, or of the agent), counted where they were answered. */
  readonly surveys: readonly SurveyFact[];
  /** Epoch ms: the present (an agent's current state counts up to it; FCR windows not yet over). */
  readonly now: number;
}

/** The index of the interval holding `at` (intervals sorted, adjacent or not), or -1. */
export function intervalIndex(intervals: readonly Interval[], at: number): number {
  let lo = 0;
  let hi = intervals.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const i = intervals[mid]!;
    if (at < i.start) hi = mid - 1;
    else if (at >= i.end) lo = mid + 1;
    else return mid;
  }
  return -1;
}

/** The items grouped by key, in their order. */
export function byKey<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

/** Milliseconds as seconds, one decimal. */
export const seconds = (ms: number): number => Math.round(ms / 100) / 10;
/** part / whole as a percentage, one decimal; null when whole is 0. */
export const percent = (part: number, whole: number): number | null => (whole > 0 ? Math.round((part / whole) * 1000) / 10 : null);
/** sum / count (ms) as seconds, one decimal; null when count is 0. */
export const averageSeconds = (sumMs: number, count: number): number | null => (count > 0 ? seconds(sumMs / count) : null);

export interface SurveyTally {
  /** Questions asked (answered or not). */
  asked: number;
  csatResponses: number;
  /** 4 or 5 on a 1-5 scale. */
  csatSatisfied: number;
  npsResponses: number;
  /** 9-10 on a 0-10 scale. */
  promoters: number;
  /** 0-6 on a 0-10 scale. */
  detractors: number;
}

export const emptySurveyTally = (): SurveyTally => ({ asked: 0, csatResponses: 0, csatSatisfied: 0, npsResponses: 0, promoters: 0, detractors: 0 });

/** One answer into its tally: a 1-5 answer counts for CSAT, a 0-10 one for NPS; no response only in `asked`. */
export function tallySurvey(t: SurveyTally, s: SurveyFact): void {
  t.asked++;
  if (s.score === null) return;
  if (s.scale === '1-5') {
    t.csatResponses++;
    if (s.score >= 4) t.csatSatisfied++;
  } else {
    t.npsResponses++;
    if (s.score >= 9) t.promoters++;
    else if (s.score <= 6) t.detractors++;
  }
}

export interface SurveyFigures {
  readonly surveysAsked: number;
  readonly csatResponses: number;
  /** Share of 4-5 among the 1-5 answers, %; null without answers. */
  readonly csatPercent: number | null;
  readonly npsResponses: number;
  /** % promoters (9-10) minus % detractors (0-6) among the 0-10 answers, -100..100; null without answers. */
  readonly nps: number | null;
}

export function surveyFigures(t: SurveyTally): SurveyFigures {
  return {
    surveysAsked: t.asked,
    csatResponses: t.csatResponses,
    csatPercent: percent(t.csatSatisfied, t.csatResponses),
    npsResponses: t.npsResponses,
    nps: t.npsResponses > 0 ? Math.round(((t.promoters - t.detractors) / t.npsResponses) * 1000) / 10 : null,
  };
}
