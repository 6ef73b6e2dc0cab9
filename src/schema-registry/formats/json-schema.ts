/**
 * JSON Schema: the schema is validated by compiling it with ajv (drafts 7,
 * 2019-09 and 2020-12 natively; draft-04/06 schemas are compiled without
 * meta-schema validation), references (`$ref` to another subject's schema by
 * the reference's name) are added to the same ajv instance first.
 *
 * Compatibility: "can a reader schema accept every document a writer schema
 * accepts" is decided structurally, for the keywords evolution uses (type,
 * properties, required, additionalProperties, items, enum, const, string and
 * number bounds), with Confluent's rules for open and closed content models
 * (a property added to an open content model is incompatible, as in
 * Confluent's PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL). Any other keyword that
 * differs between the two schemas cannot be proven compatible and is reported
 * as a problem (fail closed). No maintained npm library decides JSON Schema
 * inclusion; this subset is small on purpose (docs/schema-registry.md).
 */
import { isDeepStrictEqual } from 'node:util';
import AjvModule from 'ajv';
import Ajv2019Module from 'ajv/dist/2019.js';
import Ajv2020Module from 'ajv/dist/2020.js';
import { E } from '../errors.js';
import type { ResolvedReference } from '../types.js';
import type { ParsedSchema, SchemaFormat } from './index.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const Ajv = AjvModule.default;
const Ajv2019 = Ajv2019Module.default;
const Ajv2020 = Ajv2020Module.default;

function parseJson(text: string, what: string): Json {
  let v: Json;
  try {
    v = JSON.parse(text) as Json;
  } catch (err) {
    throw E.invalidSchema(`${what}: not JSON: ${(err as Error).message}`);
  }
  if (typeof v !== 'boolean' && (typeof v !== 'object' || v === null || Array.isArray(v))) throw E.invalidSchema(`${what}: a JSON Schema is an object or a boolean`);
  return v;
}

function ajvFor(schema: Json): InstanceType<typeof Ajv> {
  const dialect = typeof schema === 'object' && schema !== null && !Array.isArray(schema) && typeof schema['$schema'] === 'string' ? schema['$schema'] : '';
  const opts = { strict: false, allErrors: false, validateFormats: false } as const;
  if (dialect.includes('2020-12')) return new Ajv2020(opts);
  if (dialect.includes('2019-09')) return new Ajv2019(opts);
  if (dialect.includes('draft-04') || dialect.includes('draft-06')) return new Ajv({ ...opts, validateSchema: false, meta: true });
  return new Ajv(opts);
}

function addRefs(ajv: InstanceType<typeof Ajv>, refs: ResolvedReference[], seen: Set<string>): void {
  for (const r of refs) {
    if (r.type !== 'JSON') throw E.invalidSchema(`reference '${r.name}' is a ${r.type} schema; a JSON Schema can only reference JSON Schemas`);
    if (seen.has(r.name)) continue;
    seen.add(r.name);
    addRefs(ajv, r.references, seen);
    const json = parseJson(r.schema, `reference '${r.name}'`);
    const copy = typeof json === 'object' && json !== null && !Array.isArray(json) ? { ...json } : json;
    if (typeof copy === 'object' && copy !== null && !Array.isArray(copy)) delete copy['$schema'];
    try {
      ajv.addSchema(copy as object, r.name);
    } catch (err) {
      throw E.invalidSchema(`reference '${r.name}': ${(err as Error).message}`);
    }
  }
}

function sortKeys(v: Json): Json {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const out: Obj = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys(v[k]!);
    return out;
  }
  return v;
}

export const jsonSchemaFormat: SchemaFormat = {
  type: 'JSON',
  parse(text: string, references: ResolvedReference[]): ParsedSchema {
    const json = parseJson(text, 'JSON Schema');
    const ajv = ajvFor(json);
    addRefs(ajv, references, new Set());
    try {
      ajv.compile(json as object);
    } catch (err) {
      throw E.invalidSchema(`JSON Schema: ${(err as Error).message}`);
    }
    return { type: 'JSON', canonical: JSON.stringify(json), normalized: JSON.stringify(sortKeys(json)), parsed: json };
  },
  readProblems(reader: ParsedSchema, writer: ParsedSchema): string[] {
    const problems: string[] = [];
    accepts(writer.parsed as Json, reader.parsed as Json, '#', problems);
    return problems;
  },
};

// ---------------------------------------------------------------- inclusion: every document `w` accepts, `r` accepts

const HANDLED = new Set([
  '$schema', '$id', 'id', 'title', 'description', '$comment', 'examples', 'default', 'deprecated', 'readOnly', 'writeOnly',
  'type', 'properties', 'required', 'additionalProperties', 'items', 'enum', 'const',
  'minLength', 'maxLength', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minItems', 'maxItems', 'format',
  'definitions', '$defs',
]);
const ALL_TYPES = ['null', 'boolean', 'object', 'array', 'number', 'string', 'integer'];

