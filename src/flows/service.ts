/**
 * IVR flow management: a flow is a name with numbered versions of its definition.
 *
 *   create (optionally with a definition: draft version 1)
 *   save draft   checked (checkFlow against the catalog) -> the one draft is replaced, or a new
 *                version (max + 1) becomes the draft
 *   publish      the draft is checked again (extensions, prompts... may be gone) and becomes the
 *                published version; the one published before is retired
 *   rollback     an earlier version is checked again and published again; the draft stays
 *   delete       refused while an inbound route, another flow's published version or an ACD
 *                queue's overflow uses it
 *
 * A definition with problems is refused with 422 flow-invalid, details.problems naming node and
 * field of each. Every change holds the flow's row lock for its transaction and writes an audit
 * row in it. Calls run the published version only (repository.loadPublishedFlow).
 */
import type { Db, DbOrTx } from '../db/database.js';
import { AppError, invalid, notFound } from '../errors.js';
import { recordAudit, type Actor } from '../audit/repository.js';
import { checkFlow, type FlowCatalog, type Problem } from '../ivr/validate.js';
import { planOutbound } from '../routing/outbound.js';
import { loadEmergencyNumbers, loadOutboundRoutes } from '../trunks/repository.js';
import { queueNames, queuesOverflowingTo, queuesSurveyingWith } from '../acd/admin-repository.js';
import { FOREIGN_KEY_VIOLATION, pgCode, UNIQUE_VIOLATION } from '../shared/pg-errors.js';
import * as repo from './repository.js';
import type { FlowRow, FlowVersionRow } from './tables.js';

/** Lower-case letters, digits and -, starting with a letter or digit, up to 64. */
export const FLOW_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;
/** Largest definition accepted, as JSON text. */
export const MAX_DEFINITION_BYTES = 256 * 1024;

export interface CreateFlowInput {
  readonly name: string;
  readonly description?: string | null | undefined;
  readonly definition?: unknown;
}

/** A flow with its published and draft versions (definitions included). */
export interface FlowDetail {
  readonly flow: repo.FlowSummary;
  readonly published: FlowVersionRow | null;
  readonly draft: FlowVersionRow | null;
}

export class FlowService {
  /** lookupHostAllowed: whether a lookup URL's host may ever be reached (ivr/lookup-hosts.ts); absent: not checked. */
  constructor(
    private readonly db: Db,
    private readonly lookupHostAllowed?: (hostname: string) => boolean,
  ) {}

  // ------------------------------------------------------------------ reads

  async list(): Promise<repo.FlowSummary[]> {
    return repo.listFlows(this.db);
  }

  async get(name: string): Promise<FlowDetail> {
    return this.detail(this.db, name);
  }

  async versions(name: string): Promise<repo.VersionInfo[]> {
    const flow = await this.find(this.db, name);
    return repo.listVersions(this.db, flow.id);
  }

  async version(name: string, version: number): Promise<FlowVersionRow> {
    const flow = await this.find(this.db, name);
    const v = await repo.findVersion(this.db, flow.id, version);
    if (!v) throw noVersion(name, version);
    return v;
  }

  /**
   * What a definition is checked against, as the database is now: extensions, mailboxes that take
   * messages, the other flows with a published version, uploaded prompts, the ACD's queues,
   * external numbers an outbound route would carry for an international caller.
   */
  async catalog(db: DbOrTx, self: string): Promise<FlowCatalog> {
    const [data, routes, emergencyNumbers, queues] = await Promise.all([repo.loadCatalogData(db), loadOutboundRoutes(db), loadEmergencyNumbers(db), queueNames(db)]);
    return {
      extensions: new Set(data.extensions),
      mailboxes: new Set(data.mailboxes),
      flows: new Set(data.publishedFlows.filter((f) => f !== self)),
      prompts: new Set(data.prompts),
      queues: new Set(queues),
      externalAllowed: (number) => planOutbound({ dialed: number, callerClass: 'international', routes, emergencyNumbers }).kind === 'route',
      ...(this.lookupHostAllowed ? { lookupHostAllowed: this.lookupHostAllowed } : {}),
      self,
    };
  }

