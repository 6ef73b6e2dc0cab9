/**
 * What the benchmark report says about the machine and the tools, and the CPU accounting that
 * tells how much of the machine the measured processes (and everything else) used during a run.
 * Linux only for the /proc parts (the figures are then left out elsewhere).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, fdatasyncSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem, type as osType } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { harnessEnv, kafkaLibsDir, repoRoot } from '../../test/helpers/clients/paths.js';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  kernel: string;
  virtualization?: string;
  /** where the data directories of both targets live */
  dataDir: string;
  dataFilesystem?: string;
  dataDevice?: string;
  diskFreeGiB?: number;
  loadAvgAtStart: number[];
  /** append 4 KiB + fdatasync in dataDir, repeated: what one group-commit round costs at least */
  fsync?: { samples: number; p50Ms: number; p99Ms: number; meanMs: number };
}

export interface ToolsInfo {
  node: string;
  java: string;
  kafkaVersion: string;
  kafkaClientsJar?: string;
  gatewayVersion: string;
  gatewayCommit: string;
  /** uncommitted changes in the tree the gateway was built from (src/) */
  gatewayDirty: boolean;
  gatewayDirtyFiles: string[];
}

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: repoRoot() });
  if (r.error || r.status !== 0) return '';
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
}

function osPrettyName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (m) return m[1]!;
  } catch {
    // not Linux
  }
  return osType();
}

/** The mount holding `path` (longest matching mount point in /proc/mounts). */
function mountOf(path: string): { fs: string; device: string } | undefined {
  try {
    let best: { fs: string; device: string; mp: string } | undefined;
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [device, mp, fs] = line.split(' ');
      if (!device || !mp || !fs) continue;
      if ((path === mp || path.startsWith(mp.endsWith('/') ? mp : mp + '/')) && (!best || mp.length > best.mp.length)) best = { fs, device, mp };
    }
    return best && { fs: best.fs, device: best.device };
  } catch {
    return undefined;
  }
}

/** fdatasync latency of small appends in `dir` (the floor under an acks=all produce with fsync). */
export function probeFsync(dir: string, samples = 200): MachineInfo['fsync'] {
  const d = mkdtempSync(join(dir, 'kop-bench-fsync-'));
  try {
    const fd = openSync(join(d, 'probe'), 'a');
    const block = Buffer.alloc(4096, 7);
    const times: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t = performance.now();
      writeSync(fd, block);
      fdatasyncSync(fd);
      times.push(performance.now() - t);
    }
    closeSync(fd);
    times.sort((a, b) => a - b);
    const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]!;
    return { samples, p50Ms: q(0.5), p99Ms: q(0.99), meanMs: times.reduce((a, b) => a + b, 0) / times.length };
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

export function machineInfo(dataDir = tmpdir()): MachineInfo {
  const c = cpus();
  const info: MachineInfo = {
    cpuModel: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: osPrettyName(),
    kernel: `${osType()} ${release()}`,
    dataDir,
    loadAvgAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
  const lscpu = sh('lscpu', []);
  const hv = /Hypervisor vendor:\s*(.+)/.exec(lscpu);
  if (hv) info.virtualization = hv[1]!.trim();
  const m = mountOf(dataDir);
  if (m) {
    info.dataFilesystem = m.fs;
    info.dataDevice = m.device;
  }
  try {
    const s = statfsSync(dataDir);
    info.diskFreeGiB = Math.round(((s.bavail * s.bsize) / 2 ** 30) * 10) / 10;
  } catch {
    // statfs unavailable
  }
  try {
    info.fsync = probeFsync(dataDir);
  } catch {
    // no fsync probe
  }
  return info;
}

export function toolsInfo(): ToolsInfo {
  const env = harnessEnv();
  const javaOut = sh(env.java, ['-version']);
  const javaLines = javaOut.split('\n');
  // e.g. 'openjdk version "17.0.15" 2025-04-15' + the VM line
  const java = [javaLines[0], javaLines[2]?.replace(/\(build [^)]*\)/, '').trim()].filter(Boolean).join('; ');
  let kafkaClientsJar: string | undefined;
  try {
    kafkaClientsJar = readdirSync(kafkaLibsDir(env)).find((f) => /^kafka-clients-.*\.jar$/.test(f));
  } catch {
    // reported as missing when the tools run
  }
  const pkg = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version: string };
  const dirtyFiles = sh('git', ['status', '--porcelain', '--', 'src'])
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const info: ToolsInfo = {
    node: process.version,
    java: java || 'unknown',
    kafkaVersion: env.kafkaVersion,
    gatewayVersion: pkg.version,
    gatewayCommit: sh('git', ['rev-parse', '--short=12', 'HEAD']) || 'unknown',
    gatewayDirty: dirtyFiles.length > 0,
    gatewayDirtyFiles: dirtyFiles,
  };
  if (kafkaClientsJar) info.kafkaClientsJar = kafkaClientsJar;
  return info;
}

