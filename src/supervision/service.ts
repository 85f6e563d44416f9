/**
 * Live supervision, the daemon's side (docs/supervision.md): the port a supervisor's call uses
 * (port.ts), the register of sessions in progress, the API's requests (ring the supervisor's
 * phone, switch the mode, end) and an audit row for every start, mode change, end and refusal.
 * Sessions live in the supervisor's call; the register only points at them. Each session ringing
 * or in progress also has a supervision_sessions row (repository.ts), so that a restarted daemon
 * finds them (recover): a request still ringing goes on ringing and connects when answered, or is
 * hung up when its time is up; a session in progress is ended (its snoops and bridge were the old
 * daemon's). Either way the audit log says so.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { Db } from '../db/database.js';
import { AppError } from '../errors.js';
import { recordAudit, type Actor, type AuditEntry } from '../audit/repository.js';
import { logRejection } from '../shared/log-rejection.js';
import { supervisionStore, type StoredSupervision, type SupervisionStore } from './repository.js';
import type { SnoopDirections, SupervisionEnd, SupervisionMode, SupervisionTarget, TargetLookup } from './model.js';
import { SUPERVISION_BRIDGE_PREFIX, SUPERVISION_REQUEST_PREFIX, type PendingSupervision, type SupervisionHandle, type SupervisionInfo, type SupervisionPort, type SupervisionRefusal } from './port.js';

export interface SupervisionDeps {
  readonly db: Db;
  readonly log: Logger;
  /** An extension's canSupervise flag; null when there is no such extension. */
  readonly canSupervise: (extension: string) => Promise<boolean | null>;
  /** An agent by number: the extension they are logged in at (null: logged out); null when there is no such agent. */
  readonly agent: (number: string) => Promise<{ readonly extension: string | null } | null>;
  /** The live calls (src/calls/dispatcher.ts). */
  readonly calls: {
    callParty(where: { readonly extension: string } | { readonly callId: string }): Promise<{ channelId: string; callId: string; extension: string | null } | null>;
    ringSupervisor(id: string, extension: string, ringTimeoutSeconds: number): Promise<void>;
    hangup(channelId: string): Promise<void>;
    /** The channels Asterisk has now (recover: is a request's phone still ringing?). */
    channels(): Promise<readonly { readonly id: string; readonly state: string }[]>;
    destroyBridge(bridgeId: string): Promise<void>;
    /** The supervised call's CDR notes that it was monitored. */
    noteMonitored(callId: string): void;
  };
  readonly snoop: (channelId: string, o: { snoopId: string; appArgs: string } & SnoopDirections) => Promise<void>;
  readonly now?: () => Date;
  /** The rows of sessions ringing or in progress; supervision_sessions in `db` unless given. */
  readonly store?: SupervisionStore;
}

/** How long the supervisor's phone rings for an API request. */
export const SUPERVISOR_RING_SECONDS = 30;
/** A request is forgotten this long after its phone stops ringing (an answer arriving late is hung up). */
const RING_GRACE_MS = 10_000;

export interface SupervisionRequest {
  readonly supervisorExtension: string;
  readonly target: SupervisionTarget;
  readonly mode: SupervisionMode;
}

/** A session as the API shows it: ringing the supervisor, or active. */
export interface SupervisionView {
  readonly id: string;
  readonly state: 'ringing' | 'active';
  readonly supervisorExtension: string;
  readonly target: SupervisionTarget;
  readonly mode: SupervisionMode;
  readonly callId: string | null;
  readonly extension: string | null;
  readonly agent: string | null;
  readonly startedAt: Date | null;
}

interface Pending {
  readonly request: PendingSupervision;
  readonly timer: NodeJS.Timeout;
}

export class SupervisionService implements SupervisionPort {
  private readonly active = new Map<string, { info: SupervisionInfo; handle: SupervisionHandle }>();
  private readonly pending = new Map<string, Pending>();
  /** Sessions of this daemon whose row may still be there: recover leaves them alone. */
  private readonly mine = new Set<string>();
  private readonly now: () => Date;
  /** supervision_sessions writes, one at a time in the order of the events (a start before its end). */
  private writes: Promise<unknown> = Promise.resolve();
  private readonly store: SupervisionStore;

  constructor(private readonly deps: SupervisionDeps) {
    this.now = deps.now ?? (() => new Date());
    this.store = deps.store ?? supervisionStore(deps.db);
  }

