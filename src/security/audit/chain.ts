/**
 * The audit log's hash chain and signed checkpoints (docs/audit-log.md#tamper-evidence).
 *
 * Every line the sink accepts is sealed: `"prev"` (the `hash` of the line before
 * it, or null where a chain begins) is appended to the record, then `"hash"`, the
 * SHA-256 (hex) of the line's text up to and including `"prev":...` with the
 * closing brace, i.e. of the exact bytes before `,"hash":`. So a changed field,
 * a removed, reordered or foreign line each break the chain at a line a verifier
 * can name. One hash per record; nothing is re-serialised.
 *
 * With a signing key (auditLogSigningKeyFile) a `audit_checkpoint` record closes
 * the old file at rotation and follows `audit_stopped`: it is sealed like any
 * record, and carries `sig`, the HMAC-SHA256 or Ed25519 signature of its text up
 * to `"prev":...}` (so it signs the whole chain before it). Someone who can edit
 * the file but does not hold the key can rewrite hashes, not signatures.
 *
 * The chain continues across restarts (the gateway reads the last `hash` of the
 * existing file, or of `<auditLogFile>.chain` when the file was moved away while
 * it was stopped) and across rotation (the first line of the new file names the
 * last line of the old one).
 */
import { createHash, createHmac, createPrivateKey, createPublicKey, sign as edSign, verify as edVerify, timingSafeEqual, type KeyObject } from 'node:crypto';
import { open, readFile, writeFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';

export const CHECKPOINT_EVENT = 'audit_checkpoint';
const HASH_SUFFIX = /,"hash":"([0-9a-f]{64})"\}$/;
const SIG_SUFFIX = /,"sig":"([A-Za-z0-9+/=]+)"\}$/;

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A checkpoint signing (or, for verification, checking) key. */
export interface CheckpointKey {
  readonly alg: 'hmac-sha256' | 'ed25519';
  /** First 16 hex digits of SHA-256 of the public key (Ed25519, SPKI DER) or of "hmac:" + the secret. */
  readonly keyId: string;
  /** Null when the key can only verify (an Ed25519 public key). */
  sign: ((data: string) => string) | null;
  verify(data: string, sig: string): boolean;
}

export class AuditKeyError extends Error {
  override name = 'AuditKeyError';
}

/**
 * A key file: PEM of an Ed25519 private key (signs and verifies) or public key
 * (verifies), or else a secret of at least 32 bytes (HMAC-SHA256; trailing
 * whitespace is not part of it).
 */
export async function readCheckpointKey(path: string): Promise<CheckpointKey> {
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch (err) {
    throw new AuditKeyError(`cannot read the key file ${path}: ${(err as Error).message}`);
  }
  return parseCheckpointKey(raw, path);
}

export function parseCheckpointKey(raw: Buffer, what = 'the key'): CheckpointKey {
  const text = raw.toString('utf8');
  if (text.includes('-----BEGIN')) {
    let priv: KeyObject | null = null;
    let pub: KeyObject;
    try {
      if (/-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.test(text)) {
        priv = createPrivateKey(text);
        pub = createPublicKey(priv);
      } else {
        pub = createPublicKey(text);
      }
    } catch (err) {
      throw new AuditKeyError(`${what}: not a usable PEM key: ${(err as Error).message}`);
    }
    if (pub.asymmetricKeyType !== 'ed25519') throw new AuditKeyError(`${what}: a ${pub.asymmetricKeyType} key; checkpoints are signed with Ed25519 keys (or an HMAC secret)`);
    const keyId = sha256Hex(pub.export({ type: 'spki', format: 'der' }).toString('base64')).slice(0, 16);
    return {
      alg: 'ed25519',
      keyId,
      sign: priv ? (data) => edSign(null, Buffer.from(data), priv).toString('base64') : null,
      verify: (data, sig) => {
        try {
          return edVerify(null, Buffer.from(data), pub, Buffer.from(sig, 'base64'));
        } catch {
          return false;
        }
      },
    };
  }
  let end = raw.length;
  while (end > 0 && (raw[end - 1] === 0x0a || raw[end - 1] === 0x0d || raw[end - 1] === 0x20 || raw[end - 1] === 0x09)) end--;
  const secret = Buffer.from(raw.subarray(0, end));
  if (secret.length < 32) throw new AuditKeyError(`${what}: an HMAC secret of ${secret.length} bytes; at least 32 are needed (or an Ed25519 PEM key)`);
  const mac = (data: string) => createHmac('sha256', secret).update(data).digest();
  return {
    alg: 'hmac-sha256',
    keyId: sha256Hex(`hmac:${secret.toString('base64')}`).slice(0, 16),
    sign: (data) => mac(data).toString('base64'),
    verify: (data, sig) => {
      const want = mac(data);
      const got = Buffer.from(sig, 'base64');
      return got.length === want.length && timingSafeEqual(got, want);
    },
  };
}

