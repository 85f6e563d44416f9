/**
 * Campaigns (docs/campaigns.md): create, read, change, delete, and the lifecycle (start, pause,
 * resume, stop). Each use case: load (locked) -> check (campaign-settings.ts, campaign-state.ts,
 * names resolved) -> write the change and its audit row in one transaction -> publish.
 *
 * How the dialer learns of a lifecycle change at once: a Postgres NOTIFY on channel
 * `pbx_campaign_state` (repository.ts CAMPAIGN_STATE_CHANNEL), sent by the transaction that makes
 * the change, so it arrives when (and only if) the change commits, at every daemon sharing the
 * database. Payload `{"campaignId","state","from"}`. A listener (src/db/listener.ts) must reload
 * the states after each (re)connect, as notices sent while it was down are lost; campaigns.state
 * stays the truth, read again before every dial. After the commit, a `campaign.state` event goes
 * on the event bus (supervisors' stream, webhooks).
 */
import type { Actor } from '../audit/repository.js';
import { recordAudit } from '../audit/repository.js';
import type { Db, DbOrTx } from '../db/database.js';
import { AppError, invalid, notFound } from '../errors.js';
import type { EventPublisher } from '../events/bus.js';
import type { Keyset } from '../http/paging.js';
import type { Logger } from '../logger.js';
import { pgCode, UNIQUE_VIOLATION } from '../shared/pg-errors.js';
import {
  canAbandon, fullRetryRules, patched, settingsProblem, withDefaults, type CampaignSettings, type SettingsInput,
} from './campaign-settings.js';
import { DELETABLE_STATES, EDITABLE_STATES, transition, type CampaignEvent } from './campaign-state.js';
import * as repo from './repository.js';
import type { CampaignMode, CampaignState } from './tables.js';