  // ---------------------------------------------------------------- the port (supervise-call.ts)

  async mayDial(extension: string): Promise<boolean> {
    return (await this.deps.canSupervise(extension)) === true;
  }

  async find(target: SupervisionTarget): Promise<TargetLookup> {
    const { calls } = this.deps;
    switch (target.kind) {
      case 'call': {
        const party = await calls.callParty({ callId: target.callId });
        return party ? { found: 'on-call', ...party, agent: null } : { found: 'unknown' };
      }
      case 'agent':
      case 'number': {
        const agent = await this.deps.agent(target.number);
        if (agent) {
          if (!agent.extension) return { found: 'not-on-call' };
          const party = await calls.callParty({ extension: agent.extension });
          return party ? { found: 'on-call', ...party, agent: target.number } : { found: 'not-on-call' };
        }
        if (target.kind === 'agent') return { found: 'unknown' };
        return this.find({ kind: 'extension', number: target.number });
      }
      case 'extension': {
        if ((await this.deps.canSupervise(target.number)) === null) return { found: 'unknown' };
        const party = await calls.callParty({ extension: target.number });
        return party ? { found: 'on-call', ...party, agent: null } : { found: 'not-on-call' };
      }
    }
  }

  snoop(o: { readonly targetChannelId: string; readonly snoopId: string; readonly directions: SnoopDirections; readonly owner: string }): Promise<void> {
    // The snoop enters the app as a leg of the supervisor's call (src/calls/dispatcher.ts).
    return this.deps.snoop(o.targetChannelId, { snoopId: o.snoopId, appArgs: `leg,${o.owner}`, ...o.directions });
  }

  claim(id: string): PendingSupervision | null {
    const pending = this.pending.get(id);
    if (!pending) return null;
    clearTimeout(pending.timer);
    this.pending.delete(id);
    this.persist(id, 'claimed', (store) => this.deleteRow(store, id));
    return pending.request;
  }

  opened(info: SupervisionInfo, handle: SupervisionHandle): void {
    this.active.set(info.id, { info, handle });
    this.mine.add(info.id);
    this.persist(info.id, 'opened', (store) => store.upsertActive(info));
    this.deps.calls.noteMonitored(info.callId);
    this.audit(info.actor, 'supervision.start', info.id, {
      supervisor: info.supervisorExtension, target: info.target, callId: info.callId, extension: info.extension, agent: info.agent, mode: info.mode,
    });
  }

  changed(id: string, from: SupervisionMode, to: SupervisionMode, by: Actor): void {
    const session = this.active.get(id);
    if (session) session.info = { ...session.info, mode: to };
    this.persist(id, 'mode', (store) => store.updateMode(id, to));
    this.audit(by, 'supervision.mode', id, { from, to, callId: session?.info.callId ?? null });
  }

  closed(id: string, reason: SupervisionEnd): void {
    const session = this.active.get(id);
    if (!session) return;
    this.active.delete(id);
    this.persist(id, 'closed', (store) => this.deleteRow(store, id));
    const seconds = Math.round((this.now().getTime() - session.info.startedAt.getTime()) / 1000);
    this.audit(session.info.actor, 'supervision.end', id, { reason, callId: session.info.callId, mode: session.info.mode, seconds });
  }

  channelGone(channelId: string): void {
    for (const { info, handle } of this.active.values()) if (info.channelId === channelId) handle.targetGone();
  }

  refused(by: Actor, supervisorExtension: string, target: SupervisionTarget, why: SupervisionRefusal): void {
    this.deps.log.warn({ supervisor: supervisorExtension, target, why, actor: by.label }, 'supervision refused');
    this.audit(by, 'supervision.refused', null, { supervisor: supervisorExtension, target, why });
  }

  // ---------------------------------------------------------------- the API (routes.ts)

