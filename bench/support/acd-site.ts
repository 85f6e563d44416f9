/**
 * Generated contact-center sites for the ACD routing benchmark: queues with mixed strategies and
 * skills, agents in every status, waiting calls with priorities and IVR overrides. Deterministic
 * per seed (mulberry32), so runs and routers see the same data.
 */
import { STRATEGIES, type QueueConfig, type RoutableAgent, type SkillRequirement } from '../../src/acd/router.js';
import type { WaitingCall } from '../../src/acd/waiting-calls.js';
import type { AgentStatus } from '../../src/acd/agent-state.js';
import type { FlatRoutingInput } from './naive-router.js';

export const NOW = Date.UTC(2026, 10, 23, 10, 0, 0);
const SKILLS = ['en', 'es', 'de', 'fr', 'billing', 'tech', 'sales', 'vip'];

export interface SiteSize {
  readonly agents: number;
  readonly calls: number;
  readonly queues: number;
}

export function mulberry32(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** One site: queues, agents, and the waiting calls in arrival order. */
export function site(seed: number, size: SiteSize): Omit<FlatRoutingInput, 'rng'> {
  const rnd = mulberry32(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const pickOne = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const someSkills = (n: number, lo: number, hi: number): SkillRequirement[] => {
    const names = [...SKILLS].sort(() => rnd() - 0.5).slice(0, n);
    return names.map((skill) => ({ skill, minLevel: int(lo, hi) }));
  };

  const queues: QueueConfig[] = Array.from({ length: size.queues }, (_, i) => {
    const skilled = i % 5 < 2; // 40 % of the queues need skills
    return {
      id: `q${i}`,
      strategy: STRATEGIES[i % STRATEGIES.length]!,
      requiredSkills: skilled ? someSkills(int(1, 2), 2, 4) : [],
      widening: skilled ? [{ afterSeconds: 30, lowerBy: 1 }, { afterSeconds: 60, lowerBy: 'any' as const }] : [],
    };
  });

  const statuses: [AgentStatus, number][] = [['ready', 0.15], ['on-call', 0.45], ['wrap-up', 0.1], ['reserved', 0.05], ['paused', 0.15], ['logged-out', 0.1]];
  const status = (): AgentStatus => {
    let x = rnd();
    for (const [s, p] of statuses) if ((x -= p) < 0) return s;
    return 'ready';
  };
  const agents: RoutableAgent[] = Array.from({ length: size.agents }, (_, i) => {
    const memberQueues = new Set<number>();
    const home = int(0, size.queues - 1);
    const n = int(2, 5);
    while (memberQueues.size < n) memberQueues.add(memberQueues.size === 0 ? home : (home + int(-6, 6) + size.queues) % size.queues);
    const skills: Record<string, number> = {};
    for (const r of someSkills(int(2, 4), 1, 5)) skills[r.skill] = r.minLevel;
    return {
      id: `agent-${String(i).padStart(4, '0')}`,
      state: status(),
      memberships: [...memberQueues].map((q, k) => ({ queueId: `q${q}`, penalty: k === 0 ? 0 : int(0, 2) })),
      skills,
      idleSince: NOW - int(0, 600) * 1000,
      callsHandled: int(0, 80),
      talkSeconds: int(0, 20_000),
      lastOfferedAt: rnd() < 0.1 ? null : NOW - int(0, 3600) * 1000,
    };
  });

  // Busy queues get more of the calls (a few hot queues, a long tail).
  const weights = queues.map((_, i) => 1 / (1 + (i % 10)));
  const total = weights.reduce((a, b) => a + b, 0);
  const queueFor = () => {
    let x = rnd() * total;
    for (let i = 0; i < weights.length; i++) if ((x -= weights[i]!) < 0) return `q${i}`;
    return `q${size.queues - 1}`;
  };
  const calls: WaitingCall[] = Array.from({ length: size.calls }, (_, i) => {
    const p = rnd();
    return {
      id: `call-${i}`,
      queueId: queueFor(),
      priority: p < 0.9 ? 0 : p < 0.98 ? 1 : 5,
      enqueuedAt: NOW - int(0, 900_000),
      requiredSkills: rnd() < 0.05 ? [{ skill: pickOne(['es', 'de', 'fr']), minLevel: int(2, 4) }] : undefined,
    };
  });
  calls.sort((a, b) => a.enqueuedAt - b.enqueuedAt);
  return { queues, agents, calls, now: NOW };
}
