/**
 * Running one version of an IVR flow for one caller. Pure:
 *
 *   startFlow(def, ctx)     -> { state, actions }
 *   stepFlow(state, event)  -> { state, actions }
 *
 * The runner (ARI side) carries out the actions and feeds back events: playback finished, a DTMF
 * digit, a timer that fired, a lookup's answer, the caller hanging up. Every event carries `now`.
 *
 * Node by node:
 *   play      plays its prompts, then `next` (digits are ignored while it plays).
 *   menu      plays its prompt; a digit during the prompt stops it (barge-in) and counts. After the
 *             prompt a timer runs. A listed digit goes to its option; any other digit plays
 *             invalidPrompt (or the sound 'invalid': "that's not valid", in every Asterisk sound set), silence plays timeoutPrompt (if
 *             any); then the menu starts over. After maxRetries such retries, the next failure
 *             goes to `fallback`.
 *   gather    plays its optional prompt (the first digit stops it and is kept), then collects
 *             digits 0-9 with an inter-digit timer, up to maxDigits or the terminator. Fewer than
 *             minDigits goes to `timeout`, else `next`; the digits are stored in the variable.
 *   branch, set, schedule   decide at once (schedule at the event's `now`).
 *   lookup    asks the runner for an HTTP GET; the JSON answer's dot paths fill variables
 *             (missing -> '', values as strings, at most 256 characters), then `next`; a failure
 *             goes to `error`.
 *   survey    plays its prompt (a digit stops it and counts) and takes one score on its scale:
 *             '1-5' keys 1-5; '0-10' keys 0-9, and 10 as '1' then '0' (a '1' waits SURVEY_TEN_WAIT_MS
 *             for the '0'; '#' or the wait makes it 1). A key off the scale plays invalidPrompt (or
 *             'invalid') and the prompt again, silence the prompt again, up to maxRetries; then
 *             no response. Either way a 'survey-answer' action (score, or null) and then `next`;
 *             a caller hanging up during the question answers null.
 *   transfer, hangup        end the flow (the runner executes the target / hangs up).
 *
 * One timer at a time: start-timer replaces a running one (its generation becomes stale);
 * cancel-timer stops it when the flow moves on before it fires.
 *
 * Ids for playbacks and lookups come from a counter in the state (pb-1, rq-2, ...), so the same
 * events give the same actions. Stale events (an old playback, timer generation or request) and
 * events after the end are ignored; no event ever throws. At most MAX_STEPS_PER_EVENT nodes are
 * entered per event: a flow that would spin without the caller ends with 'error' (the validator
 * rejects such silent loops, this is the backstop). `path` records the caller's journey: one
 * entry per node entered, and at a menu one per attempt (`attempt` 1, 2, ...: a wrong digit or
 * silence closes the attempt with `failure` 'invalid' or 'timeout' and outcome 'retry', or
 * 'fallback' after the last); at most MAX_PATH entries, the last being a 'truncated' marker when
 * cut. pathDigits(path) is every digit the flows took, in order (the CDR's `digits`).
 */
import {
  BUILTIN_VARIABLES, GATHER_DEFAULTS, MENU_DEFAULTS, SURVEY_DEFAULTS, SURVEY_TEN_WAIT_MS, expandTemplate, promptList,
  type FlowDefinition, type GatherNode, type MenuNode, type NodeKind, type Prompt, type Prompts, type SurveyNode, type TransferTarget,
} from './model.js';
import { scheduleState } from './schedule.js';

export const MAX_STEPS_PER_EVENT = 100;
export const MAX_PATH = 200;
export const MAX_VAR_LENGTH = 256;
/** Digits kept per path entry. */
export const MAX_PATH_DIGITS = 32;
export const INVALID_OPTION_SOUND = 'invalid';
/** Digits kept in a CDR (its column is varchar(64)). */
export const MAX_CDR_DIGITS = 64;

export interface FlowContext {
  readonly callerNumber: string;
  readonly dialedNumber: string;
  /** Used by schedule nodes without their own time zone. */
  readonly siteTimezone: string;
  readonly now: Date;
  /** Preset variables (names as in the flow; others are dropped). */
  readonly vars?: Readonly<Record<string, string>>;
}