export interface CampaignView extends CampaignSettings {
  readonly id: string;
  readonly name: string;
  readonly state: CampaignState;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface CampaignServiceDeps {
  readonly db: Db;
  readonly events: EventPublisher;
  readonly log: Logger;
  /** The site's zone: a campaign's time zone when none is given. */
  readonly timezone: string;
}

export function viewOf(r: repo.CampaignWithNames): CampaignView {
  return {
    id: r.id, name: r.name, mode: r.mode, state: r.state,
    queue: r.queue_name, trunk: r.trunk_name, callerId: r.caller_id, callerName: r.caller_name,
    window: { start: r.window_start, end: r.window_end, days: r.window_days },
    defaultCountry: r.default_country, retryRules: fullRetryRules(r.retry_rules), maxAttempts: r.max_attempts,
    dailyLimit: r.daily_limit, timeZone: r.time_zone, abandonCap: Number(r.abandon_cap), ringSeconds: r.ring_seconds,
    connectSeconds: Number(r.connect_seconds), previewSeconds: r.preview_seconds, pacing: r.pacing, amd: r.amd, machineAction: r.machine_action,
    machinePrompt: r.machine_prompt, abandonPrompt: r.abandon_prompt, flow: r.flow_name, dispositions: r.dispositions,
    createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

const EVENT_ACTION: Readonly<Record<CampaignEvent, string>> = {
  start: 'campaign.start', pause: 'campaign.pause', resume: 'campaign.resume', stop: 'campaign.stop', finish: 'campaign.finish',
};

export class CampaignService {
  constructor(private readonly deps: CampaignServiceDeps) {}

  async create(name: string, input: SettingsInput, actor: Actor): Promise<CampaignView> {
    const settings = withDefaults(input, this.deps.timezone);
    check(settings);
    const id = await this.write(async (tx) => {
      const id = await repo.insertCampaign(tx, { name, ...(await this.columns(tx, settings)) } as never);
      await recordAudit(tx, actor, { action: 'campaign.create', entity: 'campaign', entityId: id, details: { name, mode: settings.mode } });
      return id;
    }, name);
    return this.get(id);
  }

  async list(q: { limit: number; after?: Keyset | undefined; state?: CampaignState | undefined }): Promise<(repo.CampaignWithNames & { cursor_at: string })[]> {
    return repo.listCampaigns(this.deps.db, q);
  }

  async get(id: string): Promise<CampaignView> {
    const row = await repo.findCampaign(this.deps.db, id);
    if (!row) throw notFound('campaign-not-found', 'campaign', id);
    return viewOf(row);
  }

  /** Change settings: a draft, paused or finished campaign (a running one is paused first; a stopped one is over). */
  async update(id: string, patch: Partial<SettingsInput> & { readonly name?: string | undefined }, actor: Actor): Promise<CampaignView> {
    await this.write(async (tx) => {
      const row = await this.locked(tx, id);
      if (!EDITABLE_STATES.has(row.state)) {
        throw new AppError('campaign-not-editable', 409, `a ${row.state} campaign cannot be changed${row.state === 'running' ? ': pause it first' : ''}`, { state: row.state });
      }
      const { name, ...rest } = patch;
      const settings = patched(viewOf(row), rest);
      check(settings);
      await repo.updateCampaign(tx, id, { ...(name !== undefined ? { name } : {}), ...(await this.columns(tx, settings)) });
      await recordAudit(tx, actor, { action: 'campaign.update', entity: 'campaign', entityId: id, details: { fields: Object.keys(patch) } });
    }, patch.name);
    return this.get(id);
  }

  /** Delete a draft or stopped campaign with no attempt in progress (its contacts, attempts and days go with it). */
  async remove(id: string, actor: Actor): Promise<void> {
    await this.deps.db.transaction().execute(async (tx) => {
      const row = await this.locked(tx, id);
      if (!DELETABLE_STATES.has(row.state)) {
        throw new AppError('campaign-in-use', 409, `a ${row.state} campaign cannot be deleted: stop it first`, { state: row.state });
      }
      const busy = await repo.attemptsInProgress(tx, id);
      if (busy > 0) throw new AppError('campaign-in-use', 409, `the campaign has ${busy} attempt(s) in progress; delete it when they are over`, { attemptsInProgress: busy });
      await repo.deleteCampaign(tx, id);
      await recordAudit(tx, actor, { action: 'campaign.delete', entity: 'campaign', entityId: id, details: { name: row.name } });
    });
  }

  /**
   * start | pause | resume | stop (and the dialer's finish). Start checks readiness: the abandon
   * message in the modes that can abandon, its and the machine message's prompts still there (409
   * campaign-not-ready naming what is missing); an empty or logged-out queue is only a warning
   * (agents log in after the start).
   */
  async apply(id: string, event: CampaignEvent, actor: Actor): Promise<CampaignView & { warnings: string[] }> {
    const warnings: string[] = [];
    const done = await this.deps.db.transaction().execute(async (tx) => {
      const row = await this.locked(tx, id);
      const t = transition(row.state, event);
      if (!t.ok) throw new AppError(t.code, 409, t.message, { state: row.state, event });
      if (event === 'start') warnings.push(...(await this.readiness(tx, row)));
      if (!(await repo.writeState(tx, id, row.state, t.next))) throw new AppError('conflict', 409, 'the campaign changed meanwhile: try again');
      await recordAudit(tx, actor, { action: EVENT_ACTION[event], entity: 'campaign', entityId: id, details: { from: row.state, to: t.next, ...(warnings.length ? { warnings } : {}) } });
      return { name: row.name, from: row.state, to: t.next };
    });
    this.deps.log.info({ campaignId: id, campaign: done.name, transition: `${done.from} -> ${event} -> ${done.to}` }, 'campaign state');
    this.deps.events.publish({ type: 'campaign.state', campaignId: id, campaign: done.name, state: done.to, from: done.from, cause: event });
    return { ...(await this.get(id)), warnings };
  }

  private async readiness(tx: DbOrTx, row: repo.CampaignWithNames): Promise<string[]> {
    const missing: { field: string; why: string }[] = [];
    if (canAbandon(row.mode) && row.abandon_prompt === null) {
      missing.push({ field: 'abandonPrompt', why: `not set: a ${row.mode} campaign can abandon a live answer, which must hear a message naming the caller and offering opt-out (make a prompt, text-to-speech will do, and set it)` });
    }
    for (const [field, name] of [['abandonPrompt', row.abandon_prompt], ['machinePrompt', row.machine_prompt]] as const) {
      if (name !== null && !(await repo.promptExists(tx, name))) missing.push({ field, why: `names prompt ${name}, which no longer exists` });
    }
    if (row.machine_action === 'message' && row.machine_prompt === null) missing.push({ field: 'machinePrompt', why: 'not set: machineAction is message' });
    if (missing.length) {
      throw new AppError('campaign-not-ready', 409, `cannot start: ${missing.map((m) => `${m.field} ${m.why}`).join('; ')}`, { missing: missing.map((m) => m.field) });
    }
    const warnings: string[] = [];
    if (row.queue_id !== null) {
      const staff = await repo.queueStaffing(tx, row.queue_id);
      if (staff.members === 0) warnings.push(`queue ${row.queue_name} has no agents: nothing will be dialed until one is a member and ready`);
      else if (staff.loggedIn === 0) warnings.push(`no agent of queue ${row.queue_name} is logged in: nothing will be dialed until one is ready`);
    }
    return warnings;
  }

  private async locked(tx: DbOrTx, id: string): Promise<repo.CampaignWithNames> {
    const row = await repo.findCampaign(tx, id, true);
    if (!row) throw notFound('campaign-not-found', 'campaign', id);
    return row;
  }

  /** One transaction; a name taken is 409 campaign-exists. */
  private async write<T>(fn: (tx: DbOrTx) => Promise<T>, name: string | undefined): Promise<T> {
    try {
      return await this.deps.db.transaction().execute(fn);
    } catch (err) {
      if (pgCode(err) === UNIQUE_VIOLATION) throw new AppError('campaign-exists', 409, `a campaign named ${name ?? '?'} exists`, { field: 'body.name', name });
      throw err;
    }
  }

  /** The columns of the settings, names resolved to ids (404 naming the field for a name that is nothing). */
  private async columns(tx: DbOrTx, s: CampaignSettings) {
    const trunkId = await repo.trunkIdOf(tx, s.trunk);
    if (trunkId === undefined) throw missingName('trunk-not-found', 'body.trunk', 'trunk', s.trunk);
    const queueId = s.queue === null ? null : await repo.queueIdOf(tx, s.queue);
    if (queueId === undefined) throw missingName('queue-not-found', 'body.queue', 'queue', s.queue!);
    const flowId = s.flow === null ? null : await repo.flowIdOf(tx, s.flow);
    if (flowId === undefined) throw missingName('flow-not-found', 'body.flow', 'flow', s.flow!);
    for (const field of ['machinePrompt', 'abandonPrompt'] as const) {
      const prompt = s[field];
      if (prompt !== null && !(await repo.promptExists(tx, prompt))) throw missingName('prompt-not-found', `body.${field}`, 'prompt', prompt);
    }
    return {
      mode: s.mode as CampaignMode, queue_id: queueId, trunk_id: trunkId, caller_id: s.callerId, caller_name: s.callerName,
      window_start: s.window.start, window_end: s.window.end, window_days: JSON.stringify(s.window.days), default_country: s.defaultCountry,
      retry_rules: JSON.stringify(s.retryRules), max_attempts: s.maxAttempts, daily_limit: s.dailyLimit, time_zone: s.timeZone,
      abandon_cap: s.abandonCap, ring_seconds: s.ringSeconds, connect_seconds: s.connectSeconds, preview_seconds: s.previewSeconds, pacing: JSON.stringify(s.pacing),
      amd: s.amd, machine_action: s.machineAction, machine_prompt: s.machinePrompt, abandon_prompt: s.abandonPrompt, flow_id: flowId,
      dispositions: JSON.stringify(s.dispositions),
    };
  }
}

function check(s: CampaignSettings): void {
  const problem = settingsProblem(s);
  if (problem) throw invalid(problem.field, problem.message);
}

function missingName(code: 'trunk-not-found' | 'queue-not-found' | 'flow-not-found' | 'prompt-not-found', field: string, what: string, name: string): AppError {
  return new AppError(code, 404, `${field}: no ${what} named ${name}`, { field, name });
}