  // ------------------------------------------------------------------ changes

  async create(actor: Actor, input: CreateFlowInput): Promise<FlowDetail> {
    const { name } = input;
    if (!FLOW_NAME.test(name)) throw invalid('body.name', 'lower-case letters, digits and -, starting with a letter or digit, up to 64 characters');
    const description = input.description ?? null;
    return this.db
      .transaction()
      .execute(async (tx) => {
        if (await repo.findFlow(tx, name)) throw flowExists(name);
        if (input.definition !== undefined) await this.check(tx, name, input.definition);
        const flow = await repo.insertFlow(tx, name, description);
        let draftVersion: number | null = null;
        if (input.definition !== undefined) {
          draftVersion = 1;
          await repo.insertDraft(tx, flow.id, draftVersion, input.definition, actor.label);
        }
        await audit(tx, actor, 'flow.create', flow, { name, description, draftVersion });
        return this.detail(tx, name);
      })
      .catch((err: unknown) => {
        if (pgCode(err) === UNIQUE_VIOLATION) throw flowExists(name);
        throw err;
      });
  }

  /** Replace the draft's definition, or start a new draft version (max + 1) when there is none. */
  async saveDraft(actor: Actor, name: string, definition: unknown): Promise<FlowDetail> {
    return this.db.transaction().execute(async (tx) => {
      const flow = await this.lock(tx, name);
      await this.check(tx, name, definition);
      const draft = await repo.findVersionInState(tx, flow.id, 'draft');
      const version = draft?.version ?? (await repo.nextVersion(tx, flow.id));
      if (draft) await repo.replaceDraftDefinition(tx, flow.id, version, definition);
      else await repo.insertDraft(tx, flow.id, version, definition, actor.label);
      await repo.touchFlow(tx, flow.id);
      await audit(tx, actor, 'flow.draft.save', flow, { name, version, newVersion: !draft });
      return this.detail(tx, name);
    });
  }

  /** The draft, checked again against the catalog as it is now, becomes the published version. */
  async publish(actor: Actor, name: string): Promise<FlowDetail> {
    return this.db.transaction().execute(async (tx) => {
      const flow = await this.lock(tx, name);
      const draft = await repo.findVersionInState(tx, flow.id, 'draft');
      if (!draft) throw new AppError('flow-no-draft', 409, `flow ${name} has no draft to publish; save one with PUT /api/v1/flows/${name}/draft`, { name });
      await this.check(tx, name, draft.definition);
      await repo.markPublished(tx, flow.id, draft.version);
      await repo.touchFlow(tx, flow.id, draft.version);
      await audit(tx, actor, 'flow.publish', flow, { name, version: draft.version, previousVersion: flow.published_version });
      return this.detail(tx, name);
    });
  }

  /** Publish an earlier version again (checked against the catalog as it is now); the draft stays. */
  async rollback(actor: Actor, name: string, version: number): Promise<FlowDetail> {
    return this.db.transaction().execute(async (tx) => {
      const flow = await this.lock(tx, name);
      const target = await repo.findVersion(tx, flow.id, version);
      if (!target) throw noVersion(name, version);
      if (target.state === 'draft') throw invalid('body.version', `version ${version} of flow ${name} is the draft, never published; publish it with POST /api/v1/flows/${name}/publish`);
      if (target.state !== 'published') {
        await this.check(tx, name, target.definition);
        await repo.markPublished(tx, flow.id, version);
        await repo.touchFlow(tx, flow.id, version);
        await audit(tx, actor, 'flow.rollback', flow, { name, version, previousVersion: flow.published_version });
      }
      return this.detail(tx, name);
    });
  }

