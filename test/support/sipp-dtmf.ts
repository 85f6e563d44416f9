/**
 * SIPp caller scenarios for IVR tests, written per test: the call set-up of uac-long-call.xml
 * (INVITE, optional digest challenge, ACK), then a script of pauses and RFC 4733 digits (sip-tester's
 * pcaps), then either waiting for the PBX to hang up or hanging up after a while.
 *
 * The digit pcaps carry fixed RTP sequence numbers and timestamps: within one call, send digits in
 * ascending pcap order (0-9, then *, then #), or Asterisk drops the later ones as old packets.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO } from './asterisk.js';

export type CallerStep = { readonly pause: number } | { readonly digit: string };
export type CallerEnd = { readonly waitForBye: true } | { readonly hangUpAfter: number };

const PCAP: Record<string, string> = { '*': 'star', '#': 'pound' };
let serial = 0;

/** `displayName`: a caller name to send in From (e.g. 10 kB of it, to show it does no harm). */
export async function dtmfScenario(steps: readonly CallerStep[], end: CallerEnd, o: { displayName?: string } = {}): Promise<string> {
  const base = await readFile(path.join(REPO, 'test/e2e/sipp/uac-long-call.xml'), 'utf8');
  const cut = base.indexOf("<!-- ============ wait for the server's BYE");
  if (cut < 0) throw new Error('uac-long-call.xml changed: no BYE marker');
  const body = steps.map((s) => {
    if ('pause' in s) return `  <pause milliseconds="${Math.round(s.pause)}"/>`;
    if (!/^[0-9*#]$/.test(s.digit)) throw new Error(`not a DTMF digit: ${s.digit}`);
    return `  <nop><action><exec play_pcap_audio="/usr/share/sip-tester/dtmf_2833_${PCAP[s.digit] ?? s.digit}.pcap"/></action></nop>\n  <pause milliseconds="250"/>`;
  });
  const tail =
    'waitForBye' in end
      ? `  <recv request="BYE" timeout="60000"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
</scenario>
`
      : `  <pause milliseconds="${Math.round(end.hangUpAfter)}"/>
  <send retrans="500">
    <![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: <sip:[caller]@[remote_ip]:[remote_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 10 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"/>
</scenario>
`;
  let head = base.slice(0, cut).replace('name="uac-long-call.xml"', 'name="uac-ivr-generated"');
  if (o.displayName !== undefined) head = head.replaceAll('From: <sip:[caller]', `From: "${o.displayName.replace(/["\\\r\n<>&]/g, '')}" <sip:[caller]`);
  const xml = head + body.join('\n') + '\n' + tail;
  const file = path.join(tmpdir(), `pbx-e2e-ivr-${process.pid}-${++serial}.xml`);
  await writeFile(file, xml);
  return file;
}
