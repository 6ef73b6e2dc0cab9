/**
 * Schema formats behind one interface: parse a schema (with its resolved
 * references) into a ParsedSchema or a 42201 error, and say why a reader
 * schema cannot read data written with a writer schema (empty: it can).
 * The compatibility levels are built on that one question (compatibility.ts).
 *
 *   AVRO      avsc (Avro's schema resolution rules): formats/avro.ts
 *   JSON      ajv to validate the schema, a structural subset check: formats/json-schema.ts
 *   PROTOBUF  protobufjs to parse .proto text or a base64 FileDescriptorProto,
 *             Confluent's wire-level rules: formats/protobuf.ts
 */
import type { ResolvedReference, SchemaType } from '../types.js';
import { avroFormat } from './avro.js';
import { jsonSchemaFormat } from './json-schema.js';
import { protobufFormat } from './protobuf.js';

export interface ParsedSchema {
  type: SchemaType;
  /** The text stored and served: the client's schema, minified where the format is JSON. */
  canonical: string;
  /** The normalized form (normalize=true): equal for schemas that differ only in presentation. */
  normalized: string;
  /** Format-specific parsed form. */
  readonly parsed: unknown;
}

export interface SchemaFormat {
  readonly type: SchemaType;
  /** Throws RegistryError 42201 with the parser's message. */
  parse(text: string, references: ResolvedReference[]): ParsedSchema;
  /** Why data written with `writer` cannot be read with `reader` (empty: it can). */
  readProblems(reader: ParsedSchema, writer: ParsedSchema): string[];
}

export const FORMATS: Record<SchemaType, SchemaFormat> = {
  AVRO: avroFormat,
  JSON: jsonSchemaFormat,
  PROTOBUF: protobufFormat,
};
