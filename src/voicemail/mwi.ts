/**
 * Message-waiting indication: the phone's lamp. This Asterisk has no res_mwi_external (so no ARI
 * mailboxes), so the daemon sends the RFC 3842 message-summary NOTIFY itself with AMI PJSIPNotify
 * to every contact of the extension's endpoint. AMI splits one `Variable:` header on commas into
 * name=value pairs; `Content` pairs become the body lines, in order.
 */
import type { AmiResponse } from '../telephony/ami.js';

export interface AmiActions {
  action(fields: Record<string, string>): Promise<AmiResponse>;
}

export interface MailboxCounts {
  readonly fresh: number;
  readonly heard: number;
}

/** The simple-message-summary body lines (RFC 3842). */
export function messageSummary(mailbox: string, c: MailboxCounts): string[] {
  return [`Messages-Waiting: ${c.fresh > 0 ? 'yes' : 'no'}`, `Message-Account: sip:${mailbox}`, `Voice-Message: ${c.fresh}/${c.heard} (0/0)`];
}

/** The PJSIPNotify action for a mailbox (an extension number: digits only, checked here). */
export function mwiAction(mailbox: string, c: MailboxCounts): Record<string, string> {
  if (!/^[0-9]{2,16}$/.test(mailbox)) throw new Error(`not a mailbox number: ${mailbox}`);
  const vars = ['Event=message-summary', 'Content-Type=application/simple-message-summary', ...messageSummary(mailbox, c).map((l) => `Content=${l}`)];
  return { Action: 'PJSIPNotify', Endpoint: mailbox, Variable: vars.join(',') };
}
