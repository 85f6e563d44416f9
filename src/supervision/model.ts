/**
 * Live supervision, the pure part: the three modes, what each asks of an Asterisk snoop, the DTMF
 * keys that switch between them (as ChanSpy's 4/5/6), and what the feature code *55 dialed at a
 * desk phone names. No I/O; the call side is src/calls/supervise-call.ts.
 *
 *   listen   spy both, whisper none  the supervisor hears the agent and the customer; nobody hears them
 *   whisper  spy both, whisper out   only the agent hears the supervisor (coaching)
 *   barge    spy both, whisper both  the agent and the customer hear the supervisor
 *
 * A snoop's directions cannot change while it lives: a switch makes a new snoop and hangs up the old.
 */
export const SUPERVISION_MODES = ['listen', 'whisper', 'barge'] as const;
export type SupervisionMode = (typeof SUPERVISION_MODES)[number];

export interface SnoopDirections {
  /** Audio taken from the snooped channel: `in` from it, `out` to it, both. */
  readonly spy: 'both';
  /** Audio the supervisor puts in: `out` to the snooped channel's phone, `both` to its phone and into its call. */
  readonly whisper: 'none' | 'out' | 'both';
}

const DIRECTIONS: Readonly<Record<SupervisionMode, SnoopDirections>> = {
  listen: { spy: 'both', whisper: 'none' },
  whisper: { spy: 'both', whisper: 'out' },
  barge: { spy: 'both', whisper: 'both' },
};

export function snoopDirections(mode: SupervisionMode): SnoopDirections {
  return DIRECTIONS[mode];
}

/** The DTMF keys a supervisor presses during a session (docs/supervision.md). */
const MODE_KEYS: Readonly<Record<string, SupervisionMode>> = { '4': 'listen', '5': 'whisper', '6': 'barge' };

/** A key pressed by the supervisor -> the mode it asks for; null for any other key. */
export function modeOfKey(digit: string): SupervisionMode | null {
  return MODE_KEYS[digit] ?? null;
}

export function isSupervisionMode(value: string): value is SupervisionMode {
  return (SUPERVISION_MODES as readonly string[]).includes(value);
}

/** The feature code: *55 then an agent number or an extension number (2-16 digits). */
export const SUPERVISE_CODE = '*55';
const SUPERVISE_DIALED = /^\*55([0-9]{2,16})$/;

/** `*551001` -> `1001`; null when `dialed` is not the supervision feature code with a number. */
export function supervisedNumber(dialed: string): string | null {
  return SUPERVISE_DIALED.exec(dialed)?.[1] ?? null;
}

/** Whom a session supervises: an agent (by agent number), an extension, or a live call (its answering party). */
export type SupervisionTarget =
  | { readonly kind: 'agent'; readonly number: string }
  | { readonly kind: 'extension'; readonly number: string }
  /** A number dialed after *55: an agent's number if there is such an agent, else an extension's. */
  | { readonly kind: 'number'; readonly number: string }
  | { readonly kind: 'call'; readonly callId: string };

/** Where the target is: the channel to snoop on, and the call it is on. */
export type TargetLookup =
  | {
      readonly found: 'on-call';
      readonly channelId: string;
      readonly callId: string;
      readonly extension: string | null;
      readonly agent: string | null;
    }
  | { readonly found: 'unknown' | 'not-on-call' };

/** Why a session ended (the audit row's `reason`). */
export type SupervisionEnd = 'supervisor-hangup' | 'call-ended' | 'ended-by-api' | 'failed' | 'daemon-restart';
