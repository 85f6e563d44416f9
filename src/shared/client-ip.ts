/** "::ffff:10.0.0.5" (an IPv4 client on a dual-stack socket) -> "10.0.0.5". */
export function normalizeClientIp(ip: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  return m ? m[1]! : ip;
}
