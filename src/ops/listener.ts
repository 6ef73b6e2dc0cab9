/**
 * The opsListener and opsListenerToken settings: parsed here, checked by the
 * configuration schema and used by the operations server (server.ts).
 */
import { readFileSync } from 'node:fs';

export interface OpsListenerSpec {
  tls: boolean;
  host: string;
  port: number;
}

/** Parse http://host:port or https://host:port ('' = off: null). */
export function parseOpsListener(value: string): OpsListenerSpec | null {
  const v = value.trim();
  if (v === '') return null;
  const m = /^(https?):\/\/(\[[0-9a-fA-F:.]+\]|[^:/[\]]+):(\d{1,5})\/?$/.exec(v);
  if (!m) throw new Error(`expected http://host:port or https://host:port, found '${v}'`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`port ${port} out of range`);
  const host = m[2]!.startsWith('[') ? m[2]!.slice(1, -1) : m[2]!;
  return { tls: m[1] === 'https', host, port };
}

/** The bearer token: the value, or the trimmed content of file:<path>. '' = no token. */
export function readOpsToken(value: string): string {
  const v = value.trim();
  if (v.startsWith('file:')) {
    const path = v.slice(v.startsWith('file://') ? 7 : 5);
    const token = readFileSync(path, 'utf8').trim();
    if (token === '') throw new Error(`opsListenerToken: file ${path} is empty`);
    return token;
  }
  return v;
}

