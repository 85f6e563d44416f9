/**
 * Routes ARI events to call sessions and keeps the daemon's view of live calls true across
 * reconnects and restarts. A call is its caller's channel (leg A); channels we dial for it
 * (legs B) are mapped to the same session. After every (re)connect, reconcile():
 *   - a live_calls row whose channel is still in our Stasis app  -> the call is adopted again;
 *   - a live_calls row whose channel is gone                      -> its CDR is closed (reconciled);
 *   - a session in memory whose channel vanished (Asterisk restart) -> closed the same way;
 *   - a channel in our app that nobody knows (and is no call's leg) -> routed as a new call.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { AriChannel, AriEvent, CallControl } from '../telephony/ari-types.js';
import type { Db } from '../db/database.js';
import type { EventPublisher } from '../events/bus.js';
import { agentOffered, publishingLiveStore } from './call-events.js';
import type { LiveCallRow } from './tables.js';
import { buildCdr, CAUSE, cleanCallerText, type CallFacts } from './cdr.js';
import type { CdrWriter } from './cdr-writer.js';
import { CallSession, type LiveCallStore, type SessionDeps } from './session.js';
import type { FlowSettings } from './flow.js';
import { isBusyCause } from './dial-flow.js';
import { callbackFacts, type CallbackRing } from './dial-call.js';
import { heartbeatLiveCalls, insertLiveCall, listLiveCalls, updateLiveCall } from './repository.js';
import { VOICEMAIL_RECORDING, type VoicemailService } from '../voicemail/service.js';
import { planAttendedTransfer } from './transfer.js';
import { MESSAGE_RECORDING } from './voicemail-call.js';
import type { IvrPort } from '../ivr/port.js';
import type { SurveyPort } from '../surveys/port.js';
import type { AcdEngine } from '../acd/engine.js';
import type { SessionEvent } from './events.js';
import { logRejection, logRejectionUnlessGone } from '../shared/log-rejection.js';
import { SUPERVISION_BRIDGE_PREFIX, SUPERVISION_REQUEST_PREFIX, type SupervisionPort } from '../supervision/port.js';
import { endpointOfChannel, isPhoneChannel } from './router.js';
import type { RecordingDeps, RecordingAction, RecordingOutcome } from './call-recording.js';
import type { RecordingFinisher } from './recording-finisher.js';
import { runningRecordings } from './recording-repository.js';
import { AppError } from '../errors.js';
import type { CampaignCallPort } from './campaign-call.js';
import { CAMPAIGN_TAG, parseCampaignArgs } from './campaign-originate.js';
import { offerHeaders } from '../acd/screen-pop.js';
import { queueCallEndedUnseen } from '../acd/ended-unseen.js';
import type { OverloadSignals, RefusalReason } from './overload.js';
import { exemptFromOverload } from './emergency-exempt.js';

/** The StasisStart tag of an agent's phone rung for a preview offer, and that call's channel id. */
const PREVIEW_TAG = 'preview';
const previewLegId = (attemptId: string): string => `${attemptId}-preview`;

export interface DispatcherDeps {
  readonly db: Db;
  readonly control: CallControl;
  readonly cdrWriter: CdrWriter;
  readonly settings: FlowSettings;
  readonly log: Logger;
  readonly route: SessionDeps['route'];
  readonly lookupTarget: SessionDeps['lookupTarget'];
  readonly now?: () => Date;
  /** The event stream (src/events): call.started / call.answered after the live row's writes, agent.offered. */
  readonly events?: EventPublisher;
  /** Voicemail (recordings, mailbox menu, MWI). */
  readonly voicemail: VoicemailService;
  /** IVR flows (published versions, prompts, lookups). */
  readonly ivr: IvrPort;
  /** The ACD: queues, agents, feature codes. */
  readonly acd: AcdEngine;
  /** Live supervision (src/supervision). */
  readonly supervision: SupervisionPort;
  /** Call recording (call-recording.ts) and the finisher of recordings whose calls ended; absent: never recorded. */
  readonly recording?: RecordingDeps & { readonly finisher: RecordingFinisher };
  /** Post-call surveys (a queue's survey flow, the answers); absent: an agent hanging up ends the call. */
  readonly surveys?: SurveyPort;
  /** Outbound campaigns' answered contacts (campaign-call.ts); absent: a contact's channel is hung up. */
  readonly campaign?: CampaignCallPort;
  /** Overload control (admission.ts): a new caller may be refused (503); absent: every call is taken. */
  readonly admission?: { admit(signals: OverloadSignals): RefusalReason | null };
  /** The emergency numbers, kept in memory (emergency-numbers.ts): a phone dialing one is never refused for overload. */
  readonly emergencyNumbers?: () => ReadonlySet<string>;
}


