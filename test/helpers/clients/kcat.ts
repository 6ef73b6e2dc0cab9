/**
 * kcat (Debian's, librdkafka 2.0.x) as a test peer.
 *
 *   const md = await kcatMetadata('127.0.0.1:9092');               // kcat -L -J
 *   await kcatProduce('127.0.0.1:9092', 't', [{ key: 'k', value: 'v' }]);   // kcat -P -K <tab>
 *   const recs = await kcatConsume('127.0.0.1:9092', 't', { count: 1 });    // kcat -C -e -J
 *
 * OAUTHBEARER: kcat cannot send a given token (librdkafka would need a callback); only
 * librdkafka's unsecured JWT (`-X enable.sasl.oauthbearer.unsecure.jwt=true`) via `extraArgs`.
 */
import { harnessEnv, ToolMissingError, type HarnessEnv } from './paths.js';
import { checkResult, commandExists, runCommand, type RunResult } from './proc.js';
import type { ClientSecurity, Compression } from './types.js';

export function kcatUnavailableReason(env: HarnessEnv = harnessEnv()): string | undefined {
  return commandExists(env.kcat) ? undefined : `${env.kcat} not found: run .ci/run or \`apt-get install kcat\` (or set KOP_KCAT)`;
}

export function kcatAvailable(env: HarnessEnv = harnessEnv()): boolean {
  return kcatUnavailableReason(env) === undefined;
}

function kcatBin(): string {
  const env = harnessEnv();
  const why = kcatUnavailableReason(env);
  if (why) throw new ToolMissingError(why);
  return env.kcat;
}

export interface KcatOptions {
  security?: ClientSecurity;
  /** more `-X key=value` librdkafka properties */
  config?: Record<string, string | number | boolean>;
  /** more raw kcat arguments, placed before the mode's own */
  extraArgs?: string[];
  /** kill kcat after this long, ms (default 30000) */
  timeoutMs?: number;
  /** exit codes that do not throw (default [0]) */
  okCodes?: number[];
}

/** librdkafka `-X` arguments for a security setup. */
export function kcatSecurityArgs(s: ClientSecurity | undefined): string[] {
  if (!s) return [];
  const x: Record<string, string> = {};
  const protocol = s.protocol ?? 'PLAINTEXT';
  x['security.protocol'] = protocol.toLowerCase();
  if (protocol.startsWith('SASL')) {
    const mech = s.mechanism ?? (s.token ? 'OAUTHBEARER' : 'PLAIN');
    x['sasl.mechanisms'] = mech;
    if (mech === 'OAUTHBEARER') {
      if (s.token) {
        throw new Error('kcat cannot send a given OAUTHBEARER token; use the Java or Python client');
      }
    } else {
      if (s.username !== undefined) x['sasl.username'] = s.username;
      if (s.password !== undefined) x['sasl.password'] = s.password;
    }
  }
  if (protocol.endsWith('SSL')) {
    if (s.caPemFile) x['ssl.ca.location'] = s.caPemFile;
    if (s.certPemFile) x['ssl.certificate.location'] = s.certPemFile;
    if (s.keyPemFile) x['ssl.key.location'] = s.keyPemFile;
    x['ssl.endpoint.identification.algorithm'] = s.verifyHostname ? 'https' : 'none';
  }
  return Object.entries(x).flatMap(([k, v]) => ['-X', `${k}=${v}`]);
}

function baseArgs(bootstrap: string, o: KcatOptions): string[] {
  const a = ['-b', bootstrap, ...kcatSecurityArgs(o.security)];
  for (const [k, v] of Object.entries(o.config ?? {})) a.push('-X', `${k}=${String(v)}`);
  return [...a, ...(o.extraArgs ?? [])];
}

/** Runs kcat with exactly these arguments; throws (with stderr) on a failing exit code or timeout. */
export async function runKcat(
  args: string[],
  opts: { input?: string; timeoutMs?: number; okCodes?: number[] } = {},
): Promise<RunResult> {
  const runOpts: Parameters<typeof runCommand>[2] = { timeoutMs: opts.timeoutMs ?? 30_000 };
  if (opts.input !== undefined) runOpts.input = opts.input;
  const r = await runCommand(kcatBin(), args, runOpts);
  return checkResult(r, opts.okCodes ?? [0]);
}

export interface KcatMetadata {
  originating_broker: { id: number; name: string };
  query: { topic: string };
  controllerid?: number;
  brokers: Array<{ id: number; name: string }>;
  topics: Array<{
    topic: string;
    error?: string;
    partitions: Array<{
      partition: number;
      leader: number;
      error?: string;
      replicas: Array<{ id: number }>;
      isrs: Array<{ id: number }>;
    }>;
  }>;
}

/** `kcat -L -J` (optionally `-t topic`): the cluster metadata as kcat parses it. */
export async function kcatMetadata(bootstrap: string, opts: KcatOptions & { topic?: string } = {}): Promise<KcatMetadata> {
  const args = [...baseArgs(bootstrap, opts), '-L', '-J', '-m', String(Math.ceil((opts.timeoutMs ?? 30_000) / 2000))];
  if (opts.topic) args.push('-t', opts.topic);
  const r = await runKcat(args, opts);
  return JSON.parse(r.stdout) as KcatMetadata;
}

