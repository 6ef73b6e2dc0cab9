/**
 * The schema registry over real HTTP against a real gateway (embedded engine,
 * authentication and authorization on, audit log to a file): Confluent's
 * REST API and error codes (register, versions, latest, lookup, ids, soft and
 * hard deletes, config, mode, references, compatibility of Avro, JSON Schema
 * and Protobuf, 422 for malformed schemas), the bounds (schema size, body
 * size, registration rate), and the security model: nothing unauthenticated,
 * tokens checked like SASL, tenant isolation of subjects and ids, consume /
 * produce / tenant admin, every decision in the audit log. State survives a
 * restart with the same ids.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

const secret = randomBytes(32);
const dir = mkdtempSync(join(tmpdir(), 'kop-sr-'));
const policies = join(dir, 'policies');
const auditFile = join(dir, 'audit.log');
let gw: TestGateway;
let url = '';
const tokens: Record<string, string> = {};

function settings(): Record<string, string | number | boolean> {
  return {
    kafkaListeners: 'SASL_PLAINTEXT://127.0.0.1:0',
    authenticationEnabled: true,
    authorizationEnabled: true,
    saslAllowedMechanisms: 'PLAIN,OAUTHBEARER',
    tokenSecretKey: `data:;base64,${secret.toString('base64')}`,
    superUserRoles: 'admin',
    policiesDirectory: policies,
    auditLogFile: auditFile,
    auditSummaryIntervalMs: 0,
    auditAggregationIntervalMs: 0,
    failedAuthenticationDelayMs: 10,
    kopSchemaRegistryEnable: true,
    kopSchemaRegistryPort: 0,
    schemaRegistryRegistrationsPerSecond: 0,
    schemaRegistryMaxSchemaBytes: 4096,
    schemaRegistryMaxRequestBytes: 16384,
  };
}

before(async () => {
  mkdirSync(policies, { recursive: true });
  writeFileSync(
    join(policies, 'acme.json'),
    JSON.stringify({ tenant: 'acme', adminRoles: ['acme-admin'], namespaces: { orders: { permissions: { writer: ['produce', 'consume'], reader: ['consume'] } } } }),
  );
  writeFileSync(join(policies, 'globex.json'), JSON.stringify({ tenant: 'globex', adminRoles: [], namespaces: { orders: { permissions: { gwriter: ['produce', 'consume'] } } } }));
  for (const r of ['admin', 'acme-admin', 'writer', 'reader', 'gwriter', 'nobody']) tokens[r] = await new SignJWT({ sub: r }).setProtectedHeader({ alg: 'HS256' }).sign(secret);
  tokens['expired'] = await new SignJWT({ sub: 'writer' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(secret);
  gw = await startTestGateway(settings(), dir);
  url = gw.gateway.schemaRegistry!.url;
});

after(async () => {
  await gw?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function basic(role: string, ns = 'acme/orders'): string {
  return 'Basic ' + Buffer.from(`${ns}:token:${tokens[role]}`).toString('base64');
}

interface Res {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

async function call(method: string, path: string, auth: string | null, body?: unknown, raw?: string): Promise<Res> {
  const headers: Record<string, string> = { 'Content-Type': 'application/vnd.schemaregistry.v1+json' };
  if (auth) headers['Authorization'] = auth;
  const r = await fetch(url + path, { method, headers, ...(raw !== undefined ? { body: raw } : body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await r.text();
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  return { status: r.status, body: parsed, text };
}

function audit(): Array<Record<string, unknown>> {
  return readFileSync(auditFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function auditHas(pred: (r: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 50; i++) {
    const hit = audit().find(pred);
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no audit record: ${what}`);
}

const user = (fields: Array<Record<string, unknown>>) => JSON.stringify({ type: 'record', name: 'User', namespace: 'com.acme', fields });
const V1 = user([{ name: 'name', type: 'string' }]);
const V2 = user([{ name: 'name', type: 'string' }, { name: 'age', type: 'int', default: 0 }]);
const BAD = user([{ name: 'name', type: 'string' }, { name: 'email', type: 'string' }]);

test('Avro: register, read back, lookup, BACKWARD evolution, incompatible change refused with 409', async () => {
  const w = basic('writer');
  const r1 = await call('POST', '/subjects/users-value/versions', w, { schema: V1 });
  assert.equal(r1.status, 200, r1.text);
  const id1 = r1.body.id as number;
  assert.ok(Number.isInteger(id1) && id1 > 0);
  // same schema, other whitespace: same id, no new version
  const again = await call('POST', '/subjects/users-value/versions', w, { schema: JSON.stringify(JSON.parse(V1), null, 2) });
  assert.deepEqual(again.body, { id: id1 });
  const r2 = await call('POST', '/subjects/users-value/versions', w, { schema: V2 });
  assert.equal(r2.status, 200, r2.text);
  assert.notEqual(r2.body.id, id1);
  const bad = await call('POST', '/subjects/users-value/versions', w, { schema: BAD });
  assert.equal(bad.status, 409);
  assert.equal(bad.body.error_code, 409);
  assert.match(bad.body.message, /^Schema being registered is incompatible with an earlier schema for subject "users-value"/);
  assert.deepEqual((await call('GET', '/subjects/users-value/versions', w)).body, [1, 2]);
  const latest = await call('GET', '/subjects/users-value/versions/latest', w);
  assert.deepEqual(latest.body, { subject: 'users-value', version: 2, id: r2.body.id, schema: V2 });
  assert.equal((await call('GET', '/subjects/users-value/versions/1/schema', w)).text, V1);
  assert.deepEqual((await call('GET', `/schemas/ids/${id1}`, w)).body, { schema: V1 });
  assert.equal((await call('GET', `/schemas/ids/${id1}/schema`, w)).text, V1);
  assert.deepEqual((await call('GET', `/schemas/ids/${id1}/subjects`, w)).body, ['users-value']);
  assert.deepEqual((await call('GET', `/schemas/ids/${id1}/versions`, w)).body, [{ subject: 'users-value', version: 1 }]);
  const look = await call('POST', '/subjects/users-value', w, { schema: V1 });
  assert.deepEqual(look.body, { subject: 'users-value', version: 1, id: id1, schema: V1 });
  assert.equal((await call('POST', '/subjects/users-value', w, { schema: BAD })).body.error_code, 40403);
  assert.equal((await call('GET', '/subjects/nope/versions', w)).body.error_code, 40401);
  assert.equal((await call('GET', '/subjects/users-value/versions/9', w)).body.error_code, 40402);
  assert.equal((await call('GET', '/subjects/users-value/versions/0', w)).body.error_code, 42202);
  assert.equal((await call('GET', '/schemas/ids/999999', w)).body.error_code, 40403);
  const compat = await call('POST', '/compatibility/subjects/users-value/versions/latest?verbose=true', w, { schema: BAD });
  assert.equal(compat.status, 200);
  assert.equal(compat.body.is_compatible, false);
  assert.ok(compat.body.messages.length > 0);
  assert.deepEqual((await call('POST', '/compatibility/subjects/users-value/versions/latest', w, { schema: V2 })).body, { is_compatible: true });
  assert.deepEqual((await call('GET', '/schemas/types', w)).body, ['AVRO', 'JSON', 'PROTOBUF']);
  assert.deepEqual((await call('GET', '/subjects', w)).body, ['users-value']);
});

test('malformed schemas get 422/42201 with the parser\'s message; bounds: schema size, body size', async () => {
  const w = basic('writer');
  const notJson = await call('POST', '/subjects/m/versions', w, { schema: '{"type": "record", ' });
  assert.equal(notJson.status, 422);
  assert.equal(notJson.body.error_code, 42201);
  const badAvro = await call('POST', '/subjects/m/versions', w, { schema: JSON.stringify({ type: 'record', name: 'X', fields: [{ name: 'a', type: 'nosuchtype' }] }) });
  assert.equal(badAvro.body.error_code, 42201);
  assert.match(badAvro.body.message, /nosuchtype/);
  const badType = await call('POST', '/subjects/m/versions', w, { schema: '{}', schemaType: 'XML' });
  assert.equal(badType.body.error_code, 42201);
  const badProto = await call('POST', '/subjects/m/versions', w, { schema: 'syntax = "proto3"; message { int32 a = 1; }', schemaType: 'PROTOBUF' });
  assert.equal(badProto.body.error_code, 42201);
  const badJson = await call('POST', '/subjects/m/versions', w, { schema: JSON.stringify({ type: 'object', properties: { a: { type: 12 } } }), schemaType: 'JSON' });
  assert.equal(badJson.body.error_code, 42201);
  const big = await call('POST', '/subjects/m/versions', w, { schema: JSON.stringify({ type: 'record', name: 'Big', doc: 'x'.repeat(5000), fields: [] }) });
  assert.equal(big.status, 422);
  assert.match(big.body.message, /Schema too large/);
  const huge = await call('POST', '/subjects/m/versions', w, undefined, JSON.stringify({ schema: 'x'.repeat(20000) }));
  assert.equal(huge.status, 413);
  const garbage = await call('POST', '/subjects/m/versions', w, undefined, '{nope');
  assert.equal(garbage.status, 400);
  assert.equal((await call('GET', '/subjects', w)).body.includes('m'), false, 'nothing was registered');
  assert.equal((await call('GET', '/nothing/here', w)).body.error_code, 404);
  assert.equal((await call('PATCH', '/subjects', w)).body.error_code, 405);
});

test('JSON Schema and Protobuf: registration, evolution and refusals', async () => {
  const w = basic('writer');
  const j1 = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'], additionalProperties: false };
  const j2 = { type: 'object', properties: { a: { type: 'string' }, b: { type: 'integer' } }, required: ['a'], additionalProperties: false };
  const j3 = { type: 'object', properties: { a: { type: 'integer' } }, required: ['a'], additionalProperties: false };
  const r1 = await call('POST', '/subjects/j-value/versions', w, { schema: JSON.stringify(j1), schemaType: 'JSON' });
  assert.equal(r1.status, 200, r1.text);
  // adding an optional property to a closed content model: readers of v2 read v1 documents
  assert.equal((await call('POST', '/subjects/j-value/versions', w, { schema: JSON.stringify(j2), schemaType: 'JSON' })).status, 200);
  const jBad = await call('POST', '/subjects/j-value/versions', w, { schema: JSON.stringify(j3), schemaType: 'JSON' });
  assert.equal(jBad.status, 409, jBad.text);
  const byId = await call('GET', `/schemas/ids/${r1.body.id}`, w);
  assert.deepEqual(byId.body, { schemaType: 'JSON', schema: JSON.stringify(j1) });

  const p1 = 'syntax = "proto3";\npackage acme;\nmessage Order { string id = 1; int64 amount = 2; }\n';
  const p2 = 'syntax = "proto3";\npackage acme;\nmessage Order { string id = 1; int64 amount = 2; string note = 3; }\n';
  const p3 = 'syntax = "proto3";\npackage acme;\nmessage Order { string id = 1; string amount = 2; }\n';
  assert.equal((await call('POST', '/subjects/p-value/versions', w, { schema: p1, schemaType: 'PROTOBUF' })).status, 200);
  assert.equal((await call('POST', '/subjects/p-value/versions', w, { schema: p2, schemaType: 'PROTOBUF' })).status, 200);
  const pBad = await call('POST', '/subjects/p-value/versions', w, { schema: p3, schemaType: 'PROTOBUF' });
  assert.equal(pBad.status, 409, pBad.text);
  assert.match(pBad.body.message, /FIELD_SCALAR_KIND_CHANGED/);
});

test('references, deletes (soft, permanent, their order), config and mode', async () => {
  const w = basic('writer');
  const admin = basic('acme-admin');
  const address = JSON.stringify({ type: 'record', name: 'Address', namespace: 'com.acme', fields: [{ name: 'city', type: 'string' }] });
  const a = await call('POST', '/subjects/address/versions', w, { schema: address });
  assert.equal(a.status, 200, a.text);
  const person = JSON.stringify({ type: 'record', name: 'Person', namespace: 'com.acme', fields: [{ name: 'home', type: 'com.acme.Address' }] });
  const noRef = await call('POST', '/subjects/person/versions', w, { schema: person });
  assert.equal(noRef.body.error_code, 42201, 'an unknown named type without a reference');
  const p = await call('POST', '/subjects/person/versions', w, { schema: person, references: [{ name: 'com.acme.Address', subject: 'address', version: 1 }] });
  assert.equal(p.status, 200, p.text);
  assert.deepEqual((await call('GET', '/subjects/address/versions/1/referencedby', w)).body, [p.body.id]);
  assert.equal((await call('DELETE', '/subjects/address/versions/1', w)).body.error_code, 42206);
  const got = await call('GET', '/subjects/person/versions/1', w);
  assert.deepEqual(got.body.references, [{ name: 'com.acme.Address', subject: 'address', version: 1 }]);

  // deletes
  const s = JSON.stringify({ type: 'record', name: 'T', fields: [{ name: 'x', type: 'int' }] });
  const t1 = await call('POST', '/subjects/tmp/versions', w, { schema: s });
  assert.equal((await call('DELETE', '/subjects/tmp/versions/1?permanent=true', admin)).body.error_code, 40407);
  assert.equal((await call('DELETE', '/subjects/tmp/versions/1', w)).body, 1);
  assert.equal((await call('DELETE', '/subjects/tmp/versions/1', w)).body.error_code, 40406);
  assert.equal((await call('GET', '/subjects/tmp/versions', w)).body.error_code, 40401);
  assert.deepEqual((await call('GET', '/subjects/tmp/versions?deleted=true', w)).body, [1]);
  assert.deepEqual((await call('GET', `/schemas/ids/${t1.body.id}`, w)).body, { schema: s }, 'a soft-deleted version keeps its id readable');
  assert.equal((await call('DELETE', '/subjects/tmp/versions/1?permanent=true', w)).status, 403, 'permanent deletes need a tenant admin');
  assert.equal((await call('DELETE', '/subjects/tmp/versions/1?permanent=true', admin)).body, 1);
  assert.equal((await call('GET', `/schemas/ids/${t1.body.id}`, w)).body.error_code, 40403);
  const t2 = await call('POST', '/subjects/tmp/versions', w, { schema: s });
  assert.equal(t2.body.id, t1.body.id, 'the same schema in the same context gets its id back');
  assert.equal((await call('DELETE', '/subjects/tmp?permanent=true', admin)).body.error_code, 40405);
  assert.deepEqual((await call('DELETE', '/subjects/tmp', w)).body, [1]);
  assert.equal((await call('DELETE', '/subjects/tmp', w)).body.error_code, 40404);
  assert.deepEqual((await call('DELETE', '/subjects/tmp?permanent=true', admin)).body, [1]);

  // config
  assert.deepEqual((await call('GET', '/config', w)).body, { compatibilityLevel: 'BACKWARD' });
  assert.equal((await call('PUT', '/config', w, { compatibility: 'NONE' })).status, 403, 'config changes need a tenant admin');
  assert.equal((await call('PUT', '/config', admin, { compatibility: 'SIDEWAYS' })).body.error_code, 42203);
  assert.equal((await call('GET', '/config/users-value', w)).body.error_code, 40408);
  assert.deepEqual((await call('GET', '/config/users-value?defaultToGlobal=true', w)).body, { compatibilityLevel: 'BACKWARD' });
  assert.deepEqual((await call('PUT', '/config/users-value', admin, { compatibility: 'NONE' })).body, { compatibility: 'NONE' });
  assert.equal((await call('POST', '/subjects/users-value/versions', w, { schema: BAD })).status, 200, 'NONE accepts anything');
  assert.deepEqual((await call('DELETE', '/config/users-value', admin)).body, { compatibilityLevel: 'NONE' });
  assert.deepEqual((await call('PUT', '/config/users-value', admin, { compatibility: 'FULL_TRANSITIVE' })).body, { compatibility: 'FULL_TRANSITIVE' });
  assert.deepEqual((await call('GET', '/config/users-value', w)).body, { compatibilityLevel: 'FULL_TRANSITIVE' });

  // mode
  assert.deepEqual((await call('GET', '/mode', w)).body, { mode: 'READWRITE' });
  assert.equal((await call('PUT', '/mode', admin, { mode: 'SOMETIMES' })).body.error_code, 42204);
  assert.deepEqual((await call('PUT', '/mode/address', admin, { mode: 'READONLY' })).body, { mode: 'READONLY' });
  const ro = await call('POST', '/subjects/address/versions', w, { schema: JSON.stringify({ type: 'record', name: 'Address', namespace: 'com.acme', fields: [{ name: 'city', type: 'string' }, { name: 'zip', type: ['null', 'string'], default: null }] }) });
  assert.equal(ro.body.error_code, 42205);
  assert.deepEqual((await call('DELETE', '/mode/address', admin)).body, { mode: 'READONLY' });
  // IMPORT: ids chosen by the caller
  assert.equal((await call('POST', '/subjects/imp/versions', w, { schema: s, id: 5000 })).body.error_code, 42205);
  await call('PUT', '/mode/imp', admin, { mode: 'IMPORT' });
  assert.deepEqual((await call('POST', '/subjects/imp/versions', w, { schema: JSON.stringify({ type: 'fixed', name: 'F', size: 4 }), id: 5000, version: 3 })).body, { id: 5000 });
  assert.deepEqual((await call('GET', '/subjects/imp/versions', w)).body, [3]);
});

test('security: nothing unauthenticated, tokens as on SASL, tenant isolation, permissions, audit', async () => {
  // nothing is served without credentials, not even the types or a 404
  for (const path of ['/subjects', '/schemas/types', '/config', '/no/such/path', '/schemas/ids/1']) {
    const r = await call('GET', path, null);
    assert.equal(r.status, 401, path);
    assert.equal(r.body.error_code, 401);
  }
  const bigAnon = await call('POST', '/subjects/x/versions', null, undefined, JSON.stringify({ schema: 'x'.repeat(20000) }));
  assert.equal(bigAnon.status, 401, 'an unauthenticated request learns nothing, not even the body bound');
  const expired = await call('GET', '/subjects', 'Basic ' + Buffer.from(`acme/orders:token:${tokens['expired']}`).toString('base64'));
  assert.equal(expired.status, 401);
  assert.match(expired.body.message, /expired/);
  const forged = await call('GET', '/subjects', 'Basic ' + Buffer.from(`acme/orders:token:${tokens['writer']!.slice(0, -4)}AAAA`).toString('base64'));
  assert.equal(forged.status, 401);
  const badNs = await call('GET', '/subjects', 'Basic ' + Buffer.from(`acme/../x:token:${tokens['writer']}`).toString('base64'));
  assert.equal(badNs.status, 401);
  // Bearer: the default namespace (public/default), where `writer` has no grant
  const bearer = await call('GET', '/subjects', `Bearer ${tokens['writer']}`);
  assert.equal(bearer.status, 403);
  assert.equal(bearer.body.error_code, 40301);
  assert.equal((await call('GET', '/subjects', `Bearer ${tokens['admin']}`)).status, 200);

  // tenant isolation: the same subject in globex/orders is another subject, ids are not visible across
  const g = basic('gwriter', 'globex/orders');
  assert.deepEqual((await call('GET', '/subjects', g)).body, []);
  assert.equal((await call('GET', '/subjects/users-value/versions', g)).body.error_code, 40401);
  const acmeId = (await call('GET', '/subjects/users-value/versions/1', basic('writer'))).body.id as number;
  assert.equal((await call('GET', `/schemas/ids/${acmeId}`, g)).body.error_code, 40403, "acme's id is not found from globex");
  const gReg = await call('POST', '/subjects/users-value/versions', g, { schema: BAD });
  assert.equal(gReg.status, 200, 'globex registers its own users-value, unconstrained by acme');
  assert.notEqual(gReg.body.id, acmeId);
  assert.deepEqual((await call('GET', '/subjects/users-value/versions', g)).body, [1]);
  // a globex principal naming acme's namespace gets no access there
  const cross = await call('GET', '/subjects', basic('gwriter', 'acme/orders'));
  assert.equal(cross.status, 403);

  // consume-only: reads, no registration
  const r = basic('reader');
  assert.equal((await call('GET', '/subjects/users-value/versions/latest', r)).status, 200);
  const denied = await call('POST', '/subjects/users-value/versions', r, { schema: V2 });
  assert.equal(denied.status, 403);
  assert.match(denied.body.message, /reader is denied operation Write on subject acme\/orders\/users-value/);
  assert.equal((await call('GET', '/subjects', basic('nobody'))).status, 403);

  // audit records: authentication (success and failure), decisions allowed and denied, by subject
  await auditHas((x) => x['event'] === 'authentication' && x['mechanism'] === 'HTTP_BASIC' && x['outcome'] === 'failure' && /expired/.test(String(x['reason'])), 'failed Basic authentication');
  await auditHas((x) => x['event'] === 'authentication' && x['mechanism'] === 'HTTP_BEARER' && x['outcome'] === 'success' && x['principal'] === 'admin', 'Bearer success');
  await auditHas(
    (x) => x['event'] === 'access_denied' && x['principal'] === 'reader' && x['operation'] === 'SchemaRegistry.RegisterSchema' && x['resource'] === 'subject acme/orders/users-value' && x['listener'] === 'SCHEMA_REGISTRY',
    'denied registration',
  );
  await auditHas((x) => x['event'] === 'access_denied' && x['principal'] === 'gwriter' && x['resource'] === 'schema-registry acme/orders', 'cross-tenant denial');
  const text = readFileSync(auditFile, 'utf8');
  assert.ok(!text.includes(tokens['writer']!), 'no token in the audit log');
});

test('registration rate bound and restart: 429 past the rate, ids and versions survive a restart', async () => {
  await gw.stop();
  gw = await startTestGateway({ ...settings(), schemaRegistryRegistrationsPerSecond: 2 }, dir);
  url = gw.gateway.schemaRegistry!.url;
  const w = basic('writer');
  const latest = await call('GET', '/subjects/users-value/versions/latest', w);
  assert.equal(latest.status, 200, latest.text);
  assert.equal(latest.body.schema, BAD);
  assert.deepEqual((await call('GET', '/config/users-value', w)).body, { compatibilityLevel: 'FULL_TRANSITIVE' });
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    const r = await call('POST', `/subjects/rate-${i}/versions`, w, { schema: JSON.stringify({ type: 'enum', name: 'E', symbols: [`S${i}`] }) });
    statuses.push(r.status);
    if (r.status === 429) assert.equal(r.body.error_code, 42901);
  }
  assert.ok(statuses.includes(429), `some registrations refused: ${statuses.join(',')}`);
  assert.equal(statuses[0], 200);
});