const HEARTBEAT_MS = 15_000;
const REFUSAL_TEXT = {
  'recording-already-active': 'the call is being recorded already',
  'recording-not-active': 'the call is not being recorded',
  'recording-already-paused': 'the recording is paused already',
  'recording-not-paused': 'the recording is not paused',
  'recording-not-allowed': "the call's recording policy is never",
  'recording-no-space': 'the recordings disk is below its free-space threshold',
} as const;
/** After its phone is told an attended transfer succeeded, its line that REFERed is hung up unless it left. */
const TRANSFERER_GRACE_MS = 3_000;
const TRANSFER_STATES: ReadonlySet<string> = new Set(['channel_progress', 'channel_answered', 'channel_unavailable', 'channel_declined']);

export class StasisDispatcher {
  private readonly sessions = new Map<string, CallSession>();
  /** Dialed legs (B) -> the call they belong to. */
  private readonly legs = new Map<string, CallSession>();
  /** Agents' phones rung for a callback, until they answer. */
  private readonly callbackLegs = new Map<string, CallbackRing>();
  private readonly store: LiveCallStore;
  private readonly now: () => Date;
  private readonly voicemail: VoicemailService;
  private reconciling: Promise<void> | null = null;
  /** New callers' sessions still handling their stasis-start (routed, first runner starting). */
  private settingUp = 0;
  private heartbeat: NodeJS.Timeout | null = null;
  /** What Asterisk held at the last reconciliation (channels, bridges, channels in our app). */
  view: { channels: number; bridges: number; inApp: number; at: Date } | null = null;

  constructor(private readonly deps: DispatcherDeps) {
    this.now = deps.now ?? (() => new Date());
    const { db } = deps;
    this.voicemail = deps.voicemail;
    this.store = {
      insert: (f, channelId, state, mode) =>
        insertLiveCall(db, {
          call_id: f.callId,
          channel_id: channelId,
          direction: f.direction,
          caller_number: f.callerNumber,
          caller_name: f.callerName,
          dialed_number: f.dialedNumber,
          state,
          digits: f.digits,
          started_at: f.startedAt,
          answered_at: f.answeredAt,
          linked_id: f.linkedId ?? null,
          queue: f.queue ?? null,
          answered_by: f.party?.answeredBy ?? null,
          agent: f.party?.agent ?? f.agent ?? null,
          connected_at: f.party?.connectedAt ?? null,
          ...(mode ? { mode } : {}),
        }),
      update: (callId, patch) => updateLiveCall(db, callId, patch),
    };
    if (deps.events) this.store = publishingLiveStore(this.store, deps.events);
  }

  get liveCount(): number {
    return this.sessions.size;
  }

  /** Calls that arrived and are not yet set up (routed, their first runner started). */
  get inSetupCount(): number {
    return this.settingUp;
  }

  startHeartbeat(): void {
    this.heartbeat ??= setInterval(() => {
      heartbeatLiveCalls(this.deps.db, [...this.sessions.values()].map((s) => s.callId)).catch((err: Error) =>
        this.deps.log.warn({ err: err.message }, 'live call heartbeat failed'),
      );
    }, HEARTBEAT_MS);
  }

  /** Shutdown: calls in progress are left in Stasis for the next daemon to adopt. */
  stop(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    for (const session of this.sessions.values()) session.detach();
    this.sessions.clear();
    this.legs.clear();
  }

