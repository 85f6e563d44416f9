/**
 * Preview mode through the API (docs/campaigns.md#preview-mode): an agent's current offer, and
 * the agent's answer to it (accept: the contact is dialed; skip: the next contact is offered).
 * Supervisor and up, as the other agent routes (the API has no agent tokens: an agent desktop or
 * CRM acts for its agent). The agent answers on the handset too (src/calls/preview-call.ts).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { requireRole } from '../http/auth.js';
import { withErrors } from '../http/schemas.js';
import { AgentParams } from '../acd/schemas.js';
import { AppError, notFound } from '../errors.js';
import type { CampaignRouteDeps } from './route-deps.js';
import type { PreviewOffer } from './preview.js';

export const PreviewOfferSchema = Type.Object(
  {
    attemptId: Type.String({ description: 'the offer: the attempt dialed if the agent accepts' }),
    campaignId: Type.String(),
    campaign: Type.String({ description: 'the campaign name' }),
    agent: Type.String({ description: "the agent's number" }),
    contactId: Type.String(),
    number: Type.String({ description: 'the number to dial (E.164)' }),
    name: Type.Union([Type.String(), Type.Null()]),
    data: Type.Record(Type.String(), Type.String(), { description: "the contact's data (the list's extra columns)" }),
    offeredAt: Type.String({ format: 'date-time' }),
    expiresAt: Type.String({ format: 'date-time', description: 'counts as skipped (expired) unless answered before' }),
  },
  { $id: 'PreviewOffer', additionalProperties: false },
);

const AnswerBody = Type.Object(
  { attemptId: Type.Optional(Type.String({ maxLength: 40, description: 'the offer the answer is for (as shown): another offer now is 409 preview-offer-changed' })) },
  { additionalProperties: false },
);
type AnswerBody = Static<typeof AnswerBody>;

const offerJson = (o: PreviewOffer) => ({
  attemptId: o.attemptId, campaignId: o.campaignId, campaign: o.campaign, agent: o.agent, contactId: o.contactId, number: o.number, name: o.name,
  data: { ...o.data }, offeredAt: o.offeredAt.toISOString(), expiresAt: o.expiresAt.toISOString(),
});

export function previewRoutes(deps: CampaignRouteDeps) {
  const supervisor = requireRole(deps.auth, 'supervisor');
  const security = [{ bearer: [] }];
  const tags = ['campaigns'];
  const ref = Type.Ref('PreviewOffer');
  type ByNumber = { Params: AgentParams };
  const agentId = async (number: string): Promise<string> => {
    const a = await deps.db.selectFrom('agents').select('id').where('number', '=', number).executeTakeFirst();
    if (!a) throw notFound('agent-not-found', 'agent', number);
    return a.id;
  };
  const noOffer = (number: string) => new AppError('no-preview-offer', 409, `agent ${number} has no preview offer now`, { agent: number });
  return async (app: FastifyInstance): Promise<void> => {
    app.addSchema(PreviewOfferSchema);
    app.get<ByNumber>(
      '/agents/:number/preview',
      { onRequest: supervisor, schema: { tags, security, summary: "The agent's preview offer now (a contact offered before it is dialed); 409 no-preview-offer when there is none", params: AgentParams, response: withErrors({ 200: ref, 409: Type.Ref('ErrorResponse') }) } },
      async (request) => {
        const id = await agentId(request.params.number);
        const offer = await deps.preview?.()?.offerFor(id);
        if (!offer) throw noOffer(request.params.number);
        return offerJson(offer);
      },
    );
    for (const answer of ['accept', 'skip'] as const) {
      app.post<ByNumber & { Body: AnswerBody }>(
        `/agents/:number/preview/${answer}`,
        {
          onRequest: supervisor,
          schema: {
            tags, security, params: AgentParams, body: AnswerBody,
            summary: answer === 'accept'
              ? "Accept the agent's preview offer: the contact is dialed and, answered, connected to this agent. 409 no-preview-offer / preview-offer-changed"
              : "Skip the agent's preview offer: the contact goes back to the list (behind fresh contacts) and the next one is offered. 409 no-preview-offer / preview-offer-changed",
            response: withErrors({ 200: ref, 409: Type.Ref('ErrorResponse') }),
          },
        },
        async (request) => {
          const id = await agentId(request.params.number);
          const preview = deps.preview?.();
          if (!preview) throw noOffer(request.params.number);
          return offerJson(await preview.answer(id, answer, request.body?.attemptId));
        },
      );
    }
  };
}
