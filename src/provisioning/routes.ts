/**
 * /api/v1/devices: desk phones. Viewers read, admins change; every change is audited.
 * The provisioning password is in `secret` of the response of create, rotate-credentials, and of a
 * PATCH that switches credentials on; never anywhere else.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.js';
import type { AuthService } from '../auth/service.js';
import { actorFor } from '../audit/actor.js';
import { requireRole } from '../http/auth.js';
import { IdParams, NullableTimestamp, Secret, Timestamp, withErrors } from '../http/schemas.js';
import { ListOf, list } from '../http/paging.js';
import { provisioningUsername } from './mac.js';
import { MAX_NETWORKS } from './networks.js';
import { MAX_BLF_KEYS } from './render.js';
import { DeviceService, type DeviceResult } from './service.js';
import type { DeviceRow } from './tables.js';

const Vendor = Type.Union([Type.Literal('yealink'), Type.Literal('polycom'), Type.Literal('grandstream')]);
const ExtensionNumber = Type.String({ pattern: '^[0-9]{2,16}$', description: 'an existing extension number' });
const Text = (maxLength: number, description: string) => Type.String({ maxLength, pattern: '^[^\\x00-\\x1f\\x7f]*$', description });
const Mac = Type.String({ minLength: 1, maxLength: 17, description: '00:15:65:AA:BB:CC, 00-15-65-aa-bb-cc or 001565aabbcc; stored as 12 lower-case hex digits' });

const fields = {
  mac: Mac,
  vendor: Vendor,
  model: Text(40, 'model, free text, e.g. T54W'),
  extension: ExtensionNumber,
  blfKeys: Type.Array(ExtensionNumber, { maxItems: MAX_BLF_KEYS, description: 'extensions shown on BLF keys, in key order' }),
  label: Type.Union([Type.String({ minLength: 1, maxLength: 80, pattern: '^[^\\x00-\\x1f\\x7f]*$' }), Type.Null()], { description: 'text on the line key; default the extension number' }),
  credentials: Type.Boolean({ description: 'HTTP Basic credentials for provisioning (user prov-<mac>, generated password); default true' }),
  allowedNetworks: Type.Array(Type.String({ maxLength: 64 }), {
    maxItems: MAX_NETWORKS,
    description: 'addresses or CIDR networks that may fetch the file without credentials, e.g. 10.1.2.0/24',
  }),
};

const CreateDevice = Type.Object(
  {
    mac: fields.mac,
    vendor: fields.vendor,
    model: Type.Optional(fields.model),
    extension: fields.extension,
    blfKeys: Type.Optional(fields.blfKeys),
    label: Type.Optional(fields.label),
    credentials: Type.Optional(fields.credentials),
    allowedNetworks: Type.Optional(fields.allowedNetworks),
  },
  { additionalProperties: false },
);
const PatchDevice = Type.Partial(Type.Object(fields), { additionalProperties: false, minProperties: 1 });

const Device = Type.Object({
  id: Type.String(),
  mac: Type.String({ description: '12 lower-case hex digits' }),
  vendor: Vendor,
  model: Type.String(),
  extension: Type.String(),
  blfKeys: Type.Array(Type.String()),
  label: Type.Union([Type.String(), Type.Null()]),
  provisioning: Type.Object({
    username: Type.String({ description: 'HTTP Basic user name: prov-<mac>' }),
    credentials: Type.Boolean({ description: 'whether HTTP credentials are enabled' }),
    allowedNetworks: Type.Array(Type.String()),
    files: Type.Array(Type.String(), { description: 'paths the phone fetches' }),
  }),
  lastProvisionedAt: NullableTimestamp,
  lastProvisionedIp: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  secret: Secret,
}, { description: 'a desk phone; secret: its provisioning password, only in the answer that generated it (create, rotate-credentials, a PATCH that switches credentials on)' });

const filesOf = (d: DeviceRow): string[] =>
  d.vendor === 'yealink'
    ? [`/provision/${d.mac}.cfg`]
    : d.vendor === 'polycom'
      ? ['/provision/000000000000.cfg', `/provision/${d.mac}.cfg`, `/provision/${d.mac}-phone.cfg`]
      : [`/provision/cfg${d.mac}.xml`];

export function deviceJson(d: DeviceRow, password: string | null = null): Static<typeof Device> {
  return {
    id: d.id,
    mac: d.mac,
    vendor: d.vendor,
    model: d.model,
    extension: d.extension_number,
    blfKeys: d.blf_keys,
    label: d.label,
    provisioning: {
      username: provisioningUsername(d.mac),
      credentials: d.prov_password_hash !== null,
      allowedNetworks: d.prov_allowed_networks,
      files: filesOf(d),
    },
    lastProvisionedAt: d.last_provisioned_at?.toISOString() ?? null,
    lastProvisionedIp: d.last_provisioned_ip,
    createdAt: d.created_at.toISOString(),
    updatedAt: d.updated_at.toISOString(),
    ...(password ? { secret: password } : {}),
  };
}

const resultJson = (r: DeviceResult) => deviceJson(r.device, r.password);

export interface DeviceRouteDeps {
  db: Db;
  auth: AuthService;
  now?: () => Date;
}

export function deviceRoutes(deps: DeviceRouteDeps) {
  const devices = new DeviceService(deps.db, deps.now);
  const viewer = requireRole(deps.auth, 'viewer');
  const admin = requireRole(deps.auth, 'admin');
  const security = [{ bearer: [] }];
  const tags = ['devices'];
  return async (app: FastifyInstance): Promise<void> => {
    app.get(
      '/devices',
      { onRequest: viewer, schema: { tags, summary: 'List desk phones', security, response: withErrors({ 200: ListOf(Device) }) } },
      async () => list((await devices.list()).map((d) => deviceJson(d))),
    );

    app.post<{ Body: Static<typeof CreateDevice> }>(
      '/devices',
      {
        onRequest: admin,
        schema: {
          tags,
          summary: 'Register a desk phone; the provisioning password is in this response only',
          security,
          body: CreateDevice,
          response: withErrors({ 201: Device, 409: Type.Ref('ErrorResponse') }),
        },
      },
      async (request, reply) => reply.status(201).send(resultJson(await devices.create(actorFor(request), request.body))),
    );

    app.get<{ Params: Static<typeof IdParams> }>(
      '/devices/:id',
      { onRequest: viewer, schema: { tags, summary: 'One desk phone', security, params: IdParams, response: withErrors({ 200: Device }) } },
      async (request) => deviceJson(await devices.get(request.params.id)),
    );

    app.patch<{ Params: Static<typeof IdParams>; Body: Static<typeof PatchDevice> }>(
      '/devices/:id',
      {
        onRequest: admin,
        schema: {
          tags,
          summary: 'Change a desk phone (only the fields sent); credentials:true on a device without them returns a new password',
          security,
          params: IdParams,
          body: PatchDevice,
          response: withErrors({ 200: Device, 409: Type.Ref('ErrorResponse') }),
        },
      },
      async (request) => resultJson(await devices.update(actorFor(request), request.params.id, request.body)),
    );

    app.delete<{ Params: Static<typeof IdParams> }>(
      '/devices/:id',
      { onRequest: admin, schema: { tags, summary: 'Remove a desk phone', security, params: IdParams, response: withErrors({ 204: Type.Null() }) } },
      async (request, reply) => {
        await devices.remove(actorFor(request), request.params.id);
        return reply.status(204).send();
      },
    );

    app.post<{ Params: Static<typeof IdParams> }>(
      '/devices/:id/rotate-credentials',
      {
        onRequest: admin,
        schema: {
          tags,
          summary: 'New provisioning password (old one stops working now); shown in this response only',
          security,
          params: IdParams,
          response: withErrors({ 200: Device }),
        },
      },
      async (request) => resultJson(await devices.rotateCredentials(actorFor(request), request.params.id)),
    );
  };
}