  /** Called for every ARI event, synchronously from the socket: only routing happens here. */
  onEvent(event: AriEvent): void {
    switch (event.type) {
      case 'StasisStart': {
        const [tag, owner] = event.args;
        if (tag === 'callback') {
          // The agent answered a callback: the call to the customer starts from the agent's channel.
          const pending = this.callbackLegs.get(event.channel.id);
          this.callbackLegs.delete(event.channel.id);
          if (!pending) {
            logRejectionUnlessGone(this.deps.control.hangup(event.channel.id), this.deps.log, 'stray callback leg not hung up', { leg: event.channel.id });
            return;
          }
          const facts = callbackFacts(event.channel.id, pending);
          this.post(this.open(event.channel.id, event.channel.name, facts), { type: 'callback-start', callbackId: pending.callbackId, agentId: pending.agent.id, customer: pending.customer });
          return;
        }
        if (tag === 'supervise') {
          // The supervisor's phone, rung for an API request, answered: the session joins the call.
          const facts: CallFacts = { ...factsFromChannel(event.channel, new Date(event.timestamp || Date.now())), direction: 'internal', callerNumber: null, callerName: null, dialedNumber: endpointOfChannel(event.channel.name) };
          this.post(this.open(event.channel.id, event.channel.name, facts), { type: 'supervise-start', supervisionId: owner ?? '' });
          return;
        }
        if (tag === PREVIEW_TAG) {
          // The agent's phone, rung for a preview offer, answered (preview-call.ts).
          const facts: CallFacts = { ...factsFromChannel(event.channel, new Date(event.timestamp || Date.now())), direction: 'internal', callerNumber: null, callerName: 'Preview', dialedNumber: endpointOfChannel(event.channel.name) };
          this.post(this.open(event.channel.id, event.channel.name, facts), { type: 'preview-start', attemptId: owner ?? '' });
          return;
        }
        if (tag === CAMPAIGN_TAG) return this.campaignStart(event.channel, event.args.slice(1), new Date(event.timestamp || Date.now()));
        if (tag === 'leg') {
          const session = this.legs.get(event.channel.id);
          if (session) this.post(session, { type: 'b-answered', legId: event.channel.id });
          else {
            // A leg whose call is gone (e.g. answered just after the caller hung up).
            this.deps.log.info({ leg: event.channel.id, owner }, 'orphan leg answered; hanging it up');
            logRejectionUnlessGone(this.deps.control.hangup(event.channel.id), this.deps.log, 'orphan leg not hung up', { leg: event.channel.id });
          }
          return;
        }
        if (this.sessions.has(event.channel.id)) return;
        const facts = factsFromChannel(event.channel, new Date(event.timestamp || Date.now()));
        const exempt = this.deps.emergencyNumbers !== undefined && exemptFromOverload(event.channel.name, event.channel.dialplan?.exten, this.deps.emergencyNumbers());
        const refused = exempt ? null : this.deps.admission?.admit({ calls: this.sessions.size, callsInSetup: this.settingUp });
        if (refused) return this.refuse(event.channel, facts);
        this.settingUp++;
        // Settles once the call is set up, or its setup failed (enqueue logs that and never rejects).
        const setUp = (): void => {
          this.settingUp--;
        };
        this.open(event.channel.id, event.channel.name, facts).enqueue({ type: 'stasis-start' }).then(setUp, setUp);
        return;
      }
      case 'PlaybackStarted':
      case 'ChannelStateChange':
      case 'RecordingStarted':
        return;
      case 'RecordingFinished':
      case 'RecordingFailed': {
        const { name, target_uri: target } = event.recording;
        if (VOICEMAIL_RECORDING.test(name)) this.voicemail.recordingEnded(name);
        if (event.type === 'RecordingFailed') this.deps.log.warn({ recording: name, cause: event.recording.cause }, 'recording failed');
        const channelId = target.startsWith('channel:') ? target.slice(8) : null;
        if (channelId) this.post(this.sessions.get(channelId), { type: 'recording-ended', name, ok: event.type === 'RecordingFinished' });
        return;
      }
      case 'PlaybackFinished': {
        const channelId = event.playback.target_uri.startsWith('channel:') ? event.playback.target_uri.slice(8) : null;
        if (channelId) this.post(this.sessions.get(channelId), { type: 'playback-finished', playbackId: event.playback.id });
        return;
      }
      case 'ChannelDtmfReceived': {
        const caller = this.sessions.get(event.channel.id);
        // The other side of a connected call (agent, callee): only the handset's recording key uses it.
        const fromPhone = isPhoneChannel(event.channel.name);
        if (caller) this.post(caller, { type: 'dtmf', digit: event.digit, fromPhone });
        else this.post(this.legs.get(event.channel.id), { type: 'dtmf', digit: event.digit, fromLeg: true, fromPhone });
        return;
      }
      case 'ChannelHold':
      case 'ChannelUnhold': {
        const session = this.sessions.get(event.channel.id) ?? this.legs.get(event.channel.id);
        this.post(session, { type: 'hold', channelId: event.channel.id, on: event.type === 'ChannelHold' });
        return;
      }
      case 'ChannelTransfer': {
        // A phone sent REFER (its channel has PJSIP_TRANSFER_HANDLING()=ari-only): the call it is on does it.
        const source = event.referred_by.source_channel.id;
        const wanted = event.refer_to.requested_destination;
        // Asterisk echoes every transfer_progress we send as a ChannelTransfer with that state.
        if (event.state && TRANSFER_STATES.has(event.state)) return;
        const session = this.legs.get(source) ?? this.sessions.get(source);
        this.deps.log.info(
          {
            channel: source,
            destination: wanted.destination,
            replaces: wanted.protocol_id,
            replacedChannel: event.refer_to.destination_channel?.id,
            replacedPeer: event.refer_to.connected_channel?.id,
            state: event.state,
          },
          'transfer requested',
        );
        if (wanted.protocol_id) {
          logRejection(this.attendedTransfer(source, event.refer_to.destination_channel?.id ?? null), this.deps.log, 'attended transfer failed', { channel: source });
        } else if (session) {
          this.post(session, { type: 'transfer', channelId: source, destination: wanted.destination ?? null, replaces: null });
        } else {
          logRejectionUnlessGone(this.deps.control.transferProgress(source, 'channel_declined'), this.deps.log, 'transfer refusal not delivered', { channel: source });
        }
        return;
      }
      case 'ChannelHangupRequest':
        this.post(this.sessions.get(event.channel.id), { type: 'hangup-request', cause: event.cause ?? null });
        return;
      case 'StasisEnd':
        this.post(this.sessions.get(event.channel.id), { type: 'stasis-end' });
        return;
      case 'ChannelDestroyed': {
        // A supervision session snooping on this channel ends (src/supervision).
        this.deps.supervision.channelGone(event.channel.id);
        const callback = this.callbackLegs.get(event.channel.id);
        if (callback) {
          // The agent's phone did not answer the callback: a missed offer; the callback keeps its place.
          this.callbackLegs.delete(event.channel.id);
          logRejection(
            this.deps.acd.offerFailed(callback.callbackId, callback.agent.id, isBusyCause(event.cause) ? 'busy' : 'no-answer'),
            this.deps.log,
            'missed callback offer not passed to the ACD',
            { callback: callback.callbackId },
          );
          return;
        }
        const leg = this.legs.get(event.channel.id);
        if (leg) {
          this.legs.delete(event.channel.id);
          this.post(leg, { type: 'b-ended', legId: event.channel.id, cause: event.cause ?? null, causeText: event.cause_txt ?? null });
          return;
        }
        this.post(this.sessions.get(event.channel.id), { type: 'destroyed', cause: event.cause ?? null, causeText: event.cause_txt ?? null });
        return;
      }
    }
  }