function problem(out: string[], type: string, path: string, detail?: string): void {
  out.push(`{errorType:'${type}', description:'at ${path}${detail ? `: ${detail.replace(/'/g, '"')}` : ''}'}`);
}

function isObj(v: Json | undefined): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The schema accepts every document (true, {} or only annotations). */
function acceptsAll(s: Json | undefined): boolean {
  if (s === undefined || s === true) return true;
  if (!isObj(s)) return false;
  return Object.keys(s).every((k) => ['$schema', '$id', 'title', 'description', '$comment', 'examples', 'default', 'deprecated'].includes(k));
}

function types(s: Obj): Set<string> {
  const t = s['type'];
  if (t === undefined) return new Set(ALL_TYPES);
  return new Set((Array.isArray(t) ? t : [t]).filter((x): x is string => typeof x === 'string'));
}

function accepts(w: Json, r: Json, path: string, out: string[]): void {
  if (isDeepStrictEqual(w, r) || acceptsAll(r)) return;
  if (w === false) return; // accepts nothing
  if (r === false) return problem(out, 'SCHEMA_NARROWED', path, 'the reader accepts nothing');
  const ws: Obj = w === true ? {} : (w as Obj);
  const rs = r as Obj;
  // keywords outside the subset: equal, or unproven
  for (const k of new Set([...Object.keys(ws), ...Object.keys(rs)])) {
    if (!HANDLED.has(k) && !isDeepStrictEqual(ws[k], rs[k])) problem(out, 'KEYWORD_CHANGED_UNPROVEN', path, `keyword '${k}' differs and its compatibility cannot be proven`);
  }
  if (!isDeepStrictEqual(ws['definitions'], rs['definitions']) || !isDeepStrictEqual(ws['$defs'], rs['$defs'])) {
    problem(out, 'KEYWORD_CHANGED_UNPROVEN', path, 'definitions differ and their compatibility cannot be proven');
  }
  // type
  const wt = types(ws);
  const rt = types(rs);
  for (const t of wt) {
    if (rt.has(t) || (t === 'integer' && rt.has('number'))) continue;
    problem(out, 'TYPE_NARROWED', path, `type '${t}' is no longer accepted`);
  }
  // enum / const
  const wEnum = ws['const'] !== undefined ? [ws['const']] : Array.isArray(ws['enum']) ? ws['enum'] : null;
  const rEnum = rs['const'] !== undefined ? [rs['const']] : Array.isArray(rs['enum']) ? rs['enum'] : null;
  if (rEnum) {
    if (!wEnum) problem(out, 'ENUM_ADDED', path);
    else for (const v of wEnum) if (!rEnum.some((x) => isDeepStrictEqual(x, v))) problem(out, 'ENUM_ARRAY_NARROWED', path, `value ${JSON.stringify(v)} is no longer accepted`);
  }
  // bounds: the reader's may only be looser
  const lower = (k: string): void => {
    const rv = rs[k];
    if (typeof rv !== 'number') return;
    const wv = ws[k];
    if (typeof wv !== 'number' || wv < rv) problem(out, `${k.toUpperCase()}_ADDED_OR_INCREASED`, path);
  };
  const upper = (k: string): void => {
    const rv = rs[k];
    if (typeof rv !== 'number') return;
    const wv = ws[k];
    if (typeof wv !== 'number' || wv > rv) problem(out, `${k.toUpperCase()}_ADDED_OR_DECREASED`, path);
  };
  lower('minLength');
  upper('maxLength');
  lower('minimum');
  upper('maximum');
  lower('exclusiveMinimum');
  upper('exclusiveMaximum');
  lower('minItems');
  upper('maxItems');
  if (rs['format'] !== undefined && rs['format'] !== ws['format']) problem(out, 'FORMAT_CHANGED', path);
  // objects
  if (wt.has('object') && rt.has('object')) objects(ws, rs, path, out);
  // arrays
  if (wt.has('array') && rt.has('array') && !isDeepStrictEqual(ws['items'], rs['items'])) {
    const wi = ws['items'];
    const ri = rs['items'];
    if (Array.isArray(wi) || Array.isArray(ri)) problem(out, 'KEYWORD_CHANGED_UNPROVEN', `${path}/items`, 'tuple items differ');
    else accepts(wi ?? true, ri ?? true, `${path}/items`, out);
  }
}

function objects(ws: Obj, rs: Obj, path: string, out: string[]): void {
  const wp = isObj(ws['properties']) ? ws['properties'] : {};
  const rp = isObj(rs['properties']) ? rs['properties'] : {};
  const wAdd = ws['additionalProperties'];
  const rAdd = rs['additionalProperties'];
  const wRequired = new Set(Array.isArray(ws['required']) ? (ws['required'] as string[]) : []);
  for (const k of Array.isArray(rs['required']) ? (rs['required'] as string[]) : []) {
    if (!wRequired.has(k)) problem(out, 'REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL', `${path}/properties/${k}`);
  }
  for (const [k, rSchema] of Object.entries(rp)) {
    const pPath = `${path}/properties/${k}`;
    if (k in wp) accepts(wp[k]!, rSchema, pPath, out);
    else if (wAdd === false) continue; // the writer never wrote it
    else if (isObj(wAdd)) accepts(wAdd, rSchema, pPath, out);
    else if (!acceptsAll(rSchema)) problem(out, 'PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL', pPath);
  }
  for (const [k, wSchema] of Object.entries(wp)) {
    if (k in rp) continue;
    const pPath = `${path}/properties/${k}`;
    if (rAdd === false) problem(out, 'PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL', pPath);
    else if (isObj(rAdd)) accepts(wSchema, rAdd, pPath, out);
  }
  // other properties the writer allows
  if (wAdd !== false && !acceptsAll(rAdd ?? true)) {
    if (isObj(wAdd) && isObj(rAdd)) accepts(wAdd, rAdd, `${path}/additionalProperties`, out);
    else problem(out, 'ADDITIONAL_PROPERTIES_NARROWED', `${path}/additionalProperties`);
  }
}
