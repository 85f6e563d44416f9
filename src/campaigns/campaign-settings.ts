/**
 * A campaign's settings as the API speaks of them (names, not ids), their defaults, and the rules
 * that hold across fields (pure; docs/campaigns.md#settings). The schema (schemas.ts) checks each
 * field's shape; `settingsProblem` checks what one field cannot say alone and names the field
 * (`body.<path>`) of the first problem.
 */
import { isTimeZone } from '../shared/zoned-time.js';
import { DEFAULT_RETRY_RULES } from './outcomes.js';
import type { CampaignMode, Disposition, MachineAction, Pacing, RetryOutcome, RetryRule, RetryRules } from './tables.js';
import { windowProblem, type CallingWindow } from './window.js';

/** The legal ceiling of the abandon rate (US TSR/FCC: 3 % of live answers over 30 days). */
export const MAX_ABANDON_CAP = 0.03;
/** A number rings at least this long before the dialer gives up (TSR). */
export const MIN_RING_SECONDS = 15;
/** An abandoned call hears the message within 2 s: an answered contact waits at most this long for an agent. */
export const MAX_CONNECT_SECONDS = 2;
export const RETRY_OUTCOMES: readonly RetryOutcome[] = ['busy', 'no-answer', 'machine', 'failed', 'abandoned'];

export interface CampaignSettings {
  readonly mode: CampaignMode;
  /** Queue name; null only for agentless. */
  readonly queue: string | null;
  readonly trunk: string;
  readonly callerId: string;
  readonly callerName: string | null;
  readonly window: CallingWindow;
  readonly defaultCountry: string;
  /** Every retry outcome, defaults filled in. */
  readonly retryRules: Readonly<Record<RetryOutcome, RetryRule>>;
  readonly maxAttempts: number;
  readonly dailyLimit: number | null;
  readonly timeZone: string;
  readonly abandonCap: number;
  readonly ringSeconds: number;
  readonly connectSeconds: number;
  /** Preview mode: seconds an offer waits for the agent's accept or skip (5-300). */
  readonly previewSeconds: number;
  readonly pacing: Pacing;
  readonly amd: boolean;
  readonly machineAction: MachineAction;
  /** Prompt names. */
  readonly machinePrompt: string | null;
  readonly abandonPrompt: string | null;
  /** Flow name; agentless only. */
  readonly flow: string | null;
  readonly dispositions: readonly Disposition[];
}

/** What a create body may leave out (filled by `withDefaults`). */
export type SettingsInput = Pick<CampaignSettings, 'mode' | 'trunk' | 'callerId'> & {
  readonly [K in Exclude<keyof CampaignSettings, 'mode' | 'trunk' | 'callerId' | 'retryRules' | 'window'>]?: CampaignSettings[K] | undefined;
} & {
  readonly retryRules?: RetryRules | undefined;
  readonly window?: Partial<CallingWindow> | undefined;
};

/** The dispositions a campaign gets when it names none: enough to run a first campaign. */
export const DEFAULT_DISPOSITIONS: readonly Disposition[] = Object.freeze([
  { code: '1', name: 'sale', success: true, action: 'done' },
  { code: '2', name: 'not-interested', success: false, action: 'done' },
  { code: '3', name: 'call-back', success: false, action: 'callback' },
  { code: '4', name: 'retry-later', success: false, action: 'retry' },
  { code: '5', name: 'do-not-call', success: false, action: 'dnc' },
]);

export const DEFAULT_WINDOW: CallingWindow = Object.freeze({ start: '08:00', end: '21:00', days: Object.freeze([1, 2, 3, 4, 5, 6]) });

/** Every outcome's rule: the given ones over the defaults (src/campaigns/outcomes.ts). */
export function fullRetryRules(given: RetryRules | undefined): Readonly<Record<RetryOutcome, RetryRule>> {
  const out = {} as Record<RetryOutcome, RetryRule>;
  for (const o of RETRY_OUTCOMES) out[o] = given?.[o] ?? DEFAULT_RETRY_RULES[o];
  return out;
}

/** A create body with every default filled in (`siteTimeZone`: the campaign's day when none is given). */
export function withDefaults(input: SettingsInput, siteTimeZone: string): CampaignSettings {
  const abandonCap = input.abandonCap ?? MAX_ABANDON_CAP;
  return {
    mode: input.mode,
    queue: input.queue ?? null,
    trunk: input.trunk,
    callerId: input.callerId,
    callerName: input.callerName ?? null,
    window: { ...DEFAULT_WINDOW, ...input.window },
    defaultCountry: input.defaultCountry ?? 'US',
    retryRules: fullRetryRules(input.retryRules),
    maxAttempts: input.maxAttempts ?? 5,
    dailyLimit: input.dailyLimit ?? null,
    timeZone: input.timeZone ?? siteTimeZone,
    abandonCap,
    ringSeconds: input.ringSeconds ?? 25,
    connectSeconds: input.connectSeconds ?? MAX_CONNECT_SECONDS,
    previewSeconds: input.previewSeconds ?? 30,
    pacing: input.pacing ?? (abandonCap > 0 ? { mode: 'predictive', targetAbandonRate: abandonCap } : { mode: 'fixed', level: 1 }),
    amd: input.amd ?? false,
    machineAction: input.machineAction ?? 'hangup',
    machinePrompt: input.machinePrompt ?? null,
    abandonPrompt: input.abandonPrompt ?? null,
    flow: input.flow ?? null,
    dispositions: input.dispositions ?? DEFAULT_DISPOSITIONS,
  };
}