  /**
   * Overload (admission.ts said no): the new caller is hung up at once with cause 34, which
   * Asterisk answers the caller's INVITE with as 503 Service Unavailable, and gets its CDR
   * (FAILED, endedBy system). No session, no live row: the channel's later events find nothing.
   */
  private refuse(channel: AriChannel, facts: CallFacts): void {
    logRejectionUnlessGone(this.deps.control.hangup(channel.id, 'congestion'), this.deps.log, 'refused call not hung up', { channel: channel.id });
    const direction = isPhoneChannel(channel.name) ? 'internal' : 'inbound';
    this.deps.cdrWriter.write(buildCdr({ ...facts, direction }, { endedAt: this.now(), ...CAUSE.congestion, endedBy: 'system', reconciled: false }));
  }

  /** Hand `event` to a call's session, if there is one, and go on: nothing here waits for a call. */
  private post(session: CallSession | undefined, event: SessionEvent): void {
    logRejection(session?.enqueue(event), this.deps.log, 'call event not handled', { event: event.type });
  }

  /**
   * Attended transfer: the phone on `source` asks to join the party of its call with the party of
   * its other call (`replaced`, which Asterisk found from the REFER's Replaces). One call hands its
   * remaining party over and ends, the other takes it in (transfer.ts decides which); the phone is
   * told "200 OK" and both of its lines are hung up.
   */
  private async attendedTransfer(source: string, replaced: string | null): Promise<void> {
    const { control, log } = this.deps;
    const decline = async (why: string): Promise<void> => {
      log.info({ channel: source, replaced, why }, 'attended transfer refused');
      await control.transferProgress(source, 'channel_declined').catch(() => undefined);
    };
    const referrer = this.legs.get(source) ?? this.sessions.get(source);
    const other = replaced ? (this.legs.get(replaced) ?? this.sessions.get(replaced)) : undefined;
    if (!referrer || !other || !replaced) return decline('unknown-call');
    if (referrer === other) return decline('same-call');
    const sides = await Promise.all([referrer.transferSide(source), other.transferSide(replaced)]);
    const plan = planAttendedTransfer(...sides);
    if (plan.kind === 'decline') return decline(plan.why);
    const [survivor, ending] = plan.survivor === 'referrer' ? [referrer, other] : [other, referrer];
    const [keptSide, endingSide] = plan.survivor === 'referrer' ? [sides[0]!, sides[1]!] : [sides[1]!, sides[0]!];
    const joined = await ending.handOver(endingSide.leaving, keptSide.linkedId);
    if (!joined) return decline('call-changed');
    if (!(await survivor.takeOver(keptSide.leaving, joined))) {
      // The surviving call ended meanwhile: nobody is left for the handed-over party.
      logRejectionUnlessGone(control.hangup(joined.remaining), log, 'handed-over party not hung up', { channel: joined.remaining });
      return decline('call-changed');
    }
    await control.transferProgress(source, 'channel_answered').catch((err: Error) => log.debug({ err: err.message }, 'transfer progress not delivered'));
    // The phone hangs up its lines itself once told; we make sure, giving the NOTIFY time to arrive.
    const lines = [keptSide.leaving, endingSide.leaving];
    const otherLine = lines.find((c) => c !== source)!;
    logRejectionUnlessGone(control.hangup(otherLine), log, 'transferring line not hung up', { channel: otherLine });
    setTimeout(() => logRejectionUnlessGone(control.hangup(source), log, 'transferring line not hung up', { channel: source }), TRANSFERER_GRACE_MS).unref();
  }

