import { describe, expect, it } from 'vitest';
import { RegistrationTracker } from '../../src/extensions/registrations.js';
import type { AmiEvent } from '../../src/telephony/ami.js';

const at = new Date('2026-11-23T10:00:00Z');
const tracker = () => new RegistrationTracker(() => at);
const ev = (fields: Record<string, string>) => fields as AmiEvent;

/** A ContactList event as Asterisk 22 sends it for PJSIPShowContacts (keys lower-cased by asterisk-manager). */
const listed = (status: string, usec: string) =>
  ev({ event: 'ContactList', objectname: '1004;@f00cb49b03eccbeac778d925a16f98e6', endpoint: '1004', uri: 'sip:1004@127.0.0.1:44033', qualifyfrequency: '30', status, roundtripusec: usec });

describe('registration tracker', () => {
  it('takes reachability and round-trip time from ContactStatus, keeping the last RTT on Created/Updated', () => {
    const t = tracker();
    t.onAmiEvent(ev({ event: 'ContactStatus', aor: '1004', contactstatus: 'Reachable', roundtripusec: '1313' }));
    expect(t.health('1004')).toEqual({ status: 'Reachable', rttMs: 1.3, at });
    t.onAmiEvent(ev({ event: 'ContactStatus', aor: '1004', contactstatus: 'Updated', roundtripusec: '0' }));
    expect(t.health('1004')).toMatchObject({ status: 'Reachable', rttMs: 1.3 });
    t.onAmiEvent(ev({ event: 'ContactStatus', aor: '1004', contactstatus: 'Removed' }));
    expect(t.health('1004')).toBeNull();
  });

  it('takes the state of every contact from a PJSIPShowContacts answer (the AOR from the contact id)', () => {
    const t = tracker();
    t.onAmiEvent(listed('Reachable', '2450'));
    expect(t.health('1004')).toEqual({ status: 'Reachable', rttMs: 2.5, at });
    // A later answer replaces it: the round-trip time goes stale no more.
    t.onAmiEvent(listed('Reachable', '900'));
    expect(t.health('1004')).toMatchObject({ rttMs: 0.9 });
    t.onAmiEvent(listed('Unreachable', 'N/A'));
    expect(t.health('1004')).toMatchObject({ status: 'Unreachable', rttMs: null });
  });

  it('ignores other events and list entries it cannot place', () => {
    const t = tracker();
    t.onAmiEvent(ev({ event: 'ContactListComplete', listitems: '1' }));
    t.onAmiEvent(ev({ event: 'ContactList', objectname: 'no-separator', status: 'Reachable' }));
    t.onAmiEvent(ev({ event: 'PeerStatus', aor: '1004', contactstatus: 'Reachable' }));
    expect(t.health('1004')).toBeNull();
    expect(t.health('no-separator')).toBeNull();
  });
});
