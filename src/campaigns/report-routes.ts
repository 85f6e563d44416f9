/**
 * The outbound reports (docs/campaigns.md#reports), JSON `{items, nextCursor: null}` or CSV
 * (`format=csv` or `Accept: text/csv`) with the same rows and columns:
 *   GET /campaigns/:id/compliance    per day: attempts, live answers, abandons and the abandon rate
 *                                    (the day, 30 days), outside the window, DNC blocked, short rings
 *   GET /reports/campaigns           per campaign over a range
 *   GET /reports/campaigns/agents    per campaign and agent over a range
 * Roles: compliance and campaign figures are aggregates: supervisor for compliance (the campaign's
 * own page), viewer for /reports/campaigns (like queue figures); agent figures are each person's
 * performance: supervisor.
 */
import { Type, type Static, type TObject } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { Readable } from 'node:stream';
import { requireRole } from '../http/auth.js';
import { sendCsv, wantsCsv } from '../http/csv.js';
import { ListOf, list } from '../http/paging.js';
import { withErrors } from '../http/schemas.js';
import { csvDocument, type CsvCell } from '../shared/csv.js';
import { CampaignParams } from './schemas.js';
import { CampaignReports, MAX_REPORT_DAYS } from './report-service.js';
import type { CampaignRouteDeps } from './route-deps.js';

const strict = { additionalProperties: false } as const;
const Nullable = (t: ReturnType<typeof Type.Number>) => Type.Union([t, Type.Null()]);
const Percent = (d: string) => Nullable(Type.Number({ description: `${d}; %, one decimal; null when there is nothing to divide by` }));
const Ratio = (d: string) => Nullable(Type.Number({ description: `${d}; a fraction (0.03 = 3 %), exact; null without live answers` }));
const format = { format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')], { description: 'csv: answer text/csv (as does Accept: text/csv)' })) };
const Day = Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' });

export const ComplianceQuery = Type.Object(
  {
    from: Type.Optional({ ...Day, description: "first day (YYYY-MM-DD in the campaign's time zone); default: to" }),
    to: Type.Optional({ ...Day, description: `last day, included; default today (or from). At most ${MAX_REPORT_DAYS} days` }),
    ...format,
  },
  strict,
);
type ComplianceQuery = Static<typeof ComplianceQuery>;

export const ComplianceRow = Type.Object({
  campaign: Type.String(),
  day: Type.String({ description: "YYYY-MM-DD in the campaign's time zone" }),
  attempts: Type.Integer(),
  liveAnswers: Type.Integer({ description: 'answered by a person (not a machine): connected or abandoned' }),
  machines: Type.Integer(),
  connects: Type.Integer(),
  abandons: Type.Integer({ description: 'live answers with no agent within connectSeconds (they heard the abandon message)' }),
  abandonRate: Ratio('abandons / liveAnswers of the day'),
  abandons30d: Type.Integer({ description: 'abandons of the 30 days ending this day' }),
  liveAnswers30d: Type.Integer(),
  abandonRate30d: Ratio('abandons30d / liveAnswers30d'),
  withinCap: Type.Boolean({ description: "abandonRate30d <= the campaign's abandonCap (true without live answers)" }),
  outsideWindow: Type.Integer({ description: 'calls placed outside the calling window: must be 0' }),
  dncBlocked: Type.Integer({ description: 'dials refused: the number was on a do-not-call list' }),
  shortRings: Type.Integer({ description: 'calls given up before ringing 15 s: must be 0' }),
});

export const OutboundQuery = Type.Object(
  {
    from: Type.String({ minLength: 10, maxLength: 40, description: 'start (included): a date-time with its offset, or a local date in tz (its midnight)' }),
    to: Type.Optional(Type.String({ minLength: 10, maxLength: 40, description: `end (excluded); default now; at most ${MAX_REPORT_DAYS} days after from` })),
    tz: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "IANA zone of local dates and of the answer's times; default the site's (PBX_TIMEZONE)" })),
    campaign: Type.Optional(Type.String({
      pattern: '^[a-z0-9][a-z0-9-]{0,63}(,[a-z0-9][a-z0-9-]{0,63}){0,99}$',
      description: 'campaign names, comma-separated (up to 100); default every campaign; an unknown name is 404 campaign-not-found',
    })),
    ...format,
  },
  strict,
);
type OutboundQuery = Static<typeof OutboundQuery>;

