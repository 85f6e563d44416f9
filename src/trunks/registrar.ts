/**
 * Making Asterisk act on ps_registrations rows. Verified against Asterisk 22.10 with a SIPp
 * registrar (test/e2e/sipp/uas-register.xml):
 *  - At start Asterisk loads every realtime registration and registers it.
 *  - A row inserted later is NOT noticed: AMI `PJSIPRegister` on it answers "Unable to retrieve
 *    registration entry" (the module only knows the states it built at load or reload).
 *  - Reloading res_pjsip_outbound_registration.so (AMI ModuleLoad, the CLI's `module reload`)
 *    reads all rows again: new ones start registering within about a second, unchanged ones are
 *    kept as they are ("can re-use"), changed ones are rebuilt, and the states of deleted rows are
 *    destroyed. ModuleLoad needs AMI class system only; the AMI user has no `command` class (any
 *    CLI command), see deploy/README-site.md. It acknowledges a reload already in progress too.
 *  - A state destroyed by that reload tries to unregister, but its auth row is gone by then, so the
 *    provider's challenge cannot be answered. Hence removal sends `PJSIPUnregister` first, while
 *    the auth row still exists, and reloads after the rows are deleted.
 *  - A changed password (ps_auths) is read at the next challenge; `PJSIPRegister` after the
 *    reload makes that happen now (it unregisters, then registers again).
 * Every function here is best-effort: Asterisk may be down; it then loads the rows when it starts.
 */
import { trunkEndpointId } from './realtime.js';

/** The part of AmiConnection these functions use. */
export interface AmiLike {
  action(fields: Record<string, string>): Promise<Readonly<Record<string, string | undefined>>>;
}

export type RegistrarOutcome = 'done' | 'failed';

const NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

function registrationId(name: string): string {
  if (!NAME.test(name)) throw new Error(`invalid trunk name ${JSON.stringify(name)}`);
  return trunkEndpointId(name);
}

async function run(ami: AmiLike, fields: Record<string, string>, ok: (res: Readonly<Record<string, string | undefined>>) => boolean): Promise<void> {
  const res = await ami.action(fields);
  if (!ok(res)) throw new Error(`${fields['action']}: ${res['message'] ?? res['output'] ?? 'failed'}`);
}

/** Asterisk re-reads ps_registrations: new rows start registering, deleted ones stop. */
export async function reloadRegistrations(ami: AmiLike): Promise<void> {
  await run(ami, { action: 'ModuleLoad', loadtype: 'reload', module: 'res_pjsip_outbound_registration.so' }, (r) => r['response'] === 'Success');
}

/** Unregister now and schedule re-registration (also picks up a changed password). */
export async function sendRegister(ami: AmiLike, trunkName: string): Promise<void> {
  await run(ami, { action: 'PJSIPRegister', registration: registrationId(trunkName) }, (r) => r['response'] === 'Success');
}

/** Unregister now and stop registering (until the next reload or PJSIPRegister). */
export async function sendUnregister(ami: AmiLike, trunkName: string): Promise<void> {
  await run(ami, { action: 'PJSIPUnregister', registration: registrationId(trunkName) }, (r) => r['response'] === 'Success');
}

export interface RegistrarLog {
  warn(obj: object, msg: string): void;
}

/** What the trunk service needs from Asterisk; errors are logged and reported, never thrown. */
export class Registrar {
  constructor(
    private readonly ami: AmiLike | null,
    private readonly log: RegistrarLog,
  ) {}

  /** After a registering trunk was created or changed: load its row and register now. */
  async started(trunkName: string, changed: boolean): Promise<RegistrarOutcome> {
    return this.attempt(trunkName, 'register', async (ami) => {
      await reloadRegistrations(ami);
      if (changed) await sendRegister(ami, trunkName);
    });
  }

  /** Before the rows of a registering trunk go away: unregister while its credentials exist. */
  async stopping(trunkName: string): Promise<RegistrarOutcome> {
    return this.attempt(trunkName, 'unregister', (ami) => sendUnregister(ami, trunkName));
  }

  /** After the rows went away: let Asterisk drop the registration state. */
  async stopped(trunkName: string): Promise<RegistrarOutcome> {
    return this.attempt(trunkName, 'reload', (ami) => reloadRegistrations(ami));
  }

  /** The change that `stopping` prepared failed: register again. */
  async restore(trunkName: string): Promise<RegistrarOutcome> {
    return this.attempt(trunkName, 'restore', (ami) => sendRegister(ami, trunkName));
  }

  private async attempt(trunk: string, step: string, fn: (ami: AmiLike) => Promise<void>): Promise<RegistrarOutcome> {
    if (!this.ami) return 'failed';
    try {
      await fn(this.ami);
      return 'done';
    } catch (err) {
      this.log.warn({ trunk, step, err: (err as Error).message }, 'Asterisk did not take the trunk registration change; it applies at the next Asterisk start or reload');
      return 'failed';
    }
  }
}
