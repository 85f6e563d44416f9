/**
 * Connecting a caller (leg A) to an extension (leg B), with do-not-disturb, busy/no-answer
 * handling and call forwarding. Pure: transition(state, event) -> { state, actions }.
 *
 *   routing --ring--> ringing --b-answered--> bridged --(either side hangs up)--> ended
 *                        |  busy / no answer / unreachable
 *                        +--> next hop (forward), else voicemail (when the extension's mailbox
 *                             takes messages), else give up (busy tone / hang up)
 *
 * Forwards are followed at most MAX_HOPS times, and never to an extension already tried (no loops).
 */
import type { PermissionClass } from '../extensions/tables.js';

export interface DialTarget {
  readonly number: string;
  /** Asterisk endpoint to dial: `PJSIP/1002` for an extension, `PJSIP/<number>@trunk-<name>` outside. */
  readonly endpoint: string;
  readonly dnd: boolean;
  readonly forwardAlways: string | null;
  readonly forwardBusy: string | null;
  readonly forwardNoAnswer: string | null;
  readonly ringTimeoutSeconds: number;
  /** The extension's mailbox takes messages: busy, unanswered and unreachable calls go there. */
  readonly voicemail?: boolean;
  /**
   * For an extension: its own permission class and outside caller id. Its forwards and the
   * transfers it makes are dialed with these (the owner set them up), not with the caller's.
   */
  readonly owner?: { readonly callerClass: PermissionClass | null; readonly callerIdNumber: string | null };
}

export type DialPhase = 'routing' | 'ringing' | 'bridged' | 'voicemail' | 'hanging-up' | 'ended';

export interface DialState {
  readonly phase: DialPhase;
  readonly tried: readonly string[];
  readonly current: string | null;
  readonly legId: string | null;
  readonly answered: boolean;
  readonly outcome: 'connected' | 'busy' | 'no-answer' | 'unreachable' | 'loop' | 'voicemail' | null;
}

export type DialEvent =
  /** Dial this extension (the first, or a forward target the session looked up). */
  | { readonly type: 'dial'; readonly target: DialTarget }
  /** A forward points at something that is not an extension (external number): give up here for now. */
  | { readonly type: 'target-missing'; readonly number: string }
  | { readonly type: 'b-answered'; readonly legId: string }
  | { readonly type: 'b-ended'; readonly legId: string; readonly cause: number | null; readonly causeText?: string | null }
  | { readonly type: 'ring-timeout'; readonly legId: string }
  /** The extension that did not answer, looked up again (fresh forward settings); null if deleted meanwhile. */
  | { readonly type: 'no-connect'; readonly why: NoConnect; readonly target: DialTarget | null }
  | { readonly type: 'a-ended' };

export type NoConnect = 'busy' | 'no-answer' | 'unreachable';

export type DialAction =
  | { readonly kind: 'originate'; readonly legId: string; readonly number: string; readonly endpoint: string; readonly timeoutSeconds: number }
  | { readonly kind: 'ring-caller' }
  | { readonly kind: 'lookup'; readonly number: string }
  | { readonly kind: 'lookup-after-failure'; readonly number: string; readonly why: NoConnect }
  | { readonly kind: 'answer-caller' }
  | { readonly kind: 'bridge'; readonly legId: string }
  | { readonly kind: 'hangup-leg'; readonly legId: string }
  /** Hand the caller to the mailbox (the session runs the deposit machine from here). */
  | { readonly kind: 'voicemail'; readonly mailbox: string; readonly why: NoConnect }
  | { readonly kind: 'hangup-caller'; readonly reason: 'normal' | 'busy' | 'no_answer' | 'unallocated' };

export interface DialStep {
  readonly state: DialState;
  readonly actions: readonly DialAction[];
}

export const MAX_HOPS = 3;
const BUSY_CAUSES = new Set([17, 21]);
/** A hangup cause that means the phone declined (busy, rejected) rather than rang out. */
export const isBusyCause = (cause: number | null | undefined): boolean => BUSY_CAUSES.has(cause ?? -1);
const UNREACHABLE_CAUSES = new Set([1, 3, 20, 27, 38]);

