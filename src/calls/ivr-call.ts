/**
 * The IVR runner of a call session: it runs one published flow version for the caller with the pure
 * interpreter (ivr/interpreter.ts) and carries out its actions over ARI for the session (the host):
 * prompts (sounds in the flow's language, uploaded prompts, text spoken by espeak-ng, digits),
 * barge-in, the one timer, HTTP lookups, and at the end a target the session dials (extension,
 * voicemail, outside number) or another flow, which this runner starts on the caller's same path.
 *
 * The version is loaded once when the flow starts: publishing a new one does not touch calls in
 * progress. The caller's path (nodes, digits, lookups) goes into the call's CDR.
 */
import type { TransferTarget } from '../ivr/model.js';
import { startFlow, stepFlow, type FlowAction, type FlowEvent, type FlowRunState, type Media, type PathEntry } from '../ivr/interpreter.js';
import type { IvrPort, IvrRecord, LookupResult } from '../ivr/port.js';
import { AppError } from '../errors.js';
import { logRejection } from '../shared/log-rejection.js';
import type { CallHost } from './host.js';
import type { IvrEvent, SessionEvent } from './events.js';
import type { CallRunner } from './runner.js';

/**
 * The caller's time in flows so far, handed from one IVR runner to the next (a queue's overflow
 * sends the caller back into a flow): the record for the CDR, and the variables the flows set.
 */
export interface IvrTrail extends IvrRecord {
  readonly vars: Readonly<Record<string, string>>;
}

export interface IvrHost extends CallHost {
  readonly ivr: IvrPort;
  /** The flow ended on a target: the session dials it (or plays the caller into voicemail, or queues them). */
  transfer(target: Exclude<TransferTarget, { kind: 'flow' }>): Promise<void>;
  /** The caller's IVR trail so far (its record is kept in the call's facts for its CDR). */
  keepTrail(trail: IvrTrail): void;
  /** A recording node: pause or resume the call's recording (PCI). */
  recordingNode(action: 'pause' | 'resume'): Promise<void>;
  /** The call's recording is paused: digits typed now are kept nowhere (docs/recording.md#pci-pause). */
  readonly recordingPaused: boolean;
  /** A survey node's answer (score, or null: no response): stored with the call, its queue and agent. */
  surveyAnswer(answer: SurveyAnswer): Promise<void>;
}

export type SurveyAnswer = Omit<Extract<FlowAction, { kind: 'survey-answer' }>, 'kind'>;

/** A flow may hand the caller to another flow; a chain longer than this ends the call. */
const MAX_FLOW_HOPS = 10;
/** Playback ids are per flow run (pb-1...): prefixed with the run so a second flow's never collide. */
const runPrefix = (callId: string, run: number) => `${callId}-ivr${run}-`;

export class IvrRunner implements CallRunner {
  readonly mode = 'ivr';
  private state: FlowRunState | null = null;
  private flows: { name: string; version: number }[];
  private earlier: PathEntry[];
  /** The variables of the flows before this runner's first (see IvrTrail). */
  private readonly carried: Readonly<Record<string, string>>;
  private run: number;

  /** `trail`: the caller's time in flows before (this call went from a flow to a queue and back). */
  constructor(
    private readonly host: IvrHost,
    private readonly flowName: string,
    trail: IvrTrail | null = null,
  ) {
    this.flows = [...(trail?.flows ?? [])];
    this.earlier = [...(trail?.path ?? [])];
    this.carried = trail?.vars ?? {};
    this.run = this.flows.length;
  }

  /** Start the published version of the flow for the caller (answering the call first). */
  start(): Promise<void> {
    return this.startFlow(this.flowName);
  }

  async onEvent(event: SessionEvent): Promise<void> {
    switch (event.type) {
      case 'ivr-timeout':
      case 'ivr-lookup':
      case 'dtmf':
      case 'playback-finished':
        return this.step(event);
    }
  }

  /** Nothing to let go of: the flow handed the caller on itself (its trail is with the session). */
  stop(): void {}

  private now(): Date {
    return this.host.now();
  }

  private async startFlow(flowName: string): Promise<void> {
    const { log } = this.host;
    if (this.flows.length >= MAX_FLOW_HOPS) {
      log.warn({ flow: flowName, hops: this.flows.length }, 'too many flows in a row; hanging up');
      return this.host.hangupCaller('normal');
    }
    const flow = await this.host.ivr.loadFlow(flowName);
    if (!flow) {
      log.warn({ flow: flowName }, 'flow has no published version; the caller is refused');
      return this.host.hangupCaller(this.flows.length === 0 ? 'unallocated' : 'normal');
    }
    if (!this.host.facts().answeredAt) await this.host.answerCaller();
    if (this.state) this.earlier = [...this.earlier, ...this.state.path];
    this.flows = [...this.flows, { name: flow.name, version: flow.version }];
    this.run += 1;
    const facts = this.host.facts();
    log.info({ flow: flow.name, version: flow.version }, 'flow started');
    const { state, actions } = startFlow(flow.definition, {
      callerNumber: facts.callerNumber ?? '',
      dialedNumber: facts.dialedNumber ?? '',
      siteTimezone: this.host.ivr.siteTimezone,
      now: this.now(),
      vars: { ...(this.state?.vars ?? this.carried) },
    });
    this.state = state;
    await this.carryOut(actions);
  }

