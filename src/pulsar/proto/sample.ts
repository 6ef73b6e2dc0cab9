/**
 * Builds sample values of the generated Pulsar messages straight from the
 * field tables (./schema.ts), independently of the generated codecs: for
 * round-trip, fuzz and interop tests. "full" sets every field to a value
 * different from its default (repeated fields get two elements; an optional
 * field of a message type is left out below `maxDepth` to end recursion),
 * "required" only the required ones. Also a seeded PRNG and a byte mutator
 * for the fuzz tests.
 */
import type { ProtoFieldSchema } from './runtime.js';
import { PULSAR_ENUMS, PULSAR_MESSAGES } from './schema.js';

export type ProtoSampleMode = 'full' | 'required';

function scalarSample(f: ProtoFieldSchema, i: number): unknown {
  const odd = (f.number + i) % 2 === 1;
  const n = f.number + i;
  switch (f.type) {
    case 'int32':
      return odd ? -100000 - n : 100000 + n;
    case 'uint32':
      return 4000000000 + n;
    case 'sint32':
      return -70000 - n;
    case 'fixed32':
      return 4294967000 + n;
    case 'sfixed32':
      return -2000000000 - n;
    case 'int64':
      return odd ? -1234567890123n - BigInt(n) : (1n << 62n) + BigInt(n);
    case 'uint64':
      return odd ? (1n << 64n) - 1n - BigInt(n) : (1n << 53n) + BigInt(n);
    case 'sint64':
      return -(1n << 40n) - BigInt(n);
    case 'fixed64':
      return (1n << 63n) + BigInt(n);
    case 'sfixed64':
      return -(1n << 50n) - BigInt(n);
    case 'bool':
      return f.default !== true;
    case 'float':
      return odd ? -1.5 : 2.25;
    case 'double':
      return odd ? -2.75 : 1e300;
    case 'string':
      return `${f.name}-é€-${n}`;
    case 'bytes':
      return Buffer.from([n & 0xff, 0, 0xff, 0x80]);
    default:
      throw new Error(`no sample for ${f.type}`);
  }
}

function valueSample(f: ProtoFieldSchema, i: number, mode: ProtoSampleMode, depth: number, maxDepth: number): unknown {
  if (f.type === 'enum') {
    const values = Object.values(PULSAR_ENUMS[f.ref!]!);
    const pick = values[(values.length - 1 - i + values.length * 2) % values.length]!;
    return pick === f.default && values.length > 1 ? values.find((v) => v !== f.default) : pick;
  }
  if (f.type === 'message') return sampleMessage(f.ref!, mode, depth + 1, maxDepth);
  return scalarSample(f, i);
}

/** A value of message `name` (TypeScript name) for `mode`. */
export function sampleMessage(name: string, mode: ProtoSampleMode = 'full', depth = 0, maxDepth = 2): Record<string, unknown> {
  const schema = PULSAR_MESSAGES[name];
  if (!schema) throw new Error(`unknown message ${name}`);
  if (depth > 16) throw new Error(`${name}: required fields recurse`);
  const out: Record<string, unknown> = {};
  for (const f of schema.fields) {
    if (f.label === 'required') out[f.name] = valueSample(f, 0, mode, depth, maxDepth);
    else if (mode === 'required') continue;
    else if (f.type === 'message' && depth >= maxDepth) continue;
    else if (f.label === 'optional') out[f.name] = valueSample(f, 0, mode, depth, maxDepth);
    else out[f.name] = [valueSample(f, 0, mode, depth, maxDepth), valueSample(f, 1, mode, depth, maxDepth)];
  }
  return out;
}

// ---------------------------------------------------------------- fuzz helpers

/** mulberry32: small, seedable, good enough for fuzzing. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One random mutation of `b`: bit flip, byte set, truncation, insertion, deletion, duplication or a run of 0xff. */
export function mutateBytes(b: Buffer, rnd: () => number): Buffer {
  const at = Math.floor(rnd() * (b.length + 1));
  const byte = () => Math.floor(rnd() * 256);
  switch (Math.floor(rnd() * 7)) {
    case 0: {
      if (b.length === 0) return Buffer.from([byte()]);
      const c = Buffer.from(b);
      c[at % b.length]! ^= 1 << Math.floor(rnd() * 8);
      return c;
    }
    case 1: {
      if (b.length === 0) return Buffer.from([byte()]);
      const c = Buffer.from(b);
      c[at % b.length] = byte();
      return c;
    }
    case 2:
      return b.subarray(0, at);
    case 3:
      return Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 4) }, byte)), b.subarray(at)]);
    case 4:
      return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + Math.floor(rnd() * 4))]);
    case 5: {
      const end = at + Math.floor(rnd() * 16);
      return Buffer.concat([b.subarray(0, end), b.subarray(at, end), b.subarray(end)]);
    }
    default:
      return Buffer.concat([b.subarray(0, at), Buffer.alloc(1 + Math.floor(rnd() * 11), 0xff), b.subarray(at)]);
  }
}
