/**
 * The schema registry's data model: schema types, compatibility levels,
 * modes, references, and the shape of what the REST API returns.
 */

export const SCHEMA_TYPES = ['AVRO', 'JSON', 'PROTOBUF'] as const;
export type SchemaType = (typeof SCHEMA_TYPES)[number];

export const COMPATIBILITY_LEVELS = ['NONE', 'BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE'] as const;
export type Compatibility = (typeof COMPATIBILITY_LEVELS)[number];

export const MODES = ['READWRITE', 'READONLY', 'IMPORT'] as const;
export type Mode = (typeof MODES)[number];

/** A reference to another subject's version: `name` is how the schema refers to it (Avro full name, JSON $ref, proto import path). */
export interface Reference {
  name: string;
  subject: string;
  version: number;
}

/** A resolved reference: the referenced schema's text (its own references resolved the same way). */
export interface ResolvedReference {
  name: string;
  type: SchemaType;
  schema: string;
  references: ResolvedReference[];
}

/** A tenant/namespace: the registry context a subject lives in ("acme/orders"). */
export type Context = string;

export function parseCompatibility(v: unknown): Compatibility | null {
  const s = typeof v === 'string' ? v.toUpperCase() : '';
  return (COMPATIBILITY_LEVELS as readonly string[]).includes(s) ? (s as Compatibility) : null;
}

export function parseMode(v: unknown): Mode | null {
  const s = typeof v === 'string' ? v.toUpperCase() : '';
  return (MODES as readonly string[]).includes(s) ? (s as Mode) : null;
}

export function parseSchemaType(v: unknown): SchemaType | null {
  if (v === undefined || v === null) return 'AVRO';
  const s = typeof v === 'string' ? v.toUpperCase() : '';
  return (SCHEMA_TYPES as readonly string[]).includes(s) ? (s as SchemaType) : null;
}
