/**
 * An IVR flow definition: the JSON an administrator saves (and versions) for an auto attendant.
 *
 *   { language: 'en', start: 'welcome', nodes: { welcome: { kind: 'play', ... }, ... } }
 *
 * A flow is a graph of at most MAX_NODES named nodes. Some nodes wait for the caller (play, menu,
 * gather, survey) or for the network (lookup); branch, set and schedule decide at once; transfer and
 * hangup end the flow. Edges are node ids (`next`, `options`, `fallback`, `timeout`, `cases`,
 * `default`, `open`/`closed`/`holiday`, `error`).
 *
 * This file holds the TypeBox schemas (what the API accepts) and the TypeScript types derived from
 * them. The schema checks shapes only; graph and catalog rules (edges, reachability, loops,
 * extensions, prompts) live in validate.ts. Pure: no I/O.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

export const MAX_NODES = 200;
export const MENU_DEFAULTS = { timeoutMs: 5_000, maxRetries: 2 } as const;
export const GATHER_DEFAULTS = { timeoutMs: 5_000 } as const;
export const SURVEY_DEFAULTS = { timeoutMs: 5_000, maxRetries: 1 } as const;
/** On a 0-10 survey, after a '1' the caller has this long to press '0' (for 10); else the score is 1. */
export const SURVEY_TEN_WAIT_MS = 2_000;
export const SURVEY_QUESTION_PATTERN = '^[a-z][a-z0-9_-]{0,39}$';
/** What `${...}` may name besides the flow's own variables. */
export const BUILTIN_VARIABLES: ReadonlySet<string> = new Set(['caller', 'dialed']);

export const NODE_ID_PATTERN = '^[A-Za-z][A-Za-z0-9_-]{0,63}$';
export const VAR_NAME_PATTERN = '^[a-z][a-z0-9_]{0,31}$';
const DIGIT_KEY_PATTERN = '^[0-9*#]$';

const strict = { additionalProperties: false } as const;

export const NodeId = Type.String({ pattern: NODE_ID_PATTERN, description: 'a node id: letter, then letters, digits, _ or - (max 64)' });
export const VarName = Type.String({ pattern: VAR_NAME_PATTERN, description: 'a variable: lower case letter, then a-z 0-9 _ (max 32)' });
/** Text in which `${var}`, `${caller}` and `${dialed}` are replaced. */
export const Template = Type.String({ maxLength: 1_000 });