// ------------------------------------------------------------------ CPU accounting (/proc)

let clkTck: number | undefined;
function ticksPerSecond(): number {
  if (clkTck === undefined) clkTck = Number(sh('getconf', ['CLK_TCK'])) || 100;
  return clkTck;
}

/** utime+stime of a process (and of its reaped children), seconds; undefined when not readable. */
export function processCpu(pid: number | 'self'): { own: number; children: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // fields after "pid (comm)": state=0 ... utime=11 stime=12 cutime=13 cstime=14
    const t = ticksPerSecond();
    return { own: (Number(f[11]) + Number(f[12])) / t, children: (Number(f[13]) + Number(f[14])) / t };
  } catch {
    return undefined;
  }
}

/** Peak resident set size of a process, MiB (VmHWM). */
export function peakRssMiB(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s*(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** Busy and total CPU seconds of the whole machine since boot (all cores). */
export function machineCpu(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest is counted in user)
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
    const t = ticksPerSecond();
    const busy = user + nice + system + irq + softirq + steal;
    return { busy: busy / t, total: (busy + idle + iowait) / t };
  } catch {
    return undefined;
  }
}

export interface CpuWindow {
  wallS: number;
  /** CPU seconds of the server under test (gateway or Kafka broker; gateway + Pulsar broker for the Pulsar targets) */
  serverCpuS?: number;
  /** the Pulsar broker's part of serverCpuS (Pulsar targets) */
  brokerCpuS?: number;
  /** CPU seconds of the load generator JVM(s) (reaped children of this process) and this process */
  clientCpuS?: number;
  /** CPU seconds of everything else on the machine: noise for these figures */
  otherCpuS?: number;
  /** otherCpuS as a share of the machine's capacity during the window (0..1) */
  otherShare?: number;
}

/**
 * Starts a measurement window; call the returned function when the run is over. `brokerPid`: a
 * second server process (the Pulsar broker behind the gateway), counted as the server's too.
 */
export function cpuWindow(serverPid: number, brokerPid?: number): () => CpuWindow {
  const t0 = performance.now();
  const s0 = processCpu(serverPid);
  const b0 = brokerPid !== undefined ? processCpu(brokerPid) : undefined;
  const self0 = processCpu('self');
  const m0 = machineCpu();
  return () => {
    const wallS = (performance.now() - t0) / 1000;
    const s1 = processCpu(serverPid);
    const b1 = brokerPid !== undefined ? processCpu(brokerPid) : undefined;
    const self1 = processCpu('self');
    const m1 = machineCpu();
    const w: CpuWindow = { wallS };
    if (s0 && s1) w.serverCpuS = s1.own - s0.own;
    if (brokerPid !== undefined && w.serverCpuS !== undefined) {
      if (b0 && b1) {
        w.brokerCpuS = b1.own - b0.own;
        w.serverCpuS += w.brokerCpuS;
      } else {
        delete w.serverCpuS; // the broker's share is unknown: no server figure rather than a wrong one
      }
    }
    if (self0 && self1) w.clientCpuS = self1.own + self1.children - (self0.own + self0.children);
    if (m0 && m1 && w.serverCpuS !== undefined && w.clientCpuS !== undefined) {
      w.otherCpuS = Math.max(0, m1.busy - m0.busy - w.serverCpuS - w.clientCpuS);
      const capacity = m1.total - m0.total;
      if (capacity > 0) w.otherShare = w.otherCpuS / capacity;
    }
    return w;
  };
}

/** Share of the machine's CPU capacity that was busy over `ms` (0..1); undefined without /proc. */
export async function machineBusyShare(ms: number): Promise<number | undefined> {
  const a = machineCpu();
  await new Promise((r) => setTimeout(r, ms));
  const b = machineCpu();
  if (!a || !b || b.total <= a.total) return undefined;
  return (b.busy - a.busy) / (b.total - a.total);
}

/**
 * Waits until the machine is quiet (busy share at most `threshold` over a 1 s sample) or
 * `maxMs` passed. Other work on a shared machine (a test suite) would distort the figures.
 * Returns how long it waited and whether it was quiet in the end.
 */
export async function waitForQuiet(threshold: number, maxMs: number): Promise<{ waitedMs: number; quiet: boolean; lastShare?: number }> {
  const t0 = Date.now();
  let last: number | undefined;
  for (;;) {
    last = await machineBusyShare(1000);
    if (last === undefined) return { waitedMs: 0, quiet: true };
    if (last <= threshold) return { waitedMs: Date.now() - t0, quiet: true, lastShare: last };
    if (Date.now() - t0 >= maxMs) return { waitedMs: Date.now() - t0, quiet: false, lastShare: last };
  }
}
