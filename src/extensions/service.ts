/**
 * Extensions: load -> check preconditions (typed errors) -> write the extension, its PJSIP
 * realtime rows and an audit row in one transaction. A failure leaves nothing half-created.
 */
import type { Db, DbOrTx } from '../db/database.js';
import type { ExtensionPatch, ExtensionRow, PermissionClass, SipSecurity } from './tables.js';
import { AppError, notFound } from '../errors.js';
import { recordAudit, type Actor } from '../audit/repository.js';
import * as repo from './repository.js';
import { sipCredentials } from './sip-credentials.js';
import type { SecretBox } from '../shared/secret-box.js';
import { NO_SIP_CACHE, type SipObjectCache } from '../telephony/pjsip-cache.js';
import {
  displayNameProblem, extensionNumberProblem, forwardTargetProblem, generateSipPassword, hashPin, pinProblem,
} from './rules.js';

export interface CreateExtensionInput {
  number: string;
  displayName: string;
  callerIdNumber?: string;
  permissionClass?: PermissionClass;
  ringTimeoutSeconds?: number;
  voicemailPin?: string;
  sipSecurity?: SipSecurity;
}

export interface UpdateExtensionInput {
  displayName?: string;
  callerIdNumber?: string | null;
  permissionClass?: PermissionClass;
  dnd?: boolean;
  forwardAlways?: string | null;
  forwardBusy?: string | null;
  forwardNoAnswer?: string | null;
  ringTimeoutSeconds?: number;
  voicemailEnabled?: boolean;
  canSupervise?: boolean;
  recordingPolicy?: 'always' | 'never' | 'on-demand' | null;
  voicemailPin?: string;
  sipSecurity?: SipSecurity;
}

/** Something else that refers to an extension (a route, a device...): returns what, or []. */
export type ExtensionUsage = (db: DbOrTx, number: string) => Promise<string[]>;
/**
 * Something kept for an extension outside its rows (files, Asterisk recordings): called inside the
 * delete's transaction to note what to remove; the returned cleanup runs once the delete committed.
 */
export type ExtensionRemoval = (db: DbOrTx, number: string) => Promise<() => Promise<void>>;

const invalid = (field: string, problem: string): AppError =>
  new AppError('validation-failed', 400, `${field} ${problem}`, { field });

export class ExtensionService {
  constructor(
    private readonly db: Db,
    /** seals SIP passwords for provisioning (PBX_SECRET_KEY); Asterisk gets only their digests */
    private readonly secrets: SecretBox,
    private readonly usages: readonly ExtensionUsage[] = [],
    private readonly removals: readonly ExtensionRemoval[] = [],
    /** Asterisk's cached copy of the endpoint, auth and AOR: expired after each committed change */
    private readonly sipCache: SipObjectCache = NO_SIP_CACHE,
  ) {}

  async create(actor: Actor, input: CreateExtensionInput): Promise<{ extension: ExtensionRow; sipPassword: string }> {
    const numberProblem = extensionNumberProblem(input.number);
    if (numberProblem) throw invalid('body.number', numberProblem);
    const nameProblem = displayNameProblem(input.displayName);
    if (nameProblem) throw invalid('body.displayName', nameProblem);
    if (input.voicemailPin !== undefined) {
      const p = pinProblem(input.voicemailPin);
      if (p) throw invalid('body.voicemailPin', p);
    }
    const sipPassword = generateSipPassword();
    const pinHash = input.voicemailPin ? await hashPin(input.voicemailPin) : null;
    const extension = await this.db.transaction().execute(async (tx) => {
      if (await repo.findExtension(tx, input.number)) {
        throw new AppError('extension-exists', 409, `extension ${input.number} already exists`, { field: 'body.number' });
      }
      const taken = await tx.selectFrom('ps_endpoints').select('id').where('id', '=', input.number).executeTakeFirst();
      if (taken) throw new AppError('extension-exists', 409, `SIP endpoint ${input.number} already exists (a trunk or device?)`, { field: 'body.number' });
      const row = await repo.insertExtension(tx, {
        number: input.number,
        display_name: input.displayName,
        caller_id_number: input.callerIdNumber ?? null,
        permission_class: input.permissionClass ?? 'national',
        ring_timeout_seconds: input.ringTimeoutSeconds ?? 20,
        voicemail_pin_hash: pinHash,
        sip_security: input.sipSecurity ?? 'none',
      });
      await repo.writeSipAccount(tx, row, sipCredentials(this.secrets, row.number, sipPassword));
      await recordAudit(tx, actor, {
        action: 'extension.create',
        entity: 'extension',
        entityId: row.number,
        details: { displayName: row.display_name, permissionClass: row.permission_class },
      });
      return row;
    });
    // An earlier extension of this number may still be cached (deleted while AMI was away).
    await this.sipCache.changed(extension.number);
    return { extension, sipPassword };
  }