export const initialDialState: DialState = { phase: 'routing', tried: [], current: null, legId: null, answered: false, outcome: null };

export function dialTransition(state: DialState, event: DialEvent, newLegId: () => string): DialStep {
  const stay: DialStep = { state, actions: [] };
  if (state.phase === 'ended') return stay;
  if (event.type === 'a-ended') {
    const actions: DialAction[] = state.legId ? [{ kind: 'hangup-leg', legId: state.legId }] : [];
    return { state: { ...state, phase: 'ended', legId: null }, actions };
  }
  if (state.phase === 'hanging-up' || state.phase === 'voicemail') return stay;

  switch (event.type) {
    case 'dial': {
      if (state.phase !== 'routing' && state.phase !== 'ringing') return stay;
      const t = event.target;
      if (state.tried.includes(t.number) || state.tried.length >= MAX_HOPS) return giveUp(state, 'loop');
      const tried = [...state.tried, t.number];
      if (t.forwardAlways) return follow({ ...state, tried }, t.forwardAlways);
      if (t.dnd) {
        if (t.forwardBusy) return follow({ ...state, tried }, t.forwardBusy);
        return t.voicemail ? voicemail({ ...state, tried }, t.number, 'busy') : giveUp({ ...state, tried }, 'busy');
      }
      const legId = newLegId();
      return {
        state: { ...state, phase: 'ringing', tried, current: t.number, legId },
        actions: [
          ...(state.tried.length === 0 ? [{ kind: 'ring-caller' } as const] : []),
          { kind: 'originate', legId, number: t.number, endpoint: t.endpoint, timeoutSeconds: t.ringTimeoutSeconds },
        ],
      };
    }
    case 'target-missing':
      return giveUp(state, 'unreachable');
    case 'b-answered':
      if (state.phase !== 'ringing' || event.legId !== state.legId) return stay;
      return {
        state: { ...state, phase: 'bridged', answered: true, outcome: 'connected' },
        actions: [{ kind: 'answer-caller' }, { kind: 'bridge', legId: event.legId }],
      };
    case 'ring-timeout':
      if (state.phase !== 'ringing' || event.legId !== state.legId) return stay;
      // Stop ringing B; its b-ended (cause no answer) decides what happens next.
      return { state, actions: [{ kind: 'hangup-leg', legId: event.legId }] };
    case 'b-ended': {
      if (event.legId !== state.legId) return stay;
      if (state.phase === 'bridged') {
        return { state: { ...state, phase: 'hanging-up', legId: null }, actions: [{ kind: 'hangup-caller', reason: 'normal' }] };
      }
      if (state.phase !== 'ringing') return stay;
      const why: NoConnect = isBusyCause(event.cause) ? 'busy' : UNREACHABLE_CAUSES.has(event.cause ?? -1) ? 'unreachable' : 'no-answer';
      return { state: { ...state, legId: null }, actions: [{ kind: 'lookup-after-failure', number: state.current ?? '', why }] };
    }
    case 'no-connect': {
      if (state.phase !== 'ringing' || state.legId !== null) return stay;
      const forward = event.target ? (event.why === 'busy' ? event.target.forwardBusy : event.target.forwardNoAnswer) : null;
      if (forward) return follow(state, forward);
      return event.target?.voicemail ? voicemail(state, event.target.number, event.why) : giveUp(state, event.why);
    }
  }
}

function follow(state: DialState, number: string): DialStep {
  return { state: { ...state, phase: 'routing' }, actions: [{ kind: 'lookup', number }] };
}

function voicemail(state: DialState, mailbox: string, why: NoConnect): DialStep {
  return { state: { ...state, phase: 'voicemail', outcome: 'voicemail', legId: null }, actions: [{ kind: 'voicemail', mailbox, why }] };
}

function giveUp(state: DialState, outcome: NonNullable<DialState['outcome']>): DialStep {
  const reason = outcome === 'busy' ? 'busy' : outcome === 'no-answer' ? 'no_answer' : 'unallocated';
  // An unanswered caller hears the refusal as a SIP response (486 busy, 480 no answer, 404).
  return {
    state: { ...state, phase: 'hanging-up', outcome, legId: null },
    actions: [{ kind: 'hangup-caller', reason }],
  };
}
