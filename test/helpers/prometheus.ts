/**
 * A real Prometheus server (Debian's `prometheus` package) for end-to-end
 * metrics tests: started with a scrape config for the given targets (1 s
 * interval), queried through its HTTP API, stopped and its folder removed.
 *
 *   const prom = await startPrometheus([{ job: 'gw', target: '127.0.0.1:8085', bearer: 'x' }]);
 *   const v = await prom.waitFor('sum(kop_gateway_records_in_total)', (v) => v === 10);
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandExists } from './clients/proc.js';
import { freePort } from './ports.js';

export interface ScrapeTarget {
  job: string;
  /** host:port */
  target: string;
  bearer?: string;
  scheme?: 'http' | 'https';
}

export interface PrometheusServer {
  url: string;
  /** Instant query; the value of each series (labels -> number). */
  query(expr: string): Promise<Array<{ labels: Record<string, string>; value: number }>>;
  /** The single value of a query (null when it returns no series). */
  scalar(expr: string): Promise<number | null>;
  /** Poll a query until ok(value) holds (bounded: timeoutMs); returns the last value, throws with it on timeout. */
  waitFor(expr: string, ok: (v: number | null) => boolean, timeoutMs?: number): Promise<number | null>;
  /** Health of the scrape targets (up/down and last error). */
  targets(): Promise<Array<{ job: string; health: string; lastError: string }>>;
  output(): string;
  stop(): Promise<void>;
}

export function prometheusUnavailable(): string | undefined {
  return commandExists('prometheus') ? undefined : 'prometheus not found (Debian: apt-get install prometheus)';
}

export async function startPrometheus(targets: ScrapeTarget[]): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'kop-prometheus-'));
  const scrapeConfigs = targets
    .map(
      (t) => `  - job_name: ${JSON.stringify(t.job)}
    scrape_interval: 1s
    scrape_timeout: 1s
    scheme: ${t.scheme ?? 'http'}
${t.bearer ? `    authorization:\n      credentials: ${JSON.stringify(t.bearer)}\n` : ''}${t.scheme === 'https' ? '    tls_config:\n      insecure_skip_verify: true\n' : ''}    static_configs:
      - targets: [${JSON.stringify(t.target)}]`,
    )
    .join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n${scrapeConfigs}\n`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    'prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let gone = false;
  void exited.then(() => (gone = true));

  const api = async (path: string): Promise<unknown> => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: unknown; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error ?? res.status}`);
    return body.data;
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (gone) throw new Error(`prometheus exited:\n${out}`);
    try {
      const res = await fetch(`${url}/-/ready`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`prometheus not ready in 30 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 200));
  }

  const server: PrometheusServer = {
    url,
    async query(expr) {
      const data = (await api(`/api/v1/query?query=${encodeURIComponent(expr)}`)) as { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
      return data.result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
    },
    async scalar(expr) {
      const r = await server.query(expr);
      if (r.length === 0) return null;
      if (r.length > 1) throw new Error(`${expr}: ${r.length} series, expected one`);
      return r[0]!.value;
    },
    async waitFor(expr, ok, timeoutMs = 30_000) {
      const end = Date.now() + timeoutMs;
      let last: number | null = null;
      for (;;) {
        last = await server.scalar(expr);
        if (ok(last)) return last;
        if (Date.now() > end) throw new Error(`prometheus: ${expr} = ${last} after ${timeoutMs} ms; targets: ${JSON.stringify(await server.targets())}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    },
    async targets() {
      const data = (await api('/api/v1/targets')) as { activeTargets: Array<{ labels: { job: string }; health: string; lastError: string }> };
      return data.activeTargets.map((t) => ({ job: t.labels.job, health: t.health, lastError: t.lastError }));
    },
    output: () => out,
    async stop() {
      if (!gone) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
