/**
 * Start a real gateway for end-to-end tests: in-process (fast, port 0, a temp
 * data directory) or as a child process running the CLI (for signal and crash
 * tests). Both are the production code paths; nothing is mocked.
 */
import { rmSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, type ChildProcess } from 'node:child_process';
import { loadConfig } from '../../src/config/load.js';
import { Gateway } from '../../src/server.js';
import { createLogger, silentLogger } from '../../src/logger.js';
import { tempDir } from './temp.js';

export interface TestGateway {
  gateway: Gateway;
  port: number;
  bootstrap: string;
  dataDirectory: string;
  stop(): Promise<void>;
}

export async function startTestGateway(overrides: Record<string, string | number | boolean> = {}, dataDirectory?: string): Promise<TestGateway> {
  const dir = dataDirectory ?? tempDir('kop-e2e-');
  const config = loadConfig({
    env: {},
    overrides: { kafkaListeners: 'PLAINTEXT://127.0.0.1:0', dataDirectory: dir, logLevel: 'warn', auditLogFile: join(dir, 'audit.log'), ...overrides },
  });
  const logger = process.env.KOP_TEST_LOG ? createLogger(process.env.KOP_TEST_LOG, 'false') : silentLogger();
  const gateway = await Gateway.start(config, { logger });
  const port = gateway.port();
  return {
    gateway,
    port,
    bootstrap: `127.0.0.1:${port}`,
    dataDirectory: dir,
    async stop() {
      await gateway.stop(2000);
      if (!dataDirectory) rmSync(dir, { recursive: true, force: true });
    },
  };
}

const here = dirname(fileURLToPath(import.meta.url));
/** Repository root, whether running from test/ (tsx) or dist/test/ (compiled). */
export const repoRoot = here.includes(`${'/dist/'}`) ? resolve(here, '../../..') : resolve(here, '../..');

/** Command to run the CLI: compiled JS when running compiled tests, tsx otherwise. */
export function cliCommand(): { cmd: string; args: string[] } {
  if (import.meta.url.endsWith('.js')) return { cmd: process.execPath, args: [join(repoRoot, 'dist/src/cli.js')] };
  return { cmd: process.execPath, args: ['--import', 'tsx', join(repoRoot, 'src/cli.ts')] };
}

export interface GatewayProcess {
  child: ChildProcess;
  port: number;
  output(): string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

/** Spawn `kop-gateway start` with env config; resolves once it logged its listeners. */
export async function spawnGateway(env: Record<string, string>, args: string[] = []): Promise<GatewayProcess> {
  const { cmd, args: base } = cliCommand();
  const child = spawn(cmd, [...base, 'start', ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KOP_LOG_PRETTY: 'false', ...(env.KOP_DATA_DIRECTORY ? { KOP_AUDIT_LOG_FILE: join(env.KOP_DATA_DIRECTORY, 'audit.log') } : {}), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((res) => child.on('exit', (code, signal) => res(code ?? signal ?? -1)));
  const port = await new Promise<number>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`gateway did not start in 20s:\n${out}`)), 20_000);
    const check = () => {
      const m = /"listeners":\["[A-Z_]+:\/\/[^"]*:(\d+)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        res(Number(m[1]));
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      rej(new Error(`gateway exited (${code}) before starting:\n${out}`));
    });
  });
  return { child, port, output: () => out, exited };
}
