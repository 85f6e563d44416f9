/**
 * Request and response schemas of /flows. A definition is taken as any JSON here and checked by
 * checkFlow in the service (422 flow-invalid naming node and field of every problem); its shape
 * is IvrFlowDefinition (src/ivr/model.ts).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { NullableTimestamp, Timestamp } from '../http/schemas.js';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

const FlowName = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$', description: 'lower-case letters, digits and -, up to 64' });
const Description = Type.String({ maxLength: 200, pattern: '^[^\\x00-\\x1f\\x7f]*$' });
const Version = Type.Integer({ minimum: 1, maximum: 2_147_483_647 });
const VersionState = Type.Union([Type.Literal('draft'), Type.Literal('published'), Type.Literal('retired')]);

export const Definition = Type.Unknown({
  description: 'an IVR flow definition { language, start, nodes: { <id>: { kind: play | menu | gather | branch | schedule | set | lookup | transfer | hangup, ... } } }',
});

export const FlowParams = Type.Object({ name: FlowName }, { additionalProperties: false });
export type FlowParams = Static<typeof FlowParams>;
export const VersionParams = Type.Object({ name: FlowName, version: Version }, { additionalProperties: false });
export type VersionParams = Static<typeof VersionParams>;

export const CreateFlow = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64, description: 'unique; lower-case letters, digits and -, starting with a letter or digit (up to 64)' }),
    description: Type.Optional(Nullable(Description)),
    definition: Type.Optional(Definition),
  },
  { additionalProperties: false, description: 'with a definition, it is checked and saved as draft version 1' },
);
export type CreateFlowBody = Static<typeof CreateFlow>;

export const SaveDraft = Type.Object({ definition: Definition }, { additionalProperties: false });
export type SaveDraftBody = Static<typeof SaveDraft>;

export const Rollback = Type.Object({ version: Version }, { additionalProperties: false, description: 'an earlier (retired) version to publish again' });
export type RollbackBody = Static<typeof Rollback>;

export const FlowVersionInfo = Type.Object({
  version: Type.Integer(),
  state: VersionState,
  createdAt: Timestamp,
  publishedAt: NullableTimestamp,
  createdBy: Nullable(Type.String()),
});

export const FlowVersion = Type.Object({
  ...FlowVersionInfo.properties,
  definition: Definition,
});

const flowFields = {
  name: Type.String(),
  description: Nullable(Type.String()),
  publishedVersion: Nullable(Type.Integer({ description: 'the version calls run; null: never published' })),
  draftVersion: Nullable(Type.Integer()),
  hasDraft: Type.Boolean(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
};

export const FlowSummary = Type.Object(flowFields, { description: 'an IVR flow' });

export const FlowDetail = Type.Object(
  {
    ...flowFields,
    published: Nullable(FlowVersion),
    draft: Nullable(FlowVersion),
  },
  { description: 'an IVR flow with its published and draft versions' },
);