/** not-allowed: the host is not one PBX_LOOKUP_ALLOWED_HOSTS lets lookups reach (taken like a network error). */
export type LookupError = 'timeout' | 'http-error' | 'bad-json' | 'network' | 'not-allowed';

export type FlowEvent =
  | { readonly type: 'playback-finished'; readonly playbackId: string; readonly now: Date }
  /** `secret`: typed while the call's recording is paused (PCI): the flow takes it, the path does not keep it. */
  | { readonly type: 'dtmf'; readonly digit: string; readonly now: Date; readonly secret?: boolean }
  | { readonly type: 'timeout'; readonly gen: number; readonly now: Date }
  | { readonly type: 'lookup-result'; readonly requestId: string; readonly ok: true; readonly body: unknown; readonly now: Date }
  | { readonly type: 'lookup-result'; readonly requestId: string; readonly ok: false; readonly error: LookupError; readonly status?: number; readonly now: Date }
  | { readonly type: 'hangup'; readonly now: Date };

export type Media =
  | { readonly sound: string; readonly language: string }
  | { readonly prompt: string }
  | { readonly say: string; readonly voice?: string; readonly language: string }
  | { readonly digits: string };

export type FinishReason = 'hangup' | 'transfer' | 'caller-hangup' | 'error';

export type FlowAction =
  | { readonly kind: 'play'; readonly playbackId: string; readonly media: readonly Media[] }
  /** A recording node: pause or resume the call's recording. */
  | { readonly kind: 'recording'; readonly action: 'pause' | 'resume' }
  | { readonly kind: 'stop-playback'; readonly playbackId: string }
  | { readonly kind: 'start-timer'; readonly gen: number; readonly ms: number }
  | { readonly kind: 'cancel-timer' }
  | { readonly kind: 'lookup'; readonly requestId: string; readonly url: string; readonly params: Readonly<Record<string, string>>; readonly timeoutMs: number }
  | { readonly kind: 'transfer'; readonly target: TransferTarget }
  /** A survey node's answer: the score on its scale, or null (no response: silence, keys off the scale, the caller hung up). */
  | { readonly kind: 'survey-answer'; readonly question: string; readonly scale: SurveyNode['scale']; readonly score: number | null }
  | { readonly kind: 'hangup' }
  | { readonly kind: 'finished'; readonly reason: FinishReason };

export interface PathEntry {
  /** When the node was entered (ISO 8601). */
  readonly at: string;
  readonly node: string;
  readonly kind: NodeKind | 'truncated';
  /** Menus: which try at the menu this entry is (1, then 2, 3, ... for each retry). */
  readonly attempt?: number;
  /** DTMF the node (or this menu attempt) took (menu, gather), at most MAX_PATH_DIGITS. */
  readonly digits?: string;
  readonly lookup?: { readonly url: string; readonly ok: boolean; readonly ms?: number; readonly error?: LookupError; readonly status?: number };
  /** Menus: why this attempt failed, a digit not among the options ('invalid') or silence ('timeout'). */
  readonly failure?: 'invalid' | 'timeout';
  /** Survey questions: the score taken, or null (no response). */
  readonly score?: number | null;
  /**
   * How the node was left: the edge taken ('next', 'options.1', 'fallback', 'cases[0].next', 'open',
   * 'error', ...), 'retry' (a failed menu attempt: the menu starts over, in the next entry),
   * 'transfer', 'hangup', 'caller-hangup'.
   */
  readonly outcome?: string;
}

/** Every digit the flows took, in order, across menus (every attempt) and gathers (terminators included); the first MAX_CDR_DIGITS. */
export function pathDigits(path: readonly PathEntry[]): string {
  return path.map((e) => e.digits ?? '').join('').slice(0, MAX_CDR_DIGITS);
}

/** What the flow waits for. 'starting' exists only inside startFlow. */
export type FlowPhase =
  | 'starting' | 'playing' | 'menu-prompt' | 'menu-wait' | 'menu-retry' | 'gather-prompt' | 'gather-wait' | 'lookup'
  | 'survey-prompt' | 'survey-wait' | 'survey-retry' | 'survey-ten' | 'ended';

