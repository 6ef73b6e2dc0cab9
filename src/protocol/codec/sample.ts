/**
 * Builds message values straight from the schema tables (generated/schema.ts),
 * independently of the generated codecs: for round-trip / fuzz tests and
 * benchmarks. Fields absent in the version get their JSON default, present ones
 * a non-default value ("values") or null wherever the version allows ("nulls").
 */
import type { FieldSchema, MessageSchema } from './types.js';

export type SampleMode = 'values' | 'nulls';

const inRange = (r: readonly [number, number] | null | undefined, v: number) => !!r && v >= r[0] && v <= r[1];

/** The default of a field, computed from its JSON default (independently of the generator). */
export function schemaDefault(schema: MessageSchema, f: FieldSchema): unknown {
  const d = f.default;
  if (d === 'null') return null;
  if (f.array) return [];
  const struct = schema.structs[f.type];
  if (struct) return Object.fromEntries(struct.map((g) => [g.name, schemaDefault(schema, g)]));
  switch (f.type) {
    case 'bool':
      return d === 'true';
    case 'int64':
      return BigInt(d || 0);
    case 'string':
      return d ?? '';
    case 'bytes':
      return Buffer.alloc(0);
    case 'records':
      return f.nullable ? null : Buffer.alloc(0);
    case 'uuid':
      return Buffer.alloc(16);
    default:
      return Number(d || 0);
  }
}

function primitiveSample(type: string, i: number, name: string): unknown {
  const neg = i % 2 === 1;
  switch (type) {
    case 'bool':
      return true;
    case 'int8':
      return neg ? -7 : 7;
    case 'int16':
      return neg ? -300 - i : 300 + i;
    case 'uint16':
      return 65000 + i;
    case 'int32':
      return neg ? -100000 - i : 100000 + i;
    case 'uint32':
      return 4000000000 + i;
    case 'int64':
      return neg ? -1234567890123n - BigInt(i) : 1234567890123n + BigInt(i);
    case 'float64':
      return neg ? -1.5 : 2.25;
    case 'string':
      return `${name}-é€-${i}`;
    case 'bytes':
      return Buffer.from([i, 1, 2, 3, 0xff]);
    case 'records':
      return Buffer.from(`records-${name}-${i}`);
    case 'uuid':
      return Buffer.from(Array.from({ length: 16 }, (_, k) => (k * 17 + i + 1) & 0xff));
    default:
      throw new Error(`unknown primitive ${type}`);
  }
}

/** A value of `schema` for `version`; arrays get `arrayLength` elements. */
export function sampleMessage(schema: MessageSchema, version: number, mode: SampleMode, arrayLength = 2): Record<string, unknown> {
  const build = (fields: readonly FieldSchema[]): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const f of fields) {
      if (!inRange(f.versions, version)) {
        out[f.name] = schemaDefault(schema, f);
        continue;
      }
      if (mode === 'nulls' && inRange(f.nullable, version)) {
        out[f.name] = null;
        continue;
      }
      const struct = schema.structs[f.type];
      const one = (i: number) => (struct ? build(struct) : primitiveSample(f.type, i, f.name));
      let value = f.array ? Array.from({ length: arrayLength }, (_, i) => one(i)) : one(0);
      if (!f.array && f.type === 'bool' && f.default === 'true') value = false;
      out[f.name] = value;
    }
    return out;
  };
  return build(schema.fields);
}

/** Number of (message, version) pairs of a schema. */
export function versionCount(schema: MessageSchema): number {
  return schema.validVersions[1] - schema.validVersions[0] + 1;
}
