/**
 * Puts the caller through to the next runner (runner.ts) and keeps the call's one active runner:
 * the first one for the route the call took (router.ts), the one a flow's end or a queue's
 * overflow names, the mailbox when a dial is not answered, the one a restarted daemon resumes
 * from the live row's mode (adopt). The session hands it every event a runner takes.
 */
import { idleRunner, type CallRunner } from './runner.js';
import type { SessionEvent } from './events.js';
import type { CallerContext, RoutedCall } from './directory.js';
import { DialRunner, callbackMode, callbackOfMode, type DialHost } from './dial-call.js';
import { DepositRunner, MenuRunner, recoverMessage, type VoicemailHost } from './voicemail-call.js';
import { TestServiceRunner, type TestServiceHost } from './test-service-call.js';
import { IvrRunner, type IvrHost, type IvrTrail } from './ivr-call.js';
import { QueueRunner, routingFromVars, type QueueHost, type QueueRouting } from './queue-call.js';
import { AgentCodeRunner, type AgentCodeHost } from './agent-call.js';
import { SuperviseRunner, type SuperviseHost } from './supervise-call.js';
import { CAMPAIGN_WAIT_MODE, CampaignRunner, type CampaignHost } from './campaign-call.js';
import { DispositionRunner, type DispositionHost } from './disposition-call.js';
import { PreviewRunner, type PreviewHost } from './preview-call.js';
import type { CampaignStart } from './campaign-originate.js';
import type { TransferTarget } from '../ivr/model.js';
import { logRejection } from '../shared/log-rejection.js';

/** What the session offers its runners: every runner's host interface, in one object. */
export type SessionHost = VoicemailHost & TestServiceHost & IvrHost & QueueHost & AgentCodeHost & DialHost & SuperviseHost & CampaignHost & DispositionHost & PreviewHost;

/** An IVR target of an outside number was set up by an admin: it may reach any outbound route. */
export const IVR_CALLER_CONTEXT: CallerContext = { callerClass: 'international', callerIdNumber: null };

export class Switchboard {
  private runner: CallRunner = idleRunner('routing');
  /** This call is a queue callback (the agent's side): a dial whose outcome goes back to the ACD. */
  private callback: string | null = null;
  /** The caller's time in IVR flows so far: a flow after a queue's overflow goes on from it. */
  private ivrTrail: IvrTrail | null = null;

  constructor(private readonly host: SessionHost) {}

  get active(): CallRunner {
    return this.runner;
  }

  /** The active runner when it is dialing (the only one a transfer or a peer leg concerns). */
  get dial(): DialRunner | null {
    return this.runner instanceof DialRunner ? this.runner : null;
  }

  /** The active runner when it is a queue (its agent may transfer the connected call). */
  get queue(): QueueRunner | null {
    if (this.runner instanceof CampaignRunner) return this.runner.queue; // a campaign contact's queue call
    return this.runner instanceof QueueRunner ? this.runner : null;
  }

  /** A queue call's agent blind-transferred the caller (from `transferer`): dial `number` with the agent's permissions. */
  transferTo(number: string, context: CallerContext, transferer: { readonly leg: string; readonly extension: string | null }): Promise<void> {
    this.host.clearTimer();
    return this.handTo(new DialRunner(this.host, { kind: 'dial', number, context, transferer }), 'dial').start();
  }

  /** What the caller's IVR flows collected so far (flow variables). */
  get ivrVariables(): Readonly<Record<string, string>> {
    return this.ivrTrail?.vars ?? {};
  }

  get callbackId(): string | null {
    return this.callback;
  }

  /** The caller's channel is gone: the callback (if this call is one) and the active runner settle. */
  channelGone(): void {
    if (this.callback) logRejection(this.host.acd.callEnded(this.callback), this.host.log, 'callback end not passed to the ACD', { callback: this.callback });
    this.runner.channelGone();
  }

  /** The caller's IVR trail so far (the IVR runner keeps it current). */
  keepTrail(trail: IvrTrail): void {
    this.ivrTrail = trail;
  }

