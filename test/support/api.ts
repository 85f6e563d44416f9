import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { REPO } from './asterisk.js';

/** `pbx token create` through the real CLI; returns the printed token. */
export async function cliToken(env: Record<string, string>, role: string): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(REPO, 'dist/src/cli.js'), 'token', 'create', '--role', role, '--user', `e2e-${role}`], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
  });
  return stdout.trim();
}

export class Api {
  constructor(
    private readonly base: string,
    private readonly token: string,
  ) {}

  static for(env: Record<string, string>, token: string): Api {
    return new Api(`http://127.0.0.1:${env['PBX_HTTP_PORT']}`, token);
  }

  async get<T = any>(url: string): Promise<{ status: number; body: T }> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const res = await fetch(this.base + url, { headers: { authorization: `Bearer ${this.token}` }, signal: AbortSignal.timeout(5_000) });
    return { status: res.status, body: (await res.json()) as T };
  }

  async ready(): Promise<number> {
    try {
      return (await fetch(`${this.base}/health/ready`, { signal: AbortSignal.timeout(5_000) })).status;
    } catch {
      return 0;
    }
  }

  async cdrs(query: string): Promise<Cdr[]> {
    const res = await this.get<{ items: Cdr[] }>(`/api/v1/cdrs?${query}`);
    if (res.status !== 200) throw new Error(`cdrs ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.items;
  }
}

export interface Cdr {
  id: string;
  callId: string;
  callerNumber: string | null;
  callerName: string | null;
  dialedNumber: string | null;
  startedAt: string;
  answeredAt: string | null;
  endedAt: string;
  durationSeconds: number;
  billableSeconds: number;
  waitSeconds: number | null;
  talkSeconds: number | null;
  answeredBy: string | null;
  agent: string | null;
  queue: string | null;
  hangupCause: number | null;
  disposition: string;
  endedBy: string;
  digits: string;
  reconciled: boolean;
  linkedId: string | null;
}
