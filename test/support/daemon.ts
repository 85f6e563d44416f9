import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REPO } from './asterisk.js';

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** The real daemon, built, as a child process: it can be SIGTERMed or SIGKILLed mid-call. */
export class Daemon {
  readonly logs: LogLine[] = [];
  private exited: Promise<number | null>;

  private constructor(private readonly proc: ChildProcess) {
    let buf = '';
    proc.stdout!.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          this.logs.push({ level: 30, msg: line });
        }
        if (process.env['PBX_TEST_DAEMON_LOG']) process.stderr.write(`[daemon] ${line}\n`);
      }
    });
    proc.stderr!.on('data', (chunk: Buffer) => this.logs.push({ level: 50, msg: chunk.toString() }));
    this.exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
  }

  static start(env: Record<string, string>): Daemon {
    const proc = spawn(process.execPath, [...(process.env['PBX_DAEMON_NODE_ARGS']?.split(' ').filter(Boolean) ?? []), path.join(REPO, 'dist/src/cli.js'), 'serve'], {
      env: { PATH: process.env['PATH'] ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new Daemon(proc);
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  async waitForLog(pred: (l: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.logs.find(pred);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`log line not seen in ${timeoutMs} ms; last: ${this.logs.slice(-5).map((l) => l.msg).join(' | ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIGTERM and wait; returns the exit code. */
  async stop(timeoutMs = 20_000): Promise<number | null> {
    this.proc.kill('SIGTERM');
    return withTimeout(this.exited, timeoutMs, 'daemon did not exit after SIGTERM');
  }

  /** SIGKILL: the daemon dies without any cleanup, as in a crash or OOM kill. */
  async kill(): Promise<void> {
    this.proc.kill('SIGKILL');
    await this.exited;
  }
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Poll until fn returns a value (not undefined) or time runs out. */
export async function eventually<T>(fn: () => Promise<T | undefined>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what} not reached in ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