  /** The ACD's callback dialer: ring the agent's phone first; its answer starts the call to the customer. */
  ringCallback(callbackId: string, agent: { id: string; number: string; extension: string }, customer: string, ringTimeoutSeconds: number, queue: string | null = null): void {
    const legId = `${callbackId}-${randomUUID().slice(0, 8)}`;
    this.callbackLegs.set(legId, { callbackId, agent, customer, queue, rungAt: this.now() });
    this.deps.log.info({ callback: callbackId, agent: agent.number, customer }, 'callback: ringing the agent first');
    this.deps.control
      .originate({ channelId: legId, endpoint: `PJSIP/${agent.extension}`, callerId: `"Callback" <${customer}>`, timeoutSeconds: ringTimeoutSeconds, appArgs: `callback,${callbackId}` })
      .catch((err: Error) => {
        this.deps.log.warn({ callback: callbackId, err: err.message }, 'callback: could not ring the agent');
        this.callbackLegs.delete(legId);
        logRejection(this.deps.acd.offerFailed(callbackId, agent.id, 'no-answer'), this.deps.log, 'missed callback offer not passed to the ACD', { callback: callbackId });
      });
  }

  /**
   * A campaign's contact answered and reached the app from [pbx-campaign] (asterisk/extensions.conf):
   * an outbound call whose id is the attempt's (the channel id), from the campaign's caller ID to
   * the contact's number. Its end is reported to the dialer, whatever became of the call.
   */
  private campaignStart(channel: AriChannel, args: readonly string[], at: Date): void {
    const start = parseCampaignArgs(args);
    const port = this.deps.campaign;
    const reports = port?.reports() ?? null;
    if (!start || !port || !reports || start.attemptId !== channel.id) {
      this.deps.log.warn({ channel: channel.id, args, wired: Boolean(reports) }, 'campaign contact for no known attempt; hanging up');
      logRejectionUnlessGone(this.deps.control.hangup(channel.id), this.deps.log, 'campaign contact not hung up', { channel: channel.id });
      return;
    }
    const created = new Date(channel.creationtime);
    const facts: CallFacts = {
      ...factsFromChannel(channel, created),
      direction: 'outbound',
      dialedNumber: start.number,
      answeredAt: start.answeredAtMs !== null ? new Date(start.answeredAtMs) : at,
    };
    const ended = (): void => logRejection(reports.ended(start.attemptId, this.now()), this.deps.log, 'campaign call end not reported', { attempt: start.attemptId });
    this.post(this.open(channel.id, channel.name, facts, ended), { type: 'campaign-start', start, at: this.now() });
  }

