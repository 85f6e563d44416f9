/**
 * One-time tickets for the stream (docs/events.md#authentication). A browser's EventSource cannot
 * send an Authorization header, so a page asks POST /api/v1/events/tickets with its token and gets
 * a ticket: random, good for one connection, within `ttlMs` (30 s), carrying the token's user and
 * role. The ticket travels in the stream's URL (?ticket=), where the token itself never goes:
 * a URL ends up in logs and history, a used or expired ticket is worth nothing there.
 */
import { randomBytes } from 'node:crypto';
import type { Principal } from '../http/auth.js';

export const TICKET_TTL_MS = 30_000;
const MAX_TICKETS = 10_000;
const TICKET = /^evt_[A-Za-z0-9_-]{43}$/;

export class TicketStore {
  private readonly tickets = new Map<string, { readonly principal: Principal; readonly expiresAt: number }>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly ttlMs = TICKET_TTL_MS,
  ) {}

  issue(principal: Principal): { ticket: string; expiresAt: Date } {
    this.purge();
    if (this.tickets.size >= MAX_TICKETS) this.tickets.delete(this.tickets.keys().next().value!);
    const ticket = `evt_${randomBytes(32).toString('base64url')}`;
    const expiresAt = this.now() + this.ttlMs;
    this.tickets.set(ticket, { principal, expiresAt });
    return { ticket, expiresAt: new Date(expiresAt) };
  }

  /** The ticket's principal, once: a second redeem, an expired or unknown ticket give null. */
  redeem(ticket: string): Principal | null {
    if (!TICKET.test(ticket)) return null;
    const found = this.tickets.get(ticket);
    this.tickets.delete(ticket);
    return found && found.expiresAt > this.now() ? found.principal : null;
  }

  private purge(): void {
    const now = this.now();
    for (const [t, v] of this.tickets) if (v.expiresAt <= now) this.tickets.delete(t);
  }
}