export const Prompt = Type.Union(
  [
    Type.Object({ sound: Type.String({ pattern: '^[A-Za-z0-9_/-]+$', maxLength: 128, description: "an Asterisk sound, e.g. 'vm-intro' or 'digits/1'" }) }, strict),
    Type.Object({ prompt: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$', description: 'an uploaded prompt (uuid or slug)' }) }, strict),
    Type.Object({ say: Type.String({ minLength: 1, maxLength: 500, description: 'text spoken by text-to-speech' }), voice: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' })) }, strict),
    Type.Object({ digits: Template }, strict),
  ],
  { description: 'a prompt: {sound} | {prompt} | {say, voice?} | {digits}' },
);
export type Prompt = Static<typeof Prompt>;

export const Prompts = Type.Union([Prompt, Type.Array(Prompt, { minItems: 1, maxItems: 20 })], {
  description: 'a prompt or a list of 1 to 20 prompts',
});
export type Prompts = Static<typeof Prompts>;

const TimeOfDay = Type.String({ pattern: '^[0-9]{2}:[0-9]{2}$', description: "'HH:MM', 24-hour; '24:00' only as an end" });
const DateString = Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description: "'YYYY-MM-DD'" });
export const TimeRange = Type.Object({ from: TimeOfDay, to: TimeOfDay }, strict);
export type TimeRange = Static<typeof TimeRange>;
const DayRanges = Type.Optional(Type.Array(TimeRange, { maxItems: 24 }));
export const WeekHours = Type.Object(
  { mon: DayRanges, tue: DayRanges, wed: DayRanges, thu: DayRanges, fri: DayRanges, sat: DayRanges, sun: DayRanges },
  strict,
);
export type WeekHours = Static<typeof WeekHours>;
export type Weekday = keyof WeekHours;
export const WEEKDAYS: readonly Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const HolidayName = Type.Optional(Type.String({ maxLength: 100 }));
export const Holiday = Type.Union(
  [
    Type.Object({ date: DateString, name: HolidayName }, strict),
    Type.Object({ from: DateString, to: DateString, name: HolidayName }, strict),
  ],
  { description: "a holiday: { date } or { from, to } (both days included), with an optional name" },
);
export type Holiday = Static<typeof Holiday>;

export const TransferTarget = Type.Union(
  [
    Type.Object({ kind: Type.Literal('extension'), number: Type.String({ pattern: '^[0-9]{2,16}$' }) }, strict),
    Type.Object({ kind: Type.Literal('queue'), queue: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' }) }, strict),
    Type.Object({ kind: Type.Literal('voicemail'), mailbox: Type.String({ pattern: '^[0-9]{2,16}$' }) }, strict),
    Type.Object({ kind: Type.Literal('flow'), flow: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' }) }, strict),
    Type.Object({ kind: Type.Literal('external'), number: Type.String({ pattern: '^\\+?[0-9]{2,20}$' }) }, strict),
  ],
  { description: 'a target: {kind: extension, number} | {kind: queue, queue} | {kind: voicemail, mailbox} | {kind: flow, flow} | {kind: external, number}' },
);
export type TransferTarget = Static<typeof TransferTarget>;

export const PlayNode = Type.Object({ kind: Type.Literal('play'), prompt: Prompts, next: NodeId }, strict);
export const MenuNode = Type.Object(
  {
    kind: Type.Literal('menu'),
    prompt: Prompts,
    options: Type.Record(Type.String({ pattern: DIGIT_KEY_PATTERN }), NodeId, { ...strict, minProperties: 1, description: "digit ('0'-'9', '*', '#') -> node" }),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1_000, maximum: 30_000, default: MENU_DEFAULTS.timeoutMs })),
    maxRetries: Type.Optional(Type.Integer({ minimum: 0, maximum: 5, default: MENU_DEFAULTS.maxRetries })),
    invalidPrompt: Type.Optional(Prompt),
    timeoutPrompt: Type.Optional(Prompt),
    fallback: NodeId,
  },
  strict,
);
export const GatherNode = Type.Object(
  {
    kind: Type.Literal('gather'),
    prompt: Type.Optional(Prompts),
    variable: VarName,
    minDigits: Type.Integer({ minimum: 1, maximum: 32 }),
    maxDigits: Type.Integer({ minimum: 1, maximum: 32 }),
    terminator: Type.Optional(Type.Union([Type.Literal('#'), Type.Literal('*')])),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1_000, maximum: 30_000, default: GATHER_DEFAULTS.timeoutMs, description: 'inter-digit timeout' })),
    next: NodeId,
    timeout: NodeId,
  },
  strict,
);
export const BranchCase = Type.Object(
  {
    equals: Type.Optional(Type.String({ maxLength: 256 })),
    prefix: Type.Optional(Type.String({ maxLength: 256 })),
    oneOf: Type.Optional(Type.Array(Type.String({ maxLength: 256 }), { minItems: 1, maxItems: 100 })),
    next: NodeId,
  },
  strict,
);
export type BranchCase = Static<typeof BranchCase>;
export const BranchNode = Type.Object(
  {
    kind: Type.Literal('branch'),
    on: Type.Union([Type.Object({ variable: VarName }, strict), Type.Object({ callerNumber: Type.Literal(true) }, strict)], {
      description: '{ variable } or { callerNumber: true }',
    }),
    cases: Type.Array(BranchCase, { maxItems: 50 }),
    default: NodeId,
  },
  strict,
);
export const ScheduleNode = Type.Object(
  {
    kind: Type.Literal('schedule'),
    timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "IANA time zone; the site's when absent" })),
    hours: WeekHours,
    holidays: Type.Array(Holiday, { maxItems: 366 }),
    open: NodeId,
    closed: NodeId,
    holiday: NodeId,
  },
  strict,
);
export const SetNode = Type.Object({ kind: Type.Literal('set'), variable: VarName, value: Template, next: NodeId }, strict);
export const LookupNode = Type.Object(
  {
    kind: Type.Literal('lookup'),
    url: Type.String({ minLength: 1, maxLength: 2_000 }),
    timeoutMs: Type.Integer({ minimum: 100, maximum: 10_000 }),
    params: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }), Template, { ...strict, maxProperties: 20 })),
    map: Type.Record(Type.String({ pattern: VAR_NAME_PATTERN }), Type.String({ pattern: '^[A-Za-z0-9_$-]+(\\.[A-Za-z0-9_$-]+)*$', maxLength: 256, description: "dot path into the JSON answer, e.g. 'customer.tier'" }), {
      ...strict,
      maxProperties: 20,
    }),
    next: NodeId,
    error: NodeId,
  },
  strict,
);
export const TransferNode = Type.Object({ kind: Type.Literal('transfer'), target: TransferTarget }, strict);
export const HangupNode = Type.Object({ kind: Type.Literal('hangup') }, strict);
/**
 * Pause or resume the call's recording (PCI: a payment flow collecting card digits). While paused
 * the recording holds silence and the digits the caller types are kept nowhere: not in the path,
 * not in the CDR's digits (they still reach the flow's gather variable and its lookups).
 */
export const RecordingNode = Type.Object(
  { kind: Type.Literal('recording'), action: Type.Union([Type.Literal('pause'), Type.Literal('resume')]), next: NodeId },
  strict,
);

/**
 * A post-call survey question (docs/ivr.md#survey-questions): plays its prompt, takes one score on
 * its scale ('1-5': keys 1-5; '0-10': keys 0-9, and 10 as '1' then '0'), replays the prompt after
 * a key off the scale or silence (maxRetries times), then goes to `next` either way. The answer,
 * or no response (null), is stored with the call, its queue and agent under `question`.
 */
