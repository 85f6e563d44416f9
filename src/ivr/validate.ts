/**
 * Checking an IVR flow before it is saved or published: every problem comes back at once, each
 * naming the node and field, with a stable kebab-case code a UI can key on.
 *
 *   checkFlow(json, catalog)    schema (TypeBox) first; if the shape is right, validateFlow
 *   validateFlow(def, catalog)  the graph and the outside world:
 *     - start set and known; every edge names an existing node; every node reachable from start;
 *     - no silent loop: a cycle without a menu or gather would spin without the caller (each
 *       strongly connected group of such nodes is reported once, with one cycle through it);
 *     - transfer targets exist (extensions, mailboxes, other flows, queues once the ACD exists,
 *       external numbers only where an outbound route matches); no transfer to the flow itself;
 *     - survey questions: one node per question key (answers are stored per call and question);
 *     - schedules (schedule.ts), uploaded prompts, lookup URLs (http/https, a host the site allows), templates naming only
 *       variables some node sets (or caller/dialed), digit counts, branch cases.
 *
 * Pure: the catalog is a snapshot the caller loads.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import {
  BUILTIN_VARIABLES, GATHER_DEFAULTS, MAX_NODES, MENU_DEFAULTS, NODE_ID_PATTERN, SURVEY_DEFAULTS, NodeSchemas, edgesOf, promptList, takesInput, templateNames,
  FlowDefinitionSchema, type FlowDefinition, type FlowNode, type NodeKind, type Prompts, type TransferTarget,
} from './model.js';
import { validateSchedule } from './schedule.js';

export interface Problem {
  /** The node the problem is in; null for the flow as a whole. */
  readonly node: string | null;
  /** Path inside the node (or the flow), e.g. 'options.3', 'cases[1].next', 'start'; '' = the node itself. */
  readonly field: string;
  readonly code: ProblemCode;
  readonly message: string;
}

export type ProblemCode =
  // shape (schema)
  | 'not-an-object' | 'missing-field' | 'unknown-field' | 'bad-value' | 'bad-shape' | 'unknown-kind' | 'bad-node-id' | 'too-many-nodes' | 'no-nodes'
  // graph
  | 'missing-start' | 'unknown-node' | 'unreachable-node' | 'silent-loop'
  // targets
  | 'unknown-target' | 'queue-not-supported' | 'no-outbound-route' | 'self-flow'
  // content
  | 'bad-schedule' | 'unknown-prompt' | 'bad-url' | 'unknown-variable' | 'bad-template' | 'reserved-variable' | 'bad-digit-range'
  | 'bad-case' | 'duplicate-case' | 'host-not-allowed' | 'duplicate-question';

export interface FlowCatalog {
  readonly extensions: ReadonlySet<string>;
  readonly mailboxes: ReadonlySet<string>;
  /** Names of the other flows. */
  readonly flows: ReadonlySet<string>;
  /** Uploaded prompt ids. */
  readonly prompts: ReadonlySet<string>;
  /** null: the ACD is not there yet, so no queue target can work. */
  readonly queues: ReadonlySet<string> | null;
  /** True when an outbound route matches the number. */
  readonly externalAllowed: (number: string) => boolean;
  /** This flow's own name: a transfer to it is 'self-flow'. */
  readonly self?: string;
  /** False when a lookup URL's host can never be reached (PBX_LOOKUP_ALLOWED_HOSTS); absent: not checked. */
  readonly lookupHostAllowed?: (hostname: string) => boolean;
  /** Variables the runner presets (besides caller and dialed). */
  readonly presetVariables?: ReadonlySet<string>;
}

export interface FlowCheck {
  /** The definition with defaults filled in, when the shape is right (even if other problems remain). */
  readonly flow: FlowDefinition | null;
  readonly problems: Problem[];
}

const VAR_NAME = /^[a-z][a-z0-9_]{0,31}$/;
const NODE_ID = new RegExp(NODE_ID_PATTERN);
const has = (o: object, k: string): boolean => Object.hasOwn(o, k);

