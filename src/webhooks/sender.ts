/**
 * One signed POST to a webhook's URL (docs/webhooks.md#deliveries): the body as given, signed with
 * the attempt's timestamp, a timeout per attempt, redirects not followed (a 3xx is a failure: the
 * admin fixes the URL). Never throws: the outcome says what happened.
 */
import { SIGNATURE_HEADER, signatureHeader } from './signing.js';

export interface SendRequest {
  readonly url: string;
  readonly secret: string;
  readonly body: string;
  readonly deliveryId: string;
  readonly eventType: string;
  readonly timeoutMs: number;
}

export type SendOutcome =
  | { readonly kind: 'delivered'; readonly status: number; readonly durationMs: number }
  | { readonly kind: 'gone'; readonly status: 410; readonly durationMs: number }
  | { readonly kind: 'failed'; readonly status: number | null; readonly durationMs: number; readonly error: string };

export async function send(req: SendRequest, now: () => number = Date.now): Promise<SendOutcome> {
  const started = now();
  const t = Math.floor(started / 1000);
  try {
    const res = await fetch(req.url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(req.timeoutMs),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'pbx-webhooks/1',
        'pbx-delivery': req.deliveryId,
        'pbx-event': req.eventType,
        [SIGNATURE_HEADER]: signatureHeader(req.secret, req.body, t),
      },
      body: req.body,
    });
    await res.body?.cancel().catch(() => undefined);
    const durationMs = now() - started;
    if (res.status >= 200 && res.status < 300) return { kind: 'delivered', status: res.status, durationMs };
    if (res.status === 410) return { kind: 'gone', status: 410, durationMs };
    return { kind: 'failed', status: res.status, durationMs, error: `HTTP ${res.status}` };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const error = e.name === 'TimeoutError' ? `timed out after ${req.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    return { kind: 'failed', status: null, durationMs: now() - started, error };
  }
}
