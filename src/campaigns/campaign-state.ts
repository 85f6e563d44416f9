/**
 * A campaign's lifecycle (pure): `transition(state, event)` -> the next state, or why not.
 *
 *   draft ──start──▶ running ──pause──▶ paused
 *                      ▲  ◀──resume───    │
 *                      │                  │
 *   finished ──start───┘   running | paused ──stop──▶ stopped (final)
 *   running ──finish──▶ finished  (the dialer: no contact left to try)
 *
 * - `start` begins dialing: from draft, or again from finished (new contacts were imported).
 * - `pause` holds dialing (calls in progress go on); `resume` takes it up again.
 * - `stop` ends the campaign for good: nothing more is dialed, at once. A stopped campaign is never
 *   started again (copy it into a new one); it may be deleted.
 * - `finish` is the dialer's, not the API's.
 * Any other pair is refused with `invalid-campaign-transition` (409), naming state and event.
 */
import type { CampaignState } from './tables.js';

export type CampaignEvent = 'start' | 'pause' | 'resume' | 'stop' | 'finish';
export const CAMPAIGN_EVENTS: readonly CampaignEvent[] = ['start', 'pause', 'resume', 'stop', 'finish'];
export const CAMPAIGN_STATES: readonly CampaignState[] = ['draft', 'running', 'paused', 'stopped', 'finished'];

/** The events the API offers (POST /campaigns/:id/<event>). */
export const API_EVENTS: readonly CampaignEvent[] = ['start', 'pause', 'resume', 'stop'];

export type Transition =
  | { readonly ok: true; readonly next: CampaignState }
  | { readonly ok: false; readonly code: 'invalid-campaign-transition'; readonly message: string };

const TABLE: Readonly<Record<CampaignState, Partial<Record<CampaignEvent, CampaignState>>>> = {
  draft: { start: 'running' },
  running: { pause: 'paused', stop: 'stopped', finish: 'finished' },
  paused: { resume: 'running', stop: 'stopped' },
  stopped: {},
  finished: { start: 'running' },
};

const WHY: Readonly<Record<CampaignState, string>> = {
  draft: 'a draft campaign can only be started',
  running: 'a running campaign can be paused or stopped',
  paused: 'a paused campaign can be resumed or stopped',
  stopped: 'a stopped campaign is over: nothing more can happen to it (delete it, or create a new one)',
  finished: 'a finished campaign (no contact left) can be started again after more contacts are imported',
};

export function transition(state: CampaignState, event: CampaignEvent): Transition {
  const next = TABLE[state][event];
  if (next !== undefined) return { ok: true, next };
  return { ok: false, code: 'invalid-campaign-transition', message: `cannot ${event} a campaign that is ${state}: ${WHY[state]}` };
}

/** States in which the campaign's settings may change (a running campaign must be paused first). */
export const EDITABLE_STATES: ReadonlySet<CampaignState> = new Set(['draft', 'paused', 'finished']);

/** States in which a campaign may be deleted (when no attempt is in progress). */
export const DELETABLE_STATES: ReadonlySet<CampaignState> = new Set(['draft', 'stopped']);