  /** Preview mode (src/campaigns/preview.ts PreviewHandset): ring the agent's phone for an offer; its answer starts preview-call.ts. */
  ringPreview(offer: { readonly attemptId: string; readonly extension: string | null; readonly autoAnswer: boolean; readonly name: string | null; readonly number: string }, ringSeconds: number): Promise<void> {
    if (!offer.extension) return Promise.resolve();
    const name = cleanCallerText(offer.name ?? 'Preview')?.slice(0, 40) ?? 'Preview';
    return this.deps.control.originate({ channelId: previewLegId(offer.attemptId), endpoint: `PJSIP/${offer.extension}`, callerId: `"${name}" <${offer.number}>`, timeoutSeconds: ringSeconds, appArgs: `${PREVIEW_TAG},${offer.attemptId}`, variables: offerHeaders({ alertInfo: null, autoAnswer: offer.autoAnswer }) });
  }

  /** The offer is over: its call to the agent's phone (ringing or answered), if any, is hung up. */
  async hangupPreview(attemptId: string): Promise<void> {
    await this.deps.control.hangup(previewLegId(attemptId)).catch(() => undefined);
  }

  /** A supervisor joined call `callId`: its CDR will say it was monitored. */
  noteMonitored(callId: string): void {
    for (const session of this.sessions.values()) if (session.callId === callId) session.noteMonitored();
  }

  /** Live supervision by API: ring the supervisor's phone; its answer starts session `supervisionId` (supervise-call.ts). */
  ringSupervisor(supervisionId: string, extension: string, ringTimeoutSeconds: number): Promise<void> {
    return this.deps.control.originate({ channelId: supervisionId, endpoint: `PJSIP/${extension}`, callerId: '"Supervision" <*55>', timeoutSeconds: ringTimeoutSeconds, appArgs: `supervise,${supervisionId}` });
  }

  /**
   * The party to supervise: the channel of `extension` on a connected call, or the extension party
   * of call `callId` (its answering side, unless that is a trunk; then its caller). Connected = in a
   * bridge with someone else (Asterisk's view, not a supervision bridge); null when there is none.
   */
  async callParty(where: { readonly extension: string } | { readonly callId: string }): Promise<{ channelId: string; callId: string; extension: string | null } | null> {
    const { control } = this.deps;
    const [channels, bridges] = await Promise.all([control.listChannels(), control.listBridges()]);
    const bridged = new Set(bridges.filter((b) => b.channels.length >= 2 && !b.id.startsWith(SUPERVISION_BRIDGE_PREFIX)).flatMap((b) => b.channels));
    const candidates = channels
      .filter((c) => bridged.has(c.id))
      .map((c) => ({ channel: c, session: this.sessions.get(c.id) ?? this.legs.get(c.id), endpoint: endpointOfChannel(c.name) }))
      .filter((c) => c.session && c.endpoint);
    const pick =
      'extension' in where
        ? candidates.find((c) => c.endpoint === where.extension)
        : (candidates.find((c) => c.session!.callId === where.callId && c.channel.id !== c.session!.channelId && !c.endpoint!.startsWith('trunk-')) ??
          candidates.find((c) => c.session!.callId === where.callId && !c.endpoint!.startsWith('trunk-')));
    return pick ? { channelId: pick.channel.id, callId: pick.session!.callId, extension: pick.endpoint } : null;
  }

  /** A queue call that ended while no daemon watched it: the queue's record of the stay, as the CDR's end (ended-unseen.ts). */
  private closeQueueStay(callId: string, endedAt: Date): void {
    const { db, log } = this.deps;
    const closed = queueCallEndedUnseen(db, callId, endedAt).then((outcome) => {
      if (outcome) log.info({ callId, outcome, endedAt }, 'queue call that ended while the daemon was away: left the queue');
    });
    logRejection(closed, log, 'queue call that ended while the daemon was away not closed', { callId });
  }

  /** Run after every ARI (re)connect. Concurrent calls share one run. */
  reconcile(): Promise<void> {
    this.reconciling ??= this.reconcileOnce().finally(() => {
      this.reconciling = null;
    });
    return this.reconciling;
  }

