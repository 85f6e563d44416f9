/**
 * What an agent's ringing phone is sent for a queue call (docs/acd.md#screen-pop-on-the-handset):
 * the caller-ID name (the queue's template filled in, or the caller's name or number, sanitised
 * and cut to the display width) and the originate's channel variables that add SIP headers to the
 * INVITE (the queue's Alert-Info, or auto-answer for an agent on a headset). Pure.
 */
import type { HandsetOffer } from '../acd/engine.js';
import { offerHeaders, parseCallerIdTemplate, renderCallerIdName, type CallerFacts } from '../acd/screen-pop.js';

const PLAIN = parseCallerIdTemplate('{caller}');

export function handsetOffer(handset: HandsetOffer | undefined, caller: CallerFacts): { readonly name: string; readonly variables: Record<string, string> } {
  const parsed = handset?.callerIdTemplate ? parseCallerIdTemplate(handset.callerIdTemplate) : PLAIN;
  // A stored template is checked when saved; one that no longer parses falls back to the plain caller.
  const template = 'problem' in parsed ? PLAIN : parsed;
  if ('problem' in template) throw new Error(template.problem);
  return {
    name: renderCallerIdName(template, caller),
    variables: offerHeaders({ alertInfo: handset?.alertInfo ?? null, autoAnswer: handset?.autoAnswer ?? false }),
  };
}
