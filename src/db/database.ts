import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
import { StreamCursor } from './cursor.js';
import type { Config } from '../config.js';
import { isPgUnreachable, markPgUnreachable } from '../shared/pg-errors.js';
import type {
  AgentSkillTable, AgentStateLogTable, AgentTable, CallbackTable, PauseReasonTable, QueueCallLogTable, QueueCallTable, QueueEventTable, QueueMemberTable, QueueTable,
} from '../acd/tables.js';
import type { AuditLogTable } from '../audit/tables.js';
import type { ApiTokenTable, UserTable } from '../auth/tables.js';
import type { CdrTable, LiveCallTable, UnservedCallTable, UnservedFileReadTable } from '../calls/tables.js';
import type { ExtensionTable, PsAorTable, PsAuthTable, PsContactTable, PsEndpointTable, SipSecretTable } from '../extensions/tables.js';
import type { FlowTable, FlowVersionTable } from '../flows/tables.js';
import type { IdempotencyKeyTable } from '../idempotency/tables.js';
import type { PromptTable } from '../prompts/tables.js';
import type { RecordingTable } from '../recordings/tables.js';
import type { SurveyResponseTable } from '../reports/tables.js';
import type { SupervisionSessionTable } from '../supervision/tables.js';
import type { WebhookDeliveryTable, WebhookTable } from '../webhooks/tables.js';
import type {
  CampaignAttemptTable, CampaignContactTable, CampaignDayTable, CampaignImportRejectTable, CampaignImportTable, CampaignTable, DncNumberTable,
} from '../campaigns/tables.js';
import type { DeviceTable } from '../provisioning/tables.js';
import type { EmergencyNumberTable, InboundRouteTable, OutboundRouteTable, PsIdentifyTable, PsRegistrationTable, TrunkTable } from '../trunks/tables.js';
import type { VoicemailGreetingTable, VoicemailMessageTable, VoicemailPinFailureTable } from '../voicemail/tables.js';

/** Every table the daemon reads or writes, from the features' tables.ts files (one per feature). */
export interface Database {
  // calls
  live_calls: LiveCallTable;
  unserved_calls: UnservedCallTable;
  unserved_file_reads: UnservedFileReadTable;
  cdrs: CdrTable;
  // auth, audit
  users: UserTable;
  api_tokens: ApiTokenTable;
  audit_log: AuditLogTable;
  // Idempotency-Key answers, per token (src/idempotency)
  idempotency_keys: IdempotencyKeyTable;
  // extensions and the PJSIP realtime tables Asterisk reads
  extensions: ExtensionTable;
  /** sealed SIP passwords (PBX_SECRET_KEY), read by provisioning; never by Asterisk */
  sip_secrets: SipSecretTable;
  ps_endpoints: PsEndpointTable;
  ps_auths: PsAuthTable;
  ps_aors: PsAorTable;
  ps_contacts: PsContactTable;
  ps_endpoint_id_ips: PsIdentifyTable;
  ps_registrations: PsRegistrationTable;
  // trunks and routing
  trunks: TrunkTable;
  outbound_routes: OutboundRouteTable;
  inbound_routes: InboundRouteTable;
  emergency_numbers: EmergencyNumberTable;
  // desk phones
  devices: DeviceTable;
  // voicemail
  voicemail_messages: VoicemailMessageTable;
  voicemail_greetings: VoicemailGreetingTable;
  voicemail_pin_failures: VoicemailPinFailureTable;
  // IVR
  prompts: PromptTable;
  flows: FlowTable;
  flow_versions: FlowVersionTable;
  // ACD
  pause_reasons: PauseReasonTable;
  agents: AgentTable;
  agent_skills: AgentSkillTable;
  queues: QueueTable;
  queue_members: QueueMemberTable;
  agent_state_log: AgentStateLogTable;
  queue_calls: QueueCallTable;
  callbacks: CallbackTable;
  queue_call_log: QueueCallLogTable;
  // call recordings
  recordings: RecordingTable;
  // reporting: queue events (every step of a queue call) and post-call survey answers
  queue_events: QueueEventTable;
  survey_responses: SurveyResponseTable;
  // live supervision: sessions ringing or in progress (a restarted daemon finds them)
  supervision_sessions: SupervisionSessionTable;
  // webhooks and their deliveries (src/webhooks, docs/webhooks.md)
  webhooks: WebhookTable;
  webhook_deliveries: WebhookDeliveryTable;
  // outbound campaigns (src/campaigns, docs/campaigns.md)
  campaigns: CampaignTable;
  campaign_imports: CampaignImportTable;
  campaign_import_rejects: CampaignImportRejectTable;
  campaign_contacts: CampaignContactTable;
  campaign_attempts: CampaignAttemptTable;
  campaign_days: CampaignDayTable;
  dnc_numbers: DncNumberTable;
}