export interface KcatProduceRecord {
  key?: string;
  value: string | null;
}

export interface KcatProduceOptions extends KcatOptions {
  partition?: number;
  /** key/value separator in the input lines (default tab); records must not contain it or newlines */
  keyDelimiter?: string;
  /** headers added to every record (`-H k=v`) */
  headers?: Record<string, string>;
  compression?: Compression;
  acks?: 'all' | -1 | 0 | 1;
}

/**
 * `kcat -P -K <delim>`: produces one record per line (text only: no newlines or the delimiter in
 * keys or values). A null value is sent for `value: null` (`-Z`).
 */
export async function kcatProduce(
  bootstrap: string,
  topic: string,
  records: Array<KcatProduceRecord | string>,
  opts: KcatProduceOptions = {},
): Promise<RunResult> {
  const delim = opts.keyDelimiter ?? '\t';
  const withKeys = records.some((r) => typeof r !== 'string' && r.key !== undefined);
  const args = [...baseArgs(bootstrap, opts), '-P', '-t', topic, '-Z'];
  if (withKeys) args.push('-K', delim);
  if (opts.partition !== undefined) args.push('-p', String(opts.partition));
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push('-H', `${k}=${v}`);
  if (opts.compression) args.push('-z', opts.compression);
  if (opts.acks !== undefined) args.push('-X', `acks=${String(opts.acks)}`);
  const lines = records.map((r) => {
    const rec: KcatProduceRecord = typeof r === 'string' ? { value: r } : r;
    const v = rec.value ?? '';
    for (const s of [rec.key ?? '', v]) {
      if (s.includes('\n') || (withKeys && s.includes(delim))) {
        throw new Error(`kcatProduce: record text contains a newline or the key delimiter: ${JSON.stringify(s)}`);
      }
    }
    return withKeys ? `${rec.key ?? ''}${delim}${v}` : v;
  });
  return runKcat(args, { input: lines.join('\n') + '\n', timeoutMs: opts.timeoutMs ?? 30_000 });
}

export interface KcatRecord {
  topic: string;
  partition: number;
  offset: number;
  /** kcat's tstype: "create" | "logappend" | "none" */
  timestampType: string;
  timestamp: number;
  broker: number;
  key: string | null;
  value: string | null;
  headers: Array<{ key: string; value: string | null }>;
}

interface RawKcatRecord {
  topic: string;
  partition: number;
  offset: number;
  tstype: string;
  ts: number;
  broker: number;
  headers?: Array<string | null>;
  key: string | null;
  payload: string | null;
}

export interface KcatConsumeOptions extends KcatOptions {
  /** stop after this many records (`-c`) */
  count?: number;
  /** stop at the end of the partitions (`-e`, default true) */
  exitAtEnd?: boolean;
  /** `-o`: beginning | end | stored | N | -N | s@ts (default beginning) */
  offset?: string | number;
  partition?: number;
  /** balanced consumer group (`-G group topic`) instead of a simple consumer */
  group?: string;
}

/** `kcat -C -J`: records as kcat prints them (keys, values and headers as text). */
export async function kcatConsume(bootstrap: string, topic: string, opts: KcatConsumeOptions = {}): Promise<KcatRecord[]> {
  const args = [...baseArgs(bootstrap, opts), '-C', '-J', '-q'];
  if (opts.group) args.push('-G', opts.group, topic);
  else args.push('-t', topic);
  if (opts.partition !== undefined) args.push('-p', String(opts.partition));
  args.push('-o', String(opts.offset ?? 'beginning'));
  if (opts.count !== undefined) args.push('-c', String(opts.count));
  if (opts.exitAtEnd ?? opts.group === undefined) args.push('-e');
  const r = await runKcat(args, { timeoutMs: opts.timeoutMs ?? 30_000, okCodes: opts.okCodes ?? [0] });
  const out: KcatRecord[] = [];
  for (const line of r.stdout.split('\n')) {
    if (line.trim() === '') continue;
    const raw = JSON.parse(line) as RawKcatRecord;
    const headers: KcatRecord['headers'] = [];
    const hs = raw.headers ?? [];
    for (let i = 0; i + 1 < hs.length; i += 2) headers.push({ key: String(hs[i]), value: hs[i + 1] ?? null });
    out.push({
      topic: raw.topic,
      partition: raw.partition,
      offset: raw.offset,
      timestampType: raw.tstype,
      timestamp: raw.ts,
      broker: raw.broker,
      key: raw.key,
      value: raw.payload,
      headers,
    });
  }
  return out;
}

/** `kcat -V` first line, e.g. "kcat - Apache Kafka producer and consumer tool ... (librdkafka 2.0.2 ...)". */
export async function kcatVersion(): Promise<string> {
  const r = await runKcat(['-V']);
  return (r.stdout + r.stderr).trim().split('\n')[0] ?? '';
}
