/**
 * What the REST API families share: the state, the log, the limits, and the
 * checks every entry point applies to what a request names (subjects,
 * versions, ids, schema bodies), so that no handler reads a name or a schema
 * unchecked.
 */
import type { RegistryLog } from './log.js';
import { newEntryId } from './log.js';
import { E, RegistryError } from './errors.js';
import type { Entry, RegistryState } from './state.js';
import { parseSchemaType, type Context, type Reference, type SchemaType } from './types.js';

/** An entry as handlers write it (the log entry id is added here). */
export type EntryWithoutId = Entry extends infer T ? (T extends Entry ? Omit<T, 'rid'> : never) : never;

export interface CoreLimits {
  /** Bytes of a schema's text (schemaRegistryMaxSchemaBytes). */
  maxSchemaBytes: number;
  /** References of one schema. */
  maxReferences: number;
}

export interface SchemaBody {
  schemaType: SchemaType;
  schema: string;
  references: Reference[];
  id?: number;
  version?: number;
}

const MAX_SUBJECT_LENGTH = 249;
const MAX_REFERENCES = 100;

export class RegistryCore {
  constructor(
    readonly state: RegistryState,
    readonly log: RegistryLog,
    readonly limits: CoreLimits,
  ) {}

  /** Write an entry and answer with its outcome (a refusal becomes its RegistryError). */
  async write(entry: EntryWithoutId): Promise<unknown> {
    const outcome = await this.log.append({ ...entry, rid: newEntryId() } as Entry);
    if (!outcome.ok) throw new RegistryError(outcome.status, outcome.code, outcome.message);
    return outcome.value;
  }
}

/** A subject name from a path: decoded, printable, bounded. Contexts come from the namespace, not from `:.ctx:` prefixes. */
export function subjectParam(raw: string): string {
  let s: string;
  try {
    s = decodeURIComponent(raw);
  } catch {
    throw E.invalidSubject('Invalid subject: not valid percent-encoding');
  }
  if (s.length === 0 || s.length > MAX_SUBJECT_LENGTH) throw E.invalidSubject(`Invalid subject: a subject is 1 to ${MAX_SUBJECT_LENGTH} characters long`);
  if (/[\u0000-\u001f\u007f]/.test(s)) throw E.invalidSubject('Invalid subject: control characters are not allowed');
  if (s.startsWith(':.')) throw E.invalidSubject('Invalid subject: schema contexts (:.context:) are not supported; the context is the tenant/namespace you authenticate with');
  return s;
}

/** A version from a path: 1..2^31-1, or latest / -1. Throws 42202. */
export function versionParam(raw: string): number | 'latest' {
  if (raw === 'latest' || raw === '-1') return 'latest';
  if (!/^[0-9]{1,10}$/.test(raw)) throw E.invalidVersion(raw);
  const n = Number(raw);
  if (n < 1 || n > 2 ** 31 - 1) throw E.invalidVersion(raw);
  return n;
}

export function idParam(raw: string): number {
  if (!/^[0-9]{1,10}$/.test(raw) || Number(raw) > 2 ** 31 - 1) throw E.schemaNotFound();
  return Number(raw);
}

export function flag(q: URLSearchParams, name: string): boolean {
  return (q.get(name) ?? '').toLowerCase() === 'true';
}

/** The body of register / lookup / compatibility requests. Throws 422/42201 or 400. */
export function schemaBody(body: unknown, limits: CoreLimits, allowImport: boolean): SchemaBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw E.badRequest('the request body must be a JSON object with a "schema" field');
  const b = body as Record<string, unknown>;
  if (typeof b['schema'] !== 'string' || b['schema'].trim() === '') throw E.invalidSchema('Empty schema: "schema" must be a non-empty string');
  const schema = b['schema'];
  if (Buffer.byteLength(schema) > limits.maxSchemaBytes) throw E.invalidSchema(`Schema too large: ${Buffer.byteLength(schema)} bytes, the limit is ${limits.maxSchemaBytes} (schemaRegistryMaxSchemaBytes)`);
  const schemaType = parseSchemaType(b['schemaType']);
  if (!schemaType) throw E.invalidSchema(`Unknown schema type ${JSON.stringify(b['schemaType'])}; supported: AVRO, JSON, PROTOBUF`);
  const refsRaw = b['references'] ?? [];
  if (!Array.isArray(refsRaw)) throw E.invalidSchema('"references" must be an array');
  if (refsRaw.length > Math.min(limits.maxReferences, MAX_REFERENCES)) throw E.invalidSchema(`too many references (${refsRaw.length})`);
  const references: Reference[] = refsRaw.map((r: unknown, i) => {
    const o = r as Record<string, unknown> | null;
    if (!o || typeof o !== 'object' || typeof o['name'] !== 'string' || typeof o['subject'] !== 'string' || typeof o['version'] !== 'number' || !Number.isInteger(o['version'])) {
      throw E.invalidSchema(`references[${i}] must be {"name": string, "subject": string, "version": integer}`);
    }
    const version = o['version'] === -1 ? -1 : o['version'];
    return { name: o['name'], subject: subjectParam(encodeURIComponent(o['subject'])), version };
  });
  const out: SchemaBody = { schemaType, schema, references };
  if (allowImport) {
    for (const k of ['id', 'version'] as const) {
      const v = b[k];
      if (v === undefined || v === null || v === -1 || v === 0) continue;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 2 ** 31 - 1) throw E.invalidSchema(`"${k}" must be an integer between 1 and 2^31-1`);
      out[k] = v;
    }
  }
  return out;
}

/** References naming version -1 (latest) are pinned to the latest live version now. */
export function pinReferences(state: RegistryState, ctx: Context, refs: Reference[]): Reference[] {
  return refs.map((r) => (r.version === -1 ? { ...r, version: state.version(ctx, r.subject, 'latest', false).version } : r));
}

/** A schema record as the REST API shows it (schemaType only when not AVRO, references only when any). */
export function schemaView(rec: { type: SchemaType; schema: string; references: Reference[] }): Record<string, unknown> {
  return {
    ...(rec.type !== 'AVRO' ? { schemaType: rec.type } : {}),
    ...(rec.references.length ? { references: rec.references } : {}),
    schema: rec.schema,
  };
}
