/**
 * The dialer's AttemptDialer over AMI (docs/campaigns.md#the-call-side): each attempt is an async
 * AMI Originate on the campaign's trunk into [pbx-campaign], with the attempt id as the channel id
 * (so Asterisk itself refuses a second leg of the same attempt while the first lives). Asterisk
 * answers the action at once; the outcome comes later:
 *   - OriginateResponse Failure: not answered (busy / no answer / failed: campaign-originate.ts
 *     notAnsweredOf, with the leg's hangup cause from its Hangup event) -> reports.notAnswered;
 *   - OriginateResponse Success: answered; the contact's channel reaches the app (campaign-call.ts);
 *   - UserEvent PbxCampaignUnserved: answered but never in the app (the contact hung up during AMD:
 *     answered with AMD's HANGUP, then ended; a machine hung up while [pbx-campaign] waited for its
 *     beep: answered as MACHINE, then ended; the app was unreachable: failed).
 * AMI needs write=originate and read=call,user with event filters for those events (manager.conf).
 */
import type { Logger } from '../logger.js';
import type { AmiEvent, AmiResponse } from '../telephony/ami.js';
import type { AttemptDialer, CampaignCallReports, OriginateRequest } from '../campaigns/ports.js';
import type { OutboundRoute } from '../routing/outbound.js';
import { AppError } from '../errors.js';
import { logRejection } from '../shared/log-rejection.js';
import { ACTION_PREFIX, ORIGINATE_REASON, notAnsweredOf, originateAction, trunkNumber } from './campaign-originate.js';

export interface CampaignAmi {
  action(fields: Record<string, string>): Promise<AmiResponse>;
  onEvent(handler: (e: AmiEvent) => void): void;
}

export interface AmiAttemptDialerDeps {
  readonly ami: CampaignAmi;
  /** The dialer's side of the seam; null until it is wired (outcomes are then only logged). */
  readonly reports: () => CampaignCallReports | null;
  /** The outbound routes (their strip / prepend per trunk: trunkNumber). */
  readonly routes: () => Promise<readonly (OutboundRoute & { readonly trunkName: string })[]>;
  readonly log: Logger;
  readonly now?: () => number;
}

interface Pending {
  readonly sentAt: number;
  /** The leg's hangup cause, from its Hangup event (it may come before or after the response). */
  cause: number | null;
  /** Answered (OriginateResponse Success): ring time, kept for a PbxCampaignUnserved event. */
  ringMs: number | null;
  answered: boolean;
}

/** A failed originate's hangup cause may follow its response: wait this long for it. */
const CAUSE_GRACE_MS = 250;
/** Attempts forgotten this long after their originate (a response lost with the AMI connection). */
const FORGET_MS = 10 * 60_000;

export class AmiAttemptDialer implements AttemptDialer {
  private readonly pending = new Map<string, Pending>();
  private readonly now: () => number;

  constructor(private readonly deps: AmiAttemptDialerDeps) {
    this.now = deps.now ?? Date.now;
    deps.ami.onEvent((e) => this.onEvent(e));
  }

  /** Resolves once Asterisk took the originate; rejects (asterisk-unavailable) when AMI is down or refuses it. */
  async originate(req: OriginateRequest): Promise<void> {
    this.forgetOld();
    const fields = originateAction(req, trunkNumber(await this.deps.routes(), req.trunk, req.number));
    this.pending.set(req.attemptId, { sentAt: this.now(), cause: null, ringMs: null, answered: false });
    let res: AmiResponse;
    try {
      res = await this.deps.ami.action(fields);
    } catch (err) {
      this.pending.delete(req.attemptId);
      throw err;
    }
    if (res['response'] !== 'Success') {
      this.pending.delete(req.attemptId);
      throw new AppError('asterisk-unavailable', 503, `Asterisk refused the originate: ${res['message'] ?? 'no reason'}`);
    }
    this.deps.log.info({ attempt: req.attemptId, trunk: req.trunk, ringSeconds: req.ringSeconds, amd: req.amd }, 'campaign attempt originated');
  }

  private onEvent(e: AmiEvent): void {
    switch (e.event) {
      case 'Hangup': {
        const p = this.pending.get(e['uniqueid'] ?? '');
        if (p && !p.answered) p.cause = numberOr(e['cause']);
        return;
      }
      case 'OriginateResponse': {
        const actionId = e['actionid'] ?? '';
        if (!actionId.startsWith(ACTION_PREFIX)) return;
        return this.responded(actionId.slice(ACTION_PREFIX.length), e['response'] === 'Success', numberOr(e['reason']) ?? ORIGINATE_REASON.failed);
      }
      case 'UserEvent':
        if (e['userevent'] === 'PbxCampaignUnserved') this.unserved(e['attempt'] ?? '', e['amdstatus'] ?? '', e['amdcause'] ?? '');
        return;
    }
  }

  private responded(attemptId: string, answered: boolean, reason: number): void {
    const p = this.pending.get(attemptId);
    const ringMs = p ? this.now() - p.sentAt : null;
    if (answered) {
      if (p) Object.assign(p, { answered: true, ringMs });
      return;
    }
    const report = (): void => {
      const cause = this.pending.get(attemptId)?.cause ?? null;
      this.pending.delete(attemptId);
      const outcome = notAnsweredOf(reason, cause);
      this.deps.log.info({ attempt: attemptId, reason, cause, outcome, ringMs }, 'campaign attempt not answered');
      const reports = this.deps.reports();
      logRejection(reports?.notAnswered(attemptId, outcome, { cause, ringMs }), this.deps.log, 'campaign attempt outcome not reported', { attempt: attemptId });
    };
    if (p && p.cause === null && (reason === ORIGINATE_REASON.hangup || reason === ORIGINATE_REASON.failed)) setTimeout(report, CAUSE_GRACE_MS);
    else report();
  }

  /** Answered but never in the app: hung up during AMD, or the app was not there ([pbx-campaign]). */
  private unserved(attemptId: string, amdStatus: string, amdCause: string): void {
    const p = this.pending.get(attemptId);
    this.pending.delete(attemptId);
    const reports = this.deps.reports();
    const ringMs = p?.ringMs ?? null;
    this.deps.log.warn({ attempt: attemptId, amdStatus }, 'campaign contact answered but never reached the app');
    if (!reports) return;
    const at = new Date(this.now());
    // A person hanging up during AMD (HANGUP), or a machine during the wait for its beep (MACHINE).
    if (amdStatus === 'HANGUP' || amdStatus === 'MACHINE') {
      const done = reports.answered(attemptId, attemptId, { status: amdStatus, cause: amdCause.slice(0, 64) }, ringMs).then(() => reports.ended(attemptId, at));
      logRejection(done, this.deps.log, 'campaign contact hanging up during AMD not reported', { attempt: attemptId });
      return;
    }
    logRejection(reports.notAnswered(attemptId, 'failed', { cause: null, ringMs }), this.deps.log, 'campaign attempt outcome not reported', { attempt: attemptId });
  }

  private forgetOld(): void {
    const before = this.now() - FORGET_MS;
    for (const [id, p] of this.pending) if (p.sentAt < before) this.pending.delete(id);
  }
}

function numberOr(v: string | undefined): number | null {
  const n = Number(v);
  return v !== undefined && v !== '' && Number.isInteger(n) ? n : null;
}
