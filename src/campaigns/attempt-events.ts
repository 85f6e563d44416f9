/**
 * The campaign.attempt event (docs/events.md): an attempt ended. The dialer calls `onAttemptEnded`
 * once the transaction that ended it has committed (dialer.ts finish, which call-reports.ts
 * finishes through too); the attempt is read back with its contact's name and its agent's number,
 * and published in the order the attempts ended. The metrics count it from the bus
 * (pbx_campaign_attempts_total).
 */
import type { Db } from '../db/database.js';
import type { EventPublisher } from '../events/bus.js';
import type { EventInput } from '../events/model.js';
import type { AttemptOutcome, CampaignRow } from './tables.js';

export interface EndedAttempt {
  readonly id: string;
  readonly contactId: string;
  readonly number: string;
  readonly contactName: string | null;
  readonly outcome: AttemptOutcome;
  readonly agent: string | null;
}

/** Pure: the event for one ended attempt of `campaign`. */
export function attemptEndedEvent(campaign: Pick<CampaignRow, 'id' | 'name'>, a: EndedAttempt): EventInput {
  return {
    type: 'campaign.attempt',
    attemptId: a.id,
    campaignId: campaign.id,
    campaign: campaign.name,
    contactId: a.contactId,
    contactNumber: a.number,
    contactName: a.contactName,
    outcome: a.outcome,
    agent: a.agent,
  };
}

async function endedAttempt(db: Db, attemptId: string): Promise<EndedAttempt | null> {
  const row = await db
    .selectFrom('campaign_attempts as a')
    .innerJoin('campaign_contacts as c', 'c.id', 'a.contact_id')
    .leftJoin('agents as g', 'g.id', 'a.agent_id')
    .select(['a.id', 'a.contact_id', 'a.number', 'a.outcome', 'c.name', 'g.number as agent'])
    .where('a.id', '=', attemptId)
    .executeTakeFirst();
  if (!row || row.outcome === null) return null;
  return { id: row.id, contactId: row.contact_id, number: row.number, contactName: row.name, outcome: row.outcome, agent: row.agent };
}

/** The dialer's onAttemptEnded: publishes campaign.attempt, in order; a failed read is `onError`'s. */
export function publishAttemptEnded(db: Db, events: EventPublisher, onError: (err: Error) => void): (attemptId: string, campaign: CampaignRow) => void {
  let last: Promise<void> = Promise.resolve();
  return (attemptId, campaign) => {
    last = last
      .then(async () => {
        const a = await endedAttempt(db, attemptId);
        if (a) events.publish(attemptEndedEvent(campaign, a));
      })
      .catch(onError);
  };
}
