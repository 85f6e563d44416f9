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
  /** `read` kept warm the same way; it must read only inbound_routes, flows and queues (the tables that announce changes). */
  keep<T>(read: () => Promise<T>): () => Promise<T>;
  /** The same per key (a flow's name); at most KEYS_KEPT keys at once. */
  keepEach<T>(read: (key: string) => Promise<T>): (key: string) => Promise<T>;
  start(): void;
  stop(): Promise<void>;
}

/** Keys a keepEach value holds before it starts over (the names asked for are the site's own flows). */
const KEYS_KEPT = 1_000;

export function inboundRulesView(db: Db, listen: { readonly db: Config['db']; readonly backoff: BackoffPolicy }, log: Logger): InboundRulesView {
  let listening = false;
  const values: WarmValue<unknown>[] = [];
  /** Per keepEach: its keys' values, dropped at each change (a key's value is made again when asked for). */
  const keyed: Map<string, WarmValue<unknown>>[] = [];
  const warm = <T>(read: () => Promise<T>): WarmValue<T> => {
    const value = new WarmValue(read);
    value.listenerUp(listening);
    return value;
  };
  const changed = (up: boolean): void => {
    listening = up;
    for (const value of values) value.listenerUp(up);
    for (const map of keyed) map.clear();
  };
  const rules = warm(() => loadInboundRules(db));
  values.push(rules);
  const listener = new PgListener(listen.db, ROUTING_CHANNEL, listen.backoff, {
    onNotification: () => {
      for (const value of values) value.changed();
      for (const map of keyed) map.clear();
    },
    onConnected: () => changed(true),
    onLost: () => changed(false),
  }, log);
  return {
    rules: () => rules.get(),
    keep: <T>(read: () => Promise<T>) => {
      const value = warm(read);
      values.push(value as WarmValue<unknown>);
      return () => value.get();
    },
    keepEach: <T>(read: (key: string) => Promise<T>) => {
      const map = new Map<string, WarmValue<T>>();
      keyed.push(map as Map<string, WarmValue<unknown>>);
      return (key: string) => {
        let value = map.get(key);
        if (!value) {
          if (map.size >= KEYS_KEPT) map.clear();
          value = warm(() => read(key));
          map.set(key, value);
        }
        return value.get();
      };
    },
    start: () => listener.start(),
    stop: () => listener.stop(),
  };
}
