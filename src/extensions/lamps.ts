/**
 * BLF lamps for extensions. A desk phone's BLF key for 1002 subscribes to 1002; Asterisk makes the
 * hint 1002 -> PJSIP/1002&Stasis:ext-1002 from the pattern in asterisk/extensions.conf
 * ([pbx-hints]) and aggregates the two devices' states, the higher one winning:
 *
 *   unavailable < idle (NOT_INUSE) < on hold < ringing < in use < busy
 *
 * PJSIP/1002 carries the calls: ringing (the lamp blinks; dialog state early), on a call or on
 * hold. Extensions have device_state_busy_at 0 (off): with 1, Asterisk 22 reports a ringing phone
 * as BUSY (seen in `pjsip show endpoint`: Busy with one channel in state Ringing). It does not
 * carry registration: Asterisk
 * reports a realtime endpoint created after it started as unavailable even while its phone is
 * registered (its endpoint state is only set up on a res_pjsip reload; no AMI ContactStatus event
 * comes for it either), so an idle phone's lamp would read "unavailable". Stasis:ext-1002 is ours:
 * NOT_INUSE while the extension has a registered contact, UNAVAILABLE while it has none. It follows
 * the contact rows Asterisk writes to ps_contacts, announced by a trigger (LISTEN pbx_contacts:
 * migrations/2026-11-29T00-00-00_contacts_notify.ts; each change reads the rows again, so the
 * latest registration wins whatever the notices' order), and is set for every extension whenever
 * that LISTEN connection or AMI (Asterisk restarted) comes up.
 */
import type { Logger } from '../logger.js';
import type { CallControl } from '../telephony/ari-types.js';
import { SerialByKey } from '../serial-by-key.js';
import { logRejection } from '../shared/log-rejection.js';

export const CONTACTS_CHANNEL = 'pbx_contacts';

/** A pbx_contacts notice ('insert:1002'): what happened to a contact row of which endpoint. */
export function contactChange(payload: string): { readonly op: 'insert' | 'update' | 'delete'; readonly endpoint: string } | null {
  const m = /^(insert|update|delete):([0-9]{2,16})$/.exec(payload);
  return m ? { op: m[1] as 'insert' | 'update' | 'delete', endpoint: m[2]! } : null;
}

/** Our half of extension `number`'s hint. */
export const extensionDevice = (number: string): string => `ext-${number}`;
const EXTENSION = /^[0-9]{2,16}$/;

export interface ExtensionLampDeps {
  readonly control: Pick<CallControl, 'setDeviceState'>;
  /** Extension numbers, each with whether it has a registered contact now (all, or those given). */
  readonly registered: (numbers?: readonly string[]) => Promise<Map<string, boolean>>;
  readonly log: Logger;
}

export class ExtensionLamps {
  /** Per extension, updates go out one after the other, each reading anew. */
  private readonly updates = new SerialByKey();

  constructor(private readonly deps: ExtensionLampDeps) {}

  /** A contact of `number` was created, updated or removed: its lamp follows. Never throws. */
  contactChanged(number: string): void {
    if (!EXTENSION.test(number)) return;
    logRejection(this.updates.run(number, () => this.refresh([number])), this.deps.log, 'extension lamp not updated', { extension: number });
  }

  /** Every extension's lamp (AMI connected: Asterisk may have restarted). Never throws. */
  async showAll(): Promise<void> {
    await this.refresh();
  }

  private async refresh(numbers?: readonly string[]): Promise<void> {
    try {
      const registered = await this.deps.registered(numbers);
      for (const [number, yes] of registered) {
        await this.deps.control.setDeviceState(extensionDevice(number), yes ? 'NOT_INUSE' : 'UNAVAILABLE').catch((err: Error) => {
          this.deps.log.warn({ extension: number, err: err.message }, 'extension lamp not set');
        });
      }
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'extension lamps not read');
    }
  }
}
