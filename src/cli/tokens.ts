/**
 * `kop-gateway tokens ...`: Pulsar's `pulsar tokens` (TokensCliUtils), with the same commands,
 * options and file formats, so that keys and tokens move both ways between the gateway and a
 * Pulsar cluster:
 *   create-secret-key  random HMAC key, raw bytes (or base64 with --base64), stdout or --output
 *   create-key-pair    RSA/EC key pair: private key PKCS#8 DER, public key X.509 DER
 *   create             a token for --subject, signed with --secret-key or --private-key
 *   validate           check a token's signature, exp and nbf against --secret-key or --public-key
 *   show               print a token's header and claims (no check)
 * Key values take the forms of the tokenSecretKey/tokenPublicKey settings: data:;base64,...,
 * file:///path, a path, or base64. See docs/tokens.md.
 */
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CompactSign } from 'jose';
import { decodeUnverified } from '../security/tokens/jwt.js';
import {
  EC_CURVE,
  HMAC_ALGS,
  KeyError,
  PUBLIC_KEY_ALGS,
  decodePrivateKey,
  decodeSecretKey,
  isEcAlg,
  readKeyFromUrl,
  signingAlgFor,
  type HmacAlg,
  type PublicKeyAlg,
} from '../security/tokens/keys.js';
import { StaticKeyValidator } from '../security/tokens/static-key.js';
import { AuthenticationError } from '../security/types.js';

export const TOKENS_USAGE = `Usage: kop-gateway tokens <command> [options]   (the commands of \`pulsar tokens\`)

  create-secret-key [-a HS256|HS384|HS512] [-o|--output FILE] [-b|--base64]
      A random HMAC secret key (32/48/64 bytes). Raw bytes to stdout or FILE; --base64 writes base64.
  create-key-pair [-a RS256|RS384|RS512|PS256|...|ES256|ES384|ES512]
                  --output-private-key FILE --output-public-key FILE
      A key pair (RSA 2048/3072/4096 bits, EC P-256/P-384/P-521): private key PKCS#8 DER, public key X.509 DER.
  create -s|--subject ROLE [-e|--expiry-time 30m|2h|30d|1y] (-sk|--secret-key KEY | -pk|--private-key KEY)
         [-a ALG] [-hs|--headers name=value]...
      A token for ROLE, signed as Pulsar signs it (HS256/384/512 by secret key length, RS256/384/512 by RSA
      key size, ES256/384/512 by EC curve); no expiry unless --expiry-time (s, m, h, d, w, y; default s).
  validate [TOKEN] [-i|--stdin] [-f|--token-file FILE] (-sk|--secret-key KEY | -pk|--public-key KEY) [-a ALG]
      Check the signature, exp and nbf; print the claims. Exit 1 with the reason when invalid.
  show [TOKEN] [-i|--stdin] [-f|--token-file FILE]
      Print the header and the claims, unchecked.

KEY: data:;base64,<base64>, file:///path, a file path, or the key in base64 (as tokenSecretKey/tokenPublicKey).
TOKEN: the argument, --stdin (first line), --token-file, or the TOKEN environment variable.
-a for a private/public key: its algorithm family (RS*/PS* for RSA, ES* for EC); by default the key's own.`;

export interface TokensCliIO {
  stdout: { write(data: string | Uint8Array): unknown };
  stderr: { write(data: string): unknown };
  /** the whole of standard input (only read for --stdin) */
  readStdin: () => string;
  env: NodeJS.ProcessEnv;
  now: () => number;
}

const defaultIO: TokensCliIO = {
  stdout: process.stdout,
  stderr: process.stderr,
  readStdin: () => readFileSync(0, 'utf8'),
  env: process.env,
  now: Date.now,
};

class UsageError extends Error {}
class CommandFailed extends Error {}

/** Pulsar's multi-letter short options (-sk, -pk, -hs) as long ones; `-e -1h` (a negative expiry) as one argument. */
function normalizeArgs(args: string[], command: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-sk') out.push('--secret-key');
    else if (a === '-pk') out.push(command === 'validate' ? '--public-key' : '--private-key');
    else if (a === '-hs') out.push('--headers');
    else if ((a === '-e' || a === '--expiry-time') && /^-\d/.test(args[i + 1] ?? '')) out.push(`--expiry-time=${args[++i]}`);
    else out.push(a);
  }
  return out;
}

/** Pulsar's RelativeTimeUtil.parseRelativeTimeInSeconds: <n>[s|m|h|d|w|y], no unit = seconds. */
export function parseRelativeTimeSeconds(v: string): number {
  const m = /^(-?\d+)([a-zA-Z]?)$/.exec(v.trim());
  if (!m) throw new UsageError(`invalid expiry time ${JSON.stringify(v)} (e.g. 30m, 2h, 30d, 1y)`);
  const n = Number(m[1]);
  const unit = (m[2] || 's').toLowerCase();
  const mult: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 7 * 86400, y: 365 * 86400 };
  if (mult[unit] === undefined) throw new UsageError(`invalid time unit '${m[2]}' in ${JSON.stringify(v)} (s, m, h, d, w, y)`);
  return n * mult[unit]!;
}

