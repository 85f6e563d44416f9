/**
 * baresip (Debian's baresip-core): a real softphone that speaks SIP over TLS and SRTP (SDES), which
 * SIPp 3.6 here cannot (built without TLS). One run: register the account over TLS to Asterisk's
 * transport-tls, optionally dial a number at once, quit after `seconds`. Its log is returned.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface BaresipResult {
  code: number | null;
  /** stdout and stderr, colour codes removed */
  log: string;
}

export interface BaresipPhone {
  tlsPort: number;
  /** the server certificate to trust (the site certificate: a self-signed one is its own CA) */
  caFile: string;
  ext: string;
  password: string;
  /** offer SRTP with SDES keys and require it (mediaenc=srtp-mand); false: plain RTP only */
  srtp: boolean;
  /** number to call right away (e.g. *991) */
  dial?: string;
  /** quit after this many seconds */
  seconds: number;
}

/** Ten seconds of a 440 Hz tone, 8 kHz 16-bit mono WAV: what the phone "says". */
function toneWav(): Buffer {
  const rate = 8000;
  const samples = rate * 10;
  const b = Buffer.alloc(44 + samples * 2);
  b.write('RIFF', 0); b.writeUInt32LE(36 + samples * 2, 4); b.write('WAVE', 8);
  b.write('fmt ', 12); b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24); b.writeUInt32LE(rate * 2, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34);
  b.write('data', 36); b.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i++) b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate)), 44 + i * 2);
  return b;
}

export async function runBaresip(p: BaresipPhone): Promise<{ done: Promise<BaresipResult>; kill: () => void }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pbx-e2e-baresip-'));
  await writeFile(path.join(dir, 'tone.wav'), toneWav());
  await writeFile(
    path.join(dir, 'config'),
    [
      'poll_method epoll',
      'sip_listen 127.0.0.1:0',
      `sip_cafile ${p.caFile}`,
      `audio_player aufile,${path.join(dir, 'heard.wav')}`,
      `audio_source aufile,${path.join(dir, 'tone.wav')}`,
      'audio_alert aufile,/dev/null',
      'module_path /usr/lib/baresip/modules',
      'module g711.so',
      'module srtp.so',
      'module aufile.so',
      'module_app account.so',
      'module_app menu.so',
      '',
    ].join('\n'),
  );
  const params = [`auth_pass=${p.password}`, 'regint=60', ...(p.srtp ? ['mediaenc=srtp-mand'] : [])];
  await writeFile(path.join(dir, 'accounts'), `<sip:${p.ext}@127.0.0.1:${p.tlsPort};transport=tls>;${params.join(';')}\n`);
  const args = ['-f', dir, '-t', String(p.seconds), ...(p.dial ? ['-e', `/dial ${p.dial}`] : [])];
  const proc = spawn('baresip', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const done = new Promise<BaresipResult>((resolve) =>
    proc.once('exit', (code) => {
      // eslint-disable-next-line no-control-regex
      const log = out.replace(/\u001b\[[0-9;]*m/g, '').replace(/\[\d+:\d\d:\d\d\] audio=\S+ \(bit\/s\)\s*/g, '');
      rm(dir, { recursive: true, force: true }).then(() => resolve({ code, log }), () => resolve({ code, log }));
    }),
  );
  return { done, kill: () => proc.kill('SIGKILL') };
}