export type Db = Kysely<Database>;
export type DbOrTx = Kysely<Database> | Transaction<Database>;

// bigint ids come back as strings; keep them as strings (ids are opaque).
export function createPool(db: Config['db'], max = 10): pg.Pool {
  const pool = new pg.Pool({
    host: db.host,
    port: db.port,
    database: db.name,
    user: db.user,
    password: db.password,
    max,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    application_name: 'pbx',
  });
  // A pool error on an idle client (e.g. Postgres restarted) must not crash the daemon.
  pool.on('error', () => undefined);
  // Nor one on a client in use, where the pool does not listen: pg emits 'error' on the client
  // when a write to its dead connection fails (seen: pg-cursor sends Sync after an export's
  // backend was terminated, EPIPE). The query in flight fails on its own; the pool drops the dead
  // client when it comes back. pg emits this error before it rejects the query in flight with the
  // same object, so marking it here makes that query's failure say "Postgres unreachable" (503).
  // The client itself is marked too: a query on it afterwards fails "unreachable" (markingQueries).
  pool.on('connect', (client) => client.on('error', (err) => {
    markPgUnreachable(err);
    markPgUnreachable(client);
  }));
  return pool;
}

const MARKING = Symbol('pbx.pg-marking-queries');

/** pg's own flags (pg-pool reads them too): false/true once the client's connection broke or it is closing. */
type PgFlags = { _queryable?: boolean; _ending?: boolean };

/** A client whose connection broke: marked (createPool's error listener, a cursor failed "unreachable") or closed by pg. */
const isDead = (client: pg.PoolClient): boolean =>
  isPgUnreachable(client) || (client as unknown as PgFlags)._queryable === false || (client as unknown as PgFlags)._ending === true;

/**
 * A query on a client whose connection broke (marked by createPool) fails marked "unreachable":
 * Kysely's transaction, when a statement fails because the connection died, sends ROLLBACK on the
 * same client and throws that error in place of the statement's ("Client has encountered a
 * connection error and is not queryable", no code), which would read as our bug, not as an outage.
 * A cursor (a stream) that fails "unreachable" marks its client: Postgres sent 57P01 (backend
 * terminated) and closes the connection, but pg only learns that when the socket's end arrives,
 * which can be after Kysely gave the client back.
 */
function markingQueries(client: pg.PoolClient): pg.PoolClient {
  if (MARKING in client) return client;
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  Object.defineProperty(client, MARKING, { value: true });
  Object.defineProperty(client, 'query', {
    configurable: true,
    writable: true,
    value: (...args: unknown[]) => {
      const r = query(...args);
      if (!(r instanceof Promise)) {
        (r as { on?: (e: 'error', f: (err: unknown) => void) => void } | undefined)?.on?.('error', (err) => {
          if (isPgUnreachable(err)) markPgUnreachable(client);
        });
        return r;
      }
      return r.catch((err: unknown) => {
        throw isPgUnreachable(client) ? markPgUnreachable(err) : err;
      });
    },
  });
  return client;
}

/**
 * A dead client is never handed out again: given back (Kysely releases without an error), it is
 * released with one so the pool drops it; one found dead at checkout is dropped and another taken.
 * pg-pool sets `release` anew at every checkout, so it is wrapped every time.
 */
async function checkout(pool: pg.Pool): Promise<pg.PoolClient> {
  for (;;) {
    const client = markingQueries(await pool.connect());
    const release = client.release.bind(client);
    client.release = (err?: Error | boolean) =>
      release(err ?? (isDead(client) ? markPgUnreachable(new Error('Postgres connection broke')) : undefined));
    if (!isDead(client)) return client;
    client.release();
  }
}

/**
 * `cursor`: pg-cursor (src/db/cursor.ts) lets a query stream (Kysely's `.stream(n)`): rows come
 * from a server-side portal n at a time, so an export of a year of CDRs never sits in memory
 * (src/calls/cdr-export.ts).
 */
export function createDb(pool: pg.Pool): Db {
  // Any failure to get a client (refused, connect timeout, pool wait timeout) is "unreachable".
  const marking = {
    connect: () => checkout(pool).catch((err: unknown) => { throw markPgUnreachable(err); }),
    end: () => pool.end(),
  };
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: marking, cursor: StreamCursor }) });
}
