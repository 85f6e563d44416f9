/**
 * Asterisk keeps PJSIP endpoints, auths and AORs read from Postgres in sorcery memory caches
 * (asterisk/sorcery.conf: pbx-endpoint, pbx-auth, pbx-aor; docs/operations.md#sip-account-cache).
 * After the daemon writes or deletes an extension's or trunk's rows (all three objects share the
 * extension number or trunk endpoint id) it expires them here, so a changed password or a deleted
 * extension takes effect at the next request instead of when the cached copy ages out (60 s).
 *
 * AMI SorceryMemoryCacheExpireObject (class system) answers Error "could not be expired" when the
 * object is not cached: that is the normal case for an object no phone used lately. Every call is
 * best-effort: Asterisk may be down (it starts with empty caches) or AMI away; whenever AMI
 * (re)connects the daemon empties all three caches (expireAll), which covers changes made meanwhile.
 */

/** The part of AmiConnection used here. */
export interface AmiLike {
  action(fields: Record<string, string>): Promise<Readonly<Record<string, string | undefined>>>;
}

export interface CacheLog {
  warn(obj: object, msg: string): void;
}

/** What the extension and trunk services need: "the objects with this id changed in Postgres". */
export interface SipObjectCache {
  changed(id: string): Promise<void>;
}

/** For services built without Asterisk (tests, tools). */
export const NO_SIP_CACHE: SipObjectCache = { changed: async () => undefined };

/** The memory caches' names in asterisk/sorcery.conf, one per PJSIP object type. */
export const PJSIP_CACHES = ['pbx-endpoint', 'pbx-auth', 'pbx-aor'] as const;

const NOT_CACHED = /could not be expired/i;

export class PjsipCache implements SipObjectCache {
  constructor(
    private readonly ami: AmiLike | null,
    private readonly log: CacheLog,
  ) {}

  /** Expire the endpoint, auth and AOR called `id` (after the change committed). */
  async changed(id: string): Promise<void> {
    if (!this.ami) return;
    for (const cache of PJSIP_CACHES) {
      await this.attempt({ action: 'SorceryMemoryCacheExpireObject', cache, object: id }, NOT_CACHED);
    }
  }

  /** Empty all three caches (on AMI connect: changes made while it was away are not missed). */
  async expireAll(): Promise<void> {
    if (!this.ami) return;
    for (const cache of PJSIP_CACHES) await this.attempt({ action: 'SorceryMemoryCacheExpire', cache }, null);
  }

  /** An AMI error is a failure unless its message matches `fine` (asterisk-manager rejects on Response: Error). */
  private async attempt(fields: Record<string, string>, fine: RegExp | null): Promise<void> {
    let problem: string;
    try {
      const res = await this.ami!.action(fields);
      if (res['response'] === 'Success' || (fine && fine.test(res['message'] ?? ''))) return;
      problem = res['message'] ?? 'failed';
    } catch (err) {
      problem = (err as Error).message;
      if (fine && fine.test(problem)) return;
    }
    this.log.warn({ cache: fields['cache'], object: fields['object'], err: problem }, 'Asterisk did not expire the cached SIP object; the change applies within 60 s');
  }
}
