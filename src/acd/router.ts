/**
 * The ACD's routing decision: which waiting call goes to which ready agent, now. Pure:
 *
 *   routeCalls({ queues, waiting, agents, now, rng }, state) -> { assignments, state }
 *
 * Rules:
 *   - Only agents in status 'ready' that are members of the call's queue are offered a call, and an
 *     agent gets at most one call per decision (ring-all gives a call several agents; they are then
 *     taken for this decision too).
 *   - Calls are served highest priority first, then longest waiting (then call id), across all
 *     queues; each call takes the best free eligible agent of its queue right away (greedy). A call
 *     for which no free agent qualifies is left waiting; later calls may still be served.
 *   - Eligible = ready, member, not yet taken, and holding every required skill at its minimum level
 *     (the call's own requirements from the IVR replace the queue's when given). The queue's
 *     widening schedule lowers the levels with the call's waiting time: a step { afterSeconds: 30,
 *     lowerBy: 1 } accepts one level less after 30 s, { afterSeconds: 60, lowerBy: 'any' } accepts
 *     any level (the skill itself stays required); the largest drop reached counts, so waiting
 *     longer never narrows the choice. Levels are 1-5; a missing skill is level 0.
 *   - Lower penalty first: only the free eligible agents with the lowest penalty in that queue are
 *     candidates; the queue's strategy picks among them:
 *       longest-idle     earliest idleSince
 *       fewest-calls     fewest callsHandled (today), then longest idle
 *       least-talk-time  least talkSeconds (today), then longest idle
 *       skills           highest summed level over the required skills, then longest idle
 *       round-robin      the next agent id after the queue's cursor (wrapping); the cursor is kept
 *                        in RouterState and returned updated
 *       random           uniform over the candidates, drawn from the injected rng
 *       ring-all         all candidates at once
 *     Remaining ties: longest idle, then least recently offered (lastOfferedAt), then agent id.
 *
 * No starvation within a queue: in service order, a call that finds no eligible agent means that
 * no free agent of the queue qualifies for it; agents only get taken afterwards, so every later
 * call of the queue with the same requirements and a widening no larger cannot qualify either.
 * Those are skipped without a search (a per-queue note of the largest widening found hopeless),
 * and once the queue's own requirements are hopeless even fully widened, its whole standard list.
 *
 * Speed. The waiting calls come as a WaitingCalls index (waiting-calls.ts): per queue, in service
 * order, kept up to date call by call, so a decision never looks at all waiting calls, only at the
 * head of each queue's lists. With a agents, r ready agents with m queue memberships, Q queues,
 * A assignments, S calls skipped as hopeless, k = ready members of a queue, s = required skills:
 *   1. one pass over the agents: the ready ones go into their queues' member lists, each sorted by
 *      (penalty, strategy key, idle, last offer, id): O(a + m log m);
 *   2. a heap of the queues' list heads (at most 2Q) gives the next call in service order; each step
 *      assigns (A times) or moves past a call (S times), scanning at most the ready members of one
 *      queue: O((A + S) * (log Q + k * s)); a queue without free members leaves the heap at once,
 *      and the decision stops when no ready agent is left.
 * So O(a + m log m + Q + (A + S)(log Q + k s)) per decision, independent of the number of waiting
 * calls; the naive way (sort all n calls, scan all a agents per call) is O(n log n + n a s).
 * For 1,000 agents and 10,000 calls in 50 queues see bench/acd-routing.ts and docs/benchmarks.md.
 *
 * Nothing in the input is modified. Times are epoch milliseconds.
 */
import type { AgentStatus, SkillRequirement, Strategy, WideningStep } from './tables.js';
import { compareService, type WaitingCall, type WaitingCalls } from './waiting-calls.js';

/** Defined with the table that stores them (queues). */
export type { SkillRequirement, Strategy, WideningStep };

export const STRATEGIES: readonly Strategy[] = ['longest-idle', 'round-robin', 'fewest-calls', 'least-talk-time', 'random', 'ring-all', 'skills'];


export interface QueueConfig {
  readonly id: string;
  readonly strategy: Strategy;
  readonly requiredSkills: readonly SkillRequirement[];
  readonly widening?: readonly WideningStep[];
}

export interface QueueMembership {
  readonly queueId: string;
  /** Lower is offered first. */
  readonly penalty: number;
}

export interface RoutableAgent {
  readonly id: string;
  readonly state: AgentStatus;
  readonly memberships: readonly QueueMembership[];
  /** Skill name -> level 1-5. */
  readonly skills: Readonly<Record<string, number>>;
  readonly idleSince: number;
  readonly callsHandled: number;
  readonly talkSeconds: number;
  readonly lastOfferedAt: number | null;
}

export interface Assignment {
  readonly callId: string;
  readonly queueId: string;
  /** One agent; all candidates for ring-all (in preference order). */
  readonly agentIds: readonly string[];
}

