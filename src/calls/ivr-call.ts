/**
 * The IVR side of a call session: it runs one published flow version for the caller with the pure
 * interpreter (ivr/interpreter.ts) and carries out its actions over ARI for the session (the host):
 * prompts (sounds in the flow's language, uploaded prompts, text spoken by espeak-ng, digits),
 * barge-in, the one timer, HTTP lookups, and at the end a target the session dials (extension,
 * voicemail, outside number) or another flow, which this runner starts on the caller's same path.
 *
 * The version is loaded once when the flow starts: publishing a new one does not touch calls in
 * progress. The caller's path (nodes, digits, lookups) goes into the call's CDR.
 */
import type { FlowDefinition, TransferTarget } from '../ivr/model.js';
import { startFlow, stepFlow, type FlowAction, type FlowEvent, type FlowRunState, type LookupError, type Media, type PathEntry } from '../ivr/interpreter.js';
import { AppError } from '../errors.js';
import type { CallHost } from './voicemail-call.js';

export interface PublishedFlow {
  readonly name: string;
  readonly version: number;
  readonly definition: FlowDefinition;
}

export type LookupResult = { readonly ok: true; readonly body: unknown } | { readonly ok: false; readonly error: LookupError; readonly status?: number };

/** What the IVR needs from the rest of the daemon. */
export interface IvrPort {
  readonly siteTimezone: string;
  loadFlow(name: string): Promise<PublishedFlow | null>;
  /** Media URI of an uploaded prompt, or null when it is gone. */
  promptMedia(id: string): Promise<string | null>;
  /** Media URI of `text` spoken by espeak-ng (rendered once, then cached). */
  speak(text: string, language: string, voice: string | undefined): Promise<string>;
  /** GET `url` with the caller's and dialed number and `params` as query parameters; never throws. */
  lookup(
    url: string,
    params: Readonly<Record<string, string>>,
    timeoutMs: number,
    call: { readonly callerNumber: string | null; readonly dialedNumber: string | null },
  ): Promise<LookupResult>;
}

/** What the CDR keeps of the caller's time in IVR flows. */
export interface IvrRecord {
  readonly flows: readonly { readonly name: string; readonly version: number }[];
  readonly path: readonly PathEntry[];
}

export interface IvrHost extends CallHost {
  readonly ivr: IvrPort;
  /** The flow ended on a target: the session dials it (or plays the caller into voicemail). */
  transfer(target: Exclude<TransferTarget, { kind: 'flow' }>): Promise<void>;
  /** The caller's IVR record so far (kept in the call's facts for its CDR). */
  record(record: IvrRecord): void;
  setIvrTimer(ms: number, gen: number): void;
  /** Queue an event to the session (a lookup's answer arrives later). */
  deliver(event: IvrEvent): void;
}

export type IvrEvent =
  | { readonly type: 'ivr-timeout'; readonly gen: number }
  | { readonly type: 'ivr-lookup'; readonly requestId: string; readonly result: LookupResult }
  | { readonly type: 'dtmf'; readonly digit: string }
  | { readonly type: 'playback-finished'; readonly playbackId: string };

/** A flow may hand the caller to another flow; a chain longer than this ends the call. */
const MAX_FLOW_HOPS = 10;
/** Playback ids are per flow run (pb-1...): prefixed with the run so a second flow's never collide. */
const runPrefix = (callId: string, run: number) => `${callId}-ivr${run}-`;

export class IvrRunner {
  private state: FlowRunState | null = null;
  private flows: { name: string; version: number }[] = [];
  private earlier: PathEntry[] = [];
  private run = 0;
  private now: () => Date = () => new Date();

  constructor(private readonly host: IvrHost) {}

  /** The flow's variables so far (a queue target reads queue_priority and queue_skills). */
  get vars(): Readonly<Record<string, string>> {
    return this.state?.vars ?? {};
  }

  get active(): boolean {
    return this.state !== null && this.state.phase !== 'ended';
  }

  /** Start the published version of `flowName` for the caller (answering the call first). */
  async start(flowName: string, now: () => Date, vars: Readonly<Record<string, string>> = {}): Promise<void> {
    this.now = now;
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
      now: now(),
      vars: { ...(this.state?.vars ?? {}), ...vars },
    });
    this.state = state;
    await this.carryOut(actions);
  }

  async step(event: IvrEvent): Promise<void> {
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
        flowEvent = { type: 'dtmf', digit: event.digit, now };
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

  /** The caller hung up: close the path (for the CDR). */
  channelGone(): void {
    if (!this.state) return;
    this.state = stepFlow(this.state, { type: 'hangup', now: this.now() }).state;
    this.keepRecord();
  }

  private keepRecord(): void {
    if (!this.state) return;
    this.host.record({ flows: this.flows, path: [...this.earlier, ...this.state.path] });
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
        return this.host.setIvrTimer(action.ms, action.gen);
      case 'cancel-timer':
        return this.host.clearTimer();
      case 'lookup': {
        const { requestId, url, params, timeoutMs } = action;
        // In the background: the caller's events keep flowing while the lookup runs.
        void this.host.ivr
          .lookup(url, params, timeoutMs, this.host.facts())
          .catch((): LookupResult => ({ ok: false, error: 'network' }))
          .then((result) => this.host.deliver({ type: 'ivr-lookup', requestId, result }));
        return;
      }
      case 'transfer': {
        this.keepRecord();
        const target = action.target;
        log.info({ target }, 'flow done: to its target');
        if (target.kind === 'flow') return this.start(target.flow, this.now);
        return this.host.transfer(target);
      }
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
