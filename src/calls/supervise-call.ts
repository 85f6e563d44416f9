/**
 * Live supervision, the supervisor's call (docs/supervision.md). The supervisor's channel and a
 * snoop on the agent's (or extension's) channel share a mixing bridge of their own; the call being
 * supervised is not touched. The mode is the snoop's directions (src/supervision/model.ts); a
 * switch (DTMF 4/5/6, or the API) makes a new snoop, puts it in the bridge, then hangs up the old.
 *
 * The snoop is registered as a leg of this call: its StasisStart reaches this runner as
 * `b-answered`, its end as `b-ended`. A snoop ends when its target's channel does, so the agent or
 * the customer hanging up ends the session (the supervisor is hung up); the supervisor hanging up
 * ends it too (channelGone: the snoops are hung up and the bridge destroyed).
 *
 * Started by the feature code (*55<agent or extension>, the extension must be allowed to
 * supervise) or by the API (the daemon rang the supervisor's phone: `claim` gives the request).
 */
import { AppError } from '../errors.js';
import { logRejectionUnlessGone } from '../shared/log-rejection.js';
import type { Actor } from '../audit/repository.js';
import { modeOfKey, snoopDirections, type SupervisionEnd, type SupervisionMode, type SupervisionTarget, type TargetLookup } from '../supervision/model.js';
import { phoneActor, SUPERVISION_BRIDGE_PREFIX, type SupervisionPort, type SupervisionRefusal } from '../supervision/port.js';
import type { CallHost } from './host.js';
import type { SessionEvent } from './events.js';
import type { CallRunner } from './runner.js';

export interface SuperviseHost extends CallHost {
  readonly supervision: SupervisionPort;
  registerLeg(legId: string): void;
  releaseLeg(legId: string): void;
}

/** How the session was asked for: a feature code dialed at `extension`, or an API request (`id`) whose phone answered. */
export type SupervisionOrigin =
  | { readonly kind: 'code'; readonly extension: string; readonly number: string }
  | { readonly kind: 'api'; readonly id: string };

/** Prompts (Asterisk's core sounds). */
const SAID: Readonly<Record<SupervisionRefusal, readonly string[]>> = {
  'not-permitted': ['sound:beeperr', 'sound:ss-noservice'],
  unknown: ['sound:beeperr', 'sound:invalid', 'sound:vm-goodbye'],
  'not-on-call': ['sound:beeperr', 'sound:vm-isunavail', 'sound:vm-goodbye'],
  unavailable: ['sound:beeperr', 'sound:ss-noservice'],
};

interface Snoop {
  readonly id: string;
  readonly mode: SupervisionMode;
}

export class SuperviseRunner implements CallRunner {
  readonly mode = 'supervise';
  private phase: 'starting' | 'refusing' | 'active' | 'ended' = 'starting';
  /** The snoop in the bridge, and one being set up (a start or a switch). */
  private current: Snoop | null = null;
  private pending: Snoop | null = null;
  /** A switch asked for while a snoop was being set up: made once that one is up. */
  private wanted: SupervisionMode | null = null;
  private bridgeId: string | null = null;
  private target: Extract<TargetLookup, { found: 'on-call' }> | null = null;
  private endReason: SupervisionEnd | null = null;
  private snoops = 0;
  private refusalPlayback: string | null = null;
  /** The supervisor's extension, once known: DTMF switches are audited as theirs. */
  private supervisor: string | null = null;

  constructor(
    private readonly host: SuperviseHost,
    private readonly origin: SupervisionOrigin,
  ) {}

  /** The session's id: the supervisor's call. */
  private get id(): string {
    return this.host.facts().callId;
  }

  async start(): Promise<void> {
    const { supervision: port, log } = this.host;
    if (this.origin.kind === 'code') {
      const { extension, number } = this.origin;
      const by = phoneActor(extension);
      const target: SupervisionTarget = { kind: 'number', number };
      let allowed: boolean;
      try {
        allowed = await port.mayDial(extension);
      } catch (err) {
        log.error({ extension, err: (err as Error).message }, 'supervision: permission not checked');
        return this.refuse(by, extension, target, 'unavailable');
      }
      if (!allowed) return this.refuse(by, extension, target, 'not-permitted');
      return this.connect(by, extension, target, 'listen');
    }
    const request = port.claim(this.origin.id);
    if (!request) {
      log.warn({ supervision: this.origin.id }, 'supervision: no such request (expired?); hanging up');
      return this.host.hangupCaller('normal');
    }
    return this.connect(request.actor, request.supervisorExtension, request.target, request.mode);
  }

  private async connect(by: Actor, extension: string, target: SupervisionTarget, mode: SupervisionMode): Promise<void> {
    const { supervision: port, control, log } = this.host;
    let found: TargetLookup;
    try {
      found = await port.find(target);
    } catch (err) {
      log.error({ target, err: (err as Error).message }, 'supervision: target not looked up');
      return this.refuse(by, extension, target, 'unavailable');
    }
    if (found.found !== 'on-call') return this.refuse(by, extension, target, found.found);
    this.target = found;
    this.supervisor = extension;
    await this.host.answerCaller();
    this.bridgeId = `${SUPERVISION_BRIDGE_PREFIX}${this.id}`;
    await control.createBridge(this.bridgeId);
    await control.addToBridge(this.bridgeId, [this.host.channelId]);
    this.phase = 'active';
    port.opened(
      { id: this.id, supervisorExtension: extension, target, callId: found.callId, channelId: found.channelId, extension: found.extension, agent: found.agent, mode, startedAt: this.host.now(), actor: by },
      {
        switchTo: (to, who) => this.host.deliver({ type: 'supervise-mode', mode: to, by: who }),
        end: (who) => this.host.deliver({ type: 'supervise-end', by: who }),
        targetGone: () => this.host.deliver({ type: 'supervise-target-gone' }),
      },
    );
    log.info({ supervision: this.id, supervisor: extension, supervised: found.callId, channel: found.channelId, mode }, 'supervision started');
    await this.snoopFor(mode);
  }

