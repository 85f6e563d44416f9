/**
 * Typed configuration, read once from the environment and frozen.
 * This is the only module that reads process.env. Every problem is reported
 * at once, each naming its variable, and start-up stops.
 */
import { isIP } from 'node:net';
import { accessSync, constants as fsConstants } from 'node:fs';
import { parseSecretKey } from './shared/secret-box.js';

export interface Config {
  readonly http: {
    readonly host: string;
    readonly port: number;
    /** Failed API authentications per source: after `limit` in `windowSeconds`, 429 until the window ends. */
    readonly authFailures: { readonly limit: number; readonly windowSeconds: number };
    /** PBX_TLS_CERT / PBX_TLS_KEY (PEM files): set, PBX_HTTP_PORT serves HTTPS; null: plain HTTP. */
    readonly tls: { readonly certFile: string; readonly keyFile: string } | null;
    /** With TLS only: a second, plain-HTTP port for /health and (if allowed) /provision; null: none. */
    readonly plainPort: number | null;
    /** Provisioning files (SIP passwords) may be fetched over plain HTTP (always true without TLS). */
    readonly provisionPlain: boolean;
    /** GET /metrics (docs/metrics.md#access): a bearer token (viewer or above), or no token from loopback only. */
    readonly metricsAccess: 'token' | 'loopback';
  };
  /** http: which requests get a line in the request log (PBX_HTTP_LOG, src/http/request-log.ts). */
  readonly log: { readonly level: LogLevel; readonly http: HttpLogMode };
  readonly db: {
    readonly host: string;
    readonly port: number;
    readonly name: string;
    readonly user: string;
    readonly password: string;
  };
  /** password: from PBX_REDIS_PASSWORD or the URL's; null: none is sent (a Redis without requirepass). */
  readonly redis: { readonly url: string; readonly prefix: string; readonly password: string | null };
  readonly ari: {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly password: string;
    readonly app: string;
  };
  readonly ami: { readonly host: string; readonly port: number; readonly user: string; readonly password: string };
  /** tlsPort: SIP over TLS (transport-tls, for extensions with sipSecurity tls/tls-srtp); 0: none. */
  readonly sip: { readonly port: number; readonly tlsPort: number };
  /** How phones on the site reach this server (SIP and provisioning), and the site's time zone. */
  readonly site: { readonly address: string; readonly timezone: string };
  readonly reconnect: { readonly baseMs: number; readonly maxMs: number };
  readonly callFlow: {
    readonly greeting: string;
    readonly digitTimeoutMs: number;
    readonly maxDigits: number;
  };
  readonly shutdownGraceMs: number;
  /** IVR HTTP lookups: the hosts they may reach (empty: any host with only public addresses). */
  readonly ivr: { readonly lookupAllowedHosts: readonly LookupHostEntry[] };
  /** Overload control (src/calls/overload.ts, docs/operations.md#overload): new calls past these are refused (503); 0: that limit is off. */
  readonly overload: { readonly maxCalls: number; readonly maxCallsInSetup: number; readonly maxLagMs: number };
  /** ACD: how often (and after how long on a call) agents on calls that ended unseen are released. */
  readonly acd: { readonly endedCallCheckMs: number };
  /** The daemon's own files (voicemail audio...). */
  readonly dataDir: string;
  /** PBX_SECRET_KEY (base64 of 32 bytes): seals the SIP passwords provisioning needs (src/shared/secret-box.ts). */
  readonly secretKey: string;
  /** Asterisk's spool file of calls the dialplan fallback served while Postgres refused them (host path); null: not read. */
  readonly unservedFile: string | null;
  /** IVR prompts: converted audio files, and the limits for uploads. */
  readonly prompts: {
    /** Where the daemon writes <id>.wav and <id>.sln16 (host path). */
    readonly dir: string;
    /** The same folder as Asterisk sees it (Asterisk may run chrooted); media URI sound:<asteriskDir>/<id>. */
    readonly asteriskDir: string;
    readonly maxSeconds: number;
    readonly maxBytes: number;
  };
  /** Call recordings (src/recordings, docs/recording.md). */
  readonly recordings: {
    /** Where the files are (host path): YYYY/MM/DD/<call_id>-<id>.<ext>. */
    readonly dir: string;
    /** The same folder as Asterisk sees it (it may run chrooted): where it is told to write. */
    readonly asteriskDir: string;
    /** Site default: days a recording is kept (a queue's recordingRetentionDays wins). */
    readonly retentionDays: number;
    /** Below this much free space on the folder's disk no new recording starts. */
    readonly minFreeBytes: number;
    /** Storage format after the call: 'mp3' (stereo, kbps below) or 'wav' (kept as recorded). */
    readonly format: 'mp3' | 'wav';
    readonly mp3Kbps: number;
    /** Compression attempts before a recording is marked failed (backoff doubles from 5 s). */
    readonly compressAttempts: number;
    /** How often the retention job runs. */
    readonly retentionEveryMs: number;
  };
  /** Webhook deliveries (src/webhooks, docs/webhooks.md#retries). */
  readonly webhooks: {
    /** How long a failing delivery is retried (exponential backoff); then it is dead. */
    readonly retryForMs: number;
    /** The first retry's delay; it doubles each attempt. */
    readonly firstRetryMs: number;
    /** One attempt's time limit (connect to the end of the response head). */
    readonly timeoutMs: number;
  };
  /** Contact and do-not-call list imports (src/campaigns, docs/campaigns.md#contact-lists-and-time-zones). */
  /** Whether this daemon dials running campaigns (PBX_CAMPAIGN_DIALER, default on; off: an API-only daemon). */
  readonly campaignDialer: boolean;
  readonly campaignImports: {
    /** Where uploaded CSV files wait for their import job (host path). */
    readonly dir: string;
    /** Largest CSV upload accepted, in bytes (413 above). */
    readonly maxBytes: number;
  };
  /** Which calls are recorded and how (src/calls/recording-policy.ts, docs/recording.md#policy). */
  readonly recordingPolicy: {
    /** Where no queue, route, extension or trunk says. */
    readonly site: 'always' | 'never' | 'on-demand';
    /** A queue call is recorded from the caller joining (true) or from the agent's answer. */
    readonly recordQueueWait: boolean;
    /** One mixed channel instead of two (caller / other side). */
    readonly mixedMono: boolean;
    /** Spoken (TTS) before a recording starts where the queue sets none; null: none. */
    readonly announcement: string | null;
  };
}