function writeSecretFile(path: string, data: Uint8Array | string): void {
  writeFileSync(path, data, { mode: 0o600 });
}

function algOption(v: string | undefined, allowed: readonly string[], what: string): string | undefined {
  if (v === undefined) return undefined;
  const alg = v.toUpperCase();
  if (!allowed.includes(alg)) throw new UsageError(`--signature-algorithm ${v}: ${what} takes ${allowed.join(', ')}`);
  return alg;
}

function createSecretKey(args: string[], io: TokensCliIO): number {
  const { values } = parseArgs({
    args,
    options: { 'signature-algorithm': { type: 'string', short: 'a' }, output: { type: 'string', short: 'o' }, base64: { type: 'boolean', short: 'b' } },
    strict: true,
  });
  const alg = (algOption(values['signature-algorithm'], HMAC_ALGS, 'create-secret-key') ?? 'HS256') as HmacAlg;
  const bytes = randomBytes({ HS256: 32, HS384: 48, HS512: 64 }[alg]);
  const out: Uint8Array | string = values.base64 ? bytes.toString('base64') : bytes;
  if (values.output) writeSecretFile(values.output, out);
  else io.stdout.write(out);
  return 0;
}

const RSA_BITS: Record<string, number> = { RS256: 2048, PS256: 2048, RS384: 3072, PS384: 3072, RS512: 4096, PS512: 4096 };

function createKeyPair(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: {
      'signature-algorithm': { type: 'string', short: 'a' },
      'output-private-key': { type: 'string' },
      'output-public-key': { type: 'string' },
    },
    strict: true,
  });
  const alg = (algOption(values['signature-algorithm'], PUBLIC_KEY_ALGS, 'create-key-pair') ?? 'RS256') as PublicKeyAlg;
  const priv = values['output-private-key'];
  const pub = values['output-public-key'];
  if (!priv || !pub) throw new UsageError('create-key-pair needs --output-private-key FILE and --output-public-key FILE');
  const pair = isEcAlg(alg)
    ? generateKeyPairSync('ec', { namedCurve: EC_CURVE[alg] })
    : generateKeyPairSync('rsa', { modulusLength: RSA_BITS[alg]! });
  writeFileSync(pub, pair.publicKey.export({ format: 'der', type: 'spki' }));
  writeSecretFile(priv, pair.privateKey.export({ format: 'der', type: 'pkcs8' }));
  return 0;
}

async function createToken(args: string[], io: TokensCliIO): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      subject: { type: 'string', short: 's' },
      'expiry-time': { type: 'string', short: 'e' },
      'secret-key': { type: 'string' },
      'private-key': { type: 'string' },
      'signature-algorithm': { type: 'string', short: 'a' },
      headers: { type: 'string', multiple: true },
    },
    strict: true,
  });
  if (values.subject === undefined) throw new UsageError('create needs --subject ROLE');
  const sk = values['secret-key'];
  const pk = values['private-key'];
  if (sk === undefined && pk === undefined) throw new UsageError('Either --secret-key or --private-key needs to be passed for signing a token');
  if (sk !== undefined && pk !== undefined) throw new UsageError('Only one of --secret-key and --private-key needs to be passed for signing a token');

  const header: Record<string, unknown> = {};
  for (const h of values.headers ?? []) {
    const eq = h.indexOf('=');
    if (eq <= 0) throw new UsageError(`--headers ${JSON.stringify(h)}: expected name=value`);
    const name = h.slice(0, eq);
    if (name === 'alg') throw new UsageError('--headers: alg is chosen from the key');
    header[name] = h.slice(eq + 1);
  }

  let key: Uint8Array | KeyObject;
  let alg: string;
  if (sk !== undefined) {
    // as in Pulsar, -a plays no part with a secret key: its length picks the algorithm
    const secret = decodeSecretKey(readKeyFromUrl(sk, { what: '--secret-key', secret: true }), '--secret-key');
    key = new Uint8Array(secret.key);
    alg = secret.strongestAlg;
  } else {
    const a = algOption(values['signature-algorithm'], PUBLIC_KEY_ALGS, '--private-key') as PublicKeyAlg | undefined;
    const info = decodePrivateKey(readKeyFromUrl(pk!, { what: '--private-key', secret: true }), a, '--private-key');
    key = info.key;
    alg = signingAlgFor(info);
  }

  // jjwt's builder: {"sub":...,"exp":...}; exp in whole seconds
  const claims: Record<string, unknown> = { sub: values.subject };
  if (values['expiry-time'] !== undefined) {
    const seconds = parseRelativeTimeSeconds(values['expiry-time']);
    claims.exp = Math.floor((io.now() + seconds * 1000) / 1000);
  }
  const token = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ ...header, alg })
    .sign(key);
  io.stdout.write(`${token}\n`);
  return 0;
}