export interface AuditChainOptions {
  /** `hash` of the line before the first one this chain seals; null starts a new chain. */
  prev: string | null;
  /** Signs checkpoints; null: no checkpoints are written. */
  key?: CheckpointKey | null;
  /** `node` of checkpoint records. */
  nodeId?: number;
  now?: () => number;
}

export class AuditChain {
  private prev: string | null;
  private sinceCheckpoint = 0;
  readonly key: CheckpointKey | null;
  private readonly nodeId: number | undefined;
  private readonly now: () => number;

  constructor(options: AuditChainOptions) {
    this.prev = options.prev;
    this.key = options.key?.sign ? options.key : null;
    this.nodeId = options.nodeId;
    this.now = options.now ?? Date.now;
  }

  /** The `hash` of the last sealed line (null before the first of a new chain). */
  get last(): string | null {
    return this.prev;
  }

  /** Seal one line (a JSON object, with or without its newline): `prev` and `hash` appended; returns it with a newline. */
  seal(line: string): string {
    const body = line.endsWith('\n') ? line.slice(0, -1) : line;
    const chained = `${body.slice(0, -1)},"prev":${this.prev === null ? 'null' : `"${this.prev}"`}}`;
    const hash = sha256Hex(chained);
    this.prev = hash;
    this.sinceCheckpoint++;
    return `${chained.slice(0, -1)},"hash":"${hash}"}\n`;
  }

  /** A signed checkpoint line (sealed), or null without a key. `reason`: rotation or stop. */
  checkpoint(reason: 'rotation' | 'stop'): string | null {
    const key = this.key;
    if (!key?.sign) return null;
    const record: Record<string, unknown> = { schema: 1, ts: new Date(this.now()).toISOString(), event: CHECKPOINT_EVENT };
    if (this.nodeId !== undefined) record.node = this.nodeId;
    record.reason = reason;
    record.records = this.sinceCheckpoint;
    record.alg = key.alg;
    record.keyId = key.keyId;
    const json = JSON.stringify(record);
    const signed = `${json.slice(0, -1)},"prev":${this.prev === null ? 'null' : `"${this.prev}"`}}`;
    const sig = key.sign(signed);
    const withSig = `${signed.slice(0, -1)},"sig":"${sig}"}`;
    const hash = sha256Hex(withSig);
    this.prev = hash;
    this.sinceCheckpoint = 0;
    return `${withSig.slice(0, -1)},"hash":"${hash}"}\n`;
  }
}

/** Where the chain's last hash is kept when the gateway stops or rotates (for a file moved away meanwhile). */
export function chainStatePath(auditFile: string): string {
  return `${resolve(auditFile)}.chain`;
}

export async function saveChainState(auditFile: string, last: string | null): Promise<void> {
  if (last === null) return;
  await writeFile(chainStatePath(auditFile), `${JSON.stringify({ last, ts: new Date().toISOString() })}\n`, { mode: 0o640 }).catch(() => undefined);
}

const TAIL_BYTES = 256 * 1024;

/**
 * The `hash` the next line of this audit file must name as `prev`: the last line
 * of the file, or (file missing or empty) the state saved at the last stop or
 * rotation, or null (a new chain). A last line cut short by a crash is ended with
 * a newline so the next record starts on a line of its own (`audit verify`
 * reports the cut line); an unchained last line (a log from before the chain)
 * starts a new chain.
 */
export async function resumeChain(auditFile: string): Promise<string | null> {
  let size = 0;
  try {
    size = (await stat(auditFile)).size;
  } catch {
    size = 0;
  }
  if (size > 0) {
    const fh = await open(auditFile, 'r');
    let tail: string;
    try {
      const len = Math.min(size, TAIL_BYTES);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, size - len);
      tail = buf.toString('utf8');
    } finally {
      await fh.close();
    }
    if (!tail.endsWith('\n')) {
      await writeFile(auditFile, '\n', { flag: 'a' });
      tail = tail.slice(0, tail.lastIndexOf('\n') + 1);
    }
    const lines = tail.split('\n').filter((l) => l !== '');
    const last = lines.at(-1);
    if (last === undefined) return null;
    return HASH_SUFFIX.exec(last)?.[1] ?? null;
  }
  try {
    const state = JSON.parse(await readFile(chainStatePath(auditFile), 'utf8')) as { last?: unknown };
    return typeof state.last === 'string' && /^[0-9a-f]{64}$/.test(state.last) ? state.last : null;
  } catch {
    return null;
  }
}

/** Splits a sealed line (without newline): the hashed text and the hash, or null when it carries none. */
export function splitSealed(line: string): { hashed: string; hash: string } | null {
  const m = HASH_SUFFIX.exec(line);
  if (!m) return null;
  return { hashed: `${line.slice(0, m.index)}}`, hash: m[1]! };
}

/** Splits a checkpoint's hashed text: the signed text and the signature, or null without one. */
export function splitSigned(hashed: string): { signed: string; sig: string } | null {
  const m = SIG_SUFFIX.exec(hashed);
  if (!m) return null;
  return { signed: `${hashed.slice(0, m.index)}}`, sig: m[1]! };
}