const span = { from: Type.String({ description: 'range start, local time with offset' }), to: Type.String({ description: 'range end (excluded)' }) };
const agentFigures = {
  connects: Type.Integer({ description: 'connected to an agent' }),
  conversions: Type.Integer({ description: 'connects with a success disposition' }),
  conversionRatePercent: Percent('conversions / connects'),
  talkSeconds: Type.Number(),
  avgTalkSeconds: Nullable(Type.Number()),
  agentSeconds: Type.Number({ description: 'time on the campaign: calls plus gaps of at most 30 min between them' }),
  idleSeconds: Type.Number({ description: "gaps between an agent's campaign calls (at most 30 min each; wrap-up included)" }),
  avgIdleSeconds: Nullable(Type.Number()),
  talkMinutesPerHour: Nullable(Type.Number({ description: 'talk minutes per agent hour: talkSeconds / agentSeconds x 60' })),
  contactsPerHour: Nullable(Type.Number({ description: 'connects / agent hours' })),
};
export const CampaignReportRow = Type.Object({
  campaign: Type.String(),
  ...span,
  attempts: Type.Integer({ description: 'dialed in the range' }),
  liveAnswers: Type.Integer(),
  machines: Type.Integer(),
  abandons: Type.Integer(),
  contactRatePercent: Percent('connects / attempts'),
  ...agentFigures,
  contacts: Type.Integer({ description: 'contacts now' }),
  contactsTried: Type.Integer({ description: 'contacts dialed at least once' }),
  contactsFinished: Type.Integer({ description: 'contacts done, exhausted, on DNC or unreachable' }),
  penetrationPercent: Percent('list penetration: contactsTried / contacts'),
  finishedPercent: Percent('contactsFinished / contacts'),
});
export const AgentCampaignRow = Type.Object({ campaign: Type.String(), agent: Type.String({ description: 'agent number' }), name: Type.String(), ...span, ...agentFigures });

function csvOf(schema: TObject, rows: readonly object[]): Readable {
  const columns = Object.keys(schema.properties);
  return Readable.from([csvDocument(columns, rows.map((r) => columns.map((c) => (r as Record<string, unknown>)[c] as CsvCell)))]);
}

export function reportRoutes(deps: CampaignRouteDeps) {
  const viewer = requireRole(deps.auth, 'viewer');
  const supervisor = requireRole(deps.auth, 'supervisor');
  const security = [{ bearer: [] }];
  const produces = ['application/json', 'text/csv'];
  const reports = new CampaignReports(deps.db, { timezone: deps.timezone });
  const names = (csv: string | undefined): string[] | undefined => (csv === undefined ? undefined : [...new Set(csv.split(','))]);
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Params: { id: string }; Querystring: ComplianceQuery }>(
      '/campaigns/:id/compliance',
      { onRequest: supervisor, schema: { tags: ['campaigns'], security, produces, summary: 'Compliance per day (docs/campaigns.md#compliance-report); CSV with format=csv or Accept: text/csv', params: CampaignParams, querystring: ComplianceQuery, response: withErrors({ 200: ListOf(ComplianceRow) }) } },
      async (request, reply) => {
        const q = request.query;
        const rows = await reports.compliance(request.params.id, { from: q.from, to: q.to });
        return wantsCsv(q.format, request.headers.accept) ? sendCsv(reply, `campaign-${request.params.id}-compliance.csv`, () => csvOf(ComplianceRow, rows)) : list(rows);
      },
    );
    const outbound = (path: string, role: typeof viewer, row: TObject, file: string, summary: string, run: (q: OutboundQuery) => Promise<object[]>) =>
      app.get<{ Querystring: OutboundQuery }>(
        path,
        { onRequest: role, schema: { tags: ['reports'], security, produces, summary, querystring: OutboundQuery, response: withErrors({ 200: ListOf(row) }) } },
        async (request, reply) => {
          const rows = await run(request.query);
          return wantsCsv(request.query.format, request.headers.accept) ? sendCsv(reply, file, () => csvOf(row, rows)) : list(rows);
        },
      );
    outbound('/reports/campaigns', viewer, CampaignReportRow, 'campaigns.csv',
      'Outbound figures per campaign over a range: attempts, connects, contact rate, conversions, talk per hour, idle between calls, list penetration (docs/campaigns.md#outbound-metrics)',
      (q) => reports.campaigns({ from: q.from, to: q.to, tz: q.tz, campaigns: names(q.campaign) }));
    outbound('/reports/campaigns/agents', supervisor, AgentCampaignRow, 'campaign-agents.csv',
      'Outbound figures per campaign and agent over a range (docs/campaigns.md#outbound-metrics)',
      (q) => reports.agents({ from: q.from, to: q.to, tz: q.tz, campaigns: names(q.campaign) }));
  };
}