  private async reconcileOnce(): Promise<void> {
    const { control, db, log } = this.deps;
    const [inApp, channels, bridges, rows] = await Promise.all([
      control.appChannelIds(),
      control.listChannels(),
      control.listBridges(),
      listLiveCalls(db),
    ]);
    this.view = { channels: channels.length, bridges: bridges.length, inApp: inApp.length, at: this.now() };
    const alive = new Set(inApp);
    const byId = new Map(channels.map((c) => [c.id, c]));
    const known = new Set([...rows.map((r) => r.channel_id), ...rows.map((r) => r.peer_channel_id ?? '')]);
    let adopted = 0;
    let closed = 0;

    for (const session of [...this.sessions.values()]) {
      if (!alive.has(session.channelId)) {
        closed++;
        this.post(session, { type: 'lost', lastSeen: this.now() });
      } else if (session.peerLegId && !byId.has(session.peerLegId)) {
        this.post(session, { type: 'b-ended', legId: session.peerLegId, cause: null });
      }
    }
    for (const row of rows) {
      if (this.sessions.has(row.channel_id)) continue;
      if (alive.has(row.channel_id)) {
        adopted++;
        const peer = row.peer_channel_id && byId.has(row.peer_channel_id) ? row.peer_channel_id : null;
        this.post(this.open(row.channel_id, byId.get(row.channel_id)?.name ?? null, factsFromRow(row)), {
          type: 'adopt',
          mode: row.mode,
          peer,
          peerRinging: row.state === 'ringing',
          bridgeId: row.bridge_id,
          recording: row.recording_name,
        });
      } else {
        closed++;
        if (row.peer_channel_id && byId.has(row.peer_channel_id)) {
          logRejectionUnlessGone(control.hangup(row.peer_channel_id), log, 'leg of an ended call not hung up', { leg: row.peer_channel_id });
        }
        this.keepMessage(row);
        // The call ended while nobody was listening: it ended at or after its last heartbeat.
        this.deps.cdrWriter.write(
          buildCdr(factsFromRow(row), {
            endedAt: row.updated_at,
            cause: null,
            causeText: null,
            endedBy: 'unknown',
            reconciled: true,
            waiting: !row.connected_at && (row.mode === 'dial' || row.mode.startsWith('queue:') || row.mode.startsWith('callback:')),
          }),
        );
        // A queue caller still waiting when the call ended left the queue then: its abandon, once (docs/queue-events.md#after-a-restart).
        if (row.queue !== null || row.mode.startsWith('queue:')) this.closeQueueStay(row.call_id, row.updated_at);
      }
    }
    for (const channelId of alive) {
      if (this.sessions.has(channelId) || this.legs.has(channelId) || known.has(channelId)) continue;
      const channel = byId.get(channelId);
      if (!channel) continue;
      if (channel.name.startsWith('Snoop/')) {
        // A supervision snoop of the daemon before: its session is gone (the supervisor is hung up on adoption).
        logRejectionUnlessGone(control.hangup(channel.id), log, 'snoop of an ended supervision not hung up', { channel: channel.id });
        continue;
      }
      // A supervisor's phone still ringing for an API request: its answer joins the session (src/supervision recover).
      if (channel.id.startsWith(SUPERVISION_REQUEST_PREFIX) && channel.state !== 'Up') continue;
      // A call that entered the app while no daemon was connected, or whose StasisStart arrives
      // during this reconciliation, with no live row: never routed, so routed now as a new call
      // (before, it was adopted as 'routing' and handed to the test service: answered, no queue).
      adopted++;
      this.post(this.open(channel.id, channel.name, factsFromChannel(channel, new Date(channel.creationtime))), { type: 'stasis-start' });
    }
    log.info({ adopted, closed, live: this.sessions.size, ...this.view }, 'reconciled live calls with Asterisk');
    await this.finishOrphanRecordings(new Set(byId.keys()));
  }

  /**
   * Recordings Asterisk went on with while no daemon listened (MixMonitor runs on the caller's
   * channel): one whose channel is still up belongs to the call adopted above (the session picks
   * it up); one whose channel is gone is finished now (merged, handed to the store).
   */
  private async finishOrphanRecordings(channels: ReadonlySet<string>): Promise<void> {
    const recording = this.deps.recording;
    if (!recording) return;
    const rows = await runningRecordings(this.deps.db);
    for (const row of rows) {
      if (row.channel_id && channels.has(row.channel_id)) continue;
      this.deps.log.info({ recording: row.id, callId: row.call_id }, 'recording of a call that ended while the daemon was away: finishing it');
      logRejection(recording.finisher.finish(row.id, null), this.deps.log, 'recording not finished');
    }
  }