  /** The call goes on with `next` (the runner before it lets go); `liveMode`, when given, goes into the live row. */
  private handTo<R extends CallRunner>(next: R, liveMode: string | null): R {
    this.runner.stop();
    this.runner = next;
    if (liveMode) this.host.updateLive({ mode: liveMode });
    return next;
  }

  async route(route: RoutedCall['route']): Promise<void> {
    const { host } = this;
    switch (route.kind) {
      case 'test-service':
        return this.handTo(new TestServiceRunner(host, { type: 'start', dialed: host.facts().dialedNumber }), 'test').start();
      case 'extension':
      case 'outbound': {
        const number = route.kind === 'extension' ? route.number : route.dialed;
        return this.handTo(new DialRunner(host, { kind: 'dial', number, context: host.caller }), null).start();
      }
      case 'voicemail':
        return this.handTo(new MenuRunner(host, route.mailbox), 'mailbox').start();
      case 'flow':
        return this.startIvr(route.flow);
      case 'queue':
        return this.startQueue(route.queue);
      case 'agent':
        return this.handTo(new AgentCodeRunner(host, route.extension, route.action, route.code), 'agent').start();
      case 'disposition':
        return this.handTo(new DispositionRunner(host, route.extension, route.code), 'agent').start();
      case 'supervise':
        return this.handTo(new SuperviseRunner(host, { kind: 'code', extension: route.extension, number: route.number }), 'supervise').start();
      case 'refuse':
        this.handTo(idleRunner('refused'), null);
        return host.hangupCaller(route.reason === 'not-permitted' ? 'rejected' : 'unallocated');
    }
  }

  /** The agent answered queue callback `callbackId`: call the customer back. */
  startCallback(callbackId: string, customer: string): Promise<void> {
    this.callback = callbackId;
    return this.toTarget({ kind: 'external', number: customer });
  }

  /** The supervisor's phone, rung for API request `supervisionId`, answered: join the call it names. */
  startSupervision(supervisionId: string): Promise<void> {
    return this.handTo(new SuperviseRunner(this.host, { kind: 'api', id: supervisionId }), 'supervise').start();
  }

  /** The agent's phone, rung for preview offer `attemptId`, answered: the contact's name, then 1 or 2 (preview-call.ts). */
  startPreview(attemptId: string): Promise<void> {
    return this.handTo(new PreviewRunner(this.host, attemptId), 'preview').start();
  }

  /** A campaign's contact answered (campaign-call.ts). */
  startCampaign(start: CampaignStart, at: Date): Promise<void> {
    return this.handTo(new CampaignRunner(this.host, start, at), 'campaign').start();
  }

  /** The agent hung up and the queue surveys its callers: the survey flow, on a trail of its own (the survey part's CDR). */
  startSurvey(flow: string): Promise<void> {
    this.ivrTrail = null;
    return this.handTo(new IvrRunner(this.host, flow, null), null).start();
  }

  /** A flow ended on a target; its variables may set the caller's priority and required skills in a queue. */
  flowDone(target: Exclude<TransferTarget, { kind: 'flow' }>): Promise<void> {
    return this.toTarget(target, target.kind === 'queue' ? routingFromVars(this.ivrTrail?.vars ?? {}) : undefined);
  }

  /** A flow or a queue's overflow sends the caller on: an extension, outside number, mailbox, flow or queue. */
  async toTarget(target: TransferTarget, routing?: QueueRouting): Promise<void> {
    const { host } = this;
    host.clearTimer();
    switch (target.kind) {
      case 'flow':
        return this.startIvr(target.flow);
      case 'extension':
      case 'external': {
        const context = target.kind === 'extension' ? host.caller : IVR_CALLER_CONTEXT;
        const liveMode = this.callback ? callbackMode(this.callback) : 'dial';
        return this.handTo(new DialRunner(host, { kind: 'dial', number: target.number, context }), liveMode).start();
      }
      case 'voicemail':
        return this.toVoicemail(target.mailbox, 'ivr');
      case 'queue':
        return this.startQueue(target.queue, routing);
    }
  }