  /** Delete the flow and its versions; refused (flow-in-use) while a route, another published flow or a queue's overflow uses it. */
  async remove(actor: Actor, name: string): Promise<void> {
    await this.db
      .transaction()
      .execute(async (tx) => {
        const flow = await this.lock(tx, name);
        const [inboundRoutes, flows, queues, surveys] = await Promise.all([
          repo.inboundRoutesUsingFlow(tx, flow.id), repo.flowsTransferringTo(tx, name), queuesOverflowingTo(tx, { kind: 'flow', flow: name }), queuesSurveyingWith(tx, flow.id),
        ]);
        if (inboundRoutes.length > 0 || flows.length > 0 || queues.length > 0 || surveys.length > 0) throw inUse(name, inboundRoutes, flows, queues, surveys);
        await repo.deleteFlowRow(tx, flow.id);
        await audit(tx, actor, 'flow.delete', flow, { name, publishedVersion: flow.published_version });
      })
      .catch(async (err: unknown) => {
        // A route written at the same moment: the foreign key refuses; say who uses it.
        if (pgCode(err) === FOREIGN_KEY_VIOLATION) {
          const flow = await repo.findFlow(this.db, name);
          throw inUse(name, flow ? await repo.inboundRoutesUsingFlow(this.db, flow.id) : [], await repo.flowsTransferringTo(this.db, name), [], flow ? await queuesSurveyingWith(this.db, flow.id) : []);
        }
        throw err;
      });
  }

  // ------------------------------------------------------------------ helpers

  private async find(db: DbOrTx, name: string): Promise<repo.FlowSummary> {
    const flow = await repo.findFlow(db, name);
    if (!flow) throw notFound('flow-not-found', 'flow', name);
    return flow;
  }

  private async lock(tx: DbOrTx, name: string): Promise<FlowRow> {
    const flow = await repo.lockFlow(tx, name);
    if (!flow) throw notFound('flow-not-found', 'flow', name);
    return flow;
  }

  private async detail(db: DbOrTx, name: string): Promise<FlowDetail> {
    const flow = await this.find(db, name);
    const [published, draft] = await Promise.all([repo.findVersionInState(db, flow.id, 'published'), repo.findVersionInState(db, flow.id, 'draft')]);
    return { flow, published: published ?? null, draft: draft ?? null };
  }

  /** 413 when too large; 422 flow-invalid with every problem when checkFlow finds any. */
  private async check(db: DbOrTx, name: string, definition: unknown): Promise<void> {
    const bytes = Buffer.byteLength(JSON.stringify(definition) ?? '');
    if (bytes > MAX_DEFINITION_BYTES) {
      throw new AppError('payload-too-large', 413, `the definition is ${bytes} bytes of JSON; a flow definition may be at most ${MAX_DEFINITION_BYTES}`, { bytes, maxBytes: MAX_DEFINITION_BYTES });
    }
    const { problems } = checkFlow(definition, await this.catalog(db, name));
    if (problems.length > 0) throw flowInvalid(name, problems);
  }
}

export function flowInvalid(name: string, problems: readonly Problem[]): AppError {
  const first = problems[0]!;
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  return new AppError('flow-invalid', 422, `flow ${name} has ${count}; the first: ${first.message}`, { problems });
}

const flowExists = (name: string): AppError => new AppError('flow-exists', 409, `a flow named ${name} already exists`, { field: 'body.name', name });

const noVersion = (name: string, version: number): AppError =>
  new AppError('flow-version-not-found', 404, `flow ${name} has no version ${version}`, { name, version });

function inUse(name: string, inboundRoutes: string[], flows: string[], queues: string[] = [], surveys: string[] = []): AppError {
  const users = [
    ...(inboundRoutes.length ? [`inbound route(s) ${inboundRoutes.join(', ')}`] : []),
    ...(flows.length ? [`the published version of flow(s) ${flows.join(', ')}`] : []),
    ...(queues.length ? [`the overflow of queue(s) ${queues.join(', ')}`] : []),
    ...(surveys.length ? [`the post-call survey of queue(s) ${surveys.join(', ')}`] : []),
  ];
  return new AppError('flow-in-use', 409, `flow ${name} is used by ${users.join(' and ')}; point them elsewhere first`, { name, inboundRoutes, flows, queues, surveyQueues: surveys });
}

async function audit(tx: DbOrTx, actor: Actor, action: string, flow: FlowRow, details: Record<string, unknown>): Promise<void> {
  await recordAudit(tx, actor, { action, entity: 'flow', entityId: flow.id, details });
}