  async update(actor: Actor, number: string, input: UpdateExtensionInput): Promise<ExtensionRow> {
    const patch: ExtensionPatch = {};
    if (input.displayName !== undefined) {
      const p = displayNameProblem(input.displayName);
      if (p) throw invalid('body.displayName', p);
      patch.display_name = input.displayName;
    }
    if (input.callerIdNumber !== undefined) patch.caller_id_number = input.callerIdNumber;
    if (input.permissionClass !== undefined) patch.permission_class = input.permissionClass;
    if (input.dnd !== undefined) patch.dnd = input.dnd;
    if (input.ringTimeoutSeconds !== undefined) patch.ring_timeout_seconds = input.ringTimeoutSeconds;
    if (input.voicemailEnabled !== undefined) patch.voicemail_enabled = input.voicemailEnabled;
    if (input.canSupervise !== undefined) patch.can_supervise = input.canSupervise;
    if (input.recordingPolicy !== undefined) patch.recording_policy = input.recordingPolicy;
    if (input.sipSecurity !== undefined) patch.sip_security = input.sipSecurity;
    if (input.voicemailPin !== undefined) {
      const p = pinProblem(input.voicemailPin);
      if (p) throw invalid('body.voicemailPin', p);
      patch.voicemail_pin_hash = await hashPin(input.voicemailPin);
    }
    for (const [field, column] of [['forwardAlways', 'forward_always'], ['forwardBusy', 'forward_busy'], ['forwardNoAnswer', 'forward_no_answer']] as const) {
      const target = input[field];
      if (target === undefined) continue;
      if (target !== null) {
        const p = forwardTargetProblem(target, number);
        if (p) throw invalid(`body.${field}`, p);
      }
      patch[column] = target;
    }
    const updated = await this.db.transaction().execute(async (tx) => {
      if (!(await repo.findExtension(tx, number))) throw notFound('extension-not-found', 'extension', number);
      const row = await repo.updateExtension(tx, number, patch);
      await repo.writeSipAccount(tx, row, null);
      const changed = Object.keys(input).filter((k) => k !== 'voicemailPin');
      await recordAudit(tx, actor, {
        action: 'extension.update',
        entity: 'extension',
        entityId: number,
        details: { changed: input.voicemailPin !== undefined ? [...changed, 'voicemailPin'] : changed },
      });
      return row;
    });
    await this.sipCache.changed(number);
    return updated;
  }

  async rotatePassword(actor: Actor, number: string): Promise<string> {
    const sipPassword = generateSipPassword();
    await this.db.transaction().execute(async (tx) => {
      const row = await repo.findExtension(tx, number);
      if (!row) throw notFound('extension-not-found', 'extension', number);
      await repo.writeSipAccount(tx, row, sipCredentials(this.secrets, row.number, sipPassword));
      await recordAudit(tx, actor, { action: 'extension.rotate-password', entity: 'extension', entityId: number });
    });
    await this.sipCache.changed(number);
    return sipPassword;
  }

  async remove(actor: Actor, number: string): Promise<void> {
    const cleanups = await this.db.transaction().execute(async (tx) => {
      if (!(await repo.findExtension(tx, number))) throw notFound('extension-not-found', 'extension', number);
      const uses = [
        ...(await repo.forwardsTo(tx, number)).map((n) => `forward of extension ${n}`),
        ...(await Promise.all(this.usages.map((u) => u(tx, number)))).flat(),
      ];
      if (uses.length > 0) {
        throw new AppError('extension-in-use', 409, `extension ${number} is in use by: ${uses.join('; ')}`, { usedBy: uses });
      }
      const after = await Promise.all(this.removals.map((r) => r(tx, number)));
      await repo.deleteSipAccount(tx, number);
      await repo.deleteExtensionRow(tx, number);
      await recordAudit(tx, actor, { action: 'extension.delete', entity: 'extension', entityId: number });
      return after;
    });
    await this.sipCache.changed(number);
    for (const cleanup of cleanups) await cleanup();
  }
}
