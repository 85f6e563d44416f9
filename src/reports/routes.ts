/**
 * /reports (docs/reporting.md#api): queue and agent figures per interval, and the live queue
 * figures. JSON `{items, nextCursor: null}` (one row per queue or agent and interval), or CSV
 * (`format=csv` or `Accept: text/csv`) with the same rows and columns.
 *
 * Roles: queue figures are aggregates, as the queue live view viewers already read (a wallboard):
 * viewer. Agent figures are each person's performance: supervisor.
 */
import type { TObject } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { Readable } from 'node:stream';
import type { AuthService } from '../auth/service.js';
import { requireRole } from '../http/auth.js';
import { sendCsv, wantsCsv } from '../http/csv.js';
import { ListOf, list } from '../http/paging.js';
import { withErrors } from '../http/schemas.js';
import { csvDocument, type CsvCell } from '../shared/csv.js';
import {
  AgentReportQuery, AgentReportRow, QueueLiveQuery, QueueLiveRow, QueueReportQuery, QueueReportRow,
} from './schemas.js';
import type { ReportService } from './service.js';

export interface ReportRouteDeps {
  auth: AuthService;
  reports: ReportService;
}

const names = (csv: string | undefined): string[] | undefined => (csv === undefined ? undefined : [...new Set(csv.split(','))]);

/** A CSV cell of a row's value: a list (paused by reason) as `reason (code): seconds; ...`. */
function cell(value: unknown): CsvCell {
  if (Array.isArray(value)) {
    return value.map((p: { code: number | null; reason: string | null; seconds: number }) => `${p.reason ?? 'paused'} (${p.code ?? '-'}): ${p.seconds}`).join('; ');
  }
  return value as CsvCell;
}

/** The rows as CSV, one column per field of the row schema, in its order. */
function csvOf(schema: TObject, rows: readonly object[]): Readable {
  const columns = Object.keys(schema.properties);
  return Readable.from([csvDocument(columns, rows.map((r) => columns.map((c) => cell((r as Record<string, unknown>)[c]))))]);
}

export function reportRoutes(deps: ReportRouteDeps) {
  const viewer = requireRole(deps.auth, 'viewer');
  const supervisor = requireRole(deps.auth, 'supervisor');
  const security = [{ bearer: [] }];
  const tags = ['reports'];
  const produces = ['application/json', 'text/csv'];
  const { reports } = deps;

  /** One report route: JSON list or CSV of the rows `run` computes from the query. */
  function route<Q extends { format?: 'json' | 'csv' | undefined; interval?: string }>(
    app: FastifyInstance, path: string, o: { role: typeof viewer; query: TObject; row: TObject; summary: string; file: string; run: (q: Q) => Promise<object[]> },
  ): void {
    app.get(
      path,
      { onRequest: o.role, schema: { tags, security, produces, summary: o.summary, querystring: o.query, response: withErrors({ 200: ListOf(o.row) }) } },
      async (request, reply) => {
        // The schema checked it (o.query is Q's schema).
        const q = request.query as Q;
        const rows = await o.run(q);
        return wantsCsv(q.format, request.headers.accept) ? sendCsv(reply, `${o.file}${q.interval ? `-${q.interval}` : ''}.csv`, () => csvOf(o.row, rows)) : list(rows);
      },
    );
  }

  return async (app: FastifyInstance): Promise<void> => {
    route<QueueReportQuery>(app, '/reports/queues', {
      role: viewer, query: QueueReportQuery, row: QueueReportRow, file: 'queues',
      summary: 'Queue figures per interval (service level, ASA, abandons, AHT, FCR, CSAT/NPS...), computed from the queue events; CSV with format=csv or Accept: text/csv',
      run: (q) => reports.queueReport({ from: q.from, to: q.to, interval: q.interval, tz: q.tz, queues: names(q.queue) }),
    });
    // A fixed path beside /reports/queues.
    route<QueueLiveQuery>(app, '/reports/queues/live', {
      role: viewer, query: QueueLiveQuery, row: QueueLiveRow, file: 'queues-live',
      summary: 'Live queue figures: the last 15 minutes, the last 60 minutes and today so far, per queue, from the events at most 1 s before the request (one computation shared by the requests within 1 s)',
      run: (q) => reports.queueLive({ tz: q.tz, queues: names(q.queue) }),
    });
    route<AgentReportQuery>(app, '/reports/agents', {
      role: supervisor, query: AgentReportQuery, row: AgentReportRow, file: 'agents',
      summary: 'Agent figures per interval (logged-in, ready, paused by reason, talk, hold, wrap-up, answered, missed, AHT, occupancy, utilization, CSAT); CSV with format=csv or Accept: text/csv',
      run: (q) => reports.agentReport({ from: q.from, to: q.to, interval: q.interval, tz: q.tz, agents: names(q.agent) }),
    });
  };
}
