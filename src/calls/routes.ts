import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.js';
import type { CdrRow, LiveCallRow } from './tables.js';
import type { AuthService } from '../auth/service.js';
import { requireRole } from '../http/auth.js';
import { IdParams, withErrors } from '../http/schemas.js';
import { ListOf, decodeCursor, list, pageOf } from '../http/paging.js';
import { AppError, notFound } from '../errors.js';
import { csvTimeZone, sendCsv, wantsCsv } from '../http/csv.js';
import { cdrPageReader, getCdr, listLiveCalls, streamCdrs, type CdrFilter, type ShownCdr } from './repository.js';
import { CSV_EXPORTS_AT_ONCE, cdrCsv, cdrCsvFilename } from './cdr-export.js';
import { CdrPage, CdrQuery } from './schemas.js';

export interface CallRouteDeps {
  db: Db;
  auth: AuthService;
  /** The site's IANA time zone (PBX_TIMEZONE): a CSV export's times are in it unless `tz` names another. */
  timezone: string;
}

export function callRoutes(deps: CallRouteDeps) {
  const viewer = requireRole(deps.auth, 'viewer');
  const cdrPage = cdrPageReader(deps.db);
  let exports = 0;
  /** The CSV body, counted among the running exports until its stream closes (ended, failed or the client left). */
  const exportCsv = (filter: CdrFilter, tz: string) => () => {
    exports++;
    const body = cdrCsv(streamCdrs(deps.db, filter), tz);
    body.once('close', () => exports--);
    return body;
  };
  return async (app: FastifyInstance): Promise<void> => {
    app.get(
      '/calls/live',
      {
        onRequest: viewer,
        schema: {
          tags: ['calls'],
          summary: 'Calls in progress',
          security: [{ bearer: [] }],
          response: withErrors({ 200: ListOf(Type.Ref('LiveCall')) }),
        },
      },
      async () => list((await listLiveCalls(deps.db)).map(liveCallJson)),
    );

    app.get<{ Querystring: CdrQuery }>(
      '/cdrs',
      {
        onRequest: viewer,
        schema: {
          tags: ['calls'],
          summary: 'Search call detail records, newest first; as CSV (format=csv or Accept: text/csv) every matching record, streamed',
          security: [{ bearer: [] }],
          querystring: CdrQuery,
          produces: ['application/json', 'text/csv'],
          response: withErrors({ 200: CdrPage }),
        },
      },
      async (request, reply) => {
        const q = request.query;
        const from = q.from ? new Date(q.from) : undefined;
        const to = q.to ? new Date(q.to) : undefined;
        if (from && to && from.getTime() >= to.getTime()) {
          throw new AppError('validation-failed', 400, 'querystring.from must be before querystring.to', { field: 'querystring.from' });
        }
        const tz = csvTimeZone(q.tz, deps.timezone);
        const filter: CdrFilter = {
          from,
          to,
          caller: q.caller,
          dialed: q.dialed,
          disposition: q.disposition as CdrRow['disposition'] | undefined,
          direction: q.direction as CdrRow['direction'] | undefined,
          callId: q.callId,
          after: q.cursor ? decodeCursor(q.cursor) : undefined,
        };
        // CSV: every row the filter names (no limit), from a server-side cursor as the client reads.
        if (wantsCsv(q.format, request.headers.accept)) {
          if (exports >= CSV_EXPORTS_AT_ONCE && request.method !== 'HEAD') {
            reply.header('retry-after', '10');
            throw new AppError('rate-limited', 429, `${CSV_EXPORTS_AT_ONCE} CSV exports are running (the most at once); try again when one has ended`);
          }
          return sendCsv(reply, cdrCsvFilename(from, to, tz, new Date()), exportCsv(filter, tz));
        }
        const rows = await cdrPage({ ...filter, limit: q.limit + 1 });
        return pageOf(rows, q.limit, (r) => ({ at: r.cursor_at, id: r.id }), cdrJson);
      },
    );

    app.get<{ Params: { id: string } }>(
      '/cdrs/:id',
      {
        onRequest: viewer,
        schema: {
          tags: ['calls'],
          summary: 'One call detail record',
          security: [{ bearer: [] }],
          params: IdParams,
          response: withErrors({ 200: Type.Ref('Cdr') }),
        },
      },
      async (request) => {
        const row = await getCdr(deps.db, request.params.id);
        if (!row) throw notFound('not-found', 'CDR', request.params.id);
        return cdrJson(row);
      },
    );
  };
}

export function cdrJson(r: ShownCdr & { recordings?: { id: string }[] }) {
  return {
    id: r.id,
    callId: r.call_id,
    direction: r.direction,
    callerNumber: r.caller_number,
    callerName: r.caller_name,
    dialedNumber: r.dialed_number,
    startedAt: r.started_at.toISOString(),
    answeredAt: r.answered_at?.toISOString() ?? null,
    endedAt: r.ended_at.toISOString(),
    durationSeconds: r.duration_seconds,
    billableSeconds: r.billable_seconds,
    waitSeconds: r.wait_seconds,
    talkSeconds: r.talk_seconds,
    answeredBy: r.answered_by,
    agent: r.agent,
    queue: r.queue,
    hangupCause: r.hangup_cause,
    hangupCauseText: r.hangup_cause_text,
    disposition: r.disposition,
    endedBy: r.ended_by,
    digits: r.digits,
    reconciled: r.reconciled,
    linkedId: r.linked_id,
    ivrPath: (r.ivr_path ?? null) as never,
    recordings: (r.recordings ?? []).map((x) => x.id),
    recordingErased: r.recording_erased,
    monitored: r.monitored,
  };
}

function liveCallJson(r: LiveCallRow) {
  return {
    callId: r.call_id,
    channelId: r.channel_id,
    direction: r.direction,
    callerNumber: r.caller_number,
    callerName: r.caller_name,
    dialedNumber: r.dialed_number,
    state: r.state,
    digits: r.digits,
    startedAt: r.started_at.toISOString(),
    answeredAt: r.answered_at?.toISOString() ?? null,
    lastSeenAt: r.updated_at.toISOString(),
  };
}
