/**
 * Started through npm (`npm start`, `npx kop-gateway start`), the gateway is a
 * child (or grandchild, under `sh -c`) of an npm process. Process managers and
 * containers send SIGTERM to the process they started, npm, which exits
 * without passing the signal on: the gateway would keep the port and the data
 * lock with nobody left to stop it. So under npm the gateway watches the
 * processes between itself and npm, and shuts down cleanly (as on SIGTERM) when
 * one of them is gone.
 *
 * Only under npm (npm_lifecycle_event or npm_command in the environment): a
 * gateway started directly (the production path, `node dist/src/cli.js start`
 * or the kop-gateway bin) may be legitimately re-parented (nohup, a shell that
 * exits) and must keep running.
 */
import { readFileSync } from 'node:fs';

/** Parent pid of a process from /proc (Linux); null when unknown. */
function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state ppid ...: comm may contain spaces and parentheses, so read after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    return Number.isInteger(ppid) && ppid > 0 ? ppid : null;
  } catch {
    return null;
  }
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function startedByNpm(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.npm_lifecycle_event || env.npm_command);
}

/**
 * The processes from the parent up to (and including) npm: at most 4 levels
 * (npm -> sh -> node, npm exec -> sh -> bin). Without /proc: the parent only.
 */
export function launcherChain(): number[] {
  const chain: number[] = [];
  let pid: number | null = process.ppid;
  for (let i = 0; i < 4 && pid !== null && pid > 1; i++) {
    chain.push(pid);
    if (/\bnpm\b|npm-cli\.js|npx-cli\.js/.test(commandOf(pid))) break;
    pid = parentOf(pid);
  }
  return chain.length > 0 ? chain : [process.ppid];
}

/**
 * Call `onGone` once when a process of the chain exits (or the gateway is
 * re-parented). Returns a function that stops watching.
 */
export function watchLauncher(chain: number[], onGone: (pid: number) => void, intervalMs = 500): () => void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    const gone = process.ppid !== parent ? parent : chain.find((pid) => !alive(pid));
    if (gone !== undefined) {
      clearInterval(timer);
      onGone(gone);
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