function readToken(positionals: string[], values: { stdin?: boolean; 'token-file'?: string }, io: TokensCliIO): string {
  if (positionals.length > 1) throw new UsageError('one token at most');
  let token: string | undefined;
  if (positionals[0] !== undefined) token = positionals[0];
  else if (values.stdin) token = io.readStdin().split(/\r?\n/)[0] ?? '';
  else if (values['token-file'] !== undefined) token = readFileSync(values['token-file'], 'utf8');
  else if (io.env.TOKEN !== undefined) token = io.env.TOKEN;
  if (token === undefined) {
    throw new UsageError('Token needs to be either passed as an argument or through `--stdin`, `--token-file` or by the `TOKEN` environment variable');
  }
  return token.trim();
}

/** A value as Java's Map/List toString prints it (what `pulsar tokens validate` prints). */
export function javaString(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return `[${v.map(javaString).join(', ')}]`;
  if (typeof v === 'object') {
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${k}=${javaString(x)}`)
      .join(', ')}}`;
  }
  return String(v);
}

async function validateToken(args: string[], io: TokensCliIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      stdin: { type: 'boolean', short: 'i' },
      'token-file': { type: 'string', short: 'f' },
      'secret-key': { type: 'string' },
      'public-key': { type: 'string' },
      'signature-algorithm': { type: 'string', short: 'a' },
    },
    allowPositionals: true,
    strict: true,
  });
  const sk = values['secret-key'];
  const pk = values['public-key'];
  if (sk === undefined && pk === undefined) throw new UsageError('Either --secret-key or --public-key needs to be passed for validating a token');
  if (sk !== undefined && pk !== undefined) throw new UsageError('Only one of --secret-key and --public-key needs to be passed for validating a token');
  const token = readToken(positionals, values, io);
  const a = pk !== undefined ? (algOption(values['signature-algorithm'], PUBLIC_KEY_ALGS, '--public-key') as PublicKeyAlg | undefined) : undefined;
  const validator = new StaticKeyValidator(
    {
      tokenSecretKey: sk ?? '',
      tokenPublicKey: pk ?? '',
      tokenPublicAlg: a,
      tokenAuthClaim: 'sub',
      tokenAudienceClaim: '',
      tokenAudience: '',
      tokenAllowedClockSkewSeconds: 0,
    },
    { secretKey: '--secret-key', publicKey: '--public-key', publicAlg: '--signature-algorithm' },
  );
  try {
    const { claims } = await validator.verify(token, decodeUnverified(token), io.now());
    io.stdout.write(`${javaString(claims)}\n`);
    return 0;
  } catch (e) {
    if (e instanceof AuthenticationError) throw new CommandFailed(`invalid token: ${e.message}`);
    throw e;
  }
}

function showToken(args: string[], io: TokensCliIO): number {
  const { values, positionals } = parseArgs({
    args,
    options: { stdin: { type: 'boolean', short: 'i' }, 'token-file': { type: 'string', short: 'f' } },
    allowPositionals: true,
    strict: true,
  });
  const token = readToken(positionals, values, io);
  const parts = token.split('.');
  if (parts.length < 2) throw new CommandFailed('malformed token: fewer than 2 dot-separated parts');
  io.stdout.write(`${Buffer.from(parts[0]!, 'base64url').toString('utf8')}\n---\n${Buffer.from(parts[1]!, 'base64url').toString('utf8')}\n`);
  return 0;
}

/** Runs `kop-gateway tokens <argv>`; returns the exit code (0 ok, 1 failed, 2 usage). */
export async function runTokensCli(argv: string[], io: TokensCliIO = defaultIO): Promise<number> {
  const [command, ...rest0] = argv;
  const rest = normalizeArgs(rest0, command ?? '');
  try {
    switch (command) {
      case 'create-secret-key':
        return createSecretKey(rest, io);
      case 'create-key-pair':
        return createKeyPair(rest);
      case 'create':
        return await createToken(rest, io);
      case 'validate':
        return await validateToken(rest, io);
      case 'show':
        return showToken(rest, io);
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        io[command === undefined ? 'stderr' : 'stdout'].write(`${TOKENS_USAGE}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (e) {
    const err = e as Error & { code?: string };
    if (e instanceof UsageError || err.code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`kop-gateway tokens: ${err.message}\n\n${TOKENS_USAGE}\n`);
      return 2;
    }
    if (e instanceof CommandFailed || e instanceof KeyError) {
      io.stderr.write(`kop-gateway tokens: ${err.message}\n`);
      return 1;
    }
    if (err.code === 'ENOENT' || err.code === 'EACCES' || err.code === 'EISDIR') {
      io.stderr.write(`kop-gateway tokens: ${err.message}\n`);
      return 1;
    }
    throw e;
  }
}
