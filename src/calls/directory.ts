/**
 * The database side of routing: who an endpoint is, and what an extension wants done with
 * its calls. Thin: the decisions are in router.ts and dial-flow.ts.
 */
import type { Db } from '../db/database.js';
import { findExtension } from '../extensions/repository.js';
import type { CallFacts } from './cdr.js';
import type { DialTarget } from './dial-flow.js';
import { decideRoute, endpointOfChannel, type CallRoute, type CallSource } from './router.js';

export function callDirectory(db: Db) {
  async function sourceOf(channelName: string | null): Promise<CallSource> {
    const endpoint = channelName ? endpointOfChannel(channelName) : null;
    if (endpoint === null) return { kind: 'other', endpoint: null };
    if (endpoint.startsWith('trunk-')) return { kind: 'trunk', name: endpoint.slice('trunk-'.length) };
    const ext = /^[0-9]{2,16}$/.test(endpoint) ? await findExtension(db, endpoint) : undefined;
    return ext ? { kind: 'extension', number: ext.number } : { kind: 'other', endpoint };
  }

  return {
    async route(channelName: string | null, facts: CallFacts): Promise<CallRoute> {
      const source = await sourceOf(channelName);
      const dialed = facts.dialedNumber;
      const dialedExt = dialed && /^[0-9]{2,16}$/.test(dialed) ? await findExtension(db, dialed) : undefined;
      return decideRoute(source, dialed, (n) => dialedExt?.number === n);
    },

    async lookupTarget(number: string): Promise<DialTarget | null> {
      if (!/^[0-9]{2,16}$/.test(number)) return null;
      const ext = await findExtension(db, number);
      return ext
        ? {
            number: ext.number,
            dnd: ext.dnd,
            forwardAlways: ext.forward_always,
            forwardBusy: ext.forward_busy,
            forwardNoAnswer: ext.forward_no_answer,
            ringTimeoutSeconds: ext.ring_timeout_seconds,
          }
        : null;
    },
  };
}