export interface RouterState {
  /** Round-robin: queue id -> the agent id offered last. */
  readonly cursors: Readonly<Record<string, string>>;
}

export interface RoutingInput {
  readonly queues: readonly QueueConfig[];
  /** Build with waitingCalls(), keep with addWaitingCall() / removeWaitingCall(). */
  readonly waiting: WaitingCalls;
  /**
   * All agents, or just the ready ones (the others are ignored anyway): the daemon may keep the
   * ready set up to date on each agent transition so that a decision reads r agents instead of a.
   */
  readonly agents: readonly RoutableAgent[];
  readonly now: number;
  /** Uniform in [0, 1); only the 'random' strategy draws from it. */
  readonly rng: () => number;
}

export interface RoutingDecision {
  readonly assignments: readonly Assignment[];
  readonly state: RouterState;
}

export const initialRouterState: RouterState = Object.freeze({ cursors: Object.freeze({}) });

/**
 * How many levels the schedule lowers the requirements after waiting `waitedMs` (Infinity = any
 * level): the largest drop among the steps reached, so waiting longer never narrows the choice.
 */
export function wideningDrop(widening: readonly WideningStep[] | undefined, waitedMs: number): number {
  let drop = 0;
  if (!widening) return 0;
  for (let i = 0; i < widening.length; i++) {
    const step = widening[i]!;
    if (step.afterSeconds * 1000 > waitedMs) continue;
    const d = step.lowerBy === 'any' ? Infinity : step.lowerBy;
    if (d > drop) drop = d;
  }
  return drop;
}

/** The agent holds every required skill at (minLevel - drop), at least level 1. */
export function meetsSkills(skills: Readonly<Record<string, number>>, required: readonly SkillRequirement[], drop: number): boolean {
  for (let i = 0; i < required.length; i++) {
    const r = required[i]!;
    const level = skills[r.skill];
    if (typeof level !== 'number' || !(level >= Math.max(1, r.minLevel - drop))) return false;
  }
  return true;
}

/** Summed level over the required skills (the 'skills' strategy's score). */
export function skillScore(skills: Readonly<Record<string, number>>, required: readonly SkillRequirement[]): number {
  let sum = 0;
  for (let i = 0; i < required.length; i++) {
    const level = skills[required[i]!.skill];
    if (typeof level === 'number') sum += level;
  }
  return sum;
}

/** Preference order inside a queue: penalty, the strategy's own key, idle, last offer, id. */
export function compareCandidates(strategy: Strategy, a: RoutableAgent, pa: number, b: RoutableAgent, pb: number): number {
  if (pa !== pb) return pa - pb;
  if (strategy === 'fewest-calls' && a.callsHandled !== b.callsHandled) return a.callsHandled - b.callsHandled;
  if (strategy === 'least-talk-time' && a.talkSeconds !== b.talkSeconds) return a.talkSeconds - b.talkSeconds;
  return compareTies(a, b);
}