  /** The API on a live call's recording (routes.ts): 404 for no such call here, 409 for a refusal. */
  async recordingCommand(callId: string, action: RecordingAction): Promise<Extract<RecordingOutcome, { ok: true }>> {
    const session = [...this.sessions.values()].find((s) => s.callId === callId || s.snapshot().linkedId === callId);
    if (!session) throw new AppError('call-not-found', 404, `no live call ${callId}`);
    const outcome = await session.recordingCommand(action, 'api');
    if (!outcome) throw new AppError('recording-not-allowed', 409, 'call recording is not set up on this daemon');
    if (!outcome.ok) throw new AppError(outcome.refusal, outcome.refusal === 'recording-no-space' ? 507 : 409, REFUSAL_TEXT[outcome.refusal]);
    return outcome;
  }

  /** A caller who hung up while leaving a message with no daemon listening has still left it. */
  private keepMessage(row: LiveCallRow): void {
    const mailbox = row.mode === 'voicemail' && row.recording_name ? MESSAGE_RECORDING.exec(row.recording_name)?.[1] : undefined;
    if (!mailbox || !row.recording_name) return;
    const meta = { mailbox, callId: row.call_id, callerNumber: row.caller_number, callerName: row.caller_name };
    this.voicemail
      .saveMessage(row.recording_name, meta)
      .then((saved) => this.deps.log.info({ recording: row.recording_name, kept: Boolean(saved) }, 'voicemail message of an ended call recovered'))
      .catch((err: Error) => this.deps.log.error({ err: err.message, recording: row.recording_name }, 'voicemail message not saved'));
  }

  /** `ended`: called once when the call is over (a campaign contact's end goes to the dialer). */
  private open(channelId: string, channelName: string | null, facts: CallFacts, ended?: () => void): CallSession {
    const session = new CallSession(channelId, channelName, facts, {
      control: this.deps.control,
      store: this.store,
      writeCdr: (cdr) => this.deps.cdrWriter.write(cdr),
      ...(this.deps.events ? { agentOffered: agentOffered(this.deps.events) } : {}),
      settings: this.deps.settings,
      log: this.deps.log,
      now: this.now,
      route: this.deps.route,
      lookupTarget: this.deps.lookupTarget,
      voicemail: this.voicemail,
      ivr: this.deps.ivr,
      acd: this.deps.acd,
      supervision: this.deps.supervision,
      ...(this.deps.recording ? { recording: this.deps.recording } : {}),
      ...(this.deps.surveys ? { surveys: this.deps.surveys } : {}),
      ...(this.deps.campaign ? { campaign: this.deps.campaign } : {}),
      legs: {
        register: (legId, s) => this.legs.set(legId, s),
        release: (legId) => {
          if (this.legs.get(legId) === session) this.legs.delete(legId);
        },
        reanchor: (from, to, s) => {
          if (this.sessions.get(from) === s) this.sessions.delete(from);
          this.sessions.set(to, s);
        },
      },
      onEnded: (s) => {
        if (this.sessions.get(s.channelId) === s) this.sessions.delete(s.channelId);
        ended?.();
      },
    });
    this.sessions.set(channelId, session);
    return session;
  }
}

export function factsFromChannel(channel: AriChannel, startedAt: Date): CallFacts {
  return {
    callId: channel.id,
    direction: 'inbound',
    callerNumber: cleanCallerText(channel.caller?.number),
    callerName: cleanCallerText(channel.caller?.name),
    dialedNumber: cleanCallerText(channel.dialplan?.exten),
    startedAt: Number.isNaN(startedAt.getTime()) ? new Date() : startedAt,
    answeredAt: null,
    digits: '',
  };
}

function factsFromRow(row: LiveCallRow): CallFacts {
  return {
    callId: row.call_id,
    direction: row.direction as CallFacts['direction'],
    callerNumber: row.caller_number,
    callerName: row.caller_name,
    dialedNumber: row.dialed_number,
    startedAt: row.started_at,
    answeredAt: row.answered_at,
    digits: row.digits,
    ...(row.linked_id ? { linkedId: row.linked_id } : {}),
    queue: row.queue,
    agent: row.agent,
    party: row.connected_at ? { answeredBy: row.answered_by, agent: row.agent, connectedAt: row.connected_at } : null,
  };
}