  /** A snoop on the target's channel with `mode`'s directions; it joins the bridge when it enters the app (b-answered). */
  private async snoopFor(mode: SupervisionMode): Promise<void> {
    const { host, target } = this;
    if (!target) return;
    this.snoops += 1;
    const snoop: Snoop = { id: `${this.id}-snoop-${this.snoops}`, mode };
    this.pending = snoop;
    host.registerLeg(snoop.id);
    try {
      await host.supervision.snoop({ targetChannelId: target.channelId, snoopId: snoop.id, directions: snoopDirections(mode), owner: host.channelId });
    } catch (err) {
      // The target's channel is gone (the call ended between the lookup and now).
      host.releaseLeg(snoop.id);
      this.pending = null;
      host.log.info({ supervision: this.id, err: (err as Error).message }, 'supervision: snoop not made; ending');
      await this.end(err instanceof AppError && err.code === 'call-not-found' ? 'call-ended' : 'failed');
    }
  }

  async onEvent(event: SessionEvent): Promise<void> {
    switch (event.type) {
      case 'playback-finished':
        if (event.playbackId === this.refusalPlayback) return this.host.hangupCaller('normal');
        return;
      case 'b-answered':
        return this.snoopUp(event.legId);
      case 'b-ended':
        // The snoop in use (or the one being set up) ended: its target's channel is gone.
        if (event.legId === this.current?.id || event.legId === this.pending?.id) return this.end('call-ended');
        return;
      case 'dtmf': {
        const mode = modeOfKey(event.digit);
        if (mode && this.supervisor) return this.switchTo(mode, phoneActor(this.supervisor));
        return;
      }
      case 'supervise-mode':
        return this.switchTo(event.mode, event.by);
      case 'supervise-end':
        return this.end('ended-by-api');
      case 'supervise-target-gone':
        return this.end('call-ended');
      default:
        return;
    }
  }

  private async snoopUp(snoopId: string): Promise<void> {
    const { control, log } = this.host;
    if (this.phase !== 'active' || snoopId !== this.pending?.id || !this.bridgeId) {
      this.host.releaseLeg(snoopId);
      logRejectionUnlessGone(control.hangup(snoopId), log, 'stale snoop not hung up', { snoop: snoopId });
      return;
    }
    await control.addToBridge(this.bridgeId, [snoopId]);
    const old = this.current;
    this.current = this.pending;
    this.pending = null;
    if (old) this.dropSnoop(old.id);
    log.info({ supervision: this.id, snoop: snoopId, mode: this.current.mode }, 'supervision: listening in');
    const wanted = this.wanted;
    this.wanted = null;
    if (wanted && wanted !== this.current.mode) await this.snoopFor(wanted);
  }

  private async switchTo(mode: SupervisionMode, by: Actor): Promise<void> {
    if (this.phase !== 'active') return;
    const now = this.wanted ?? this.pending?.mode ?? this.current?.mode;
    if (!now || mode === now) return;
    this.host.supervision.changed(this.id, now, mode, by);
    if (this.pending) {
      this.wanted = mode === this.pending.mode ? null : mode;
      return;
    }
    await this.snoopFor(mode);
  }

  private dropSnoop(snoopId: string): void {
    this.host.releaseLeg(snoopId);
    logRejectionUnlessGone(this.host.control.hangup(snoopId), this.host.log, 'snoop not hung up', { snoop: snoopId });
  }

  /** End the session: the supervisor is hung up; channelGone tidies up when the channel is gone. */
  private async end(reason: SupervisionEnd): Promise<void> {
    if (this.phase === 'ended') return;
    this.endReason ??= reason;
    this.host.log.info({ supervision: this.id, reason }, 'supervision ending');
    await this.host.hangupCaller('normal');
  }

  private async refuse(by: Actor, extension: string, target: SupervisionTarget, why: SupervisionRefusal): Promise<void> {
    this.phase = 'refusing';
    this.host.supervision.refused(by, extension, target, why);
    this.host.log.info({ extension, target, why }, 'supervision refused');
    await this.host.answerCaller();
    this.refusalPlayback = `${this.id}-supervision-refused`;
    await this.host.control.play(this.host.channelId, SAID[why], this.refusalPlayback);
  }

  /** The supervisor's channel is gone: the session ends; its snoops and bridge go. */
  channelGone(): void {
    this.letGo(this.endReason ?? 'supervisor-hangup');
  }

  /** Never handed on; should it be, the session ends the same way. */
  stop(): void {
    this.letGo(this.endReason ?? 'failed');
  }

  private letGo(reason: SupervisionEnd): void {
    const wasActive = this.phase === 'active';
    this.phase = 'ended';
    for (const snoop of [this.current, this.pending]) if (snoop) this.dropSnoop(snoop.id);
    this.current = null;
    this.pending = null;
    if (this.bridgeId) logRejectionUnlessGone(this.host.control.destroyBridge(this.bridgeId), this.host.log, 'supervision bridge not destroyed', { bridgeId: this.bridgeId });
    this.bridgeId = null;
    if (wasActive) {
      this.host.supervision.closed(this.id, reason);
      this.host.log.info({ supervision: this.id, reason }, 'supervision ended');
    }
  }
}
