/**
 * Live contact state from AMI (reachability and round-trip time of each registered contact,
 * measured by Asterisk's qualify OPTIONS pings). Whether a phone is registered, its user agent and
 * address come from ps_contacts, which Asterisk writes itself; this adds what only AMI carries.
 *
 * Asterisk sends ContactStatus only when a contact's status changes (seen with Asterisk 22: a
 * steady phone's round-trip time never arrives again, and a daemon started later hears nothing
 * of phones already reachable). So the tracker also asks for every contact's state
 * (PJSIPShowContacts, answered as ContactList events) when AMI connects and every
 * REFRESH_MS after.
 */
import type { Logger } from '../logger.js';
import type { AmiEvent, AmiResponse } from '../telephony/ami.js';

export interface ContactHealth {
  readonly status: string;
  readonly rttMs: number | null;
  readonly at: Date;
}

/** How often every contact's state is asked for: Asterisk's default qualify interval. */
export const REFRESH_MS = 30_000;

const rttOf = (usec: string | undefined): number | null => {
  const n = Number(usec);
  return Number.isFinite(n) && n > 0 ? Math.round(n / 100) / 10 : null;
};

export class RegistrationTracker {
  private readonly byAor = new Map<string, ContactHealth>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  onAmiEvent(e: AmiEvent): void {
    if (e.event === 'ContactList') return this.listed(e);
    if (e.event !== 'ContactStatus') return;
    const aor = e['aor'];
    if (!aor) return;
    const status = e['contactstatus'] ?? 'Unknown';
    if (status === 'Removed') {
      this.byAor.delete(aor);
      return;
    }
    const prev = this.byAor.get(aor);
    this.byAor.set(aor, {
      status: status === 'Created' || status === 'Updated' ? (prev?.status ?? 'Created') : status,
      rttMs: rttOf(e['roundtripusec']) ?? prev?.rttMs ?? null,
      at: this.now(),
    });
  }

  /**
   * One contact of a PJSIPShowContacts answer: its state as Asterisk holds it now. It names no AOR
   * field; the contact's id is "<aor>;@<hash>" (Asterisk 22: ObjectName: 1004;@f00cb49b...).
   */
  private listed(e: AmiEvent): void {
    const aor = /^([^;]+);@/.exec(e['objectname'] ?? '')?.[1];
    const status = e['status'];
    if (!aor || !status) return;
    this.byAor.set(aor, { status, rttMs: rttOf(e['roundtripusec']), at: this.now() });
  }

  health(aor: string): ContactHealth | null {
    return this.byAor.get(aor) ?? null;
  }
}

/** Asks Asterisk for every contact's state now and every REFRESH_MS (answers reach the tracker as events). */
export class ContactStateRefresher {
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: { readonly ami: { action(fields: Record<string, string>): Promise<AmiResponse> }; readonly log: Logger }) {}

  /** Ask now (AMI connected). Never throws. */
  refresh(): void {
    this.deps.ami.action({ action: 'PJSIPShowContacts' }).catch((err: Error) => this.deps.log.debug({ err: err.message }, 'contact states not asked for'));
  }

  start(): void {
    this.timer ??= setInterval(() => this.refresh(), REFRESH_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
