/**
 * One call's recording, the session's side (docs/recording.md): when policy says so it starts
 * (after an optional announcement), follows the call's parts, pauses for card payments (API, IVR
 * node, handset) and, when the call ends, hands the files to the finisher. It is not a runner:
 * a recording spans runners (IVR, queue, dial), so the session owns it beside the active runner.
 * Every operation runs one at a time, in order (its own queue), whoever asks (events, the API).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { CallControl } from '../telephony/ari-types.js';
import type { RecordingPart, RecordingRow } from '../recordings/tables.js';
import { AppError } from '../errors.js';
import { logRejection } from '../shared/log-rejection.js';
import type { CallFacts } from './cdr.js';
import { allowsOnDemand, decideRecording, type PolicySources, type RecordingAnnouncement, type RecordingDecision, type RecordingPolicy } from './recording-policy.js';
import { idleRecording, stepRecording, type PauseBy, type RecordingMachine, type RecordingRefusal } from './recording-machine.js';
import type { Recorder } from './recorder.js';
import type { RecordingFinisher } from './recording-finisher.js';

/** A queue's recording settings (acd queues table). */
export interface QueueRecording {
  readonly policy: RecordingPolicy | null;
  readonly samplePercent: number | null;
  readonly announcement: RecordingAnnouncement | null;
}

export interface RecordingRows {
  insert(id: string, row: { callId: string; linkedId: string | null; channelId: string; agent: string | null; queue: string | null; caller: string | null; called: string | null; parts: RecordingPart[]; startedAt: Date; channels: 1 | 2 }): Promise<void>;
  update(id: string, patch: { pauses?: RecordingMachine['pauses']; parts?: RecordingPart[]; agent?: string | null; queue?: string | null }): Promise<void>;
  remove(id: string): Promise<void>;
  /** The running recording of a channel (a restarted daemon adopting the call). */
  runningOn(channelId: string): Promise<RecordingRow | undefined>;
}

/** Everything a call's recording needs, the same for every call (built once in app.ts). */
export interface RecordingDeps {
  readonly recorder: Recorder;
  readonly rows: RecordingRows;
  readonly finisher: Pick<RecordingFinisher, 'finish'>;
  /** False when the recordings disk is below its free-space threshold (src/recordings). */
  readonly hasRoom: () => Promise<boolean>;
  readonly site: { readonly policy: RecordingPolicy; readonly recordQueueWait: boolean; readonly mono: boolean; readonly announcement: RecordingAnnouncement | null };
  /** The policies of the route, extension and trunk a call took (its queue's come with queue()). */
  readonly routeSources: (
    channelName: string | null,
    route: { kind: string; number?: string; dialed?: string },
    callerExtension: string | null,
    numbers: { readonly dialed: string | null; readonly callerNumber: string | null },
  ) => Promise<Omit<PolicySources, 'site' | 'queue'>>;
  readonly queue: (name: string) => Promise<QueueRecording | null>;
  /** Media URIs of an announcement (a prompt, or TTS text in its language). */
  readonly announcementMedia: (a: RecordingAnnouncement) => Promise<string[]>;
}

/** What the recording reads of its call (the session). */
export interface RecordingCallView {
  readonly channelId: string;
  readonly log: Logger;
  readonly control: CallControl;
  facts(): CallFacts;
  now(): Date;
  /** The caller hears a recording notice: the session holds the rest (music on hold after it). */
  noticeDone(): void;
}

export type RecordingAction = 'start' | 'stop' | 'pause' | 'resume';
/** A recording that stopped because its channel left the call in an attended transfer (`paused`: by whom, if it was). */
export interface RecordingCarry {
  readonly paused: PauseBy | null;
}
/** Which side of a connected call pressed a key: the call's caller channel, or the other party (agent, callee). */
export type KeySide = 'caller' | 'peer';
export type RecordingOutcome = { readonly ok: true; readonly recordingId: string; readonly state: 'recording' | 'paused' | 'stopped' } | { readonly ok: false; readonly refusal: RecordingRefusal | 'recording-not-allowed' | 'recording-no-space' };

/** The handset's key sequence that starts or stops recording during a connected call (docs/recording.md#from-the-handset). */
export const HANDSET_TOGGLE = '*#';
const HANDSET_WITHIN_MS = 3_000;
export const NOTICE_PLAYBACK = (callId: string): string => `${callId}-recording-notice`;

