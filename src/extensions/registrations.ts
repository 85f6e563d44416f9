/**
 * Live contact state from AMI ContactStatus events (reachability and round-trip time of each
 * registered contact). Whether a phone is registered, its user agent and address come from
 * ps_contacts, which Asterisk writes itself; this adds what only events carry. No polling.
 */
import type { AmiEvent } from '../telephony/ami.js';

export interface ContactHealth {
  readonly status: string;
  readonly rttMs: number | null;
  readonly at: Date;
}

export class RegistrationTracker {
  private readonly byAor = new Map<string, ContactHealth>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  onAmiEvent(e: AmiEvent): void {
    if (e.event !== 'ContactStatus') return;
    const aor = e['aor'];
    if (!aor) return;
    const status = e['contactstatus'] ?? 'Unknown';
    if (status === 'Removed') {
      this.byAor.delete(aor);
      return;
    }
    const usec = Number(e['roundtripusec']);
    const prev = this.byAor.get(aor);
    this.byAor.set(aor, {
      status: status === 'Created' || status === 'Updated' ? (prev?.status ?? 'Created') : status,
      rttMs: Number.isFinite(usec) && usec > 0 ? Math.round(usec / 100) / 10 : (prev?.rttMs ?? null),
      at: this.now(),
    });
  }

  health(aor: string): ContactHealth | null {
    return this.byAor.get(aor) ?? null;
  }
}
