/**
 * The routing view a daemon keeps warm in memory: queues' settings and every agent with its state,
 * memberships, skills and today's figures. Loads (all, or some agents) and the rows this daemon
 * wrote itself arrive in any order; an agent's row is only ever replaced by one with a version at
 * least as new (agents.version, bumped by Postgres on every update), so a slow reload never takes
 * back a change already seen. Memberships, skills and figures come from the latest load.
 *
 * A row taken ahead (takeAhead: an event taken in memory while Postgres is unreachable, written
 * later, store.ts) is ahead of every stored version: loads and written rows do not replace it
 * until settle() (its events are written), after which the stored row is taken as usual.
 *
 * Pure: no I/O. The store (store.ts) feeds it from Postgres and LISTEN/NOTIFY.
 */
import type { AgentRecord, QueueSettings } from './engine.js';
import { snapshotAgentOf, type AgentView, type SnapshotAgent } from './call-repository.js';

const versionOf = (a: SnapshotAgent): bigint => BigInt(a.row.version);

export class RoutingCache {
  private byId = new Map<string, SnapshotAgent>();
  private queueList: QueueSettings[] = [];
  private records: AgentRecord[] | null = null;
  private loadedOnce = false;
  /** Agents whose row here is ahead of Postgres (takeAhead). */
  private readonly ahead = new Set<string>();

  /** A full load has been taken in (until then the cache knows nothing). */
  get loaded(): boolean {
    return this.loadedOnce;
  }

  queues(): QueueSettings[] {
    return this.queueList;
  }

  agent(id: string): SnapshotAgent | undefined {
    return this.byId.get(id);
  }

  /** Every agent (logged out too), as the engine takes them; the same array until something changes. */
  agents(): AgentRecord[] {
    this.records ??= [...this.byId.values()].map((a) => ({ ...a, machine: a.agentState, autoAnswer: a.row.auto_answer }));
    return this.records;
  }

  /** A version of this agent's row newer than the one held is known to exist. */
  isBehind(id: string, version: bigint): boolean {
    const held = this.byId.get(id);
    return held === undefined ? version >= 0n : versionOf(held) < version;
  }

  /** A full load: all agents and queues. Agents missing from it were deleted. */
  takeAll(agents: readonly SnapshotAgent[], queues: readonly QueueSettings[]): void {
    const next = new Map<string, SnapshotAgent>();
    for (const a of agents) next.set(a.id, this.merge(a));
    this.byId = next;
    this.queueList = [...queues];
    this.records = null;
    this.loadedOnce = true;
  }

  /** A load of the agents `ids`: those missing from `agents` were deleted. */
  takeAgents(ids: readonly string[], agents: readonly SnapshotAgent[]): void {
    const found = new Set<string>();
    for (const a of agents) {
      found.add(a.id);
      this.byId.set(a.id, this.merge(a));
    }
    for (const id of ids) if (!found.has(id)) this.byId.delete(id);
    this.records = null;
  }

  /** A row changed in memory, to be written later: kept over any load or written row until settle(). */
  takeAhead(row: AgentView): void {
    const held = this.byId.get(row.id);
    if (!held) return;
    this.byId.set(row.id, snapshotAgentOf(row, held));
    this.ahead.add(row.id);
    this.records = null;
  }

  /** The agent's changes taken ahead are written (or given up): stored rows replace it again. */
  settle(id: string): void {
    this.ahead.delete(id);
  }

  /** A row this daemon just wrote (its memberships, skills and figures are unchanged). */
  takeRow(row: AgentView): void {
    const held = this.byId.get(row.id);
    if (!held || this.ahead.has(row.id) || BigInt(row.version) < versionOf(held)) return;
    this.byId.set(row.id, snapshotAgentOf(row, held));
    this.records = null;
  }

  /**
   * Today's figures of an agent grown by a call this daemon wrote (an answered call left the queue,
   * its talk time was set): taken here instead of reading them again; loads replace them as usual.
   */
  addToday(id: string, add: { readonly calls?: number; readonly talkSeconds?: number }): void {
    const held = this.byId.get(id);
    if (!held) return;
    this.byId.set(id, { ...held, callsHandled: held.callsHandled + (add.calls ?? 0), talkSeconds: held.talkSeconds + (add.talkSeconds ?? 0) });
    this.records = null;
  }

  /** The loaded agent, but keeping the row held when that one is newer. */
  private merge(loaded: SnapshotAgent): SnapshotAgent {
    const held = this.byId.get(loaded.id);
    return held && (this.ahead.has(loaded.id) || versionOf(held) > versionOf(loaded)) ? snapshotAgentOf(held.row, loaded) : loaded;
  }
}
