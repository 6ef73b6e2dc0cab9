/**
 * Builds sample values of the generated Pulsar messages straight from the
 * field tables (./schema.ts), independently of the generated codecs: for
 * round-trip, fuzz and interop tests. "full" sets every field to a value
 * different from its default (repeated fields get two elements; an optional
 * field of a message type is left out below `maxDepth` to end recursion),
 * "required" only the required ones.
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