  /** Ring the supervisor's extension; when it answers, it joins the target's call in `mode`. */
  async request(req: SupervisionRequest, actor: Actor): Promise<SupervisionView> {
    if ((await this.deps.canSupervise(req.supervisorExtension)) === null) {
      throw new AppError('extension-not-found', 404, `extension ${req.supervisorExtension} not found`, { field: 'supervisorExtension' });
    }
    const found = await this.find(req.target);
    if (found.found !== 'on-call') {
      throw found.found === 'unknown' ? unknownTarget(req.target) : new AppError('supervision-not-on-call', 409, `${describe(req.target)} is not on a call`, { target: req.target });
    }
    const id = `${SUPERVISION_REQUEST_PREFIX}${randomUUID()}`;
    const request: PendingSupervision = { id, supervisorExtension: req.supervisorExtension, target: req.target, mode: req.mode, actor };
    // Stored before the phone rings: a daemon restarted meanwhile finds the request (recover).
    const ringUntil = new Date(this.now().getTime() + SUPERVISOR_RING_SECONDS * 1000);
    await this.persistNow((store) => store.insertRinging(request, ringUntil));
    this.waitForAnswer(request, ringUntil);
    try {
      await this.deps.calls.ringSupervisor(id, req.supervisorExtension, SUPERVISOR_RING_SECONDS);
    } catch (err) {
      const pending = this.pending.get(id);
      if (pending) clearTimeout(pending.timer);
      this.pending.delete(id);
      this.persist(id, 'not rung', (store) => this.deleteRow(store, id));
      throw err;
    }
    this.audit(actor, 'supervision.request', id, { supervisor: req.supervisorExtension, target: req.target, mode: req.mode, callId: found.callId });
    return { id, state: 'ringing', supervisorExtension: req.supervisorExtension, target: req.target, mode: req.mode, callId: found.callId, extension: found.extension, agent: found.agent, startedAt: null };
  }

  list(): SupervisionView[] {
    return [...this.pending.keys(), ...this.active.keys()].map((id) => this.get(id));
  }

  get(id: string): SupervisionView {
    const session = this.active.get(id);
    if (session) {
      const i = session.info;
      return { id, state: 'active', supervisorExtension: i.supervisorExtension, target: i.target, mode: i.mode, callId: i.callId, extension: i.extension, agent: i.agent, startedAt: i.startedAt };
    }
    const pending = this.pending.get(id)?.request;
    if (!pending) throw new AppError('supervision-not-found', 404, `supervision session ${id} not found`, { id });
    return { id, state: 'ringing', supervisorExtension: pending.supervisorExtension, target: pending.target, mode: pending.mode, callId: null, extension: null, agent: null, startedAt: null };
  }

  /** Switch an active session's mode (carried out in the supervisor's call, audited there). */
  changeMode(id: string, mode: SupervisionMode, actor: Actor): SupervisionView {
    const session = this.active.get(id);
    if (!session) throw new AppError('supervision-not-found', 404, `no active supervision session ${id}`, { id });
    session.handle.switchTo(mode, actor);
    return { ...this.get(id), mode };
  }

  /** End a session: an active one hangs up the supervisor; one still ringing stops ringing. */
  async end(id: string, actor: Actor): Promise<void> {
    const session = this.active.get(id);
    if (session) return session.handle.end(actor);
    const request = this.claim(id);
    if (!request) throw new AppError('supervision-not-found', 404, `supervision session ${id} not found`, { id });
    this.audit(actor, 'supervision.cancel', id, { supervisor: request.supervisorExtension, target: request.target });
    await this.hangupIfThere(id);
  }

  /** Wait for `request`'s phone to answer (claim); not answered in time, or answered too late: forgotten. */
  private waitForAnswer(request: PendingSupervision, ringUntil: Date): void {
    const { id } = request;
    const timer = setTimeout(() => {
      if (!this.pending.delete(id)) return;
      this.persist(id, 'not answered', (store) => this.deleteRow(store, id));
      this.audit(request.actor, 'supervision.not-answered', id, { supervisor: request.supervisorExtension, target: request.target });
    }, Math.max(0, ringUntil.getTime() - this.now().getTime()) + RING_GRACE_MS);
    timer.unref();
    this.pending.set(id, { request, timer });
    this.mine.add(id);
  }

  // ---------------------------------------------------------------- a restarted daemon (src/app.ts, on ARI connect)

