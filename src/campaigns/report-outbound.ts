/**
 * Outbound metrics per campaign and per agent over a range (pure; docs/campaigns.md#outbound-metrics).
 * Input: the campaign's attempts dialed in the range, and its contacts' totals (now).
 *
 *   attempts          attempts dialed in the range (a blocked or cancelled one was never dialed)
 *   liveAnswers       answered by a person (outcome not machine), connected or abandoned
 *   connects          connected to an agent
 *   contactRate %     connects / attempts
 *   conversions       connects whose disposition is one marked success
 *   conversionRate %  conversions / connects
 *   talkSeconds       sum of (ended - connected) of the connects
 *   agentSeconds      the agents' time on the campaign: each agent's calls, plus each gap between
 *                     one call's end and the agent's next campaign call when it is at most 30 min
 *                     (a longer gap is a break or the end of a shift, not counted)
 *   idleSeconds       those gaps (wrap-up included): the agents' time between calls
 *   avgIdleSeconds    idleSeconds / the gaps counted
 *   talkMinutesPerHour  talkSeconds / agentSeconds x 60
 *   contactsPerHour   connects / agentSeconds x 3600
 *   penetration %     contacts tried at least once / contacts (now, whatever the range)
 *   finished %        contacts with nothing left to do (done, exhausted, dnc, unreachable) / contacts
 */

/** A gap between two calls of an agent longer than this is not idle time (a break, another shift). */
export const IDLE_BREAK_MS = 30 * 60_000;

export interface AttemptFact {
  readonly campaignId: string;
  readonly agentId: string | null;
  readonly outcome: string | null;
  readonly answeredAt: number | null;
  readonly connectedAt: number | null;
  readonly endedAt: number | null;
  readonly disposition: string | null;
}

export interface ContactTotals {
  readonly contacts: number;
  readonly tried: number;
  readonly finished: number;
}

export interface AgentFigures {
  readonly connects: number;
  readonly conversions: number;
  readonly conversionRatePercent: number | null;
  readonly talkSeconds: number;
  readonly avgTalkSeconds: number | null;
  readonly agentSeconds: number;
  readonly idleSeconds: number;
  readonly avgIdleSeconds: number | null;
  readonly talkMinutesPerHour: number | null;
  readonly contactsPerHour: number | null;
}

export interface CampaignFigures extends AgentFigures {
  readonly attempts: number;
  readonly liveAnswers: number;
  readonly machines: number;
  readonly abandons: number;
  readonly contactRatePercent: number | null;
  readonly contacts: number;
  readonly contactsTried: number;
  readonly contactsFinished: number;
  readonly penetrationPercent: number | null;
  readonly finishedPercent: number | null;
}

const one = (x: number): number => Math.round(x * 10) / 10;
const percent = (a: number, b: number): number | null => (b === 0 ? null : one((100 * a) / b));
const per = (a: number, b: number): number | null => (b === 0 ? null : one(a / b));

interface Sums {
  connects: number;
  conversions: number;
  talkMs: number;
  agentMs: number;
  idleMs: number;
  gaps: number;
}

/** One agent's connected calls (any order): their sums. */
function agentSums(calls: readonly AttemptFact[], success: ReadonlySet<string>): Sums {
  const sorted = calls.filter((c) => c.connectedAt !== null).sort((a, b) => a.connectedAt! - b.connectedAt!);
  const s: Sums = { connects: sorted.length, conversions: 0, talkMs: 0, agentMs: 0, idleMs: 0, gaps: 0 };
  let lastEnd: number | null = null;
  for (const c of sorted) {
    if (c.disposition !== null && success.has(c.disposition)) s.conversions += 1;
    const end = c.endedAt ?? c.connectedAt!;
    const talk = Math.max(0, end - c.connectedAt!);
    s.talkMs += talk;
    s.agentMs += talk;
    if (lastEnd !== null) {
      const gap = c.connectedAt! - lastEnd;
      if (gap >= 0 && gap <= IDLE_BREAK_MS) {
        s.idleMs += gap;
        s.agentMs += gap;
        s.gaps += 1;
      }
    }
    lastEnd = Math.max(lastEnd ?? end, end);
  }
  return s;
}

function figuresOf(s: Sums): AgentFigures {
  return {
    connects: s.connects,
    conversions: s.conversions,
    conversionRatePercent: percent(s.conversions, s.connects),
    talkSeconds: one(s.talkMs / 1000),
    avgTalkSeconds: per(s.talkMs / 1000, s.connects),
    agentSeconds: one(s.agentMs / 1000),
    idleSeconds: one(s.idleMs / 1000),
    avgIdleSeconds: per(s.idleMs / 1000, s.gaps),
    talkMinutesPerHour: s.agentMs === 0 ? null : one((s.talkMs / s.agentMs) * 60),
    contactsPerHour: s.agentMs === 0 ? null : one((s.connects * 3_600_000) / s.agentMs),
  };
}

/** Per agent (by agent id) of one campaign's attempts. */
export function agentFigures(attempts: readonly AttemptFact[], success: ReadonlySet<string>): Map<string, AgentFigures> {
  const byAgent = new Map<string, AttemptFact[]>();
  for (const a of attempts) {
    if (a.agentId === null || a.connectedAt === null) continue;
    const list = byAgent.get(a.agentId) ?? [];
    list.push(a);
    byAgent.set(a.agentId, list);
  }
  return new Map([...byAgent].map(([agent, calls]) => [agent, figuresOf(agentSums(calls, success))]));
}

/** One campaign's figures: its attempts, the names of its success dispositions, its contacts now. */
export function campaignFigures(attempts: readonly AttemptFact[], success: ReadonlySet<string>, contacts: ContactTotals): CampaignFigures {
  const total: Sums = { connects: 0, conversions: 0, talkMs: 0, agentMs: 0, idleMs: 0, gaps: 0 };
  const byAgent = new Map<string, AttemptFact[]>();
  let liveAnswers = 0;
  let machines = 0;
  let abandons = 0;
  for (const a of attempts) {
    if (a.answeredAt !== null && a.outcome !== 'machine') liveAnswers += 1;
    if (a.outcome === 'machine') machines += 1;
    if (a.outcome === 'abandoned') abandons += 1;
    if (a.connectedAt === null) continue;
    const key = a.agentId ?? '';
    const list = byAgent.get(key) ?? [];
    list.push(a);
    byAgent.set(key, list);
  }
  for (const calls of byAgent.values()) {
    const s = agentSums(calls, success);
    total.connects += s.connects;
    total.conversions += s.conversions;
    total.talkMs += s.talkMs;
    total.agentMs += s.agentMs;
    total.idleMs += s.idleMs;
    total.gaps += s.gaps;
  }
  return {
    attempts: attempts.length,
    liveAnswers,
    machines,
    abandons,
    contactRatePercent: percent(total.connects, attempts.length),
    ...figuresOf(total),
    contacts: contacts.contacts,
    contactsTried: contacts.tried,
    contactsFinished: contacts.finished,
    penetrationPercent: percent(contacts.tried, contacts.contacts),
    finishedPercent: percent(contacts.finished, contacts.contacts),
  };
}
