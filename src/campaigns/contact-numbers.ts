/**
 * A contact's number and time zones (pure; docs/campaigns.md "Contact lists and time zones").
 *
 * Numbers are read with libphonenumber-js (full metadata: a number must be valid for its country's
 * numbering plan, not only of a possible length) against the campaign's default country, and
 * written in E.164.
 *
 * Zones, in order:
 * 1. the row's own `timezone` column (an IANA name): source 'column';
 * 2. the number's prefix in libphonenumber's time-zone map (phone-timezones.json, made by
 *    scripts/phone-timezones.ts): the area code of a NANP number, a city code elsewhere: source
 *    'number' (a prefix may name several zones, e.g. Australian 08 numbers: Adelaide and Perth).
 *    Not for numbers libphonenumber knows to be mobile only (outside NANP): their prefix names
 *    the network, and the map puts e.g. every Australian 04 number in Sydney;
 * 3. the number's country: its one zone, or all its zones when it has several (the window must be
 *    open in every one: callable less often, never outside the window): source 'country';
 * 4. nothing known: no zones, source 'unknown': the contact is never called.
 */
import { parsePhoneNumberWithError, ParseError, type CountryCode } from 'libphonenumber-js/max';
import zoneData from './phone-timezones.json' with { type: 'json' };
import type { TzSource } from './tables.js';

export interface ParsedNumber {
  /** E.164. */
  readonly e164: string;
  /** ISO 3166 alpha-2; null for a non-geographic number (+800, +882...). */
  readonly country: string | null;
  readonly callingCode: string;
  /**
   * Only a mobile number (not NANP's fixed-line-or-mobile): its prefix tells the network, not where
   * its owner is (Australian 04, Russian 9xx are in the map under one zone each).
   */
  readonly mobile: boolean;
}

export type NumberResult = { readonly ok: true; readonly number: ParsedNumber } | { readonly ok: false; readonly detail: string };

const PARSE_ERRORS: Readonly<Record<string, string>> = {
  INVALID_COUNTRY: 'no country code (write it as +<country code> <number>)',
  NOT_A_NUMBER: 'not a phone number',
  TOO_SHORT: 'too short',
  TOO_LONG: 'too long',
  INVALID_LENGTH: 'wrong length',
};

/** A number as a person typed it (spaces, dashes, brackets, a leading + or 00) in E.164, or why not. */
export function normaliseNumber(raw: string, defaultCountry: string | null): NumberResult {
  const text = raw.trim();
  if (text === '') return { ok: false, detail: 'the number is empty' };
  if (text.length > 40) return { ok: false, detail: 'not a phone number (over 40 characters)' };
  try {
    const n = parsePhoneNumberWithError(text, defaultCountry === null ? {} : { defaultCountry: defaultCountry as CountryCode });
    if (!n.isValid()) return { ok: false, detail: `not a valid number${n.country ? ` in ${n.country}` : ''}` };
    return { ok: true, number: { e164: n.number, country: n.country ?? null, callingCode: n.countryCallingCode, mobile: n.countryCallingCode !== '1' && n.getType() === 'MOBILE' } };
  } catch (err) {
    if (err instanceof ParseError) return { ok: false, detail: PARSE_ERRORS[err.message] ?? err.message.toLowerCase() };
    throw err;
  }
}

export interface ContactZones {
  readonly zones: readonly string[];
  readonly source: TzSource;
}

const PREFIXES: Readonly<Record<string, string>> = zoneData.prefixes;
const COUNTRIES: Readonly<Record<string, string>> = zoneData.countries;
/** The longest prefix in the map (the lookup starts there). */
const LONGEST = Math.max(...Object.keys(PREFIXES).map((p) => p.length));

/** The zones the number's own prefix names (longer than its calling code alone), or null. */
function zonesOfPrefix(number: ParsedNumber): string[] | null {
  const digits = number.e164.slice(1);
  for (let len = Math.min(LONGEST, digits.length); len > number.callingCode.length; len -= 1) {
    const zones = PREFIXES[digits.slice(0, len)];
    if (zones) return zones.split('&');
  }
  return null;
}

/** Where the number says its contact is (steps 2-4 above). */
export function zonesOfNumber(number: ParsedNumber): ContactZones {
  const byPrefix = number.mobile ? null : zonesOfPrefix(number);
  if (byPrefix) return { zones: byPrefix, source: 'number' };
  const byCountry = number.country ? COUNTRIES[number.country] : undefined;
  if (byCountry) return { zones: byCountry.split('&'), source: 'country' };
  return { zones: [], source: 'unknown' };
}
