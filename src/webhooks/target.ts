/**
 * Which URLs a webhook may target (docs/webhooks.md#urls), pure. Only http: and https:, with a
 * host, and no user:password in the URL (it would land in logs and the API's answers). Private
 * and loopback addresses are allowed: an on-premises CRM is usually on the site's own network.
 * Reachability is not part of this check: reach.ts probes it after creation, a warning only.
 */
export type TargetCheck = { ok: true; url: string } | { ok: false; problem: string };

export function checkTarget(raw: string): TargetCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, problem: 'must be an absolute http or https URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, problem: `scheme ${url.protocol.replace(/:$/, '')} is not allowed: only http and https` };
  if (!url.hostname) return { ok: false, problem: 'must name a host' };
  if (url.username || url.password) return { ok: false, problem: 'must not carry a user name or password (the signature authenticates the daemon)' };
  if (url.hash) return { ok: false, problem: 'must not have a #fragment' };
  return { ok: true, url: url.toString() };
}