export interface FlowRunState {
  readonly def: FlowDefinition;
  readonly caller: string;
  readonly dialed: string;
  readonly siteTimezone: string;
  readonly phase: FlowPhase;
  /** The node waited in (or the last one entered). */
  readonly node: string;
  readonly vars: Readonly<Record<string, string>>;
  /** Counter behind playback and request ids. */
  readonly seq: number;
  readonly playbackId: string | null;
  readonly timerGen: number;
  readonly timerRunning: boolean;
  readonly requestId: string | null;
  readonly lookupStartedMs: number | null;
  /** Failed tries at the current menu or survey question. */
  readonly retries: number;
  /** Digits collected by the current gather. */
  readonly digits: string;
  /** A recording node paused the recording (PCI): digits typed now are not kept in the path. */
  readonly secret?: boolean;
  readonly path: readonly PathEntry[];
  /** The last path entry belongs to the current node (false after truncation). */
  readonly pathOpen: boolean;
  readonly finished: FinishReason | null;
}

export interface FlowStep {
  readonly state: FlowRunState;
  readonly actions: readonly FlowAction[];
}

const DTMF = /^[0-9*#A-D]$/;
const VAR_NAME = /^[a-z][a-z0-9_]{0,31}$/;
const has = (o: object, k: string): boolean => Object.hasOwn(o, k);

export function startFlow(def: FlowDefinition, ctx: FlowContext): FlowStep {
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.vars ?? {})) {
    if (VAR_NAME.test(k) && !BUILTIN_VARIABLES.has(k)) vars[k] = String(v).slice(0, MAX_VAR_LENGTH);
  }
  const state: FlowRunState = {
    def, caller: ctx.callerNumber, dialed: ctx.dialedNumber, siteTimezone: ctx.siteTimezone,
    phase: 'starting', node: '', vars, seq: 0, playbackId: null, timerGen: 0, timerRunning: false, requestId: null,
    lookupStartedMs: null, retries: 0, digits: '', path: [], pathOpen: false, finished: null,
  };
  const out: FlowAction[] = [];
  return { state: goTo(state, def.start, ctx.now, out), actions: out };
}

