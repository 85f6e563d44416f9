import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REPO } from './asterisk.js';
import { eventually, withTimeout } from './wait.js';

// Where the e2e files have always found them.
export { eventually, withTimeout } from './wait.js';

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
    try {
      return await eventually(async () => this.logs.find(pred), timeoutMs, 'log line', 100);
    } catch {
      throw new Error(`log line not seen in ${timeoutMs} ms; last: ${this.logs.slice(-5).map((l) => l.msg).join(' | ')}`);
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
