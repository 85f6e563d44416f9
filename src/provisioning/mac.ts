/**
 * MAC addresses: accepted as 00:15:65:AA:BB:CC, 00-15-65-aa-bb-cc or 001565aabbcc, stored as
 * 12 lower-case hex digits.
 */
const COLONS = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const DASHES = /^[0-9a-f]{2}(-[0-9a-f]{2}){5}$/i;
const BARE = /^[0-9a-f]{12}$/i;

/**
 * The normalized MAC, or null when the input is not one of the three accepted forms. The all-zero
 * address is refused too: 000000000000.cfg is Polycom's master file name, not a phone.
 */
export function normalizeMac(input: string): string | null {
  // exact forms only: no trimming, no other separators
  if (!(COLONS.test(input) || DASHES.test(input) || BARE.test(input))) return null;
  const mac = input.replace(/[:-]/g, '').toLowerCase();
  return mac === '000000000000' ? null : mac;
}

/** 001565aabbcc -> 00:15:65:aa:bb:cc, for people. */
export function formatMac(mac: string): string {
  return mac.match(/../g)!.join(':');
}

/** HTTP Basic user name of a device's provisioning credentials. */
export function provisioningUsername(mac: string): string {
  return `prov-${mac}`;
}
