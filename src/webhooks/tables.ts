import type { ColumnType, Selectable } from 'kysely';

/** A registered webhook (docs/webhooks.md). */
export interface WebhookTable {
  id: string;
  url: string;
  /** The event types wanted, as a JSON array of strings. */
  event_types: unknown;
  queue: string | null;
  active: boolean;
  disabled_reason: string | null;
  /** The HMAC secret, sealed (src/shared/secret-box.ts, context `webhook-secret:<id>`). */
  secret_sealed: string;
  description: string | null;
  created_at: ColumnType<Date, Date | undefined, never>;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}
export type WebhookRow = Selectable<WebhookTable>;

export type DeliveryState = 'pending' | 'retrying' | 'delivered' | 'failed' | 'gone';

/** One event's delivery to one webhook (id `<webhook id>-<event id>`), updated at each attempt. */
export interface WebhookDeliveryTable {
  id: string;
  webhook_id: string;
  event_id: ColumnType<string, number, never>;
  event_type: string;
  /** The JSON body as sent. */
  body: string;
  state: DeliveryState;
  attempts: number;
  response_code: number | null;
  duration_ms: number | null;
  last_error: string | null;
  created_at: ColumnType<Date, Date | undefined, never>;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}
export type WebhookDeliveryRow = Selectable<WebhookDeliveryTable>;