export function stepFlow(state: FlowRunState, event: FlowEvent): FlowStep {
  const stay: FlowStep = { state, actions: [] };
  if (state.phase === 'ended' || state.phase === 'starting') return stay;
  const out: FlowAction[] = [];
  const now = event.now;
  const node = has(state.def.nodes, state.node) ? state.def.nodes[state.node]! : null;

  switch (event.type) {
    case 'hangup': {
      // A caller gone during a survey question: no response.
      const asked = node?.kind === 'survey' && inSurvey(state) ? surveyAnswer(state, node, null, out) : state;
      const quiet = silence(asked, out);
      return { state: finish(close(quiet, 'caller-hangup'), 'caller-hangup', out), actions: out };
    }

    case 'playback-finished': {
      if (state.playbackId === null || event.playbackId !== state.playbackId) return stay;
      const done: FlowRunState = { ...state, playbackId: null };
      if (state.phase === 'playing' && node?.kind === 'play') return { state: goTo(close(done, 'next'), node.next, now, out), actions: out };
      if (state.phase === 'menu-prompt' && node?.kind === 'menu') return { state: startTimer(done, node.timeoutMs ?? MENU_DEFAULTS.timeoutMs, 'menu-wait', out), actions: out };
      if (state.phase === 'menu-retry' && node?.kind === 'menu') return { state: menuPrompt(done, node, out), actions: out };
      if (state.phase === 'gather-prompt' && node?.kind === 'gather') return { state: startTimer(done, node.timeoutMs ?? GATHER_DEFAULTS.timeoutMs, 'gather-wait', out), actions: out };
      if (state.phase === 'survey-prompt' && node?.kind === 'survey') return { state: startTimer(done, node.timeoutMs ?? SURVEY_DEFAULTS.timeoutMs, 'survey-wait', out), actions: out };
      if (state.phase === 'survey-retry' && node?.kind === 'survey') return { state: surveyPrompt(done, node, out), actions: out };
      return { state: done, actions: [] };
    }

    case 'dtmf': {
      if (typeof event.digit !== 'string' || !DTMF.test(event.digit)) return stay;
      const d = event.digit;
      // Paused for a card payment: the digit works, but the path (and so the CDR) never holds it.
      const addDigit = state.secret || event.secret ? (st: FlowRunState) => st : keepDigit;
      if (node?.kind === 'menu' && (state.phase === 'menu-prompt' || state.phase === 'menu-wait' || state.phase === 'menu-retry')) {
        const s = addDigit(silence(state, out), d);
        if (has(node.options, d)) return { state: goTo(close(s, `options.${d}`), node.options[d]!, now, out), actions: out };
        return { state: menuFailure(s, node, 'invalid', now, out), actions: out };
      }
      if (node?.kind === 'gather' && (state.phase === 'gather-prompt' || state.phase === 'gather-wait')) {
        const isEnd = d === node.terminator;
        if (!isEnd && !/^[0-9]$/.test(d)) return stay; // '*', '#' (unless the terminator), A-D
        const digits = isEnd ? state.digits : state.digits + d;
        if (isEnd || digits.length >= node.maxDigits) return { state: endGather({ ...addDigit(silence(state, out), d), digits }, node, now, out), actions: out };
        // More to come: stop the prompt (barge-in) and restart the inter-digit timer (a new gen replaces the old).
        const s = addDigit(stopPlayback(state, out), d);
        return { state: startTimer({ ...s, digits }, node.timeoutMs ?? GATHER_DEFAULTS.timeoutMs, 'gather-wait', out), actions: out };
      }
      if (node?.kind === 'survey' && inSurvey(state)) return { state: surveyDigit(addDigit(state, d), node, d, now, out), actions: out };
      return stay; // play, lookup: digits do nothing
    }

    case 'timeout': {
      if (!state.timerRunning || event.gen !== state.timerGen) return stay;
      const s: FlowRunState = { ...state, timerRunning: false };
      if (state.phase === 'menu-wait' && node?.kind === 'menu') return { state: menuFailure(s, node, 'timeout', now, out), actions: out };
      if (state.phase === 'gather-wait' && node?.kind === 'gather') return { state: endGather(s, node, now, out), actions: out };
      if (state.phase === 'survey-wait' && node?.kind === 'survey') return { state: surveyFailure(s, node, 'timeout', now, out), actions: out };
      if (state.phase === 'survey-ten' && node?.kind === 'survey') return { state: surveyScored(s, node, 1, now, out), actions: out };
      return { state: s, actions: [] };
    }

    case 'lookup-result': {
      if (state.phase !== 'lookup' || state.requestId === null || event.requestId !== state.requestId || node?.kind !== 'lookup') return stay;
      const elapsed = state.lookupStartedMs === null ? NaN : now.getTime() - state.lookupStartedMs;
      const ms = Number.isFinite(elapsed) && elapsed >= 0 ? { ms: elapsed } : {};
      const s: FlowRunState = { ...state, requestId: null, lookupStartedMs: null };
      if (!event.ok) {
        const status = typeof event.status === 'number' ? { status: event.status } : {};
        const noted = patchEntry(s, { lookup: { url: node.url, ok: false, ...ms, error: event.error, ...status } });
        return { state: goTo(close(noted, 'error'), node.error, now, out), actions: out };
      }
      const vars = { ...s.vars };
      for (const [name, path] of Object.entries(node.map)) vars[name] = stringify(pick(event.body, path));
      const noted = patchEntry({ ...s, vars }, { lookup: { url: node.url, ok: true, ...ms } });
      return { state: goTo(close(noted, 'next'), node.next, now, out), actions: out };
    }

    default:
      return stay; // an unknown event type from a confused runner
  }
}