export const SurveyNode = Type.Object(
  {
    kind: Type.Literal('survey'),
    question: Type.String({ pattern: SURVEY_QUESTION_PATTERN, description: "the question's key in the answers, e.g. 'csat' or 'nps' (lower case, up to 40)" }),
    scale: Type.Union([Type.Literal('1-5'), Type.Literal('0-10')], { description: "'1-5' (CSAT) or '0-10' (NPS)" }),
    prompt: Prompts,
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1_000, maximum: 30_000, default: SURVEY_DEFAULTS.timeoutMs, description: 'silence after the prompt before it is played again' })),
    maxRetries: Type.Optional(Type.Integer({ minimum: 0, maximum: 5, default: SURVEY_DEFAULTS.maxRetries, description: 'replays after a key off the scale or silence; then no response' })),
    invalidPrompt: Type.Optional(Prompt),
    next: NodeId,
  },
  strict,
);

/** One schema per node kind (checkFlow picks by `kind` to give precise error paths). */
export const NodeSchemas = {
  play: PlayNode,
  menu: MenuNode,
  gather: GatherNode,
  branch: BranchNode,
  schedule: ScheduleNode,
  set: SetNode,
  lookup: LookupNode,
  transfer: TransferNode,
  hangup: HangupNode,
  recording: RecordingNode,
  survey: SurveyNode,
} as const satisfies Record<string, TSchema>;
export type NodeKind = keyof typeof NodeSchemas;
export const NODE_KINDS = Object.keys(NodeSchemas) as NodeKind[];

export const FlowNode = Type.Union([PlayNode, MenuNode, GatherNode, BranchNode, ScheduleNode, SetNode, LookupNode, TransferNode, HangupNode, RecordingNode, SurveyNode]);
export type PlayNode = Static<typeof PlayNode>;
export type MenuNode = Static<typeof MenuNode>;
export type GatherNode = Static<typeof GatherNode>;
export type BranchNode = Static<typeof BranchNode>;
export type ScheduleNode = Static<typeof ScheduleNode>;
export type SetNode = Static<typeof SetNode>;
export type LookupNode = Static<typeof LookupNode>;
export type TransferNode = Static<typeof TransferNode>;
export type HangupNode = Static<typeof HangupNode>;
export type RecordingNode = Static<typeof RecordingNode>;
export type SurveyNode = Static<typeof SurveyNode>;
export type FlowNode = Static<typeof FlowNode>;

export const FlowDefinitionSchema = Type.Object(
  {
    language: Type.String({ pattern: '^[a-z]{2,3}([_-][A-Za-z0-9]{2,8})?$', description: "sound language, e.g. 'en', 'fr', 'de', 'en_GB'" }),
    start: NodeId,
    nodes: Type.Record(Type.String({ pattern: NODE_ID_PATTERN }), FlowNode, { ...strict, minProperties: 1, maxProperties: MAX_NODES }),
  },
  { ...strict, $id: 'IvrFlowDefinition' },
);
export type FlowDefinition = Static<typeof FlowDefinitionSchema>;

/** The schedule part of a schedule node (what schedule.ts needs). */
export type ScheduleSpec = Pick<ScheduleNode, 'timezone' | 'hours' | 'holidays'>;

export interface Edge {
  /** Where the edge sits in the node, e.g. 'next', 'options.3', 'cases[1].next'. */
  readonly field: string;
  readonly to: string;
}

/** Every outgoing edge of a node, in a stable order. */
export function edgesOf(node: FlowNode): Edge[] {
  switch (node.kind) {
    case 'play':
    case 'set':
    case 'recording':
    case 'survey':
      return [{ field: 'next', to: node.next }];
    case 'menu':
      return [...Object.entries(node.options).map(([digit, to]) => ({ field: `options.${digit}`, to })), { field: 'fallback', to: node.fallback }];
    case 'gather':
      return [{ field: 'next', to: node.next }, { field: 'timeout', to: node.timeout }];
    case 'branch':
      return [...node.cases.map((c, i) => ({ field: `cases[${i}].next`, to: c.next })), { field: 'default', to: node.default }];
    case 'schedule':
      return [{ field: 'open', to: node.open }, { field: 'closed', to: node.closed }, { field: 'holiday', to: node.holiday }];
    case 'lookup':
      return [{ field: 'next', to: node.next }, { field: 'error', to: node.error }];
    case 'transfer':
    case 'hangup':
      return [];
  }
}

/** Nodes that wait for the caller's digits: a loop through one of them is not silent. */
export function takesInput(node: FlowNode): boolean {
  return node.kind === 'menu' || node.kind === 'gather' || node.kind === 'survey';
}

export function promptList(p: Prompts): readonly Prompt[] {
  return Array.isArray(p) ? p : [p];
}

const TEMPLATE_REF = /\$\{([^}]*)\}/g;

/** The names a template refers to, in order (may repeat; may be malformed names). */
export function templateNames(template: string): string[] {
  return [...template.matchAll(TEMPLATE_REF)].map((m) => m[1] ?? '');
}

/** Replace `${name}` with its value; unknown names become ''. */
export function expandTemplate(template: string, lookup: (name: string) => string | undefined): string {
  return template.replace(TEMPLATE_REF, (_m, name: string) => lookup(name) ?? '');
}
