/**
 * Avro schemas with avsc (the Avro implementation for JavaScript): parsing,
 * references (named types of other subjects, registered into one avsc
 * registry before the schema that uses them), and compatibility by Avro's
 * own schema resolution rules: `reader.createResolver(writer)` succeeds
 * exactly when the reader can read what the writer wrote (added fields need
 * defaults, promotions int->long->float->double, string<->bytes, unions,
 * enum symbols, names and aliases).
 */
import avro from 'avsc';
import { E } from '../errors.js';
import type { ResolvedReference } from '../types.js';
import type { ParsedSchema, SchemaFormat } from './index.js';

type Registry = Record<string, avro.Type>;

function jsonOf(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw E.invalidSchema(`${what}: not JSON: ${(err as Error).message}`);
  }
}

function load(refs: ResolvedReference[], registry: Registry, seen: Set<string>): void {
  for (const r of refs) {
    if (r.type !== 'AVRO') throw E.invalidSchema(`reference '${r.name}' is a ${r.type} schema; an Avro schema can only reference Avro schemas`);
    if (seen.has(r.name)) continue;
    seen.add(r.name);
    load(r.references, registry, seen);
    try {
      avro.Type.forSchema(jsonOf(r.schema, `reference '${r.name}'`) as avro.Schema, { registry });
    } catch (err) {
      if ((err as { code?: number }).code === 42201) throw err;
      throw E.invalidSchema(`reference '${r.name}': ${(err as Error).message}`);
    }
  }
}

export const avroFormat: SchemaFormat = {
  type: 'AVRO',
  parse(text: string, references: ResolvedReference[]): ParsedSchema {
    const json = jsonOf(text, 'Avro schema');
    const registry: Registry = {};
    load(references, registry, new Set());
    let type: avro.Type;
    try {
      type = avro.Type.forSchema(json as avro.Schema, { registry });
    } catch (err) {
      throw E.invalidSchema(`Avro schema: ${(err as Error).message}`);
    }
    return {
      type: 'AVRO',
      canonical: JSON.stringify(json),
      normalized: JSON.stringify(type.schema({ exportAttrs: true })),
      parsed: type,
    };
  },
  readProblems(reader: ParsedSchema, writer: ParsedSchema): string[] {
    try {
      (reader.parsed as avro.Type).createResolver(writer.parsed as avro.Type);
      return [];
    } catch (err) {
      return [`{errorType:'READER_CANNOT_READ_WRITER', description:'${(err as Error).message.replace(/'/g, '"')}'}`];
    }
  },
};
