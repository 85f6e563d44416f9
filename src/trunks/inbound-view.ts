/**
 * The inbound (DID) rules as a call from a trunk needs them, kept warm in memory: read once, then
 * again only after Postgres announces a change (LISTEN pbx_routing; triggers on inbound_routes,
 * flows and queues: migrations/2026-11-27T00-00-00_routing_notify.ts). While the LISTEN connection
 * is down every call reads them from Postgres, as without the cache.
 */
import type { Config } from '../config.js';
import type { Db } from '../db/database.js';
import { PgListener } from '../db/listener.js';
import { WarmValue } from '../db/warm-value.js';
import type { Logger } from '../logger.js';
import type { BackoffPolicy } from '../shared/backoff.js';
import { loadInboundRules } from './repository.js';

export const ROUTING_CHANNEL = 'pbx_routing';

export type InboundRules = Awaited<ReturnType<typeof loadInboundRules>>;

export interface InboundRulesView {
  rules(): Promise<InboundRules>;
  start(): void;
  stop(): Promise<void>;
}

export function inboundRulesView(db: Db, listen: { readonly db: Config['db']; readonly backoff: BackoffPolicy }, log: Logger): InboundRulesView {
  const rules = new WarmValue(() => loadInboundRules(db));
  const listener = new PgListener(listen.db, ROUTING_CHANNEL, listen.backoff, {
    onNotification: () => rules.changed(),
    onConnected: () => rules.listenerUp(true),
    onLost: () => rules.listenerUp(false),
  }, log);
  return {
    rules: () => rules.get(),
    start: () => listener.start(),
    stop: () => listener.stop(),
  };
}
