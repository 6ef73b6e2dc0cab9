/** Running external client programs with a timeout, and reading their JSON-lines output. */
import { spawn, spawnSync } from 'node:child_process';

export interface RunOptions {
  /** kill the process after this long (default 60 s) */
  timeoutMs?: number;
  /** written to stdin, which is then closed (stdin is closed at once when absent) */
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface RunResult {
  command: string;
  /** exit code; null when killed by a signal */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

/** A run that failed (non-zero exit, signal or timeout); `result` has its output. */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly result: RunResult,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

function quote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

export function formatCommand(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map(quote).join(' ');
}

/** Runs a program to its end (or the timeout). Never rejects for a non-zero exit: see `checkResult`. */
export function runCommand(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const command = formatCommand(cmd, args);
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 3000);
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => {
      // the program may exit without reading its input (EPIPE): its exit code tells
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      resolvePromise({
        command,
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        durationMs: Date.now() - started,
      });
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

function tail(s: string, max = 4000): string {
  return s.length > max ? '...' + s.slice(-max) : s;
}

/** Throws a CommandError (with the end of stderr) unless the run exited with one of `okCodes`. */
export function checkResult(r: RunResult, okCodes: readonly number[] = [0]): RunResult {
  if (r.timedOut) {
    throw new CommandError(`timed out after ${r.durationMs} ms: ${r.command}\nstderr: ${tail(r.stderr)}`, r);
  }
  if (r.code === null || !okCodes.includes(r.code)) {
    const how = r.code === null ? `killed by ${r.signal}` : `exit code ${r.code}`;
    // the drivers print per-item failures (e.g. a topic's error code) as JSON lines on stdout
    const out = r.stdout.trim() === '' ? '' : `\nstdout: ${tail(r.stdout, 2000)}`;
    throw new CommandError(`${how}: ${r.command}\nstderr: ${tail(r.stderr)}${out}`, r);
  }
  return r;
}

/** Parses JSON lines (blank lines skipped); a line that is not JSON throws with its text. */
export function parseJsonLines<T = unknown>(text: string): T[] {
  const out: T[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '') continue;
    try {
      out.push(JSON.parse(t) as T);
    } catch {
      throw new Error(`not a JSON line: ${t.slice(0, 300)}`);
    }
  }
  return out;
}

/** True when `cmd` (a name on PATH or a path) can be run. */
export function commandExists(cmd: string): boolean {
  const r = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { stdio: 'ignore' });
  return r.status === 0;
}
