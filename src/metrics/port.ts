/**
 * What the metrics read at scrape time, handed in by src/app.ts. Each is cheap or bounded: the
 * SQL ones are one grouped query each (repository.ts), the rest read a counter in memory.
 */
export interface QueueFigures {
  readonly queue: string;
  /** Callers in line (waiting or being offered to an agent). */
  readonly waiting: number;
  /** Seconds the longest-waiting of them has waited; 0 with nobody waiting. */
  readonly longestWaitSeconds: number;
}

/** Agents in one state; `queue` null: every agent, each once. */
export interface AgentCount {
  readonly queue: string | null;
  readonly state: string;
  readonly count: number;
}

export interface JobCount {
  readonly queue: string;
  readonly state: string;
  readonly count: number;
}

/** One running or paused outbound campaign, read at scrape time. */
export interface CampaignFigures {
  readonly campaign: string;
  /** Attempts queued, dialing, or answered and waiting for an agent (every daemon's). */
  readonly linesInFlight: number;
  /** Contacts by state (ready, dialing, callback, done, exhausted, dnc, unreachable); absent: none. */
  readonly contacts: Readonly<Record<string, number>>;
}

export interface MetricSources {
  /** Calls (Stasis sessions) this daemon is handling now. */
  liveCalls(): number;
  /** Overload control (src/calls/admission.ts): calls being set up now, and new calls refused since start by reason. */
  overload(): { readonly callsInSetup: number; readonly refused: ReadonlyMap<string, number> };
  /** The ARI event socket and the AMI login, up or not. */
  asterisk(): { readonly ari: boolean; readonly ami: boolean };
  /** Postgres and Redis answering (the /health/ready checks). */
  dependencies(): Promise<{ readonly postgres: boolean; readonly redis: boolean }>;
  queues(): Promise<readonly QueueFigures[]>;
  agents(): Promise<readonly AgentCount[]>;
  /** BullMQ job counts by queue and state. */
  jobs(): Promise<readonly JobCount[]>;
  /** Event stream clients connected, and those closed so far by reason (cumulative). */
  streamClients(): { readonly clients: number; readonly closed: Readonly<Record<string, number>> };
  /** CDRs waiting to be written (Postgres slow or down). */
  cdrPending(): number;
  /** CDR write attempts that failed since start (each is retried). */
  cdrWriteFailures(): number;
  /** Running and paused campaigns (the others have no series). */
  campaigns(): Promise<readonly CampaignFigures[]>;
  /** Events waiting in memory for Postgres to write their webhook deliveries, and those dropped since start (too many waited). */
  webhookOutbox(): { readonly waiting: number; readonly dropped: number };
  /** The ACD's queue events and agent changes waiting in memory for Postgres, and those dropped since start (too many waited). */
  acdWrites(): { readonly waiting: number; readonly dropped: number };
}