  private async step(event: IvrEvent): Promise<void> {
    if (!this.state) return;
    const now = this.now();
    const prefix = runPrefix(this.host.facts().linkedId ?? this.host.facts().callId, this.run);
    let flowEvent: FlowEvent | null;
    switch (event.type) {
      case 'ivr-timeout':
        flowEvent = { type: 'timeout', gen: event.gen, now };
        break;
      case 'ivr-lookup':
        flowEvent = event.result.ok
          ? { type: 'lookup-result', requestId: event.requestId, ok: true, body: event.result.body, now }
          : { type: 'lookup-result', requestId: event.requestId, ok: false, error: event.result.error, ...(event.result.status ? { status: event.result.status } : {}), now };
        break;
      case 'dtmf':
        flowEvent = { type: 'dtmf', digit: event.digit, now, ...(this.host.recordingPaused ? { secret: true } : {}) };
        break;
      case 'playback-finished':
        // Only this run's playbacks: strip our prefix, anything else is not ours.
        flowEvent = event.playbackId.startsWith(prefix) ? { type: 'playback-finished', playbackId: event.playbackId.slice(prefix.length), now } : null;
        break;
    }
    if (!flowEvent) return;
    const { state, actions } = stepFlow(this.state, flowEvent);
    this.state = state;
    await this.carryOut(actions);
  }

  /** The caller hung up: close the path (for the CDR); a survey question asked now is answered null. */
  channelGone(): void {
    if (!this.state) return;
    const { state, actions } = stepFlow(this.state, { type: 'hangup', now: this.now() });
    this.state = state;
    for (const a of actions) if (a.kind === 'survey-answer') logRejection(this.host.surveyAnswer(a), this.host.log, 'survey answer not stored', { question: a.question });
    this.keepRecord();
  }

  private keepRecord(): void {
    if (!this.state) return;
    this.host.keepTrail({ flows: this.flows, path: [...this.earlier, ...this.state.path], vars: this.state.vars });
  }

  private async carryOut(actions: readonly FlowAction[]): Promise<void> {
    for (const action of actions) {
      try {
        await this.carry(action);
      } catch (err) {
        if (err instanceof AppError && err.code === 'call-not-found') return; // the caller is gone
        this.host.log.error({ action: action.kind, err: (err as Error).message }, 'IVR action failed');
        if (action.kind === 'play') {
          // A prompt that cannot play must not stall the caller: go on as if it had finished.
          this.host.deliver({ type: 'playback-finished', playbackId: this.playbackId(action.playbackId) });
        }
      }
    }
  }

  private playbackId(id: string): string {
    return runPrefix(this.host.facts().linkedId ?? this.host.facts().callId, this.run) + id;
  }

  private async carry(action: FlowAction): Promise<void> {
    const { control, channelId, log } = this.host;
    switch (action.kind) {
      case 'play': {
        const { media, lang } = await this.mediaUris(action.media);
        return control.play(channelId, media, this.playbackId(action.playbackId), lang);
      }
      case 'stop-playback':
        return control.stopPlayback(this.playbackId(action.playbackId)).catch(() => undefined);
      case 'start-timer':
        return this.host.setTimer(action.ms, { type: 'ivr-timeout', gen: action.gen });
      case 'cancel-timer':
        return this.host.clearTimer();
      case 'lookup': {
        const { requestId, url, params, timeoutMs } = action;
        // In the background: the caller's events keep flowing while the lookup runs.
        const deliver = (result: LookupResult): void => this.host.deliver({ type: 'ivr-lookup', requestId, result });
        this.host.ivr.lookup(url, params, timeoutMs, this.host.facts()).then(deliver, (err: Error) => {
          log.warn({ err: err.message }, 'IVR lookup failed');
          deliver({ ok: false, error: 'network' });
        });
        return;
      }
      case 'transfer': {
        this.keepRecord();
        const target = action.target;
        log.info({ target }, 'flow done: to its target');
        if (target.kind === 'flow') return this.startFlow(target.flow);
        return this.host.transfer(target);
      }
      case 'recording':
        return this.host.recordingNode(action.action);
      case 'survey-answer':
        return this.host.surveyAnswer(action);
      case 'hangup':
        this.keepRecord();
        return this.host.hangupCaller('normal');
      case 'finished':
        this.keepRecord();
        if (action.reason === 'error') {
          log.error({ node: this.state?.node }, 'flow stopped (it kept going without the caller); hanging up');
          return this.host.hangupCaller('normal');
        }
        return;
    }
  }

  /** Media URIs for one play; sounds are played in the flow's language (ARI's lang). */
  private async mediaUris(media: readonly Media[]): Promise<{ media: string[]; lang: string | undefined }> {
    const uris: string[] = [];
    let lang: string | undefined;
    for (const m of media) {
      if ('sound' in m) {
        uris.push(`sound:${m.sound}`);
        lang ??= m.language;
      } else if ('prompt' in m) {
        const uri = await this.host.ivr.promptMedia(m.prompt);
        if (uri) uris.push(uri);
        else this.host.log.warn({ prompt: m.prompt }, 'prompt is gone; skipped');
      } else if ('say' in m) {
        uris.push(await this.host.ivr.speak(m.say, m.language, m.voice));
      } else if (m.digits !== '') {
        uris.push(`digits:${m.digits}`);
      }
    }
    if (uris.length === 0) uris.push('sound:silence/1');
    return { media: uris, lang };
  }
}
