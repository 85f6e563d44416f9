/** Driving the pure dial flow in unit tests: an extension target and a run of events. */
import { dialTransition, initialDialState, type DialAction, type DialEvent, type DialState, type DialTarget } from '../../src/calls/dial-flow.js';

let n = 0;
/** A fresh leg id for each originate. */
export const leg = (): string => `leg-${++n}`;

export const ext = (number: string, over: Partial<DialTarget> = {}): DialTarget => ({
  number, endpoint: `PJSIP/${number}`, dnd: false, forwardAlways: null, forwardBusy: null, forwardNoAnswer: null, ringTimeoutSeconds: 20, ...over,
});

export function run(events: DialEvent[], from: DialState = initialDialState): { state: DialState; actions: DialAction[] } {
  let state = from;
  const actions: DialAction[] = [];
  for (const e of events) {
    const step = dialTransition(state, e, leg);
    state = step.state;
    actions.push(...step.actions);
  }
  return { state, actions };
}
