/**
 * Shared types and constants used by the generated message codecs.
 */
import { UnsupportedVersionError } from './errors.js';
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

/** Encoder/decoder of one Kafka message (request, response, header or data struct). */
export interface MessageCodec<T> {
  /** JSON name, e.g. "ProduceRequest". */
  readonly name: string;
  /** API key, or -1 for headers and data structs. */
  readonly apiKey: number;
  /** [lowest, highest] version, inclusive. */
  readonly validVersions: readonly [number, number];
  /** First flexible (compact + tagged fields) version; Infinity when none. */
  readonly flexibleMin: number;
  /** The highest version is still under development: never advertise it. */
  readonly latestVersionUnstable: boolean;
  /** Decodes the body at r.offset; throws UnsupportedVersionError outside validVersions. */
  decode(r: Reader, version: number): T;
  /** Encodes `msg`; fields the version does not have are skipped silently. */
  encode(w: Writer, version: number, msg: T): void;
  /** A fresh value with every field at its default. */
  defaults(): T;
}

/** One API of the table in generated/apis.ts. */
export interface ApiInfo {
  /** Name without the Request/Response suffix, e.g. "Produce". */
  readonly name: string;
  readonly apiKey: number;
  readonly request: MessageCodec<any>;
  readonly response: MessageCodec<any>;
  readonly minVersion: number;
  readonly maxVersion: number;
  /** Highest version that may be advertised (maxVersion - 1 when the latest is unstable; may be < minVersion). */
  readonly maxStableVersion: number;
  readonly flexibleMin: number;
  /** Listener kinds from the JSON ("broker", "controller", "zkBroker"). */
  readonly listeners: readonly string[];
}

/** Structure of a message as described by Kafka's JSON, for tests and tools (generated/schema.ts). */
export interface FieldSchema {
  /** camelCase property name. */
  readonly name: string;
  /** Primitive type name, or a key of MessageSchema.structs. */
  readonly type: string;
  readonly array?: true;
  /** Inclusive [lo, hi] ranges clamped to the message's valid versions. */
  readonly versions: readonly [number, number];
  readonly nullable?: readonly [number, number];
  readonly tagged?: readonly [number, number];
  readonly tag?: number;
  /** Versions using compact encodings when different from the message's (RequestHeader.ClientId). */
  readonly flexible?: readonly [number, number] | null;
  /** The JSON default, as written there (absent = type default). */
  readonly default?: string;
}

export interface MessageSchema {
  readonly name: string;
  readonly type: 'request' | 'response' | 'header' | 'data';
  readonly apiKey: number;
  readonly validVersions: readonly [number, number];
  readonly flexibleVersions: readonly [number, number] | null;
  readonly fields: readonly FieldSchema[];
  readonly structs: Readonly<Record<string, readonly FieldSchema[]>>;
}

/** The all-zero UUID (Kafka's Uuid.ZERO_UUID), the default of uuid fields. Do not mutate. */
export const ZERO_UUID: Buffer = Buffer.alloc(16);

/** Shared empty buffer, the default of non-null bytes fields. */
export const EMPTY_BUFFER: Buffer = Buffer.alloc(0);

/**
 * The records of a response (Fetch): one buffer, or several written in order
 * as one records field, so an engine's separate batches need no concatenation
 * (parts of at least the writer's zeroCopyThreshold are referenced, not copied).
 * Decoded responses always hold a single Buffer.
 */
export type RecordsOut = Buffer | readonly Buffer[];

export function isZeroUuid(b: Buffer): boolean {
  return b.length === 16 && ZERO_UUID.equals(b);
}

/** Used by generated codecs: throws unless lo <= version <= hi. */
export function checkVersion(name: string, apiKey: number, lo: number, hi: number, version: number): number {
  if (!(version >= lo && version <= hi)) throw new UnsupportedVersionError(apiKey, version, name);
  return version;
}
