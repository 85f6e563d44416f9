/**
 * A call session runs one runner at a time: the test service, an IVR flow, a caller in a queue,
 * dialing an extension, leaving a voicemail, the mailbox menu, an agent feature code. The session
 * hands the active runner the call's events in order and swaps it for the next one when the
 * caller is handed on (a flow's end to a queue, a dial that is not answered to voicemail). A new
 * capability of a call is a new runner in its own file.
 */
import type { SessionEvent } from './events.js';

/** What a call is doing: its runner's mode, or being routed / refused before any runner. */
export type CallMode = 'routing' | 'refused' | 'test' | 'ivr' | 'queue' | 'agent' | 'dial' | 'voicemail' | 'mailbox' | 'supervise' | 'campaign' | 'preview';

export interface CallRunner {
  readonly mode: CallMode;
  /** The runner takes the call (answering, ringing, joining a queue as its machine says). */
  start(): Promise<void>;
  /** One event of the call, after every earlier one; an event that is not the runner's is ignored. */
  onEvent(event: SessionEvent): Promise<void>;
  /** The caller's channel is gone and the call ends: settle at once what the runner holds (legs, a message, the ACD). */
  channelGone(): void;
  /** Another runner takes the call (the caller was handed on): let go without ending the call. */
  stop(): void;
}

/** No runner yet (the call is being routed) or none ever (refused): events wait for nothing. */
export function idleRunner(mode: 'routing' | 'refused'): CallRunner {
  return { mode, start: async () => undefined, onEvent: async () => undefined, channelGone: () => undefined, stop: () => undefined };
}