/** Schema check, then (when the shape is right) the semantic checks of validateFlow. */
export function checkFlow(json: unknown, catalog: FlowCatalog): FlowCheck {
  const problems = schemaProblems(json);
  if (problems.length > 0) return { flow: null, problems };
  const flow = withDefaults(json as FlowDefinition);
  return { flow, problems: validateFlow(flow, catalog) };
}

export function validateFlow(def: FlowDefinition, catalog: FlowCatalog): Problem[] {
  const problems: Problem[] = [];
  const add = (node: string | null, field: string, code: ProblemCode, message: string) => problems.push({ node, field, code, message });
  const exists = (id: string) => has(def.nodes, id);
  const ids = Object.keys(def.nodes);

  if (!def.start) add(null, 'start', 'missing-start', 'the flow has no start node');
  else if (!exists(def.start)) add(null, 'start', 'unknown-node', `start names node '${def.start}', which does not exist`);

  const known = knownVariables(def, catalog);
  const questions = new Map<string, string>();
  for (const id of ids) {
    const node = def.nodes[id]!;
    const at = (field: string) => `node '${id}' ${field}`;
    for (const e of edgesOf(node)) {
      if (!exists(e.to)) add(id, e.field, 'unknown-node', `${at(e.field)} points to node '${e.to}', which does not exist`);
    }
    const template = (field: string, text: string) => {
      for (const name of templateNames(text)) {
        if (!VAR_NAME.test(name)) add(id, field, 'bad-template', `${at(field)}: '\${${name}}' is not a variable name`);
        else if (!known.has(name)) add(id, field, 'unknown-variable', `${at(field)} uses '\${${name}}', which no node sets`);
      }
    };
    const prompts = (field: string, p: Prompts | undefined) => {
      if (p === undefined) return;
      promptList(p).forEach((one, i) => {
        const f = Array.isArray(p) ? `${field}[${i}]` : field;
        if ('prompt' in one && !catalog.prompts.has(one.prompt)) add(id, `${f}.prompt`, 'unknown-prompt', `${at(f)} plays prompt '${one.prompt}', which is not uploaded`);
        if ('digits' in one) template(`${f}.digits`, one.digits);
      });
    };
    const writes = (field: string, name: string) => {
      if (BUILTIN_VARIABLES.has(name)) add(id, field, 'reserved-variable', `${at(field)}: '${name}' is built in and cannot be set`);
    };

    switch (node.kind) {
      case 'play':
        prompts('prompt', node.prompt);
        break;
      case 'menu':
        prompts('prompt', node.prompt);
        prompts('invalidPrompt', node.invalidPrompt);
        prompts('timeoutPrompt', node.timeoutPrompt);
        break;
      case 'gather':
        prompts('prompt', node.prompt);
        writes('variable', node.variable);
        if (node.minDigits > node.maxDigits) add(id, 'minDigits', 'bad-digit-range', `${at('minDigits')} (${node.minDigits}) is more than maxDigits (${node.maxDigits})`);
        break;
      case 'branch': {
        if ('variable' in node.on && !known.has(node.on.variable)) add(id, 'on.variable', 'unknown-variable', `${at('on.variable')} names '${node.on.variable}', which no node sets`);
        const seen = new Map<string, number>();
        node.cases.forEach((c, i) => {
          const f = `cases[${i}]`;
          if (c.equals === undefined && c.prefix === undefined && c.oneOf === undefined) {
            add(id, f, 'bad-case', `${at(f)} has no equals, prefix or oneOf, so it never matches`);
            return;
          }
          const key = JSON.stringify([c.equals ?? null, c.prefix ?? null, c.oneOf ?? null]);
          const first = seen.get(key);
          if (first !== undefined) add(id, f, 'duplicate-case', `${at(f)} repeats cases[${first}], so it is never chosen`);
          else seen.set(key, i);
        });
        break;
      }
      case 'schedule':
        for (const p of validateSchedule(node)) add(id, p.field, 'bad-schedule', `${at(p.field)}: ${p.message}`);
        break;
      case 'set':
        writes('variable', node.variable);
        template('value', node.value);
        break;
      case 'lookup': {
        if (!isHttpUrl(node.url)) add(id, 'url', 'bad-url', `${at('url')} '${node.url.slice(0, 100)}' is not an http(s) URL`);
        else if (catalog.lookupHostAllowed && !catalog.lookupHostAllowed(new URL(node.url).hostname)) {
          add(id, 'url', 'host-not-allowed', `${at('url')}: host '${new URL(node.url).hostname}' is not one lookups may reach (PBX_LOOKUP_ALLOWED_HOSTS)`);
        }
        for (const [k, v] of Object.entries(node.params ?? {})) template(`params.${k}`, v);
        for (const name of Object.keys(node.map)) writes(`map.${name}`, name);
        break;
      }
      case 'transfer': {
        const p = targetProblem(node.target, catalog);
        if (p) add(id, p.field, p.code, `${at(p.field)}: ${p.message}`);
        break;
      }
      case 'survey': {
        prompts('prompt', node.prompt);
        prompts('invalidPrompt', node.invalidPrompt);
        const first = questions.get(node.question);
        if (first !== undefined) add(id, 'question', 'duplicate-question', `${at('question')} '${node.question}' is asked by node '${first}' already (one answer per call and question)`);
        else questions.set(node.question, id);
        break;
      }
      case 'hangup':
      case 'recording':
        break;
    }
  }

  if (def.start && exists(def.start)) {
    const reached = reachable(def, def.start);
    for (const id of ids) {
      if (!reached.has(id)) add(id, '', 'unreachable-node', `node '${id}' cannot be reached from start '${def.start}'`);
    }
  }
  for (const loop of silentLoops(def)) {
    add(loop.nodes[0]!, loop.field, 'silent-loop',
      `nodes ${[...loop.nodes, loop.nodes[0]].map((n) => `'${n}'`).join(' -> ')} loop without waiting for the caller (put a menu or gather in the loop)`);
  }
  return problems;
}