function compareTies(a: RoutableAgent, b: RoutableAgent): number {
  if (a.idleSince !== b.idleSince) return a.idleSince - b.idleSince;
  const la = a.lastOfferedAt ?? -Infinity;
  const lb = b.lastOfferedAt ?? -Infinity;
  if (la !== lb) return la < lb ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

interface Slot {
  readonly agent: RoutableAgent;
  taken: boolean;
  readonly queues: QueueCtx[];
}

/** An agent in one queue's member list. */
interface Member {
  readonly slot: Slot;
  readonly penalty: number;
  /** For the queue's own requirements: the widening it needs (NEVER, or UNKNOWN until looked at). */
  need: number;
  /** ... and its summed level over them (the 'skills' score). */
  score: number;
}

const UNKNOWN = -2;
const NEVER = -1;

interface QueueCtx {
  readonly config: QueueConfig;
  readonly members: Member[];
  /** Members not taken yet. */
  free: number;
  /** members[0 .. head) are all taken. */
  head: number;
  /** The widest the schedule ever gets (Infinity = any level). */
  readonly maxDrop: number;
  /** The largest widening at which the queue's own requirements found nobody free (-1: none yet). */
  standardHopeless: number;
  /** The same per override (requirement key). */
  overrideHopeless: Map<string, number> | null;
  cursor: string | undefined;
  cursorMoved: boolean;
  /** longest-idle, fewest-calls, least-talk-time: the first eligible member is the one. */
  readonly pickFirst: boolean;
}

/** One of a queue's two lists of waiting calls, read from `pos` on; the head's keys copied out. */
interface Lane {
  readonly queue: QueueCtx;
  readonly calls: readonly WaitingCall[];
  readonly override: boolean;
  pos: number;
  head: WaitingCall;
  priority: number;
  enqueuedAt: number;
}

const PICK_FIRST: ReadonlySet<Strategy> = new Set(['longest-idle', 'fewest-calls', 'least-talk-time']);

const laneBefore = (a: Lane, b: Lane): boolean =>
  a.priority !== b.priority ? a.priority > b.priority : a.enqueuedAt !== b.enqueuedAt ? a.enqueuedAt < b.enqueuedAt : compareService(a.head, b.head) < 0;

function lane(queue: QueueCtx, calls: readonly WaitingCall[], override: boolean): Lane {
  const head = calls[0]!;
  return { queue, calls, override, pos: 0, head, priority: head.priority, enqueuedAt: head.enqueuedAt };
}

export function routeCalls(input: RoutingInput, state: RouterState = initialRouterState): RoutingDecision {
  const now = input.now;
  const queues = new Map<string, QueueCtx>();
  for (const config of input.queues) {
    queues.set(config.id, {
      config, members: [], free: 0, head: 0, maxDrop: maxDrop(config.widening), standardHopeless: -1, overrideHopeless: null,
      cursor: state.cursors[config.id], cursorMoved: false, pickFirst: PICK_FIRST.has(config.strategy),
    });
  }

  // 1. Ready agents into their queues.
  let freeAgents = 0;
  for (const agent of input.agents) {
    if (agent.state !== 'ready') continue;
    let slot: Slot | null = null;
    for (const m of agent.memberships) {
      const q = queues.get(m.queueId);
      if (!q) continue;
      if (!slot) slot = { agent, taken: false, queues: [] };
      else if (slot.queues.includes(q)) continue;
      slot.queues.push(q);
      q.members.push({ slot, penalty: m.penalty, need: UNKNOWN, score: 0 });
      q.free++;
    }
    if (slot) freeAgents++;
  }
  if (freeAgents === 0) return { assignments: [], state };

  // 2. The heads of the waiting lists of the queues someone can serve.
  const lanes: Lane[] = [];
  for (const q of queues.values()) {
    if (q.free === 0) continue;
    const w = input.waiting.queues.get(q.config.id);
    if (!w) continue;
    sortMembers(q.members, q.config.strategy);
    if (w.standard.length > 0) lanes.push(lane(q, w.standard, false));
    if (w.override.length > 0) lanes.push(lane(q, w.override, true));
  }
  heapify(lanes, laneBefore);

  // 3. Serve calls in service order until the agents or the calls run out.
  const assignments: Assignment[] = [];
  while (freeAgents > 0 && lanes.length > 0) {
    const top = lanes[0]!;
    const q = top.queue;
    if (q.free === 0 || (!top.override && q.standardHopeless >= q.maxDrop)) {
      heapPop(lanes, laneBefore);
      continue;
    }
    const call = top.head;
    const drop = wideningDrop(q.config.widening, now - call.enqueuedAt);
    let required: readonly SkillRequirement[];
    let key = '';
    if (top.override) {
      required = call.requiredSkills ?? [];
      key = requirementKey(required);
      const hopeless = q.overrideHopeless?.get(key);
      if (hopeless !== undefined && hopeless >= drop) {
        advance(lanes, top);
        continue;
      }
    } else {
      required = q.config.requiredSkills;
      if (q.standardHopeless >= drop) {
        advance(lanes, top);
        continue;
      }
    }
    const picked = pick(q, top.override, required, drop, input.rng);
    if (picked === null) {
      if (top.override) (q.overrideHopeless ??= new Map()).set(key, drop);
      else q.standardHopeless = drop;
    } else {
      const agentIds: string[] = [];
      for (const m of picked) {
        m.slot.taken = true;
        for (const mq of m.slot.queues) mq.free--;
        freeAgents--;
        agentIds.push(m.slot.agent.id);
      }
      assignments.push({ callId: call.id, queueId: q.config.id, agentIds });
    }
    advance(lanes, top);
  }

  let cursors: Record<string, string> | null = null;
  for (const q of queues.values()) {
    if (q.cursorMoved && q.cursor !== undefined) {
      cursors ??= { ...state.cursors };
      cursors[q.config.id] = q.cursor;
    }
  }
  return { assignments, state: cursors ? { cursors } : state };
}

/** Past the head of `lane`, which is lanes[0]. */
function advance(lanes: Lane[], lane: Lane): void {
  const next = lane.calls[++lane.pos];
  if (next === undefined) {
    heapPop(lanes, laneBefore);
    return;
  }
  lane.head = next;
  lane.priority = next.priority;
  lane.enqueuedAt = next.enqueuedAt;
  siftDown(lanes, 0, laneBefore);
}

function maxDrop(widening: readonly WideningStep[] | undefined): number {
  let drop = 0;
  for (const step of widening ?? []) {
    const d = step.lowerBy === 'any' ? Infinity : step.lowerBy;
    if (d > drop) drop = d;
  }
  return drop;
}

/**
 * The chosen member(s) of q for a call, or null if nobody free qualifies. `own`: the call has its
 * own requirements (`required`); otherwise the queue's, whose fit per member is cached.
 */
function pick(q: QueueCtx, own: boolean, required: readonly SkillRequirement[], drop: number, rng: () => number): Member[] | null {
  const members = q.members;
  while (q.head < members.length && members[q.head]!.slot.taken) q.head++;
  const strategy = q.config.strategy;
  let tier: Member[] | null = null;
  let penalty = 0;
  let best: Member | null = null;
  let bestScore = -Infinity;
  for (let i = q.head; i < members.length; i++) {
    const m = members[i]!;
    if (tier !== null && m.penalty !== penalty) break;
    if (m.slot.taken) continue;
    let score: number;
    if (own) {
      if (!meetsSkills(m.slot.agent.skills, required, drop)) continue;
      score = strategy === 'skills' ? skillScore(m.slot.agent.skills, required) : 0;
    } else {
      if (m.need === UNKNOWN) fit(m, required);
      if (m.need === NEVER || m.need > drop) continue;
      score = m.score;
    }
    if (q.pickFirst) return [m];
    if (tier === null) {
      tier = [];
      penalty = m.penalty;
    }
    if (strategy === 'skills') {
      if (score > bestScore) {
        bestScore = score;
        best = m;
      }
    } else {
      tier.push(m);
    }
  }
  if (tier === null) return null;
  switch (strategy) {
    case 'skills':
      return [best!];
    case 'ring-all':
      return tier;
    case 'random': {
      const r = rng();
      const at = Math.min(tier.length - 1, Math.max(0, Math.floor((Number.isFinite(r) ? r : 0) * tier.length)));
      return [tier[at]!];
    }
    case 'round-robin': {
      let next: Member | null = null;
      let lowest: Member | null = null;
      for (const m of tier) {
        const id = m.slot.agent.id;
        if (lowest === null || id < lowest.slot.agent.id) lowest = m;
        if (q.cursor !== undefined && id > q.cursor && (next === null || id < next.slot.agent.id)) next = m;
      }
      const chosen = next ?? lowest!;
      q.cursor = chosen.slot.agent.id;
      q.cursorMoved = true;
      return [chosen];
    }
    default:
      return [tier[0]!];
  }
}

/** Cache how much widening m needs for `required` (meetsSkills at drop d <=> need <= d) and its score. */
function fit(m: Member, required: readonly SkillRequirement[]): void {
  const skills = m.slot.agent.skills;
  let need = 0;
  let score = 0;
  for (let i = 0; i < required.length; i++) {
    const r = required[i]!;
    const level = skills[r.skill];
    if (typeof level !== 'number' || !(level >= 1)) {
      m.need = NEVER;
      return;
    }
    const gap = r.minLevel - level;
    if (gap > need) need = gap;
    else if (!(gap <= need)) {
      m.need = NEVER; // a level or minimum that is not a number: as meetsSkills, never
      return;
    }
    score += level;
  }
  m.need = need;
  m.score = score;
}

/** Preference order (compareCandidates); insertion sort for the usual short member lists. */
function sortMembers(members: Member[], strategy: Strategy): void {
  if (members.length > 32) {
    members.sort((a, b) => compareCandidates(strategy, a.slot.agent, a.penalty, b.slot.agent, b.penalty));
    return;
  }
  for (let i = 1; i < members.length; i++) {
    const m = members[i]!;
    let j = i - 1;
    while (j >= 0 && compareCandidates(strategy, m.slot.agent, m.penalty, members[j]!.slot.agent, members[j]!.penalty) < 0) {
      members[j + 1] = members[j]!;
      j--;
    }
    members[j + 1] = m;
  }
}

/** Injective text key for a requirement list (same key = same requirements, same order). */
function requirementKey(required: readonly SkillRequirement[]): string {
  let key = '';
  for (const r of required) key += `${r.skill.length}:${r.skill}=${r.minLevel};`;
  return key;
}

function heapify<T>(items: T[], before: (a: T, b: T) => boolean): void {
  for (let i = (items.length >> 1) - 1; i >= 0; i--) siftDown(items, i, before);
}

function heapPop<T>(items: T[], before: (a: T, b: T) => boolean): void {
  const last = items.pop();
  if (items.length > 0 && last !== undefined) {
    items[0] = last;
    siftDown(items, 0, before);
  }
}

function siftDown<T>(items: T[], from: number, before: (a: T, b: T) => boolean): void {
  const n = items.length;
  let i = from;
  const item = items[i]!;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) break;
    const r = l + 1;
    const c = r < n && before(items[r]!, items[l]!) ? r : l;
    if (!before(items[c]!, item)) break;
    items[i] = items[c]!;
    i = c;
  }
  items[i] = item;
}
