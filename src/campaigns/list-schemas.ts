/** TypeBox schemas of the contact-list and do-not-call routes (list-routes.ts, dnc-routes.ts). */
import { Type, type Static } from '@sinclair/typebox';
import { pageQueryFields } from '../http/paging.js';
import { NullableTimestamp, Timestamp } from '../http/schemas.js';

const strict = { additionalProperties: false } as const;
const Id = Type.String({ pattern: '^[0-9]{1,18}$', description: 'numeric id' });
const Uuid = Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', description: 'import id (UUID)' });
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

const importFields = {
  id: Uuid,
  kind: Type.Union([Type.Literal('contacts'), Type.Literal('dnc')]),
  campaignId: Nullable(Id),
  state: Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('done'), Type.Literal('failed')]),
  fileName: Type.Union([Type.String(), Type.Null()]),
  bytes: Type.Integer(),
  rowsRead: Type.Integer({ description: 'data rows read so far (the header not counted)' }),
  accepted: Type.Integer(),
  rejected: Type.Integer(),
  rejectedByReason: Type.Record(Type.String(), Type.Integer(), { description: 'empty, column-count, bad-number, bad-time-zone, duplicate -> count' }),
  error: Type.Union([Type.String(), Type.Null()], { description: 'why a failed import stopped' }),
  createdAt: Timestamp,
  finishedAt: NullableTimestamp,
};
export const ListImport = Type.Object(importFields, { $id: 'ListImport', additionalProperties: false });
/** The same shape, for the do-not-call routes (a sibling plugin). */
export const DncImport = Type.Object(importFields, { $id: 'DncImport', additionalProperties: false });

export const Contact = Type.Object({
  id: Id,
  number: Type.String({ description: 'E.164' }),
  name: Type.Union([Type.String(), Type.Null()]),
  timeZones: Type.Array(Type.String(), { description: 'IANA zones; callable only when the window is open in all; empty: never called' }),
  tzSource: Type.Union([Type.Literal('column'), Type.Literal('number'), Type.Literal('country'), Type.Literal('unknown')]),
  data: Type.Record(Type.String(), Type.String()),
  state: Type.String({ description: 'ready, dialing, done, exhausted, dnc, unreachable, callback' }),
  attempts: Type.Integer(),
  nextAttemptAt: Timestamp,
  lastOutcome: Type.Union([Type.String(), Type.Null()]),
  disposition: Type.Union([Type.String(), Type.Null()]),
  importId: Type.Union([Type.String(), Type.Null()]),
  line: Type.Union([Type.Integer(), Type.Null()]),
  createdAt: Timestamp,
}, { $id: 'Contact', additionalProperties: false });

export const DncEntry = Type.Object({
  id: Id,
  number: Type.String({ description: 'E.164' }),
  campaignId: Nullable(Id),
  source: Type.String({ description: 'api, import or disposition' }),
  note: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
}, { $id: 'DncEntry', additionalProperties: false });

export const CampaignIdParams = Type.Object({ id: Id }, strict);
export const ImportParams = Type.Object({ id: Id, importId: Uuid }, strict);
export const DncImportParams = Type.Object({ importId: Uuid }, strict);
export const DncParams = Type.Object({ id: Id }, strict);

const FileName = Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'the file name shown in the listings' }));
export const UploadQuery = Type.Object({ fileName: FileName }, strict);
export type UploadQuery = Static<typeof UploadQuery>;
export const DncUploadQuery = Type.Object({ fileName: FileName, campaignId: Type.Optional(Id) }, strict);
export type DncUploadQuery = Static<typeof DncUploadQuery>;
/** The raw CSV body: a stream, not validated as JSON. */
export const CsvBody = Type.Unknown({ description: 'the CSV file (text/csv), streamed' });

export const PageQuery = Type.Object({ ...pageQueryFields }, strict);
export type PageQuery = Static<typeof PageQuery>;
export const ContactQuery = Type.Object({
  ...pageQueryFields,
  state: Type.Optional(Type.Union(['ready', 'dialing', 'done', 'exhausted', 'dnc', 'unreachable', 'callback'].map((s) => Type.Literal(s)))),
}, strict);
export type ContactQuery = Static<typeof ContactQuery>;

export const AddDnc = Type.Object({
  number: Type.String({ minLength: 1, maxLength: 40, description: 'as people write it; site-wide entries need the country code (+44...)' }),
  campaignId: Type.Optional(Id),
  note: Type.Optional(Type.String({ maxLength: 200 })),
}, strict);
export type AddDnc = Static<typeof AddDnc>;
export const DncQuery = Type.Object({
  ...pageQueryFields,
  number: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
  campaignId: Type.Optional(Id),
}, strict);
export type DncQuery = Static<typeof DncQuery>;
