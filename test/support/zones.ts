/** A fixed-offset IANA zone where it is `hour`:xx now (Etc/GMT signs are inverted): contacts inside or outside a calling window whatever the time of the run. */
export function zoneAtLocalHour(hour: number): string {
  let off = hour - new Date().getUTCHours();
  if (off > 14) off -= 24;
  if (off < -12) off += 24;
  return off === 0 ? 'Etc/GMT' : `Etc/GMT${off > 0 ? '-' : '+'}${Math.abs(off)}`;
}