/** Enter `id`, passing through instant nodes until the flow waits or ends. */
function goTo(from: FlowRunState, id: string, now: Date, out: FlowAction[]): FlowRunState {
  const def = from.def;
  let s = silence(from, out);
  let target = id;
  for (let steps = 0; ; steps++) {
    if (steps >= MAX_STEPS_PER_EVENT || !has(def.nodes, target)) return finish(s, 'error', out);
    const node = def.nodes[target]!;
    s = openEntry({ ...s, node: target, retries: 0, digits: '' }, node.kind, now, node.kind === 'menu' ? { attempt: 1 } : {});
    switch (node.kind) {
      case 'play': {
        const media = toMedia(s, node.prompt);
        if (media.length === 0) {
          s = close(s, 'next');
          target = node.next;
          continue;
        }
        return play(s, media, 'playing', out);
      }
      case 'menu':
        return menuPrompt(s, node, out);
      case 'gather': {
        const media = node.prompt === undefined ? [] : toMedia(s, node.prompt);
        if (media.length === 0) return startTimer(s, node.timeoutMs ?? GATHER_DEFAULTS.timeoutMs, 'gather-wait', out);
        return play(s, media, 'gather-prompt', out);
      }
      case 'branch': {
        const value = 'variable' in node.on ? varOf(s, node.on.variable) : s.caller;
        const i = node.cases.findIndex((c) => matches(c, value));
        const edge = i >= 0 ? `cases[${i}].next` : 'default';
        s = close(s, edge);
        target = i >= 0 ? node.cases[i]!.next : node.default;
        continue;
      }
      case 'schedule': {
        const st = scheduleState(node, now, s.siteTimezone);
        s = close(s, st);
        target = node[st];
        continue;
      }
      case 'set': {
        s = close({ ...s, vars: { ...s.vars, [node.variable]: expand(s, node.value).slice(0, MAX_VAR_LENGTH) } }, 'next');
        target = node.next;
        continue;
      }
      case 'lookup': {
        const seq = s.seq + 1;
        const requestId = `rq-${seq}`;
        const params: Record<string, string> = {};
        for (const [k, v] of Object.entries(node.params ?? {})) params[k] = expand(s, v);
        out.push({ kind: 'lookup', requestId, url: node.url, params, timeoutMs: node.timeoutMs });
        const t = now.getTime();
        return { ...s, phase: 'lookup', seq, requestId, lookupStartedMs: Number.isFinite(t) ? t : null };
      }
      case 'survey':
        return surveyPrompt(s, node, out);
      case 'recording': {
        out.push({ kind: 'recording', action: node.action });
        s = close({ ...s, secret: node.action === 'pause' }, 'next');
        target = node.next;
        continue;
      }
      case 'transfer':
        out.push({ kind: 'transfer', target: node.target });
        return finish(close(s, 'transfer'), 'transfer', out);
      case 'hangup':
        out.push({ kind: 'hangup' });
        return finish(close(s, 'hangup'), 'hangup', out);
    }
  }
}

function menuPrompt(s: FlowRunState, node: MenuNode, out: FlowAction[]): FlowRunState {
  const media = toMedia(s, node.prompt);
  if (media.length === 0) return startTimer(s, node.timeoutMs ?? MENU_DEFAULTS.timeoutMs, 'menu-wait', out);
  return play(s, media, 'menu-prompt', out);
}

/** A wrong digit or silence at a menu: tell the caller and start over, or give up to `fallback`. */
function menuFailure(s: FlowRunState, node: MenuNode, why: 'invalid' | 'timeout', now: Date, out: FlowAction[]): FlowRunState {
  const retries = s.retries + 1;
  if (retries > (node.maxRetries ?? MENU_DEFAULTS.maxRetries)) return goTo(patchEntry({ ...s, retries }, { failure: why, outcome: 'fallback' }), node.fallback, now, out);
  // This attempt ends here; the next one (its notice, the menu again) is its own path entry.
  const next = openEntry(patchEntry({ ...s, retries }, { failure: why, outcome: 'retry' }), 'menu', now, { attempt: retries + 1 });
  const notice: Prompt | undefined = why === 'invalid' ? (node.invalidPrompt ?? { sound: INVALID_OPTION_SOUND }) : node.timeoutPrompt;
  const media = notice === undefined ? [] : toMedia(next, notice);
  if (media.length === 0) return menuPrompt(next, node, out);
  return play(next, media, 'menu-retry', out);
}

// --- survey questions ----------------------------------------------------------------------------

const inSurvey = (s: FlowRunState): boolean => s.phase === 'survey-prompt' || s.phase === 'survey-wait' || s.phase === 'survey-retry' || s.phase === 'survey-ten';

