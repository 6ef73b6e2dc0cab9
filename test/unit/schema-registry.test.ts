/**
 * The schema registry's pure parts: compatibility per format and level
 * (src/schema-registry/compatibility.ts, formats/), and the state machine
 * that every node applies in log order (state.ts): same log, same ids; one
 * schema never gets two ids, two schemas never one; a registration that was
 * compatible when checked but is not in log order is refused at apply.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compatibilityProblems } from '../../src/schema-registry/compatibility.js';
import { FORMATS } from '../../src/schema-registry/formats/index.js';
import { RegistryState, type Entry } from '../../src/schema-registry/state.js';
import { RegistryError } from '../../src/schema-registry/errors.js';
import type { Compatibility, SchemaType } from '../../src/schema-registry/types.js';

const parse = (type: SchemaType, s: unknown) => FORMATS[type].parse(typeof s === 'string' ? s : JSON.stringify(s), []);
const ok = (level: Compatibility, type: SchemaType, next: unknown, ...prev: unknown[]) => compatibilityProblems(level, parse(type, next), prev.map((p) => parse(type, p))).length === 0;

const rec = (fields: unknown[]) => ({ type: 'record', name: 'R', fields });
const A = { name: 'a', type: 'string' };
const B_DEFAULT = { name: 'b', type: 'int', default: 0 };
const B = { name: 'b', type: 'int' };

test('Avro: Avro resolution rules per level', () => {
  assert.ok(ok('BACKWARD', 'AVRO', rec([A, B_DEFAULT]), rec([A])), 'a field added with a default');
  assert.ok(!ok('BACKWARD', 'AVRO', rec([A, B]), rec([A])), 'a field added without a default');
  assert.ok(ok('FORWARD', 'AVRO', rec([A, B]), rec([A])), 'old readers ignore the new field');
  assert.ok(!ok('FORWARD', 'AVRO', rec([]), rec([A])), 'old readers need the removed field');
  assert.ok(!ok('FULL', 'AVRO', rec([A, B]), rec([A])));
  assert.ok(ok('FULL', 'AVRO', rec([A, B_DEFAULT]), rec([A])));
  assert.ok(ok('BACKWARD', 'AVRO', rec([{ name: 'a', type: 'long' }]), rec([{ name: 'a', type: 'int' }])), 'int promotes to long');
  assert.ok(!ok('BACKWARD', 'AVRO', rec([{ name: 'a', type: 'int' }]), rec([{ name: 'a', type: 'long' }])));
  assert.ok(ok('NONE', 'AVRO', '"string"', rec([A])));
  // transitive: v3 drops b's default; compatible with v2 (which has b), not with v1 (which has not)
  const v1 = rec([A]);
  const v2 = rec([A, B_DEFAULT]);
  const v3 = rec([A, B]);
  assert.ok(ok('BACKWARD', 'AVRO', v3, v1, v2));
  assert.ok(!ok('BACKWARD_TRANSITIVE', 'AVRO', v3, v1, v2));
  assert.throws(() => parse('AVRO', { type: 'record', name: 'X', fields: [{ name: 'a', type: 'int', default: 'nope' }] }), (e: unknown) => e instanceof RegistryError && e.code === 42201);
});

test('JSON Schema: content models, required, types, unproven keywords', () => {
  const closed = (props: Record<string, unknown>, required: string[] = []) => ({ type: 'object', properties: props, required, additionalProperties: false });
  const open = (props: Record<string, unknown>) => ({ type: 'object', properties: props });
  assert.ok(ok('BACKWARD', 'JSON', closed({ a: { type: 'string' }, b: { type: 'integer' } }), closed({ a: { type: 'string' } })), 'property added to a closed model');
  assert.ok(!ok('BACKWARD', 'JSON', open({ a: { type: 'string' }, b: { type: 'integer' } }), open({ a: { type: 'string' } })), 'property added to an open model (Confluent: PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL)');
  assert.ok(ok('BACKWARD', 'JSON', open({ a: { type: 'string' } }), open({ a: { type: 'string' }, b: { type: 'integer' } })), 'property removed from an open model');
  assert.ok(!ok('BACKWARD', 'JSON', closed({ a: { type: 'string' } }, ['a']), closed({ a: { type: 'string' } })), 'required added');
  assert.ok(ok('BACKWARD', 'JSON', { type: 'number' }, { type: 'integer' }), 'integer widened to number');
  assert.ok(!ok('BACKWARD', 'JSON', { type: 'integer' }, { type: 'number' }));
  assert.ok(!ok('BACKWARD', 'JSON', { type: 'string', maxLength: 5 }, { type: 'string', maxLength: 10 }));
  assert.ok(ok('BACKWARD', 'JSON', { enum: ['a', 'b', 'c'] }, { enum: ['a', 'b'] }));
  assert.ok(!ok('BACKWARD', 'JSON', { enum: ['a'] }, { enum: ['a', 'b'] }));
  assert.ok(!ok('BACKWARD', 'JSON', { type: 'string', pattern: '^b' }, { type: 'string', pattern: '^a' }), 'a keyword outside the subset that changed: unproven, refused');
  assert.ok(ok('BACKWARD', 'JSON', { type: 'string', pattern: '^a', title: 'x' }, { type: 'string', pattern: '^a' }));
  assert.throws(() => parse('JSON', { type: 'object', properties: { a: { type: 12 } } }), (e: unknown) => e instanceof RegistryError && e.code === 42201);
});

test('Protobuf: wire-level rules', () => {
  const p = (body: string, pkg = 'acme') => `syntax = "proto3";\npackage ${pkg};\n${body}\n`;
  assert.ok(ok('BACKWARD', 'PROTOBUF', p('message M { int32 a = 1; string b = 2; }'), p('message M { int32 a = 1; }')), 'field added');
  assert.ok(ok('BACKWARD', 'PROTOBUF', p('message M { int32 a = 1; }'), p('message M { int32 a = 1; string b = 2; }')), 'field removed');
  assert.ok(ok('BACKWARD', 'PROTOBUF', p('message M { int64 a = 1; }'), p('message M { int32 a = 1; }')), 'int32 -> int64: same wire type');
  assert.ok(!ok('BACKWARD', 'PROTOBUF', p('message M { string a = 1; }'), p('message M { int32 a = 1; }')));
  assert.ok(!ok('BACKWARD', 'PROTOBUF', p('message N { int32 a = 1; }'), p('message M { int32 a = 1; }')), 'message removed');
  assert.ok(!ok('BACKWARD', 'PROTOBUF', p('message M { int32 a = 1; }', 'other'), p('message M { int32 a = 1; }')), 'package changed');
  assert.ok(!ok('BACKWARD', 'PROTOBUF', p('message M { repeated int32 a = 1; }'), p('message M { int32 a = 1; }')));
  assert.ok(!ok('BACKWARD', 'PROTOBUF', 'syntax = "proto2"; package acme; message M { optional int32 a = 1; required int32 b = 2; }', 'syntax = "proto2"; package acme; message M { optional int32 a = 1; }'), 'proto2 required field added');
  assert.ok(ok('BACKWARD', 'PROTOBUF', p('message M { int32 a = 1; }\nmessage N { int32 x = 1; }'), p('message M { int32 a = 1; }')), 'message added');
});

const avro = (name: string, extra: unknown[] = []) => JSON.stringify({ type: 'record', name, fields: [{ name: 'a', type: 'string' }, ...extra] });
let n = 0;
const reg = (subject: string, schema: string, ctx = 't/ns'): Extract<Entry, { op: 'register' }> => ({ op: 'register', rid: `r${n++}`, ctx, subject, schemaType: 'AVRO', schema, references: [], normalize: false });
const limits = { maxVersionsPerContext: 100, defaultCompatibility: 'BACKWARD' as const };

test('state: the same log gives every node the same ids; one schema one id, two schemas two ids', () => {
  const log: Entry[] = [
    reg('s1', avro('A')), reg('s1', avro('A')), // the same schema registered twice at once (two nodes)
    reg('s2', avro('A')), // the same schema, another subject: same id
    reg('s3', avro('B')), reg('x', avro('B'), 'u/ns'), // another context: its own id
    reg('s1', avro('A', [{ name: 'b', type: 'int', default: 1 }])),
  ];
  const outcomes = (s: RegistryState) => log.map((e) => s.apply(e));
  const one = outcomes(new RegistryState(limits));
  const two = outcomes(new RegistryState(limits));
  assert.deepEqual(one, two, 'deterministic');
  const ids = one.map((o) => (o.ok ? (o.value as { id: number }).id : -1));
  assert.equal(ids[0], ids[1]);
  assert.equal(ids[0], ids[2]);
  assert.notEqual(ids[3], ids[0]);
  assert.notEqual(ids[4], ids[3], 'the same schema in another context is another schema');
  assert.equal(new Set([ids[0], ids[3], ids[4], ids[5]]).size, 4);
  // a resent entry is applied once
  const s = new RegistryState(limits);
  const e = reg('d', avro('D'));
  assert.equal(s.apply(e).ok, true);
  assert.equal(s.apply(e).ok, false);
  assert.deepEqual(s.versions('t/ns', 'd', false).map((v) => v.version), [1]);
});

test('state: two registrations each compatible with v1 but not with each other: the log order decides', () => {
  const s = new RegistryState(limits);
  assert.equal(s.apply(reg('s', avro('R'))).ok, true);
  // both were checked against v1 on their nodes (planRegister passes for both)...
  const x = reg('s', avro('R', [{ name: 'b', type: 'int', default: 0 }]));
  const y = reg('s', avro('R', [{ name: 'b', type: 'string', default: '' }]));
  assert.equal(s.planRegister(x).kind, 'new');
  assert.equal(s.planRegister(y).kind, 'new');
  // ...the log applies x first; y is then checked against x and refused
  assert.equal(s.apply(x).ok, true);
  const second = s.apply(y);
  assert.equal(second.ok, false);
  assert.equal(!second.ok && second.code, 409);
});
