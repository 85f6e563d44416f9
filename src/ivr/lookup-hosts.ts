/**
 * Which hosts an IVR lookup may reach (the SSRF guard; PBX_LOOKUP_ALLOWED_HOSTS).
 *
 * - An address outside the public internet (loopback 127/8 and ::1, link-local 169.254/16 and
 *   fe80::/10, the private ranges 10/8, 172.16/12, 192.168/16 and fc00::/7, shared 100.64/10,
 *   unspecified 0/8 and ::, multicast, reserved and documentation ranges, IPv4 inside IPv6) is
 *   refused unless the allowlist covers it.
 * - An empty allowlist: any host whose addresses are all public. A non-empty one: only the hosts
 *   it lists (by name, `*.suffix`, address or CIDR).
 * - A host listed by name is trusted with whatever it resolves to (the admin named it); any other
 *   name is checked on the addresses it resolves to, at connect time (http-lookup.ts hands
 *   `guardedLookup` to the socket), so DNS cannot smuggle a loopback address in.
 */
import { BlockList, isIP } from 'node:net';
import type { LookupHostEntry } from '../config.js';

export interface LookupHostPolicy {
  readonly restricted: boolean;
  readonly names: ReadonlySet<string>;
  readonly suffixes: readonly string[];
  readonly addresses: BlockList;
  /** The allowlist has address or CIDR entries (an unlisted name may resolve into them). */
  readonly hasAddresses: boolean;
}

const SPECIAL_V4: readonly [string, number][] = [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
];
const SPECIAL_V6: readonly [string, number][] = [
  ['::', 128], ['::1', 128], ['::', 96], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64],
  ['2001:db8::', 32], ['2002::', 16], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
];
// No rule for ::ffff:0:0/96: BlockList checks IPv4 addresses as IPv4-mapped IPv6, so that rule would
// match every IPv4 address; a mapped address (::ffff:127.0.0.1) meets the IPv4 rules instead.
const SPECIAL = new BlockList();
for (const [a, p] of SPECIAL_V4) SPECIAL.addSubnet(a, p, 'ipv4');
for (const [a, p] of SPECIAL_V6) SPECIAL.addSubnet(a, p, 'ipv6');

export function lookupHostPolicy(entries: readonly LookupHostEntry[]): LookupHostPolicy {
  const names = new Set<string>();
  const suffixes: string[] = [];
  const addresses = new BlockList();
  for (const e of entries) {
    if (e.kind === 'name') names.add(e.name);
    else if (e.kind === 'suffix') suffixes.push(e.suffix);
    else addresses.addSubnet(e.address, e.prefix, e.family === 6 ? 'ipv6' : 'ipv4');
  }
  return { restricted: entries.length > 0, names, suffixes, addresses, hasAddresses: entries.some((e) => e.kind === 'cidr') };
}

/** The URL's host as compared: lower case, no brackets, no trailing dot. */
export function bareHost(hostname: string): string {
  return hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
}

/** True when the allowlist names this host (by name or `*.suffix`; addresses are checked by addressAllowed). */
export function hostListed(policy: LookupHostPolicy, hostname: string): boolean {
  const host = bareHost(hostname);
  return policy.names.has(host) || policy.suffixes.some((s) => host.endsWith(`.${s}`));
}

/** May a lookup to `hostname` connect to `address`? */
export function addressAllowed(policy: LookupHostPolicy, hostname: string, address: string): boolean {
  if (hostListed(policy, hostname)) return true;
  const family = isIP(address);
  if (family === 0) return false;
  const type = family === 6 ? 'ipv6' : 'ipv4';
  if (policy.addresses.check(address, type)) return true;
  return !policy.restricted && !SPECIAL.check(address, type);
}

/**
 * What can be known without DNS (for checking a flow before it is published): false when the
 * host can never be reached (an address literal that is not allowed; a name an allowlist of names
 * only does not list). Any other name passes: its addresses are checked at call time.
 */
export function hostMayBeAllowed(policy: LookupHostPolicy, hostname: string): boolean {
  const host = bareHost(hostname);
  if (isIP(host) !== 0) return addressAllowed(policy, host, host);
  return !policy.restricted || policy.hasAddresses || hostListed(policy, host);
}

export class LookupHostRefused extends Error {
  readonly code = 'lookup-host-not-allowed';
  constructor(readonly host: string, readonly address: string) {
    super(`IVR lookup to ${host} (${address}) is not allowed by PBX_LOOKUP_ALLOWED_HOSTS`);
    this.name = 'LookupHostRefused';
  }
}