function surveyPrompt(s: FlowRunState, node: SurveyNode, out: FlowAction[]): FlowRunState {
  const media = toMedia(s, node.prompt);
  if (media.length === 0) return startTimer(s, node.timeoutMs ?? SURVEY_DEFAULTS.timeoutMs, 'survey-wait', out);
  return play(s, media, 'survey-prompt', out);
}

/** A key during a survey question (the prompt stops: barge-in). */
function surveyDigit(s: FlowRunState, node: SurveyNode, d: string, now: Date, out: FlowAction[]): FlowRunState {
  if (s.phase === 'survey-ten') {
    // After a '1' on a 0-10 scale: '0' makes 10, '#' confirms 1, anything else is off the scale.
    if (d === '0') return surveyScored(silence(s, out), node, 10, now, out);
    if (d === '#') return surveyScored(silence(s, out), node, 1, now, out);
    return surveyFailure(silence(s, out), node, 'invalid', now, out);
  }
  const quiet = silence(s, out);
  if (!/^[0-9]$/.test(d)) return surveyFailure(quiet, node, 'invalid', now, out);
  const score = Number(d);
  if (node.scale === '1-5') return score >= 1 && score <= 5 ? surveyScored(quiet, node, score, now, out) : surveyFailure(quiet, node, 'invalid', now, out);
  if (score === 1) return startTimer(quiet, SURVEY_TEN_WAIT_MS, 'survey-ten', out); // 1, or the first key of 10
  return surveyScored(quiet, node, score, now, out);
}

/** A key off the scale or silence: the prompt again (after the invalid notice), or no response after the last retry. */
function surveyFailure(s: FlowRunState, node: SurveyNode, why: 'invalid' | 'timeout', now: Date, out: FlowAction[]): FlowRunState {
  const retries = s.retries + 1;
  if (retries > (node.maxRetries ?? SURVEY_DEFAULTS.maxRetries)) return surveyScored({ ...s, retries }, node, null, now, out);
  const next: FlowRunState = { ...s, retries };
  if (why === 'timeout') return surveyPrompt(next, node, out);
  const media = toMedia(next, node.invalidPrompt ?? { sound: INVALID_OPTION_SOUND });
  if (media.length === 0) return surveyPrompt(next, node, out);
  return play(next, media, 'survey-retry', out);
}

function surveyAnswer(s: FlowRunState, node: SurveyNode, score: number | null, out: FlowAction[]): FlowRunState {
  out.push({ kind: 'survey-answer', question: node.question, scale: node.scale, score });
  return patchEntry(s, { score });
}

function surveyScored(s: FlowRunState, node: SurveyNode, score: number | null, now: Date, out: FlowAction[]): FlowRunState {
  return goTo(close(surveyAnswer(s, node, score, out), 'next'), node.next, now, out);
}

function endGather(s: FlowRunState, node: GatherNode, now: Date, out: FlowAction[]): FlowRunState {
  const vars = { ...s.vars, [node.variable]: s.digits };
  const enough = s.digits.length >= node.minDigits;
  return goTo(close({ ...s, vars }, enough ? 'next' : 'timeout'), enough ? node.next : node.timeout, now, out);
}

function play(s: FlowRunState, media: Media[], phase: FlowPhase, out: FlowAction[]): FlowRunState {
  const seq = s.seq + 1;
  const playbackId = `pb-${seq}`;
  out.push({ kind: 'play', playbackId, media });
  return { ...s, phase, seq, playbackId };
}

function startTimer(s: FlowRunState, ms: number, phase: FlowPhase, out: FlowAction[]): FlowRunState {
  const gen = s.timerGen + 1;
  out.push({ kind: 'start-timer', gen, ms });
  return { ...s, phase, timerGen: gen, timerRunning: true };
}

function stopPlayback(s: FlowRunState, out: FlowAction[]): FlowRunState {
  if (s.playbackId === null) return s;
  out.push({ kind: 'stop-playback', playbackId: s.playbackId });
  return { ...s, playbackId: null };
}

/** Stop what is playing and the running timer. */
function silence(s: FlowRunState, out: FlowAction[]): FlowRunState {
  if (s.playbackId !== null) out.push({ kind: 'stop-playback', playbackId: s.playbackId });
  if (s.timerRunning) out.push({ kind: 'cancel-timer' });
  return s.playbackId === null && !s.timerRunning ? s : { ...s, playbackId: null, timerRunning: false };
}

