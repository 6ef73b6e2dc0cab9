/**
 * Protobuf schemas with protobufjs: `.proto` text (proto2/proto3), or a
 * base64-encoded FileDescriptorProto as Confluent's serializers send it
 * (protobufjs/ext/descriptor). Imports are the references (by import path);
 * Google's well-known types (google/protobuf/*.proto) are built in.
 *
 * Compatibility follows Confluent's Protobuf rules (SchemaDiff), which are
 * about the wire format: removing a message, changing a field's kind
 * (scalar / message / enum / map), changing a scalar to one of another wire
 * class, changing a field's message or enum type, repeated <-> singular,
 * adding or removing a proto2 `required` field, removing a field from a
 * oneof or moving several existing fields into one, and changing the package
 * are incompatible; adding or removing fields, messages, enum values and
 * renaming fields are not. The rules are symmetric except where noted, so
 * BACKWARD and FORWARD differ only for those.
 */
import protobuf from 'protobufjs';
import 'protobufjs/ext/descriptor/index.js';
import { E } from '../errors.js';
import type { ResolvedReference } from '../types.js';
import type { ParsedSchema, SchemaFormat } from './index.js';

interface Parsed {
  root: protobuf.Root;
  pkg: string;
  /** Full names of the messages this file defines. */
  messages: string[];
}

const BASE64 = /^[A-Za-z0-9+/=\s]+$/;
const WIRE_CLASS: Record<string, string> = {
  int32: 'varint', uint32: 'varint', int64: 'varint', uint64: 'varint', bool: 'varint',
  sint32: 'zigzag32', sint64: 'zigzag64',
  fixed32: 'fixed32', sfixed32: 'fixed32', float: 'float',
  fixed64: 'fixed64', sfixed64: 'fixed64', double: 'double',
  string: 'bytes', bytes: 'bytes',
};

function isText(text: string): boolean {
  return !BASE64.test(text.trim()) || /\b(syntax|message|package|enum)\b/.test(text) && /[;{}]/.test(text);
}

function addWellKnown(root: protobuf.Root, imports: string[]): void {
  for (const imp of imports) {
    if (!imp.startsWith('google/protobuf/')) continue;
    const json = protobuf.common.get(imp);
    if (json) root.addJSON((json as { nested: protobuf.INamespace['nested'] }).nested!);
  }
}

/** Parse one file into `root`; returns its package and the messages it defines. */
function parseInto(root: protobuf.Root, text: string, what: string): { pkg: string; imports: string[] } {
  if (isText(text)) {
    try {
      const r = protobuf.parse(text, root, { keepCase: true, alternateCommentMode: true });
      return { pkg: r.package ?? '', imports: [...(r.imports ?? []), ...(r.weakImports ?? [])] };
    } catch (err) {
      throw E.invalidSchema(`${what}: ${(err as Error).message}`);
    }
  }
  // base64 FileDescriptorProto: wrap it into a FileDescriptorSet (field 1, length-delimited)
  const fdp = Buffer.from(text.trim(), 'base64');
  const len: number[] = [];
  for (let n = fdp.length; ; n >>>= 7) {
    if (n < 0x80) {
      len.push(n);
      break;
    }
    len.push((n & 0x7f) | 0x80);
  }
  try {
    const set = Buffer.concat([Buffer.of(0x0a, ...len), fdp]);
    const described = (protobuf.Root as unknown as { fromDescriptor(b: Uint8Array): protobuf.Root }).fromDescriptor(set);
    const file = (protobuf as unknown as { descriptor: { FileDescriptorProto: protobuf.Type } }).descriptor.FileDescriptorProto.decode(fdp) as unknown as { package?: string; dependency?: string[] };
    mergeJson(root, (described.toJSON() as { nested?: Record<string, NestedJson> }).nested ?? {});
    return { pkg: file.package ?? '', imports: file.dependency ?? [] };
  } catch (err) {
    throw E.invalidSchema(`${what}: neither .proto text nor a base64 FileDescriptorProto (${(err as Error).message})`);
  }
}

type NestedJson = { nested?: Record<string, NestedJson>; fields?: unknown; values?: unknown; methods?: unknown };

/** Add parsed definitions to `ns`, merging into packages that references already defined. */
function mergeJson(ns: protobuf.Namespace, nested: Record<string, NestedJson>): void {
  for (const [name, json] of Object.entries(nested)) {
    const existing = ns.get(name);
    const isPackage = json.fields === undefined && json.values === undefined && json.methods === undefined;
    if (existing instanceof protobuf.Namespace && !(existing instanceof protobuf.Type) && isPackage) mergeJson(existing, json.nested ?? {});
    else ns.addJSON({ [name]: json } as protobuf.INamespace['nested'] & object);
  }
}

function loadRefs(root: protobuf.Root, refs: ResolvedReference[], seen: Set<string>): void {
  for (const r of refs) {
    if (r.type !== 'PROTOBUF') throw E.invalidSchema(`reference '${r.name}' is a ${r.type} schema; a Protobuf schema can only import Protobuf schemas`);
    if (seen.has(r.name)) continue;
    seen.add(r.name);
    loadRefs(root, r.references, seen);
    const { imports } = parseInto(root, r.schema, `reference '${r.name}'`);
    addWellKnown(root, imports);
  }
}

