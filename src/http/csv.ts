/**
 * CSV answers of list and report routes (docs/api.md#csv-export): the route answers CSV for
 * `format=csv` or an `Accept` header that prefers `text/csv` (`format` wins over `Accept`), with
 * times in `tz` (an IANA zone; the site's by default). The body is a stream (src/shared/csv.ts).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import type { Readable } from 'node:stream';
import { AppError } from '../errors.js';
import { isTimeZone } from '../shared/zoned-time.js';

/** The querystring fields of a route that can answer CSV; spread them into its querystring schema. */
export const csvQueryFields = {
  format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')], {
    description: 'csv: answer text/csv (as does Accept: text/csv); wins over the Accept header',
  })),
  tz: Type.Optional(Type.String({
    minLength: 1, maxLength: 64, description: "IANA time zone of the CSV's times (e.g. Europe/Berlin); default: the site's (PBX_TIMEZONE)",
  })),
};

/**
 * CSV or JSON: `format` if given; else what the Accept header prefers. text/csv must rank at least
 * as high as a wildcard range (all types, text/any, application/any) and above application/json; at equal q the one
 * listed first wins. No Accept header, or none of these: JSON.
 */
export function wantsCsv(format: 'json' | 'csv' | undefined, accept: string | undefined): boolean {
  if (format) return format === 'csv';
  if (!accept) return false;
  const csv = { q: 0, at: Infinity };
  const json = { q: 0, at: Infinity };
  let wildcard = 0;
  accept.split(',').forEach((range, at) => {
    const [type, ...params] = range.trim().toLowerCase().split(';').map((s) => s.trim());
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!Number.isFinite(q) || q <= 0) return;
    const seen = type === 'text/csv' ? csv : type === 'application/json' ? json : null;
    if (seen && q > seen.q) Object.assign(seen, { q, at });
    else if (type === '*/*' || type === 'text/*' || type === 'application/*') wildcard = Math.max(wildcard, q);
  });
  return csv.q > 0 && csv.q >= wildcard && (csv.q > json.q || (csv.q === json.q && csv.at < json.at));
}

/** The zone the CSV's times are written in: `tz` when given (400 naming querystring.tz if not a zone), else the site's. */
export function csvTimeZone(tz: string | undefined, siteTimeZone: string): string {
  if (tz === undefined) return siteTimeZone;
  if (!isTimeZone(tz)) {
    throw new AppError('validation-failed', 400, `querystring.tz must be an IANA time zone such as Europe/Berlin, got "${tz}"`, { field: 'querystring.tz' });
  }
  return tz;
}

/**
 * Send the CSV `body()` makes as a download named `filename` (letters, digits, `._-` only). A HEAD
 * request gets the headers alone: its body is never made (Fastify would read a stream to the end
 * and drop it, a whole export's database work for nothing).
 */
export function sendCsv(reply: FastifyReply, filename: string, body: () => Readable): FastifyReply {
  reply
    .header('content-type', 'text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`)
    .header('cache-control', 'no-store');
  return reply.send(reply.request.method === 'HEAD' ? '' : body());
}