/** A PATCH body over the current settings (a field given replaces it; retryRules and window merge per key). */
export function patched(current: CampaignSettings, patch: Partial<SettingsInput>): CampaignSettings {
  const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as { -readonly [K in keyof SettingsInput]?: SettingsInput[K] };
  // A lower cap takes a predictive target above it down with it, unless the patch sets pacing too.
  const cap = defined.abandonCap;
  const pacing = current.pacing;
  if (cap !== undefined && defined.pacing === undefined && pacing.mode === 'predictive' && pacing.targetAbandonRate > cap) {
    defined.pacing = cap > 0 ? { mode: 'predictive', targetAbandonRate: cap } : { mode: 'fixed', level: 1 };
  }
  return {
    ...current,
    ...defined,
    window: { ...current.window, ...defined.window },
    retryRules: { ...current.retryRules, ...defined.retryRules },
  } as CampaignSettings;
}

export interface Problem {
  /** `body.<path>`. */
  readonly field: string;
  readonly message: string;
}

const p = (field: string, message: string): Problem => ({ field: `body.${field}`, message });

/** The first rule the settings break, naming the field; null when they hold. */
export function settingsProblem(s: CampaignSettings): Problem | null {
  if (!/^\+?[0-9]{3,19}$/.test(s.callerId)) return p('callerId', 'digits, optionally after a +, 3 to 19 of them');
  for (const edge of ['start', 'end'] as const) {
    if (!/^([01][0-9]|2[0-3]):[0-5][0-9]$/.test(s.window[edge])) return p(`window.${edge}`, 'a time of day HH:MM (00:00-23:59)');
  }
  const w = windowProblem(s.window);
  if (w !== null) return p(/day/.test(w) ? 'window.days' : 'window.end', w);
  if (s.dailyLimit !== null && (s.dailyLimit < 1 || s.dailyLimit > 10_000_000)) return p('dailyLimit', 'from 1 to 10,000,000 attempts a day, or null for no limit');
  if (!isTimeZone(s.timeZone)) return p('timeZone', `unknown time zone '${s.timeZone}' (an IANA name such as 'America/New_York')`);
  if (s.abandonCap < 0 || s.abandonCap > MAX_ABANDON_CAP) return p('abandonCap', `between 0 and ${MAX_ABANDON_CAP} (3 % of live answers over 30 days is the legal ceiling)`);
  if (s.ringSeconds < MIN_RING_SECONDS) return p('ringSeconds', `a number must ring at least ${MIN_RING_SECONDS} s before the dialer gives up (TSR)`);
  if (s.connectSeconds <= 0 || s.connectSeconds > MAX_CONNECT_SECONDS) return p('connectSeconds', `more than 0 and at most ${MAX_CONNECT_SECONDS}: an abandoned call must hear the message within 2 s`);
  if (!Number.isInteger(s.previewSeconds) || s.previewSeconds < 5 || s.previewSeconds > 300) return p('previewSeconds', 'from 5 to 300 s: how long a preview offer waits for the agent');
  const pacing = pacingProblem(s.pacing as LoosePacing, s.abandonCap);
  if (pacing !== null) return pacing;
  if (s.mode === 'agentless') {
    if (s.flow === null) return p('flow', 'an agentless campaign needs the flow its answered contacts run');
  } else {
    if (s.queue === null) return p('queue', `a ${s.mode} campaign needs the queue whose agents work it`);
    if (s.flow !== null) return p('flow', 'only an agentless campaign runs a flow');
  }
  if (s.machineAction === 'message' && s.machinePrompt === null) return p('machinePrompt', 'machineAction message needs the prompt to leave');
  const codes = new Set<string>();
  const names = new Set<string>();
  for (const [i, d] of s.dispositions.entries()) {
    if (codes.has(d.code)) return p(`dispositions.${i}.code`, `code ${d.code} is listed twice`);
    if (names.has(d.name)) return p(`dispositions.${i}.name`, `name ${d.name} is listed twice`);
    codes.add(d.code);
    names.add(d.name);
  }
  return null;
}

/** Pacing as the API takes it (one object; the fields of the other mode absent). */
interface LoosePacing {
  readonly mode: 'fixed' | 'predictive';
  readonly level?: number;
  readonly targetAbandonRate?: number;
}

function pacingProblem(pacing: LoosePacing, abandonCap: number): Problem | null {
  if (pacing.mode === 'fixed') {
    if (pacing.targetAbandonRate !== undefined) return p('pacing.targetAbandonRate', 'only predictive pacing has a target abandon rate');
    if (pacing.level === undefined || pacing.level < 1 || pacing.level > 5) return p('pacing.level', 'fixed pacing needs a level (lines per ready agent) from 1 to 5');
    return null;
  }
  if (pacing.level !== undefined) return p('pacing.level', 'only fixed pacing has a level');
  const t = pacing.targetAbandonRate;
  if (t === undefined || t <= 0 || t > abandonCap) return p('pacing.targetAbandonRate', `predictive pacing needs a target abandon rate above 0 and at most the campaign's abandonCap (${abandonCap})`);
  return null;
}

/** Modes in which a live answer can find no free agent: they need the abandon message. */
export const canAbandon = (mode: CampaignMode): boolean => mode === 'progressive' || mode === 'predictive';