function messagesOf(ns: protobuf.NamespaceBase, out: string[]): string[] {
  for (const o of ns.nestedArray) {
    if (o instanceof protobuf.Type) out.push(o.fullName.replace(/^\./, ''));
    if (o instanceof protobuf.Namespace || o instanceof protobuf.Type) messagesOf(o, out);
  }
  return out;
}

export const protobufFormat: SchemaFormat = {
  type: 'PROTOBUF',
  parse(text: string, references: ResolvedReference[]): ParsedSchema {
    const root = new protobuf.Root();
    loadRefs(root, references, new Set());
    const before = new Set(messagesOf(root, []));
    const { pkg, imports } = parseInto(root, text, 'Protobuf schema');
    addWellKnown(root, imports);
    const known = new Set(references.map((r) => r.name));
    for (const imp of imports) {
      if (!imp.startsWith('google/protobuf/') && !known.has(imp)) throw E.invalidSchema(`Protobuf schema: import '${imp}' has no reference (add {"name": "${imp}", "subject": ..., "version": ...} to "references")`);
    }
    try {
      root.resolveAll();
    } catch (err) {
      throw E.invalidSchema(`Protobuf schema: ${(err as Error).message}`);
    }
    const messages = messagesOf(root, []).filter((m) => !before.has(m));
    const canonical = text.trim();
    const parsed: Parsed = { root, pkg, messages };
    return { type: 'PROTOBUF', canonical, normalized: JSON.stringify(root.toJSON()), parsed };
  },
  readProblems(reader: ParsedSchema, writer: ParsedSchema): string[] {
    return diff(writer.parsed as Parsed, reader.parsed as Parsed);
  },
};

function kindOf(f: protobuf.Field): string {
  if (f.map) return 'map';
  if (f.resolvedType instanceof protobuf.Type) return 'message';
  if (f.resolvedType instanceof protobuf.Enum) return 'enum';
  return 'scalar';
}

function diff(original: Parsed, update: Parsed): string[] {
  const out: string[] = [];
  const p = (type: string, where: string): void => void out.push(`{errorType:'${type}', description:'at ${where}'}`);
  if (original.pkg !== update.pkg) p('PACKAGE_CHANGED', `package '${original.pkg}' -> '${update.pkg}'`);
  for (const name of original.messages) {
    const o = original.root.lookupType(name);
    let u: protobuf.Type;
    try {
      u = update.root.lookupType(update.pkg !== original.pkg ? name.replace(original.pkg, update.pkg) : name);
    } catch {
      p('MESSAGE_REMOVED', `message ${name}`);
      continue;
    }
    const movedToOneof = new Map<string, number>();
    for (const of of o.fieldsArray) {
      const uf = u.fieldsById[of.id];
      const where = `${name}.${of.name} (${of.id})`;
      if (!uf) {
        if (of.required) p('REQUIRED_FIELD_REMOVED', where);
        if (of.partOf) p('ONEOF_FIELD_REMOVED', where);
        continue;
      }
      of.resolve();
      uf.resolve();
      const ok = kindOf(of);
      const uk = kindOf(uf);
      if (ok !== uk) p('FIELD_KIND_CHANGED', where);
      else if (ok === 'scalar' && WIRE_CLASS[of.type] !== WIRE_CLASS[uf.type]) p('FIELD_SCALAR_KIND_CHANGED', `${where}: ${of.type} -> ${uf.type}`);
      else if ((ok === 'message' || ok === 'enum') && of.resolvedType!.fullName.replace(/^\./, '').replace(original.pkg, '') !== uf.resolvedType!.fullName.replace(/^\./, '').replace(update.pkg, '')) {
        p('FIELD_NAMED_TYPE_CHANGED', `${where}: ${of.resolvedType!.fullName} -> ${uf.resolvedType!.fullName}`);
      } else if (ok === 'map' && (WIRE_CLASS[(of as unknown as protobuf.MapField).keyType] !== WIRE_CLASS[(uf as unknown as protobuf.MapField).keyType] || of.type !== uf.type)) p('FIELD_KIND_CHANGED', `${where}: map types`);
      if (of.repeated !== uf.repeated && !of.map) p('FIELD_LABEL_CHANGED', `${where}: ${of.repeated ? 'repeated' : 'singular'} -> ${uf.repeated ? 'repeated' : 'singular'}`);
      if (of.required !== uf.required) p(uf.required ? 'REQUIRED_FIELD_ADDED' : 'REQUIRED_FIELD_REMOVED', where);
      if (of.partOf && !uf.partOf) p('ONEOF_FIELD_REMOVED', where);
      if (!of.partOf && uf.partOf) movedToOneof.set(uf.partOf.name, (movedToOneof.get(uf.partOf.name) ?? 0) + 1);
    }
    for (const uf of u.fieldsArray) {
      if (!o.fieldsById[uf.id] && uf.required) p('REQUIRED_FIELD_ADDED', `${name}.${uf.name} (${uf.id})`);
    }
    for (const [oneof, n] of movedToOneof) if (n > 1) p('MULTIPLE_FIELDS_MOVED_TO_ONEOF', `${name}.${oneof}`);
  }
  return out;
}