export class CallRecording {
  private machine: RecordingMachine = idleRecording;
  private id: string | null = null;
  private parts = new Set<RecordingPart>();
  private current: RecordingPart | null = null;
  private sources: Omit<PolicySources, 'site' | 'queue'> = {};
  private policy: RecordingPolicy;
  /** Start once the caller is answered ('now') or a person answers ('answered'). */
  private pending: 'now' | 'answered' | null = null;
  private answered = false;
  private personAnswered = false;
  private agent: string | null = null;
  private notice: string | null = null;
  /** The last `*` of the handset key: which side pressed it, and when. */
  private lastStar: { side: KeySide; at: number } | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  /** The policy points so far, decided (routed, joined a queue). */
  private decided: Promise<void> = Promise.resolve();

  constructor(
    private readonly call: RecordingCallView,
    private readonly deps: RecordingDeps,
  ) {
    this.policy = deps.site.policy;
  }

  /** Paused for a card payment: digits typed now are stored nowhere. */
  get paused(): boolean {
    return this.machine.phase === 'paused';
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const next = this.chain.then(task, task);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private background(what: string, task: () => Promise<unknown>): void {
    logRejection(this.serial(task), this.call.log, what);
  }

  /** Run `task` in turn; a failure is logged. The promise settles when it has run (never rejects). */
  private settles(what: string, task: () => Promise<unknown>): Promise<void> {
    const work = this.serial(task);
    logRejection(work, this.call.log, what);
    return work.then(
      () => undefined,
      () => undefined,
    );
  }

  /** The call was routed: a route to a queue waits for the queue's word; anything else is decided now. */
  routed(channelName: string | null, route: { kind: string; number?: string; dialed?: string }, callerExtension: string | null): void {
    this.decided = this.settles('recording policy not applied', async () => {
      const facts = this.call.facts();
      this.sources = await this.deps.routeSources(channelName, route, callerExtension, { dialed: facts.dialedNumber, callerNumber: facts.callerNumber });
      if (route.kind === 'queue' || route.kind === 'refuse') return;
      this.current = route.kind === 'flow' ? 'ivr' : 'talk';
      await this.apply(decideRecording({ ...this.sources, site: this.deps.site.policy }, { at: 'routed' }, this.call.facts().callId, this.options()));
    });
  }

  joinedQueue(queue: string): void {
    this.decided = this.settles('recording policy not applied', async () => {
      this.current = 'queue';
      if (this.id) await this.notePart('queue', { queue });
      const q = await this.deps.queue(queue);
      const point = { at: 'queue', samplePercent: q?.samplePercent ?? null, announcement: q?.announcement ?? null } as const;
      await this.apply(decideRecording({ ...this.sources, queue: q?.policy ?? null, site: this.deps.site.policy }, point, this.call.facts().callId, this.options()));
    });
  }

  ivrStarted(): void {
    this.background('recording part not noted', async () => {
      this.current = 'ivr';
      if (this.id) await this.notePart('ivr');
    });
  }

  callerAnswered(): void {
    this.answered = true;
    this.background('recording not started', async () => {
      if (this.pending === 'now') await this.begin();
    });
  }

  partyAnswered(agent: string | null): void {
    this.personAnswered = true;
    this.agent = agent;
    this.background('recording not started', async () => {
      this.current = 'talk';
      if (this.id) await this.notePart('talk', agent ? { agent } : {});
      else if (this.pending) await this.begin();
    });
  }

  transferred(): void {
    this.background('recording part not noted', async () => {
      if (this.id) await this.notePart('transfer');
    });
  }

  /** A recording notice finished playing: the recording starts now. */
  playbackFinished(playbackId: string): boolean {
    if (playbackId !== this.notice) return false;
    this.notice = null;
    this.call.noticeDone();
    this.background('recording not started', () => this.startNow('policy'));
    return true;
  }

  /**
   * Whether the handset key can do anything on this call, once the policy points so far are
   * decided: where policy is `never` it cannot, and the call's bridge need not raise key events
   * (docs/recording.md#from-the-handset: such a bridge costs Asterisk more CPU).
   */
  async handsetKeyAllowed(): Promise<boolean> {
    await this.decided;
    return allowsOnDemand(this.policy);
  }

  /** The API, an IVR node or the handset asks. */
  command(action: RecordingAction, by: PauseBy): Promise<RecordingOutcome> {
    return this.serial(() => this.run(action, by));
  }

  /**
   * A digit from one side of a connected call: `*#` on one of our phones (the agent's, an
   * extension's; not a carrier's caller or callee) starts or stops the recording where policy
   * allows on demand. Both keys from the same side, within 3 s; any other key of that side between
   * them breaks the sequence. Keys from outside (`fromPhone` false) do nothing.
   */
  digit(digit: string, connected: boolean, from: { readonly side: KeySide; readonly fromPhone: boolean }): void {
    if (!connected || !from.fromPhone) return;
    const now = this.call.now().getTime();
    if (digit === HANDSET_TOGGLE[0]) {
      this.lastStar = { side: from.side, at: now };
      return;
    }
    const star = this.lastStar;
    if (star && star.side !== from.side) return; // the other phone's key: this side's sequence goes on
    const sequence = digit === HANDSET_TOGGLE[1] && star !== null && now - star.at <= HANDSET_WITHIN_MS;
    this.lastStar = null; // any other key breaks the sequence
    if (!sequence) return;
    this.background('handset recording toggle failed', async () => {
      const active = this.machine.phase === 'recording' || this.machine.phase === 'paused';
      const outcome = await this.run(active ? 'stop' : 'start', 'dtmf');
      this.call.log.info({ action: active ? 'stop' : 'start', ok: outcome.ok, refusal: outcome.ok ? undefined : outcome.refusal }, 'recording toggled from the handset');
    });
  }

  /** The call is over: Asterisk has stopped recording with the channel; the finisher takes the files. */
  ended(endedAt: Date): void {
    this.background('recording not finished', async () => {
      const id = this.id;
      if (!id || this.machine.phase === 'stopped') return;
      const step = stepRecording(this.machine, { type: 'stop', at: endedAt });
      if (step.ok) this.machine = step.machine;
      await this.deps.finisher.finish(id, endedAt, this.machine.pauses);
    });
  }

  /**
   * The channel this recording runs on leaves the call (an attended transfer: the call hands its
   * party over, or the transferring phone was its caller): the recording stops here (it is
   * finished and stored) and says what was running, for the transfer's joined part to carry on
   * (carryOn). Null when nothing was recording.
   */
  leaving(): Promise<RecordingCarry | null> {
    return this.serial(async () => {
      const { phase, pauses } = this.machine;
      if (phase !== 'recording' && phase !== 'paused') return null;
      const open = pauses.find((p) => p.to === null);
      await this.run('stop', 'api');
      return { paused: phase === 'paused' ? (open?.by ?? 'api') : null };
    });
  }

  /**
   * The joined part of an attended transfer: where a recording ran on either call (`carry`: this
   * call's own, stopped because its channel left, or the handed-over call's), a new one records
   * this part on the caller's channel, linked to the call (its callId and linkedId), paused if
   * that one was (a card payment goes on). Nothing when one still runs here, or the policy says never.
   */
  carryOn(carry: RecordingCarry | null): Promise<void> {
    return this.settles('recording not carried on after the transfer', async () => {
      if (!carry || this.machine.phase === 'recording' || this.machine.phase === 'paused') return;
      this.current = 'transfer';
      const started = await this.run('start', 'policy');
      if (!started.ok) {
        this.call.log.info({ refusal: started.refusal }, 'recording not carried on after the transfer');
        return;
      }
      await this.notePart('talk');
      if (carry.paused) await this.run('pause', carry.paused);
      this.call.log.info({ recording: started.recordingId, paused: carry.paused !== null }, 'recording carried on after an attended transfer');
    });
  }

  /** A restarted daemon adopted the call: a recording Asterisk kept running is this call's again. */
  adopt(): void {
    this.background('running recording not adopted', async () => {
      const row = await this.deps.rows.runningOn(this.call.channelId);
      if (!row) return;
      this.id = row.id;
      this.parts = new Set(row.parts);
      const open = row.pauses.some((p) => p.to === null);
      this.machine = { phase: open ? 'paused' : 'recording', pauses: row.pauses };
      this.call.log.info({ recording: row.id, paused: open }, 'recording kept running while the daemon was away: adopted');
    });
  }

  // ---------------------------------------------------------------- internals

  private options(): { recordQueueWait: boolean; siteAnnouncement: RecordingAnnouncement | null } {
    return { recordQueueWait: this.deps.site.recordQueueWait, siteAnnouncement: this.deps.site.announcement };
  }

  private announcement: RecordingAnnouncement | null = null;

  private async apply(decision: RecordingDecision): Promise<void> {
    this.policy = decision.kind === 'record' ? 'always' : decision.kind === 'never' ? 'never' : 'on-demand';
    this.call.log.info({ decision: decision.kind, policyFrom: decision.level }, 'recording policy');
    if (decision.kind === 'never') {
      this.pending = null;
      if (this.machine.phase === 'recording' || this.machine.phase === 'paused') await this.run('stop', 'api');
      return;
    }
    if (decision.kind !== 'record' || this.id) return;
    this.announcement = decision.announcement;
    this.pending = decision.when;
    if ((decision.when === 'now' && this.answered) || (decision.when === 'answered' && this.personAnswered)) await this.begin();
  }

  /** Policy says start: the announcement first (the recording starts when it has played), else now. */
  private async begin(): Promise<void> {
    this.pending = null;
    const announcement = this.announcement;
    this.announcement = null;
    if (announcement) {
      try {
        const media = await this.deps.announcementMedia(announcement);
        this.notice = NOTICE_PLAYBACK(this.call.facts().callId);
        await this.call.control.play(this.call.channelId, media, this.notice);
        return; // playbackFinished() starts it
      } catch (err) {
        this.notice = null;
        this.call.log.warn({ err: (err as Error).message }, 'recording announcement not played; recording without it');
      }
    }
    await this.startNow('policy');
  }

  private async startNow(by: 'policy' | PauseBy): Promise<void> {
    const outcome = await this.run('start', by);
    if (!outcome.ok && outcome.refusal !== 'recording-already-active') this.call.log.warn({ refusal: outcome.refusal }, 'recording not started');
  }

  private async run(action: RecordingAction, by: PauseBy | 'policy'): Promise<RecordingOutcome> {
    const at = this.call.now();
    if (action === 'start' && !allowsOnDemand(this.policy)) return { ok: false, refusal: 'recording-not-allowed' };
    const step = stepRecording(this.machine, action === 'start' ? { type: 'start' } : action === 'stop' ? { type: 'stop', at } : action === 'pause' ? { type: 'pause', at, by: by === 'policy' ? 'api' : by } : { type: 'resume', at });
    if (!step.ok) return step;
    const { recorder, rows } = this.deps;
    const channelId = this.call.channelId;
    switch (step.effect) {
      case 'start': {
        if (!(await this.deps.hasRoom())) {
          this.call.log.warn('recording not started: the recordings disk is below its free-space threshold (PBX_RECORDINGS_MIN_FREE_MB); the call goes on');
          return { ok: false, refusal: 'recording-no-space' };
        }
        const id = randomUUID();
        const facts = this.call.facts();
        const parts: RecordingPart[] = this.current ? [this.current] : [];
        await rows.insert(id, {
          callId: facts.callId,
          linkedId: facts.linkedId ?? facts.callId,
          channelId,
          agent: this.agent ?? facts.party?.agent ?? null,
          queue: facts.queue ?? null,
          caller: facts.callerNumber,
          called: facts.dialedNumber,
          parts,
          startedAt: at,
          channels: this.deps.site.mono ? 1 : 2,
        });
        try {
          await recorder.start(channelId, id);
        } catch (err) {
          await rows.remove(id).catch(() => undefined);
          throw err;
        }
        this.id = id;
        this.parts = new Set(parts);
        this.machine = step.machine;
        this.call.log.info({ recording: id, by }, 'recording started');
        return { ok: true, recordingId: id, state: 'recording' };
      }
      case 'stop':
        await recorder.stop(channelId).catch((err: unknown) => {
          if (!(err instanceof AppError && err.code === 'call-not-found')) throw err;
        });
        this.machine = step.machine;
        this.call.log.info({ recording: this.id }, 'recording stopped');
        if (this.id) logRejection(this.deps.finisher.finish(this.id, at, this.machine.pauses), this.call.log, 'recording not finished');
        return { ok: true, recordingId: this.id ?? '', state: 'stopped' };
      case 'mute':
      case 'unmute':
        await recorder.mute(channelId, step.effect === 'mute');
        this.machine = step.machine;
        if (this.id) await rows.update(this.id, { pauses: this.machine.pauses });
        // The time only: never the digits (docs/recording.md#pci-pause).
        this.call.log.info({ recording: this.id, by }, step.effect === 'mute' ? 'recording paused' : 'recording resumed');
        return { ok: true, recordingId: this.id ?? '', state: step.effect === 'mute' ? 'paused' : 'recording' };
    }
  }

  private async notePart(part: RecordingPart, extra: { agent?: string; queue?: string } = {}): Promise<void> {
    if (!this.id) return;
    const had = this.parts.has(part);
    this.parts.add(part);
    if (had && !extra.agent && !extra.queue) return;
    await this.deps.rows.update(this.id, { parts: [...this.parts], ...extra });
  }
}