  async toVoicemail(mailbox: string, why: string): Promise<void> {
    const { host } = this;
    host.clearTimer();
    const box = await host.voicemail.mailboxFor(mailbox);
    if (!box) return host.hangupCaller(why === 'busy' ? 'busy' : 'no_answer'); // switched off meanwhile
    host.log.info({ mailbox, why }, 'to voicemail');
    return this.handTo(new DepositRunner(host, mailbox, box.greeting), 'voicemail').start();
  }

  /** A restarted daemon picked the call up again: go on from what its live row says it was doing. */
  async resume(event: Extract<SessionEvent, { type: 'adopt' }>): Promise<void> {
    const { host } = this;
    // A callback (the agent's channel calling the customer) is a dial that reports back to the ACD.
    const callbackId = callbackOfMode(event.mode);
    if ((event.mode === 'dial' || callbackId) && event.peer && !event.peerRinging) {
      // Connected when the daemon went away: keep the two legs tied together.
      this.callback = callbackId;
      host.bridgeId = event.bridgeId;
      return this.handTo(new DialRunner(host, { kind: 'connected', peer: event.peer }), null).start();
    }
    if (event.mode === 'dial' || callbackId) {
      // Was still ringing: the dial attempt is gone; its ringing leg goes too (nobody would connect it).
      // A callback's is tried again later (the ACD counts it, see AcdEngine.restoreCallbacks).
      if (event.peer) await host.control.hangup(event.peer).catch(() => undefined);
      return host.hangupCaller('normal');
    }
    // A caller in a flow starts that flow over (its published version now).
    if (event.mode.startsWith('ivr:')) return this.startIvr(event.mode.slice(4));
    // A caller waiting in a queue waits on at their place; one talking to an agent talks on.
    if (event.mode.startsWith('queue:')) {
      const queue = this.handTo(new QueueRunner(host, event.mode.slice(6), undefined, true), null);
      if (!event.peer) return queue.start();
      host.bridgeId = event.bridgeId;
      await host.follow(event.peer);
      return queue.adoptConnected(event.peer, event.bridgeId);
    }
    if (event.mode === 'agent') return host.hangupCaller('normal'); // a feature code call: done or to be dialed again
    // A campaign contact waiting for an agent: back in the queue only for what is left of the 2 s
    // since the answer, else the abandon message now (campaign-call.ts rejoin).
    if (event.mode.startsWith(CAMPAIGN_WAIT_MODE)) {
      const start: CampaignStart = { attemptId: host.channelId, amd: null, answeredAtMs: null, number: null };
      return this.handTo(new CampaignRunner(host, start, host.now()), null).rejoin();
    }
    // A campaign contact being asked about or hearing a message: its attempt's report was the old daemon's.
    if (event.mode === 'campaign') return host.hangupCaller('normal');
    // A post-call survey's context (the surveyed call, queue, agent) was the old daemon's: done.
    if (event.mode.startsWith('survey:')) return host.hangupCaller('normal');
    // A supervision session's snoops and bridge were the old daemon's: the supervisor dials again.
    if (event.mode === 'supervise') return host.hangupCaller('normal');
    // A preview offer's call to the agent (preview-call.ts): the offer expires without it.
    if (event.mode === 'preview') return host.hangupCaller('normal');
    // A voicemail recording or menu cannot be resumed midway: end the call cleanly, keeping the
    // message said so far (it is saved once Asterisk has closed the file).
    if (event.mode === 'voicemail' || event.mode === 'mailbox') {
      if (event.mode === 'voicemail' && event.recording && recoverMessage(host, event.recording)) {
        host.log.info({ recording: event.recording }, 'voicemail message recorded before the restart is kept');
      }
      return host.hangupCaller('normal');
    }
    const first = host.facts().answeredAt ? ({ type: 'resume' } as const) : ({ type: 'start', dialed: host.facts().dialedNumber } as const);
    return this.handTo(new TestServiceRunner(host, first), null).start();
  }

  private startIvr(flow: string): Promise<void> {
    return this.handTo(new IvrRunner(this.host, flow, this.ivrTrail), `ivr:${flow}`).start();
  }

  private startQueue(queue: string, routing?: QueueRouting): Promise<void> {
    return this.handTo(new QueueRunner(this.host, queue, routing), `queue:${queue}`).start();
  }
}