function finish(s: FlowRunState, reason: FinishReason, out: FlowAction[]): FlowRunState {
  out.push({ kind: 'finished', reason });
  return { ...s, phase: 'ended', finished: reason, playbackId: null, timerRunning: false, requestId: null, lookupStartedMs: null };
}

// --- path --------------------------------------------------------------------------------------

function openEntry(s: FlowRunState, kind: NodeKind, now: Date, extra: Pick<PathEntry, 'attempt'> = {}): FlowRunState {
  const at = Number.isNaN(now.getTime()) ? '' : now.toISOString();
  if (s.path.length < MAX_PATH - 1) return { ...s, path: [...s.path, { at, node: s.node, kind, ...extra }], pathOpen: true };
  if (s.path.at(-1)?.kind !== 'truncated') return { ...s, path: [...s.path, { at, node: s.node, kind: 'truncated' }], pathOpen: false };
  return s.pathOpen ? { ...s, pathOpen: false } : s;
}

function patchEntry(s: FlowRunState, patch: Partial<PathEntry>): FlowRunState {
  const last = s.path.at(-1);
  if (!s.pathOpen || !last) return s;
  return { ...s, path: [...s.path.slice(0, -1), { ...last, ...patch }] };
}

function close(s: FlowRunState, outcome: string): FlowRunState {
  return patchEntry(s, { outcome });
}

function keepDigit(s: FlowRunState, d: string): FlowRunState {
  const last = s.path.at(-1);
  if (!s.pathOpen || !last || (last.digits ?? '').length >= MAX_PATH_DIGITS) return s;
  return patchEntry(s, { digits: (last.digits ?? '') + d });
}

// --- values ------------------------------------------------------------------------------------

function varOf(s: FlowRunState, name: string): string | undefined {
  if (name === 'caller') return s.caller;
  if (name === 'dialed') return s.dialed;
  return has(s.vars, name) ? s.vars[name] : undefined;
}

function expand(s: FlowRunState, template: string): string {
  return expandTemplate(template, (name) => varOf(s, name));
}

function matches(c: { equals?: string; prefix?: string; oneOf?: string[] }, value: string | undefined): boolean {
  const v = value ?? '';
  if (c.equals === undefined && c.prefix === undefined && c.oneOf === undefined) return false;
  return (c.equals === undefined || v === c.equals) && (c.prefix === undefined || v.startsWith(c.prefix)) && (c.oneOf === undefined || c.oneOf.includes(v));
}

function toMedia(s: FlowRunState, prompts: Prompts): Media[] {
  const language = s.def.language;
  const media: Media[] = [];
  for (const p of promptList(prompts)) {
    if ('sound' in p) media.push({ sound: p.sound, language });
    else if ('prompt' in p) media.push({ prompt: p.prompt });
    else if ('say' in p) media.push(p.voice === undefined ? { say: p.say, language } : { say: p.say, voice: p.voice, language });
    else {
      const digits = expand(s, p.digits).replace(/[^0-9]/g, '').slice(0, 64);
      if (digits !== '') media.push({ digits });
    }
  }
  return media;
}

/** The value at a dot path ('customer.tier', 'items.0.id') in a JSON answer. */
function pick(body: unknown, path: string): unknown {
  let cur: unknown = body;
  for (const seg of path.split('.')) {
    if (Array.isArray(cur) && /^(0|[1-9][0-9]*)$/.test(seg)) cur = cur[Number(seg)];
    else if (typeof cur === 'object' && cur !== null && !Array.isArray(cur) && has(cur, seg)) cur = (cur as Record<string, unknown>)[seg];
    else return undefined;
  }
  return cur;
}

function stringify(v: unknown): string {
  let text: string;
  if (v === undefined || v === null) text = '';
  else if (typeof v === 'string') text = v;
  else if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') text = String(v);
  else {
    try {
      text = JSON.stringify(v) ?? '';
    } catch {
      text = ''; // cycles: not JSON
    }
  }
  return text.slice(0, MAX_VAR_LENGTH);
}