  /**
   * The sessions a daemon before this one left in supervision_sessions (rows this daemon does not
   * hold): a request whose phone still rings within its time is waited for again (its answer
   * connects as usual); one whose phone is gone, answered (the old daemon's), or out of time is hung
   * up and audited `supervision.cancel` (reason daemon-restart); a session in progress is ended: the
   * supervisor's phone is hung up, its bridge destroyed, `supervision.end` (reason daemon-restart).
   * The call supervised goes on, still noted as monitored: run this after the calls are adopted
   * (src/app.ts). Returns the ids, for the log and tests.
   */
  async recover(): Promise<{ waiting: string[]; cancelled: string[]; ended: string[] }> {
    const out = { waiting: [] as string[], cancelled: [] as string[], ended: [] as string[] };
    // Read in turn with this daemon's own writes: a row listed is either still ours (mine) or the old daemon's.
    const stored = (await this.persistNow((store) => store.list())).filter((s) => !this.mine.has(idOf(s)));
    if (stored.length === 0) return out;
    const channels = new Map((await this.deps.calls.channels()).map((c) => [c.id, c.state]));
    for (const s of stored) {
      if (s.state === 'ringing') {
        const { request, ringUntil } = s;
        const state = channels.get(request.id);
        if (state !== undefined && state !== 'Up' && ringUntil.getTime() > this.now().getTime()) {
          this.waitForAnswer(request, ringUntil);
          out.waiting.push(request.id);
          continue;
        }
        await this.hangupIfThere(request.id);
        await this.persistNow((store) => store.delete(request.id));
        this.audit(request.actor, 'supervision.cancel', request.id, { supervisor: request.supervisorExtension, target: request.target, reason: 'daemon-restart' });
        out.cancelled.push(request.id);
        continue;
      }
      const { info } = s;
      await this.hangupIfThere(info.id);
      await this.deps.calls.destroyBridge(`${SUPERVISION_BRIDGE_PREFIX}${info.id}`).catch((err: unknown) => {
        if (!(err instanceof AppError && err.code === 'call-not-found')) this.deps.log.debug({ supervision: info.id, err: (err as Error).message }, 'supervision bridge not destroyed');
      });
      await this.persistNow((store) => store.delete(info.id));
      // The call supervised goes on in this daemon (adopted): its CDR still says it was monitored.
      this.deps.calls.noteMonitored(info.callId);
      const seconds = Math.round((this.now().getTime() - info.startedAt.getTime()) / 1000);
      this.audit(info.actor, 'supervision.end', info.id, { reason: 'daemon-restart' satisfies SupervisionEnd, callId: info.callId, mode: info.mode, seconds });
      out.ended.push(info.id);
    }
    this.deps.log.info(out, 'supervision sessions of the daemon before recovered');
    return out;
  }

  /** Hang up a supervisor's channel, if Asterisk still has it. */
  private async hangupIfThere(channelId: string): Promise<void> {
    await this.deps.calls.hangup(channelId).catch((err: unknown) => {
      if (!(err instanceof AppError && err.code === 'call-not-found')) throw err;
    });
  }

  /** Delete a session's row; once it is gone, the id is no longer this daemon's to keep from recover. */
  private async deleteRow(store: SupervisionStore, id: string): Promise<void> {
    await store.delete(id);
    if (!this.pending.has(id) && !this.active.has(id)) this.mine.delete(id);
  }

  /** A supervision_sessions write after the ones before it; a failure is logged (the session goes on). */
  private persist(id: string, what: string, write: (store: SupervisionStore) => Promise<void>): void {
    const next = this.writes.then(() => write(this.store));
    this.writes = next.catch((err: Error) => this.deps.log.warn({ supervision: id, what, err: err.message }, 'supervision session row not written'));
  }

  /** The same, awaited: its failure is the caller's. */
  private persistNow<T>(write: (store: SupervisionStore) => Promise<T>): Promise<T> {
    const next = this.writes.then(() => write(this.store));
    this.writes = next.catch(() => undefined);
    return next;
  }

  private audit(actor: Actor, action: string, id: string | null, details: Record<string, unknown>): void {
    const entry: AuditEntry = { action, entity: 'supervision', entityId: id, details };
    logRejection(recordAudit(this.deps.db, actor, entry), this.deps.log, 'supervision audit row not written', { action, supervision: id });
  }
}

const idOf = (s: StoredSupervision): string => (s.state === 'ringing' ? s.request.id : s.info.id);

function describe(target: SupervisionTarget): string {
  return target.kind === 'call' ? `call ${target.callId}` : `${target.kind === 'number' ? 'agent or extension' : target.kind} ${target.number}`;
}

function unknownTarget(target: SupervisionTarget): AppError {
  switch (target.kind) {
    case 'call':
      return new AppError('call-not-found', 404, `call ${target.callId} not found (or not connected to an extension)`, { field: 'callId' });
    case 'agent':
      return new AppError('agent-not-found', 404, `agent ${target.number} not found`, { field: 'agent' });
    default:
      return new AppError('extension-not-found', 404, `extension ${target.number} not found`, { field: 'extension' });
  }
}
