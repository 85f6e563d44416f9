/**
 * Provisioning IP allowlists: CIDR validation and matching (node:net, no dependency).
 * A bare address means a single host (/32 or /128). Very wide networks are refused: an allowlist
 * of 0.0.0.0/0 would switch authentication off.
 */
import { BlockList, isIPv4, isIPv6, SocketAddress } from 'node:net';
import { normalizeClientIp } from '../shared/client-ip.js';

export const MIN_PREFIX = { ipv4: 8, ipv6: 32 } as const;
export const MAX_NETWORKS = 20;

export type CidrResult = { ok: true; cidr: string } | { ok: false; reason: string };

/** Validates one CIDR (or bare address) and returns its canonical form, e.g. "10.1.2.0/24". */
export function parseCidr(input: string): CidrResult {
  const m = /^([^/\s]+)(?:\/(\d{1,3}))?$/.exec(input.trim());
  if (!m) return { ok: false, reason: `"${input}" is not an address or CIDR network such as 10.1.2.0/24` };
  const addr = m[1]!;
  const family = isIPv4(addr) ? 'ipv4' : isIPv6(addr) && !addr.includes('%') ? 'ipv6' : null;
  if (!family) return { ok: false, reason: `"${input}" is not an IPv4 or IPv6 address or network` };
  const max = family === 'ipv4' ? 32 : 128;
  const prefix = m[2] === undefined ? max : Number(m[2]);
  if (prefix > max) return { ok: false, reason: `"${input}": the prefix length must be at most ${max}` };
  if (prefix < MIN_PREFIX[family]) {
    return { ok: false, reason: `"${input}" is too wide: the prefix length must be at least /${MIN_PREFIX[family]}` };
  }
  if (family === 'ipv4') return { ok: true, cidr: `${maskIpv4(addr, prefix)}/${prefix}` };
  return { ok: true, cidr: `${new SocketAddress({ address: addr, family: 'ipv6' }).address}/${prefix}` };
}

function maskIpv4(addr: string, prefix: number): string {
  const n = addr.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const net = (n & mask) >>> 0;
  return [24, 16, 8, 0].map((shift) => (net >>> shift) & 255).join('.');
}

/** Canonical, de-duplicated list, or the first problem (with its index) for a 400. */
export function normalizeNetworks(list: readonly string[]): { ok: true; networks: string[] } | { ok: false; index: number; reason: string } {
  const out: string[] = [];
  for (const [index, item] of list.entries()) {
    const r = parseCidr(item);
    if (!r.ok) return { ok: false, index, reason: r.reason };
    if (!out.includes(r.cidr)) out.push(r.cidr);
  }
  return { ok: true, networks: out };
}

/** Is the client address inside one of the (canonical) networks? Malformed input is never allowed. */
export function ipAllowed(ip: string, networks: readonly string[]): boolean {
  if (networks.length === 0) return false;
  const client = normalizeClientIp(ip);
  const family = isIPv4(client) ? 'ipv4' : isIPv6(client) ? 'ipv6' : null;
  if (!family) return false;
  const list = new BlockList();
  for (const cidr of networks) {
    const r = parseCidr(cidr);
    if (!r.ok) continue;
    const [net, len] = r.cidr.split('/') as [string, string];
    list.addSubnet(net, Number(len), isIPv4(net) ? 'ipv4' : 'ipv6');
  }
  return list.check(client, family);
}
