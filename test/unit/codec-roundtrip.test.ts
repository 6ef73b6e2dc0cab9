/**
 * Round trip of EVERY generated message at EVERY valid version, with values
 * built from the schema tables (not from the codecs): encode -> decode must give
 * the value back, and re-encoding must give the same bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reader } from '../../src/protocol/codec/reader.js';
import { Writer } from '../../src/protocol/codec/writer.js';
import { sampleMessage, schemaDefault, versionCount, type SampleMode } from '../../src/protocol/codec/sample.js';
import type { MessageCodec } from '../../src/protocol/codec/types.js';
import * as generated from '../../src/protocol/generated/index.js';
import { APIS, API_KEYS, SCHEMAS } from '../../src/protocol/generated/index.js';

const codecs = generated as unknown as Record<string, MessageCodec<unknown>>;
const MODES: SampleMode[] = ['values', 'nulls'];

function encode(codec: MessageCodec<unknown>, version: number, value: unknown): Buffer {
  const w = new Writer({ initialSize: 16 }); // small, so growth is exercised
  codec.encode(w, version, value);
  return Buffer.from(w.finish());
}

let cases = 0;
const schemas = Object.values(SCHEMAS);

for (const schema of schemas) {
  test(`round trip ${schema.name} v${schema.validVersions[0]}-${schema.validVersions[1]}`, () => {
    const codec = codecs[schema.name];
    assert.ok(codec, `no codec exported for ${schema.name}`);
    assert.deepEqual(codec.validVersions, schema.validVersions);
    assert.deepEqual(codec.defaults(), Object.fromEntries(schema.fields.map((f) => [f.name, schemaDefault(schema, f)])));
    for (let v = schema.validVersions[0]; v <= schema.validVersions[1]; v++) {
      for (const mode of MODES) {
        const value = sampleMessage(schema, v, mode);
        const bytes = encode(codec, v, value);
        const r = new Reader(bytes);
        const decoded = codec.decode(r, v);
        assert.equal(r.remaining(), 0, `${schema.name} v${v} ${mode}: bytes left`);
        assert.deepStrictEqual(decoded, value, `${schema.name} v${v} ${mode}`);
        assert.ok(encode(codec, v, decoded).equals(bytes), `${schema.name} v${v} ${mode}: re-encode differs`);
        cases++;
      }
    }
  });
}

test('round trip covered every message and version the schema defines', () => {
  const expected = schemas.reduce((n, s) => n + versionCount(s) * MODES.length, 0);
  assert.equal(cases, expected);
  // Sanity floor so an empty schema table cannot pass: 88 APIs (request + response) + 2 headers.
  const apiCount = Object.keys(API_KEYS).length;
  assert.ok(apiCount >= 80, `only ${apiCount} APIs`);
  assert.equal(Object.keys(APIS).length, apiCount);
  const reqResp = schemas.filter((s) => s.type === 'request' || s.type === 'response');
  assert.equal(reqResp.length, 2 * apiCount);
  assert.ok(expected > 1000, `only ${expected} cases`);
});

test('encoding outside validVersions throws UnsupportedVersionError', async () => {
  const { UnsupportedVersionError } = await import('../../src/protocol/codec/errors.js');
  const codec = generated.ProduceRequest;
  assert.throws(() => codec.encode(new Writer(), 12, codec.defaults()), UnsupportedVersionError);
  assert.throws(() => codec.decode(new Reader(Buffer.alloc(100)), -1), UnsupportedVersionError);
});
