/**
 * The outbound reports (docs/campaigns.md#reports): checks the question (days, range, zone,
 * campaigns), reads the rows (report-repository.ts) and hands them to the pure cores
 * (report-compliance.ts, report-outbound.ts). Computed at each request; nothing is cached.
 */
import { DateTime } from 'luxon';
import type { Db } from '../db/database.js';
import { invalid, notFound } from '../errors.js';
import { parseRangeEdge } from '../reports/intervals.js';
import { isTimeZone, zonedIso } from '../shared/zoned-time.js';
import { addDays, complianceRows, ROLLING_DAYS, type ComplianceRow } from './report-compliance.js';
import { agentFigures, campaignFigures, type AgentFigures, type CampaignFigures } from './report-outbound.js';
import * as repo from './report-repository.js';

/** The longest range of either report. */
export const MAX_REPORT_DAYS = 400;
const DAY_MS = 86_400_000;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

export interface OutboundQuery {
  readonly from: string;
  readonly to?: string | undefined;
  readonly tz?: string | undefined;
  readonly campaigns?: readonly string[] | undefined;
}

export type CampaignReportRow = { readonly campaign: string; readonly from: string; readonly to: string } & CampaignFigures;
export type AgentReportRow = { readonly campaign: string; readonly agent: string; readonly name: string; readonly from: string; readonly to: string } & AgentFigures;

export class CampaignReports {
  constructor(private readonly db: Db, private readonly options: { readonly timezone: string; readonly now?: () => number }) {}

  /**
   * Per day from..to (dates in the campaign's zone, both included; default: today, and from = to).
   * 404 campaign-not-found; 400 naming querystring.from / .to.
   */
  async compliance(campaignId: string, q: { readonly from?: string | undefined; readonly to?: string | undefined }): Promise<(ComplianceRow & { campaign: string })[]> {
    const c = await this.db.selectFrom('campaigns').select(['name', 'time_zone', 'abandon_cap']).where('id', '=', campaignId).executeTakeFirst();
    if (!c) throw notFound('campaign-not-found', 'campaign', campaignId);
    const today = DateTime.fromMillis(this.now(), { zone: c.time_zone }).toISODate()!;
    const to = q.to ?? (q.from !== undefined && q.from > today ? q.from : today);
    const from = q.from ?? to;
    for (const [field, v] of [['querystring.from', from], ['querystring.to', to]] as const) {
      if (!DATE.test(v) || !DateTime.fromISO(v, { zone: 'UTC' }).isValid) throw invalid(field, `a date YYYY-MM-DD (the campaign's days are in ${c.time_zone})`);
    }
    if (to < from) throw invalid('querystring.to', 'must not be before from');
    if (addDays(from, MAX_REPORT_DAYS - 1) < to) throw invalid('querystring.to', `at most ${MAX_REPORT_DAYS} days`);
    const counts = await repo.dayCounts(this.db, campaignId, addDays(from, -(ROLLING_DAYS - 1)), to);
    return complianceRows(counts, from, to, Number(c.abandon_cap)).map((r) => ({ campaign: c.name, ...r }));
  }

  /** One row per campaign over [from, to). */
  async campaigns(q: OutboundQuery): Promise<CampaignReportRow[]> {
    const { from, to, span } = this.range(q);
    const campaigns = await this.campaignsNamed(q.campaigns);
    const ids = campaigns.map((c) => c.id);
    const [facts, totals] = await Promise.all([repo.attemptFacts(this.db, ids, from, to), repo.contactTotals(this.db, ids)]);
    return campaigns.map((c) => ({
      campaign: c.name, ...span,
      ...campaignFigures(facts.filter((f) => f.campaignId === c.id), c.successNames, totals.get(c.id) ?? { contacts: 0, tried: 0, finished: 0 }),
    }));
  }

  /** One row per campaign and agent who talked on it in [from, to), by campaign then agent number. */
  async agents(q: OutboundQuery): Promise<AgentReportRow[]> {
    const { from, to, span } = this.range(q);
    const campaigns = await this.campaignsNamed(q.campaigns);
    const facts = await repo.attemptFacts(this.db, campaigns.map((c) => c.id), from, to);
    const names = await repo.agentNames(this.db, [...new Set(facts.flatMap((f) => (f.agentId === null ? [] : [f.agentId])))]);
    return campaigns.flatMap((c) => {
      const figures = agentFigures(facts.filter((f) => f.campaignId === c.id), c.successNames);
      return [...figures]
        .map(([agentId, k]) => ({ campaign: c.name, agent: names.get(agentId)?.number ?? agentId, name: names.get(agentId)?.name ?? '', ...span, ...k }))
        .sort((a, b) => a.agent.localeCompare(b.agent));
    });
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private async campaignsNamed(names: readonly string[] | undefined): Promise<repo.ReportCampaign[]> {
    const campaigns = await repo.reportCampaigns(this.db, names);
    const missing = names?.find((n) => !campaigns.some((c) => c.name === n));
    if (missing !== undefined) throw notFound('campaign-not-found', 'campaign', missing);
    return campaigns;
  }

  private range(q: OutboundQuery): { from: Date; to: Date; span: { from: string; to: string } } {
    const tz = q.tz ?? this.options.timezone;
    if (!isTimeZone(tz)) throw invalid('querystring.tz', `unknown time zone '${tz}' (an IANA name such as 'Europe/Berlin')`);
    const from = parseRangeEdge(q.from, tz);
    if (from === null) throw invalid('querystring.from', 'a date-time with its offset (2026-03-29T08:00:00+02:00 or ...Z) or a local date (2026-03-29)');
    const to = q.to === undefined ? this.now() : parseRangeEdge(q.to, tz);
    if (to === null) throw invalid('querystring.to', 'a date-time with its offset or a local date (2026-03-30: its midnight, excluded)');
    if (to <= from) throw invalid('querystring.to', 'must be after from');
    if (to - from > MAX_REPORT_DAYS * DAY_MS) throw invalid('querystring.to', `the range is at most ${MAX_REPORT_DAYS} days`);
    const iso = zonedIso(tz);
    return { from: new Date(from), to: new Date(to), span: { from: iso(new Date(from)), to: iso(new Date(to)) } };
  }
}