function knownVariables(def: FlowDefinition, catalog: FlowCatalog): Set<string> {
  const known = new Set<string>([...BUILTIN_VARIABLES, ...(catalog.presetVariables ?? [])]);
  for (const node of Object.values(def.nodes)) {
    if (node.kind === 'set' || node.kind === 'gather') known.add(node.variable);
    if (node.kind === 'lookup') for (const k of Object.keys(node.map)) known.add(k);
  }
  return known;
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

function targetProblem(t: TransferTarget, c: FlowCatalog): { field: string; code: ProblemCode; message: string } | null {
  switch (t.kind) {
    case 'extension':
      return c.extensions.has(t.number) ? null : { field: 'target.number', code: 'unknown-target', message: `extension ${t.number} does not exist` };
    case 'voicemail':
      return c.mailboxes.has(t.mailbox) ? null : { field: 'target.mailbox', code: 'unknown-target', message: `mailbox ${t.mailbox} does not exist` };
    case 'flow':
      if (c.self !== undefined && t.flow === c.self) return { field: 'target.flow', code: 'self-flow', message: `transfers to this same flow '${t.flow}' (point an edge at the start node instead)` };
      return c.flows.has(t.flow) ? null : { field: 'target.flow', code: 'unknown-target', message: `flow '${t.flow}' does not exist` };
    case 'queue':
      if (c.queues === null) return { field: 'target.queue', code: 'queue-not-supported', message: `queue '${t.queue}': queues arrive with the ACD, which is not installed yet` };
      return c.queues.has(t.queue) ? null : { field: 'target.queue', code: 'unknown-target', message: `queue '${t.queue}' does not exist` };
    case 'external':
      return c.externalAllowed(t.number) ? null : { field: 'target.number', code: 'no-outbound-route', message: `no outbound route matches ${t.number}` };
  }
}

function reachable(def: FlowDefinition, start: string): Set<string> {
  const seen = new Set<string>([start]);
  const todo = [start];
  for (let id = todo.pop(); id !== undefined; id = todo.pop()) {
    for (const e of edgesOf(def.nodes[id]!)) {
      if (has(def.nodes, e.to) && !seen.has(e.to)) {
        seen.add(e.to);
        todo.push(e.to);
      }
    }
  }
  return seen;
}

interface Loop {
  /** One cycle, starting at the group's first node (in definition order). */
  readonly nodes: readonly string[];
  /** The edge of nodes[0] that starts the cycle. */
  readonly field: string;
}

/** Cycles among nodes that do not wait for the caller: one per strongly connected group (Tarjan). */
export function silentLoops(def: FlowDefinition): Loop[] {
  const ids = Object.keys(def.nodes).filter((id) => !takesInput(def.nodes[id]!));
  const inGraph = new Set(ids);
  const succ = (id: string) => edgesOf(def.nodes[id]!).filter((e) => inGraph.has(e.to));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const groups: string[][] = [];
  let counter = 0;
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const { to } of succ(v)) {
      if (!index.has(to)) {
        visit(to);
        low.set(v, Math.min(low.get(v)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(v, Math.min(low.get(v)!, index.get(to)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      for (let w = stack.pop(); w !== undefined; w = stack.pop()) {
        onStack.delete(w);
        group.push(w);
        if (w === v) break;
      }
      groups.push(group);
    }
  };
  for (const id of ids) if (!index.has(id)) visit(id); // depth <= MAX_NODES

  const order = new Map(ids.map((id, i) => [id, i]));
  const loops: Loop[] = [];
  for (const group of groups) {
    const members = new Set(group);
    const first = [...group].sort((a, b) => order.get(a)! - order.get(b)!)[0]!;
    if (group.length === 1 && !succ(first).some((e) => e.to === first)) continue;
    // Shortest way from `first` back to itself inside the group (BFS).
    const prev = new Map<string, { from: string; field: string }>();
    const queue = [first];
    let closing: { from: string; field: string } | null = null;
    while (queue.length > 0 && closing === null) {
      const v = queue.shift()!;
      for (const e of succ(v)) {
        if (!members.has(e.to)) continue;
        if (e.to === first) {
          closing = { from: v, field: e.field };
          break;
        }
        if (!prev.has(e.to)) {
          prev.set(e.to, { from: v, field: e.field });
          queue.push(e.to);
        }
      }
    }
    if (closing === null) continue; // cannot happen: the group is strongly connected
    const cycle: string[] = [];
    for (let v = closing.from; v !== first; v = prev.get(v)!.from) cycle.unshift(v);
    cycle.unshift(first);
    const field = cycle.length === 1 ? closing.field : prev.get(cycle[1]!)!.field;
    loops.push({ nodes: cycle, field });
  }
  return loops.sort((a, b) => order.get(a.nodes[0]!)! - order.get(b.nodes[0]!)!);
}

// --- schema ------------------------------------------------------------------------------------

const Shell = Type.Object(
  {
    language: FlowDefinitionSchema.properties.language,
    start: FlowDefinitionSchema.properties.start,
    nodes: Type.Record(Type.String({ pattern: NODE_ID_PATTERN }), Type.Unknown(), { additionalProperties: false, minProperties: 1, maxProperties: MAX_NODES }),
  },
  { additionalProperties: false },
);

function schemaProblems(json: unknown): Problem[] {
  if (!isObject(json)) return [{ node: null, field: '', code: 'not-an-object', message: 'a flow definition is a JSON object { language, start, nodes }' }];
  const problems: Problem[] = [];
  const seen = new Set<string>();
  const push = (p: Problem) => {
    const key = `${p.node}\u0000${p.field}`; // one problem per field: the first (e.g. 'missing-field') says enough
    if (!seen.has(key)) {
      seen.add(key);
      problems.push(p);
    }
  };
  for (const e of Value.Errors(Shell, json)) push(shellProblem(json, e));
  const nodes = json.nodes;
  if (!isObject(nodes)) return problems;
  for (const [id, node] of Object.entries(nodes)) {
    if (!NODE_ID.test(id)) continue; // already reported as bad-node-id
    const kind = isObject(node) ? node.kind : undefined;
    if (typeof kind !== 'string' || !has(NodeSchemas, kind)) {
      push({ node: id, field: 'kind', code: 'unknown-kind', message: `node '${id}' kind ${JSON.stringify(kind ?? null)?.slice(0, 40)} is not one of ${Object.keys(NodeSchemas).join(', ')}` });
      continue;
    }
    const schema: TSchema = NodeSchemas[kind as NodeKind];
    for (const e of Value.Errors(schema, node)) push(nodeProblem(id, node, e));
  }
  return problems;
}

function shellProblem(json: Record<string, unknown>, e: ValueError): Problem {
  const segs = pointer(e.path);
  if (segs[0] === 'nodes' && segs.length === 2 && e.type === ValueErrorType.ObjectAdditionalProperties) {
    return { node: segs[1]!, field: '', code: 'bad-node-id', message: `node id '${segs[1]!.slice(0, 80)}' must start with a letter and use only letters, digits, _ and - (max 64)` };
  }
  if (segs.length === 1 && segs[0] === 'nodes' && e.type === ValueErrorType.ObjectMaxProperties) {
    return { node: null, field: 'nodes', code: 'too-many-nodes', message: `a flow has at most ${MAX_NODES} nodes` };
  }
  if (segs.length === 1 && segs[0] === 'nodes' && e.type === ValueErrorType.ObjectMinProperties) {
    return { node: null, field: 'nodes', code: 'no-nodes', message: 'the flow has no nodes' };
  }
  const field = fieldPath(json, segs);
  return { node: null, field, code: codeOf(e), message: `${field || 'the flow'}: ${describe(e)}` };
}

function nodeProblem(id: string, node: unknown, e: ValueError): Problem {
  const field = fieldPath(node, pointer(e.path));
  return { node: id, field, code: codeOf(e), message: `node '${id}' ${field || ''}${field ? ': ' : ''}${describe(e)}` };
}

function codeOf(e: ValueError): ProblemCode {
  if (e.type === ValueErrorType.ObjectRequiredProperty) return 'missing-field';
  if (e.type === ValueErrorType.ObjectAdditionalProperties) return 'unknown-field';
  if (e.type === ValueErrorType.Union) return 'bad-shape';
  return 'bad-value';
}

function describe(e: ValueError): string {
  if (e.type === ValueErrorType.ObjectRequiredProperty) return 'is required';
  if (e.type === ValueErrorType.ObjectAdditionalProperties) return 'is not a known field';
  const what = typeof e.schema.description === 'string' ? ` (${e.schema.description})` : '';
  return `${e.message}${what}`;
}

/** '/nodes/a~1b/x' -> ['nodes', 'a/b', 'x'] */
function pointer(path: string): string[] {
  if (path === '') return [];
  return path.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Segments -> 'options.3', 'cases[1].next', 'prompt[0].sound' (array indexes in brackets). */
function fieldPath(root: unknown, segs: readonly string[]): string {
  let out = '';
  let cur: unknown = root;
  for (const s of segs) {
    if (Array.isArray(cur)) {
      out += `[${s}]`;
      cur = cur[Number(s)];
    } else {
      out += out === '' ? s : `.${s}`;
      cur = isObject(cur) && has(cur, s) ? cur[s] : undefined;
    }
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A copy with the optional timing fields filled in. */
function withDefaults(def: FlowDefinition): FlowDefinition {
  const nodes: Record<string, FlowNode> = {};
  for (const [id, n] of Object.entries(def.nodes)) {
    if (n.kind === 'menu') nodes[id] = { ...n, timeoutMs: n.timeoutMs ?? MENU_DEFAULTS.timeoutMs, maxRetries: n.maxRetries ?? MENU_DEFAULTS.maxRetries };
    else if (n.kind === 'gather') nodes[id] = { ...n, timeoutMs: n.timeoutMs ?? GATHER_DEFAULTS.timeoutMs };
    else if (n.kind === 'survey') nodes[id] = { ...n, timeoutMs: n.timeoutMs ?? SURVEY_DEFAULTS.timeoutMs, maxRetries: n.maxRetries ?? SURVEY_DEFAULTS.maxRetries };
    else nodes[id] = n;
  }
  return { ...def, nodes };
}