/** One entry of PBX_LOOKUP_ALLOWED_HOSTS: a host name, `*.suffix`, or an address / CIDR block. */
export type LookupHostEntry =
  | { readonly kind: 'name'; readonly name: string }
  | { readonly kind: 'suffix'; readonly suffix: string }
  | { readonly kind: 'cidr'; readonly address: string; readonly prefix: number; readonly family: 4 | 6 };

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
export const HTTP_LOG_MODES = ['all', 'errors', 'off'] as const;
export type HttpLogMode = (typeof HTTP_LOG_MODES)[number];

export class ConfigError extends Error {
  readonly code = 'config-invalid';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** Documentation of every variable; `pbx config` prints from this table, docs/operations.md lists it. */
export const CONFIG_VARIABLES: readonly { name: string; required: boolean; fallback?: string; about: string }[] = [
  { name: 'PBX_HTTP_HOST', required: false, fallback: '0.0.0.0', about: 'address the REST API listens on' },
  { name: 'PBX_HTTP_PORT', required: false, fallback: '8080', about: 'port of the REST API, /docs and /health' },
  { name: 'PBX_TLS_CERT', required: false, fallback: '(none)', about: 'PEM certificate (chain) file: with PBX_TLS_KEY, PBX_HTTP_PORT serves HTTPS; make setup makes a self-signed one in /etc/pbx/tls; empty: plain HTTP' },
  { name: 'PBX_TLS_KEY', required: false, fallback: '(none)', about: 'PEM private key of PBX_TLS_CERT (set both or neither); readable by the daemon\'s user' },
  { name: 'PBX_HTTP_PLAIN_PORT', required: false, fallback: '(none)', about: 'with TLS only: also listen with plain HTTP on this port (same host) for /health/* and /provision/*; the API and /docs answer 403 there' },
  { name: 'PBX_PROVISION_PLAIN_HTTP', required: false, fallback: 'no', about: 'yes: phones may fetch provisioning files (they carry SIP passwords) over PBX_HTTP_PLAIN_PORT; no: 403 there, HTTPS only' },
  { name: 'PBX_METRICS_ACCESS', required: false, fallback: 'token', about: 'GET /metrics (Prometheus): token (a bearer token, viewer role or above) or loopback (no token; only from 127.0.0.0/8 and ::1, anyone else 403)' },
  { name: 'PBX_AUTH_FAIL_LIMIT', required: false, fallback: '20', about: 'failed API authentications (401) allowed per source address within the window; later ones get 429 rate-limited' },
  { name: 'PBX_AUTH_FAIL_WINDOW_SECONDS', required: false, fallback: '60', about: 'the window of PBX_AUTH_FAIL_LIMIT, in seconds (Retry-After says when it ends)' },
  { name: 'PBX_LOG_LEVEL', required: false, fallback: 'info', about: LOG_LEVELS.join(', ') },
  { name: 'PBX_HTTP_LOG', required: false, fallback: 'all', about: 'the request log at info: a line per request (all), per request answered 400 or more (errors), or none (off); a failed request is always logged' },
  { name: 'PBX_DB_HOST', required: false, fallback: '127.0.0.1', about: 'PostgreSQL host' },
  { name: 'PBX_DB_PORT', required: false, fallback: '5432', about: 'PostgreSQL port' },
  { name: 'PBX_DB_NAME', required: false, fallback: 'pbx', about: 'PostgreSQL database (also read by Asterisk realtime)' },
  { name: 'PBX_DB_USER', required: false, fallback: 'pbx', about: 'PostgreSQL role' },
  { name: 'PBX_DB_PASSWORD', required: false, fallback: '(empty)', about: 'PostgreSQL password, generated by deploy/gen-env.sh' },
  { name: 'PBX_REDIS_URL', required: false, fallback: 'redis://127.0.0.1:6379', about: 'Redis for BullMQ jobs' },
  { name: 'PBX_REDIS_PASSWORD', required: false, fallback: '(none)', about: 'Redis password (requirepass), generated by deploy/gen-env.sh; may instead be in the URL (redis://:password@host:port); unset: no AUTH is sent' },
  { name: 'PBX_REDIS_PREFIX', required: false, fallback: 'pbx', about: 'key prefix, so several installs or test runs can share one Redis' },
  { name: 'PBX_ARI_HOST', required: false, fallback: '127.0.0.1', about: 'Asterisk HTTP/ARI host' },
  { name: 'PBX_ARI_PORT', required: false, fallback: '8088', about: 'Asterisk HTTP/ARI port' },
  { name: 'PBX_ARI_USER', required: true, about: 'ARI user (asterisk/ari.conf)' },
  { name: 'PBX_ARI_PASSWORD', required: true, about: 'ARI password, generated by deploy/gen-env.sh' },
  { name: 'PBX_ARI_APP', required: false, fallback: 'pbx', about: 'Stasis application name the dialplan sends calls to' },
  { name: 'PBX_AMI_HOST', required: false, fallback: '127.0.0.1', about: 'Asterisk manager host' },
  { name: 'PBX_AMI_PORT', required: false, fallback: '5038', about: 'Asterisk manager port' },
  { name: 'PBX_AMI_USER', required: true, about: 'AMI user (asterisk/manager.conf)' },
  { name: 'PBX_AMI_PASSWORD', required: true, about: 'AMI password, generated by deploy/gen-env.sh' },
  { name: 'PBX_SIP_PORT', required: false, fallback: '5060', about: 'SIP port of Asterisk (UDP and TCP); used by doctor' },
  { name: 'PBX_SIP_TLS_PORT', required: false, fallback: '5061', about: 'SIP over TLS port of Asterisk (TCP), with the site certificate PBX_TLS_CERT/PBX_TLS_KEY; extensions with sipSecurity tls or tls-srtp use it (provisioning files name it); 0: no SIP over TLS' },
  { name: 'PBX_SITE_ADDRESS', required: false, fallback: '127.0.0.1', about: 'address desk phones use to reach this server (written into provisioning files)' },
  { name: 'PBX_SECRET_KEY', required: true, about: 'base64 of 32 random bytes, generated by deploy/gen-env.sh (make setup adds it to an older env file): AES-256-GCM key of the SIP passwords kept for provisioning (table sip_secrets); Asterisk sees only their digests. Changing it makes the kept passwords unreadable: rotate every extension\'s password after' },
  { name: 'PBX_DATA_DIR', required: false, fallback: '/var/lib/pbx', about: 'folder for the daemon\'s files: voicemail audio under voicemail/' },
  { name: 'PBX_PROMPTS_DIR', required: false, fallback: '$PBX_DATA_DIR/prompts', about: 'folder the daemon writes IVR prompt audio to (<id>.wav 8 kHz, <id>.sln16 16 kHz)' },
  { name: 'PBX_PROMPTS_DIR_ASTERISK', required: false, fallback: '$PBX_PROMPTS_DIR', about: 'the same folder as Asterisk sees it (differs when Asterisk runs chrooted); prompts play as sound:<this>/<id>' },
  { name: 'PBX_UNSERVED_FILE', required: false, fallback: '(none)', about: 'Asterisk\'s spool file of calls its fallback served while Postgres refused them (host path; make setup adds it): read into CDRs' },
  { name: 'PBX_PROMPT_MAX_SECONDS', required: false, fallback: '300', about: 'longest prompt accepted (upload or text-to-speech), in seconds' },
  { name: 'PBX_PROMPT_MAX_BYTES', required: false, fallback: '20971520', about: 'largest prompt upload accepted (20 MB), in bytes' },
  { name: 'PBX_RECORDINGS_DIR', required: false, fallback: '$PBX_DATA_DIR/recordings', about: 'folder of call recordings (host path; make setup sets the Asterisk instance\'s lib/recordings): YYYY/MM/DD/<call id>-<recording id>.<ext>; Asterisk writes, the daemon reads, compresses and deletes' },
  { name: 'PBX_RECORDINGS_DIR_ASTERISK', required: false, fallback: '$PBX_RECORDINGS_DIR', about: 'the same folder as Asterisk sees it (differs when Asterisk runs chrooted)' },
  { name: 'PBX_RECORDING_RETENTION_DAYS', required: false, fallback: '90', about: 'site default: days a call recording is kept before the retention job deletes it (a queue\'s recordingRetentionDays wins; legal hold exempts)' },
  { name: 'PBX_RECORDINGS_MIN_FREE_MB', required: false, fallback: '1024', about: 'below this many MB free on the recordings disk no new recording starts (the call goes on); readiness and doctor say so' },
  { name: 'PBX_RECORDING_FORMAT', required: false, fallback: 'mp3', about: 'storage format after the call: mp3 (stereo, compressed by a BullMQ job with sox) or wav (kept as recorded)' },
  { name: 'PBX_RECORDING_MP3_KBPS', required: false, fallback: '32', about: 'MP3 bitrate of stored recordings: 16, 24, 32, 40, 48, 56 or 64 kbit/s' },
  { name: 'PBX_WEBHOOK_RETRY_HOURS', required: false, fallback: '24', about: 'how long a failing webhook delivery is retried, with exponential backoff (0-168, a fraction allowed; 0: one attempt)' },
  { name: 'PBX_WEBHOOK_FIRST_RETRY_MS', required: false, fallback: '10000', about: "a failed webhook delivery's first retry delay; it doubles each attempt" },
  { name: 'PBX_WEBHOOK_TIMEOUT_MS', required: false, fallback: '10000', about: 'time limit of one webhook delivery attempt' },
  { name: 'PBX_CAMPAIGN_DIALER', required: false, fallback: 'yes', about: 'this daemon dials running outbound campaigns (yes) or not (no: a daemon for the API only)' },
  { name: 'PBX_CAMPAIGN_IMPORT_DIR', required: false, fallback: '$PBX_DATA_DIR/campaign-imports', about: 'folder where uploaded contact and do-not-call CSV files wait for their import job (deleted when it is done)' },
  { name: 'PBX_CAMPAIGN_IMPORT_MAX_MB', required: false, fallback: '200', about: 'largest contact or do-not-call CSV upload accepted, in MB (413 above)' },
  { name: 'PBX_RECORDING_COMPRESS_ATTEMPTS', required: false, fallback: '5', about: 'compression attempts (backoff 5 s doubling) before a recording is marked failed; its WAV original is kept' },
  { name: 'PBX_RECORDING_RETENTION_CHECK_MINUTES', required: false, fallback: '60', about: 'how often the retention job looks for recordings past their retain-until time' },
  { name: 'PBX_RECORDING_POLICY', required: false, fallback: 'on-demand', about: 'site default recording policy where no queue, route, extension or trunk sets one: always, never or on-demand (docs/recording.md#policy)' },
  { name: 'PBX_RECORDING_QUEUE_WAIT', required: false, fallback: 'yes', about: 'a recorded queue call is recorded from the caller joining the queue (yes) or from the agent\'s answer (no)' },
  { name: 'PBX_RECORDING_MIXED_MONO', required: false, fallback: 'no', about: 'yes: recordings are one mixed channel; no: two channels, the caller on channel 1 and the agent or extension on channel 2' },
  { name: 'PBX_RECORDING_ANNOUNCEMENT', required: false, fallback: '(none)', about: 'text spoken (text-to-speech, English) to the caller before a recording starts where the queue sets no announcement; empty: none' },
  { name: 'PBX_TIMEZONE', required: false, fallback: 'UTC', about: 'IANA time zone of the site, e.g. Europe/Berlin (phones, schedules)' },
  { name: 'PBX_RECONNECT_BASE_MS', required: false, fallback: '500', about: 'first reconnect delay to ARI/AMI' },
  { name: 'PBX_RECONNECT_MAX_MS', required: false, fallback: '30000', about: 'cap of the reconnect delay' },
  { name: 'PBX_GREETING', required: false, fallback: 'sound:hello-world', about: 'prompt played to callers (ARI media URI)' },
  { name: 'PBX_DIGIT_TIMEOUT_MS', required: false, fallback: '5000', about: 'wait for the next DTMF digit' },
  { name: 'PBX_MAX_DIGITS', required: false, fallback: '10', about: 'digits collected before the call ends' },
  { name: 'PBX_LOOKUP_ALLOWED_HOSTS', required: false, fallback: '(empty)', about: 'hosts IVR HTTP lookups may reach: comma list of names, *.suffix, addresses, CIDR blocks; empty: any host with public addresses only (loopback, link-local and private ranges need listing)' },
  { name: 'PBX_SHUTDOWN_GRACE_MS', required: false, fallback: '10000', about: 'how long SIGTERM waits for work to finish' },
  { name: 'PBX_MAX_CALLS', required: false, fallback: '500', about: 'overload control: calls this daemon carries at once; a new call past it is refused at once (SIP 503, cause 34) and counted; 0: no cap' },
  { name: 'PBX_MAX_CALLS_IN_SETUP', required: false, fallback: '40', about: 'overload control: calls arrived and not yet set up (routed, first step started) at once; a new call past it is refused (503); keeps setup time bounded past the machine\'s call rate; 0: no cap' },
  { name: 'PBX_OVERLOAD_LAG_MS', required: false, fallback: '500', about: 'overload control: the event loop\'s mean delay (ms, per second) above which, three seconds in a row, half of new calls are refused (503) until it is below half of it; 0: not watched' },
  { name: 'PBX_ACD_ENDED_CALL_CHECK_SECONDS', required: false, fallback: '30', about: 'how often the ACD looks for agents left on a call that ended while no daemon watched it (a restart), and how long they must have been on it' },
];

type Env = Readonly<Record<string, string | undefined>>;

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  str(name: string, fallback?: string): string {
    const raw = this.env[name];
    if (raw === undefined || raw === '') {
      if (fallback !== undefined) return fallback;
      this.problems.push(`${name} is required but not set`);
      return '';
    }
    if (/[\r\n]/.test(raw)) this.problems.push(`${name} must be a single line`);
    return raw;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw)) {
      this.problems.push(`${name} must be a whole number, got "${raw}"`);
      return fallback;
    }
    const n = Number(raw);
    if (n < min || n > max) this.problems.push(`${name} must be between ${min} and ${max}, got ${n}`);
    return n;
  }

  /** A number that may have a fraction (`0.5`, `.25`); no sign, no exponent. */
  decimal(name: string, fallback: number, min: number, max: number): number {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!/^(\d+(\.\d*)?|\.\d+)$/.test(raw)) {
      this.problems.push(`${name} must be a number (a fraction allowed), got "${raw}"`);
      return fallback;
    }
    const n = Number(raw);
    if (n < min || n > max) this.problems.push(`${name} must be between ${min} and ${max}, got ${n}`);
    return n;
  }

  port(name: string, fallback: number, min = 1): number {
    return this.int(name, fallback, min, 65535);
  }

  pattern(name: string, fallback: string | undefined, re: RegExp, what: string): string {
    const value = this.str(name, fallback);
    if (value !== '' && !re.test(value)) this.problems.push(`${name} must be ${what}, got "${value}"`);
    return value;
  }

  timezone(name: string, fallback: string): string {
    const value = this.str(name, fallback);
    try {
      new Intl.DateTimeFormat('en', { timeZone: value });
    } catch {
      this.problems.push(`${name} must be an IANA time zone such as Europe/Berlin, got "${value}"`);
    }
    return value;
  }

  /** A file the daemon must read at start (a certificate or key): absolute, and readable now. */
  readableFile(name: string): string {
    const value = this.pattern(name, '', ABSOLUTE_PATH, 'an absolute path');
    if (value === '') return value;
    try {
      accessSync(value, fsConstants.R_OK);
    } catch (err) {
      this.problems.push(`${name}: cannot read ${value} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    return value;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const value = this.str(name, fallback);
    if (!(allowed as readonly string[]).includes(value)) {
      this.problems.push(`${name} must be one of ${allowed.join(', ')}, got "${value}"`);
      return fallback;
    }
    return value as T;
  }
}

const NAME = /^[A-Za-z0-9_.-]{1,63}$/;
/** A folder that may appear in an ARI media URI (no spaces or commas: ARI splits media lists at commas). */
const MEDIA_DIR = /^\/[A-Za-z0-9_/.-]*$/;
const HOST = /^[A-Za-z0-9_.:-]{1,255}$/;
const ABSOLUTE_PATH = /^\/[^\0]*$/;

export function loadConfig(env: Env): Config {
  const r = new Reader(env);
  const redisUrl = r.pattern('PBX_REDIS_URL', 'redis://127.0.0.1:6379', /^rediss?:\/\/\S+$/, 'a redis:// URL');
  const baseMs = r.int('PBX_RECONNECT_BASE_MS', 500, 10, 60_000);
  const maxMs = r.int('PBX_RECONNECT_MAX_MS', 30_000, 100, 600_000);
  if (maxMs < baseMs) r.problems.push('PBX_RECONNECT_MAX_MS must not be below PBX_RECONNECT_BASE_MS');

  const dataDir = r.pattern('PBX_DATA_DIR', '/var/lib/pbx', ABSOLUTE_PATH, 'an absolute path');
  const promptsDir = trimSlash(r.pattern('PBX_PROMPTS_DIR', `${trimSlash(dataDir)}/prompts`, ABSOLUTE_PATH, 'an absolute path'));

  const recordingsDir = trimSlash(r.pattern('PBX_RECORDINGS_DIR', `${trimSlash(dataDir)}/recordings`, ABSOLUTE_PATH, 'an absolute path'));
  const mp3Kbps = r.int('PBX_RECORDING_MP3_KBPS', 32, 16, 64);
  if (mp3Kbps % 8 !== 0) r.problems.push(`PBX_RECORDING_MP3_KBPS must be one of 16, 24, 32, 40, 48, 56, 64, got ${mp3Kbps}`);

  const httpPort = r.port('PBX_HTTP_PORT', 8080, 0);
  const config: Config = {
    http: {
      host: r.pattern('PBX_HTTP_HOST', '0.0.0.0', HOST, 'a host name or address'),
      port: httpPort,
      authFailures: { limit: r.int('PBX_AUTH_FAIL_LIMIT', 20, 1, 1_000_000), windowSeconds: r.int('PBX_AUTH_FAIL_WINDOW_SECONDS', 60, 1, 86_400) },
      ...httpTls(r, env, httpPort),
      metricsAccess: r.oneOf('PBX_METRICS_ACCESS', 'token', ['token', 'loopback'] as const),
    },
    log: { level: r.oneOf('PBX_LOG_LEVEL', 'info', LOG_LEVELS), http: r.oneOf('PBX_HTTP_LOG', 'all', HTTP_LOG_MODES) },
    db: {
      host: r.pattern('PBX_DB_HOST', '127.0.0.1', HOST, 'a host name or address'),
      port: r.port('PBX_DB_PORT', 5432),
      name: r.pattern('PBX_DB_NAME', 'pbx', NAME, 'letters, digits, _ . -'),
      user: r.pattern('PBX_DB_USER', 'pbx', NAME, 'letters, digits, _ . -'),
      password: env['PBX_DB_PASSWORD'] ?? '',
    },
    redis: {
      url: redisUrl,
      prefix: r.pattern('PBX_REDIS_PREFIX', 'pbx', /^[A-Za-z0-9_.:-]{1,64}$/, 'letters, digits, _ . : -'),
      password: redisPassword(r, redisUrl, env['PBX_REDIS_PASSWORD']),
    },
    ari: {
      host: r.pattern('PBX_ARI_HOST', '127.0.0.1', HOST, 'a host name or address'),
      port: r.port('PBX_ARI_PORT', 8088),
      user: r.pattern('PBX_ARI_USER', undefined, NAME, 'letters, digits, _ . -'),
      password: r.str('PBX_ARI_PASSWORD'),
      app: r.pattern('PBX_ARI_APP', 'pbx', /^[A-Za-z0-9_-]{1,63}$/, 'letters, digits, _ -'),
    },
    ami: {
      host: r.pattern('PBX_AMI_HOST', '127.0.0.1', HOST, 'a host name or address'),
      port: r.port('PBX_AMI_PORT', 5038),
      user: r.pattern('PBX_AMI_USER', undefined, NAME, 'letters, digits, _ . -'),
      password: r.str('PBX_AMI_PASSWORD'),
    },
    sip: { port: r.port('PBX_SIP_PORT', 5060), tlsPort: r.port('PBX_SIP_TLS_PORT', 5061, 0) },
    site: {
      address: r.pattern('PBX_SITE_ADDRESS', '127.0.0.1', HOST, 'a host name or address'),
      timezone: r.timezone('PBX_TIMEZONE', 'UTC'),
    },
    reconnect: { baseMs, maxMs },
    callFlow: {
      greeting: r.pattern('PBX_GREETING', 'sound:hello-world', /^(sound|recording|tone):[A-Za-z0-9_/.-]+$/, 'an ARI media URI such as sound:hello-world'),
      digitTimeoutMs: r.int('PBX_DIGIT_TIMEOUT_MS', 5000, 500, 120_000),
      maxDigits: r.int('PBX_MAX_DIGITS', 10, 1, 64),
    },
    shutdownGraceMs: r.int('PBX_SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    ivr: { lookupAllowedHosts: lookupHosts(r, env['PBX_LOOKUP_ALLOWED_HOSTS'] ?? '') },
    overload: {
      maxCalls: r.int('PBX_MAX_CALLS', 500, 0, 1_000_000),
      maxCallsInSetup: r.int('PBX_MAX_CALLS_IN_SETUP', 40, 0, 1_000_000),
      maxLagMs: r.int('PBX_OVERLOAD_LAG_MS', 500, 0, 60_000),
    },
    acd: { endedCallCheckMs: r.int('PBX_ACD_ENDED_CALL_CHECK_SECONDS', 30, 1, 3_600) * 1000 },
    dataDir,
    secretKey: secretKey(r),
    unservedFile: env['PBX_UNSERVED_FILE'] ? r.pattern('PBX_UNSERVED_FILE', undefined, ABSOLUTE_PATH, 'an absolute path') : null,
    prompts: {
      dir: promptsDir,
      asteriskDir: trimSlash(
        r.pattern('PBX_PROMPTS_DIR_ASTERISK', promptsDir, MEDIA_DIR, 'an absolute path of letters, digits, _ . / - (it goes into ARI media URIs)'),
      ),
      maxSeconds: r.int('PBX_PROMPT_MAX_SECONDS', 300, 1, 3_600),
      maxBytes: r.int('PBX_PROMPT_MAX_BYTES', 20 * 1024 * 1024, 1_024, 1024 * 1024 * 1024),
    },
    recordings: {
      dir: recordingsDir,
      asteriskDir: trimSlash(r.pattern('PBX_RECORDINGS_DIR_ASTERISK', recordingsDir, MEDIA_DIR, 'an absolute path of letters, digits, _ . / -')),
      retentionDays: r.int('PBX_RECORDING_RETENTION_DAYS', 90, 1, 36_500),
      minFreeBytes: r.int('PBX_RECORDINGS_MIN_FREE_MB', 1024, 0, 10_000_000) * 1024 * 1024,
      format: r.oneOf('PBX_RECORDING_FORMAT', 'mp3', ['mp3', 'wav'] as const),
      mp3Kbps,
      compressAttempts: r.int('PBX_RECORDING_COMPRESS_ATTEMPTS', 5, 1, 50),
      retentionEveryMs: r.int('PBX_RECORDING_RETENTION_CHECK_MINUTES', 60, 1, 1_440) * 60_000,
    },
    webhooks: {
      retryForMs: Math.round(r.decimal('PBX_WEBHOOK_RETRY_HOURS', 24, 0, 168) * 3_600_000),
      firstRetryMs: r.int('PBX_WEBHOOK_FIRST_RETRY_MS', 10_000, 50, 3_600_000),
      timeoutMs: r.int('PBX_WEBHOOK_TIMEOUT_MS', 10_000, 100, 120_000),
    },
    campaignDialer: r.oneOf('PBX_CAMPAIGN_DIALER', 'yes', ['yes', 'no']) === 'yes',
    campaignImports: {
      dir: trimSlash(r.pattern('PBX_CAMPAIGN_IMPORT_DIR', `${trimSlash(dataDir)}/campaign-imports`, ABSOLUTE_PATH, 'an absolute path')),
      maxBytes: r.int('PBX_CAMPAIGN_IMPORT_MAX_MB', 200, 1, 100_000) * 1024 * 1024,
    },
    recordingPolicy: {
      site: r.oneOf('PBX_RECORDING_POLICY', 'on-demand', ['always', 'never', 'on-demand'] as const),
      recordQueueWait: r.oneOf('PBX_RECORDING_QUEUE_WAIT', 'yes', ['yes', 'no']) === 'yes',
      mixedMono: r.oneOf('PBX_RECORDING_MIXED_MONO', 'no', ['yes', 'no']) === 'yes',
      announcement: env['PBX_RECORDING_ANNOUNCEMENT']?.trim().slice(0, 500) || null,
    },
  };
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return deepFreeze(config);
}

/** PBX_SECRET_KEY: required, and exactly 32 bytes in base64 (as `head -c 32 /dev/urandom | base64` gives). */
function secretKey(r: Reader): string {
  const text = r.str('PBX_SECRET_KEY');
  if (text !== '' && !parseSecretKey(text)) r.problems.push('PBX_SECRET_KEY must be 32 bytes in base64 (44 characters; deploy/gen-env.sh makes one)');
  return text.trim();
}

/**
 * TLS for the HTTP listener: both PBX_TLS_CERT and PBX_TLS_KEY or neither. The plain-HTTP port and
 * plain provisioning only mean something beside TLS (without it, PBX_HTTP_PORT is plain already).
 */
function httpTls(r: Reader, env: Env, httpPort: number): Pick<Config['http'], 'tls' | 'plainPort' | 'provisionPlain'> {
  const certFile = r.readableFile('PBX_TLS_CERT');
  const keyFile = r.readableFile('PBX_TLS_KEY');
  if ((certFile === '') !== (keyFile === '')) r.problems.push('PBX_TLS_CERT and PBX_TLS_KEY go together: set both (HTTPS) or neither (plain HTTP)');
  const tls = certFile !== '' && keyFile !== '' ? { certFile, keyFile } : null;
  const plainSet = (env['PBX_HTTP_PLAIN_PORT'] ?? '') !== '';
  const plainPort = plainSet ? r.port('PBX_HTTP_PLAIN_PORT', 0, 0) : null;
  if (plainPort !== null && !tls) r.problems.push('PBX_HTTP_PLAIN_PORT needs PBX_TLS_CERT and PBX_TLS_KEY (without TLS, PBX_HTTP_PORT is plain HTTP already)');
  if (plainPort !== null && plainPort !== 0 && plainPort === httpPort) r.problems.push('PBX_HTTP_PLAIN_PORT must differ from PBX_HTTP_PORT');
  const provisionPlain = r.oneOf('PBX_PROVISION_PLAIN_HTTP', 'no', ['yes', 'no']) === 'yes';
  if (provisionPlain && tls && plainPort === null) r.problems.push('PBX_PROVISION_PLAIN_HTTP=yes needs PBX_HTTP_PLAIN_PORT (the plain-HTTP port phones fetch from)');
  return { tls, plainPort, provisionPlain: provisionPlain || !tls };
}

/** The Redis password: PBX_REDIS_PASSWORD, else the URL's; both set must agree. */
function redisPassword(r: Reader, url: string, raw: string | undefined): string | null {
  let fromUrl = '';
  try {
    fromUrl = decodeURIComponent(new URL(url).password);
  } catch {
    // a malformed URL is already reported by its pattern check
  }
  const set = raw === undefined || raw === '' ? '' : r.str('PBX_REDIS_PASSWORD');
  if (set && fromUrl && set !== fromUrl) r.problems.push('PBX_REDIS_PASSWORD and the password in PBX_REDIS_URL differ; set one of them');
  return set || fromUrl || null;
}

const HOST_LABEL = '[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?';
const HOST_NAME = new RegExp(`^${HOST_LABEL}(\\.${HOST_LABEL})*$`);

/** PBX_LOOKUP_ALLOWED_HOSTS: "crm.example.com, *.corp.example, 10.1.2.3, 192.168.10.0/24, [::1]". */
function lookupHosts(r: Reader, raw: string): LookupHostEntry[] {
  const entries: LookupHostEntry[] = [];
  for (const item of raw.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)) {
    const [addr = '', prefixText, extra] = item.replace(/^\[([^\]]*)\]/, '$1').split('/');
    const family = isIP(addr);
    if (family === 4 || family === 6) {
      const max = family === 4 ? 32 : 128;
      const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : -1;
      if (extra === undefined && prefix >= 0 && prefix <= max) {
        entries.push({ kind: 'cidr', address: addr, prefix, family });
        continue;
      }
    } else if (item.startsWith('*.') && HOST_NAME.test(item.slice(2))) {
      entries.push({ kind: 'suffix', suffix: item.slice(2).replace(/\.$/, '') });
      continue;
    } else if (HOST_NAME.test(item.replace(/\.$/, ''))) {
      entries.push({ kind: 'name', name: item.replace(/\.$/, '') });
      continue;
    }
    r.problems.push(`PBX_LOOKUP_ALLOWED_HOSTS: "${item}" is not a host name, *.suffix, address or CIDR block`);
  }
  return entries;
}

/** "/a/b/" -> "/a/b"; "/" stays. */
function trimSlash(dir: string): string {
  return dir.length > 1 ? dir.replace(/\/+$/, '') || '/' : dir;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Load KEY=VALUE lines from a file into the environment; variables already set win. */
export function loadEnvFile(path: string): void {
  try {
    process.loadEnvFile(path);
  } catch (err) {
    throw new ConfigError([`cannot read env file ${path}: ${(err as Error).message}`]);
  }
}

/** PBX_ENV_FILE names a file to load before the configuration is read. */
export function loadEnvFileFromEnvironment(): void {
  const path = process.env['PBX_ENV_FILE'];
  if (path) loadEnvFile(path);
}

/** Every variable with its current value (passwords hidden), for `pbx config`. */
export function describeConfig(env: Env): string[] {
  return CONFIG_VARIABLES.map((v) => {
    const raw = env[v.name];
    const shown =
      raw === undefined
        ? `(unset${v.fallback ? `, default ${v.fallback}` : ', REQUIRED'})`
        : /PASSWORD|SECRET/.test(v.name)
          ? '(set, hidden)'
          : raw;
    return `${v.name.padEnd(24)} ${shown}\n    ${v.about}`;
  });
}
