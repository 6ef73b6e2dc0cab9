/**
 * The protobuf codec generated from Pulsar's PulsarApi.proto (src/pulsar/proto):
 * round trips of every message, protobuf wire-format details (varints, packed,
 * unknown fields), clean errors on bad input and on bad values, and the
 * generator (committed output up to date, deterministic, no .proto comment copied,
 * parser features and errors).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultValue, generate, parseProto, writeOutput, HEADER, type FieldDef } from '../../scripts/gen-pulsar-protocol.js';
import {
  BaseCommand,
  BaseCommandType,
  CommandAck,
  CommandConsumerStatsResponse,
  CommandError,
  MAX_DEPTH,
  MessageIdData,
  MessageMetadata,
  PULSAR_CODECS,
  PULSAR_ENUMS,
  PULSAR_MESSAGES,
  PulsarProtoError,
  Schema,
  SchemaType,
  ServerError,
  enumName,
  type ProtoCodec,
} from '../../src/pulsar/proto/index.js';
import { sampleMessage } from '../../src/pulsar/proto/sample.js';

/** The directory holding this project's package.json (works from test/ and from dist/test/). */
function repoRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'kop-gateway') return dir;
    if (dirname(dir) === dir) throw new Error('repository root not found');
  }
}

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const codec = (name: string) => PULSAR_CODECS[name] as ProtoCodec<Record<string, unknown>>;
const isProtoError = (e: unknown) => e instanceof PulsarProtoError;

// ---------------------------------------------------------------- round trips

for (const name of Object.keys(PULSAR_MESSAGES)) {
  test(`round trip: ${name}`, () => {
    const c = codec(name);
    for (const mode of ['full', 'required'] as const) {
      const value = sampleMessage(name, mode);
      const bytes = c.encode(value);
      const back = c.decode(bytes);
      assert.deepEqual(back, value, `${name} ${mode}`);
      assert.ok(c.encode(back).equals(bytes), `${name} ${mode}: re-encoding differs`);
    }
  });
}

test('every message and enum of the .proto is generated', () => {
  assert.equal(Object.keys(PULSAR_MESSAGES).length, 72);
  assert.equal(Object.keys(PULSAR_ENUMS).length, 17);
  assert.deepEqual(Object.keys(PULSAR_CODECS), Object.keys(PULSAR_MESSAGES));
  assert.equal(BaseCommandType.TOPIC_MIGRATED, 68);
  assert.equal(SchemaType.ProtobufNative, 20);
});

// ---------------------------------------------------------------- wire format details

test('varints: negative int32 takes 10 bytes, uint64 uses all 64 bits, fields go in number order', () => {
  const bytes = MessageIdData.encode({ partition: -1, entryId: (1n << 64n) - 1n, ledgerId: 1n });
  assert.equal(bytes.toString('hex'), '08' + '01' + '10' + 'ffffffffffffffffff01' + '18' + 'ffffffffffffffffff01');
  assert.deepEqual(MessageIdData.decode(bytes), { ledgerId: 1n, entryId: (1n << 64n) - 1n, partition: -1 });
  // int64 ack_set: -1 and a value above 2^53
  const acks = MessageIdData.encode({ ledgerId: 0n, entryId: 0n, ackSet: [-1n, (1n << 60n) + 3n] });
  assert.equal(acks.toString('hex'), '0800' + '1000' + '28ffffffffffffffffff01' + '28' + '838080808080808010');
  assert.deepEqual(MessageIdData.decode(acks).ackSet, [-1n, (1n << 60n) + 3n]);
});

test('a 5-byte negative int32 (upper bits dropped) decodes as protobuf-java does', () => {
  assert.equal(MessageIdData.decode(hex('0801 1002 18ffffffff0f')).partition, -1);
});

test('double fields are little-endian fixed64', () => {
  const b = CommandConsumerStatsResponse.encode({ requestId: 5n, msgRateOut: 1.5 });
  assert.equal(b.toString('hex'), '0805' + '21' + '000000000000f83f');
  assert.equal(CommandConsumerStatsResponse.decode(b).msgRateOut, 1.5);
});

test('packed and unpacked repeated scalars both decode, in any mix', () => {
  // ack_set (5): packed run [1, 2], then an unpacked 3
  const b = hex('0801 1002 2a020102 2803');
  assert.deepEqual(MessageIdData.decode(b).ackSet, [1n, 2n, 3n]);
  // an empty packed run
  assert.deepEqual(MessageIdData.decode(hex('0801 1002 2a00')).ackSet, []);
});

test('unknown fields of every wire type are skipped; a known field with another wire type too', () => {
  const b = hex(
    '0801' + // ledgerId = 1
      'f80701' + // field 127 varint
      'f9070102030405060708' + // field 127 fixed64
      'fa0703616263' + // field 127 length-delimited
      'fd0701020304' + // field 127 fixed32
      '1d01020304' + // entryId (2) as fixed32: not a varint, skipped
      '1002', // entryId = 2
  );
  assert.deepEqual(MessageIdData.decode(b), { ledgerId: 1n, entryId: 2n });
});

test('fields may come in any order; a repeated scalar field twice keeps the last value', () => {
  assert.deepEqual(MessageIdData.decode(hex('1002 0801 1809 1807')), { ledgerId: 1n, entryId: 2n, partition: 7 });
});

test('length prefixes above 127 bytes (writer moves the content) round-trip', () => {
  const value = 'x'.repeat(300);
  const m = { name: 'n', schemaData: Buffer.alloc(20000, 7), type: SchemaType.Avro, properties: [{ key: 'k', value }] };
  const b = Schema.encode(m);
  assert.deepEqual(Schema.decode(b), m);
  const big = { producerName: 'p', sequenceId: 1n, publishTime: 2n, properties: Array.from({ length: 500 }, (_, i) => ({ key: `k${i}`, value: 'v'.repeat(i) })) };
  assert.deepEqual(MessageMetadata.decode(MessageMetadata.encode(big)), big);
});

test('bytes decode as slices of the input (no copy); strings are UTF-8', () => {
  const b = Schema.encode({ name: 'é€😀', schemaData: Buffer.from([1, 2, 3]), type: SchemaType.Json });
  const m = Schema.decode(b);
  assert.equal(m.name, 'é€😀');
  assert.equal(m.schemaData.buffer, b.buffer);
  assert.equal(m.schemaData.byteOffset, b.byteOffset + b.indexOf(Buffer.from([1, 2, 3])));
});

test('decode works on a region of a larger buffer', () => {
  const inner = MessageIdData.encode({ ledgerId: 9n, entryId: 8n });
  const buf = Buffer.concat([Buffer.from([0xff, 0xff]), inner, Buffer.from([0xff])]);
  assert.deepEqual(MessageIdData.decode(buf, 2, 2 + inner.length), { ledgerId: 9n, entryId: 8n });
});

test('enum values unknown to the .proto are kept as numbers; enumName names known ones', () => {
  const m = CommandError.decode(hex('0801 1063 1a00'));
  assert.equal(m.error, 99);
  assert.equal(enumName(ServerError, m.error), '99');
  assert.equal(enumName(ServerError, ServerError.TopicNotFound), 'TopicNotFound');
  assert.equal(enumName(BaseCommandType, 18), 'PING');
});

test('absent optional and repeated fields stay absent (presence is kept, defaults are not filled in)', () => {
  const m = MessageMetadata.decode(MessageMetadata.encode({ producerName: 'p', sequenceId: 0n, publishTime: 0n }));
  assert.deepEqual(Object.keys(m).sort(), ['producerName', 'publishTime', 'sequenceId']);
  assert.equal(m.numMessagesInBatch, undefined);
  const withDefault = MessageMetadata.decode(MessageMetadata.encode({ producerName: 'p', sequenceId: 0n, publishTime: 0n, numMessagesInBatch: 1 }));
  assert.equal(withDefault.numMessagesInBatch, 1);
  const d = PULSAR_MESSAGES.MessageMetadata!.fields.find((f) => f.name === 'numMessagesInBatch')!;
  assert.equal(d.default, 1);
});

// ---------------------------------------------------------------- bad input

function throwsProto(f: () => unknown, re: RegExp): void {
  assert.throws(f, (e: unknown) => isProtoError(e) && re.test((e as Error).message));
}

test('truncated input: every strict prefix of every full sample decodes or throws PulsarProtoError', () => {
  let threw = 0;
  for (const name of Object.keys(PULSAR_MESSAGES)) {
    const c = codec(name);
    const bytes = c.encode(sampleMessage(name, 'full'));
    for (let n = 0; n < bytes.length; n++) {
      try {
        c.decode(bytes.subarray(0, n));
      } catch (e) {
        assert.ok(isProtoError(e), `${name} prefix ${n}: ${String(e)}`);
        threw++;
      }
    }
  }
  assert.ok(threw > 1000);
});

test('varints longer than 10 bytes or above 64 bits are rejected', () => {
  throwsProto(() => MessageIdData.decode(hex('08ffffffffffffffffff81 01 1002')), /longer than 10 bytes/);
  throwsProto(() => MessageIdData.decode(hex('08ffffffffffffffffff02 1002')), /above 64 bits/);
  throwsProto(() => MessageIdData.decode(hex('0801 1002 18ffffffffffffffffff02')), /above 64 bits/);
  throwsProto(() => MessageIdData.decode(hex('0801 1002 18ffffffffffffffffff81 01')), /longer than 10 bytes/);
  throwsProto(() => MessageIdData.decode(hex('0801 10ff')), /truncated/);
});

test('groups, wire types 6/7 and field number 0 are rejected', () => {
  throwsProto(() => MessageIdData.decode(hex('0801 1002 fb07 fc07')), /group/);
  throwsProto(() => MessageIdData.decode(hex('0801 1002 fc07')), /group/);
  throwsProto(() => MessageIdData.decode(hex('0801 1002 fe0700')), /wire type 6/);
  throwsProto(() => MessageIdData.decode(hex('0801 1002 ff0700')), /wire type 7/);
  throwsProto(() => MessageIdData.decode(hex('0001 0801 1002')), /field number 0/);
});

test('lengths are never trusted', () => {
  throwsProto(() => Schema.decode(hex('0a05616263')), /exceeds/);
  throwsProto(() => Schema.decode(hex('0affffffff0f')), /exceeds/);
  // an embedded message whose length cuts a varint in half
  throwsProto(() => BaseCommand.decode(hex('0812 9201 02 08ff')), /truncated/);
  // a field inside an embedded message cannot read past it
  throwsProto(() => MessageIdData.decode(hex('0801 1002 3a02 0801 1002')), /truncated|missing/);
});

test('missing required fields are reported by name, also in embedded messages', () => {
  throwsProto(() => MessageIdData.decode(hex('0801')), /MessageIdData: missing required field entryId$/);
  throwsProto(() => MessageIdData.decode(Buffer.alloc(0)), /missing required fields ledgerId, entryId/);
  throwsProto(() => BaseCommand.decode(hex('080b 5a02 0801')), /CommandFlow: missing required field messagePermits/);
  // a required field sent with the wrong wire type counts as missing
  throwsProto(() => MessageIdData.decode(hex('0801 1502000000')), /missing required field entryId/);
});

test(`nesting is bounded (${MAX_DEPTH} levels)`, () => {
  const nest = (levels: number): Buffer => {
    let inner = MessageIdData.encode({ ledgerId: 1n, entryId: 1n });
    for (let i = 0; i < levels; i++) inner = Buffer.concat([hex('0801 1001 3a'), varint(inner.length), inner]);
    return inner;
  };
  let m = MessageIdData.decode(nest(MAX_DEPTH));
  let depth = 0;
  while (m.firstChunkMessageId) {
    m = m.firstChunkMessageId;
    depth++;
  }
  assert.equal(depth, MAX_DEPTH);
  throwsProto(() => MessageIdData.decode(nest(MAX_DEPTH + 1)), /nested deeper/);
});

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

test('bad arguments to decode are PulsarProtoErrors', () => {
  throwsProto(() => MessageIdData.decode(new Uint8Array(4) as Buffer), /not a Buffer/);
  throwsProto(() => MessageIdData.decode(Buffer.alloc(4), 3, 2), /bad region/);
  throwsProto(() => MessageIdData.decode(Buffer.alloc(4), 0, 5), /bad region/);
});

// ---------------------------------------------------------------- bad values on encode

test('encoding checks required fields and value ranges', () => {
  throwsProto(() => MessageIdData.encode({ ledgerId: 1n } as MessageIdData), /MessageIdData.entryId is required/);
  throwsProto(() => BaseCommand.encode({ type: BaseCommandType.FLOW, flow: { consumerId: 1n } as never }), /CommandFlow.messagePermits is required/);
  throwsProto(() => MessageIdData.encode({ ledgerId: -1n, entryId: 0n }), /not a uint64/);
  throwsProto(() => MessageIdData.encode({ ledgerId: 1n << 64n, entryId: 0n }), /not a uint64/);
  throwsProto(() => MessageIdData.encode({ ledgerId: 1 as unknown as bigint, entryId: 0n }), /not a uint64/);
  throwsProto(() => MessageIdData.encode({ ledgerId: 0n, entryId: 0n, partition: 2 ** 31 }), /not an int32/);
  throwsProto(() => MessageIdData.encode({ ledgerId: 0n, entryId: 0n, partition: 1.5 }), /not an int32/);
  throwsProto(() => MessageIdData.encode({ ledgerId: 0n, entryId: 0n, ackSet: [1n << 63n] }), /not an int64/);
  throwsProto(() => BaseCommand.encode({ type: BaseCommandType.FLOW, flow: { consumerId: 1n, messagePermits: -1 } }), /not a uint32/);
  throwsProto(() => Schema.encode({ name: 'n', schemaData: 'x' as unknown as Buffer, type: 0 }), /not a Buffer/);
  throwsProto(() => Schema.encode({ name: 5 as unknown as string, schemaData: Buffer.alloc(0), type: 0 }), /not a string/);
  throwsProto(() => CommandAck.encode({ consumerId: 1n, ackType: 0, txnidLeastBits: 5 as unknown as bigint }), /not a uint64/);
});

test('null optional fields are treated as absent when encoding', () => {
  const b = MessageIdData.encode({ ledgerId: 1n, entryId: 2n, partition: null as unknown as number });
  assert.equal(b.toString('hex'), '08011002');
});

// ---------------------------------------------------------------- the generator

const root = repoRoot();
const protoPath = resolve(process.env.PULSAR_PROTO ?? join(root, '..', 'shared', 'pulsar-protocol', 'PulsarApi.proto'));
const committedDir = join(root, 'src', 'pulsar', 'proto');
const skip = existsSync(protoPath) ? false : `PulsarApi.proto not found at ${protoPath} (set PULSAR_PROTO)`;

test('generated code is up to date with PulsarApi.proto', { skip }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'pulsar-gen-'));
  try {
    const files = generate(protoPath);
    writeOutput(files, tmp);
    const fresh = readdirSync(tmp).sort();
    const committed = readdirSync(committedDir)
      .filter((f) => f.endsWith('.ts') && readFileSync(join(committedDir, f), 'utf8').startsWith(HEADER))
      .sort();
    assert.deepEqual(committed, fresh, 'file list differs: run `npm run gen:pulsar`');
    for (const f of fresh) {
      assert.ok(readFileSync(join(committedDir, f), 'utf8') === readFileSync(join(tmp, f), 'utf8'), `${f} is stale: run \`npm run gen:pulsar\``);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('the generator is deterministic and takes a directory as well as a file', { skip }, () => {
  const a = generate(protoPath);
  const b = generate(dirname(protoPath));
  assert.deepEqual([...a.keys()], ['index.ts', 'pulsar-api.ts', 'schema.ts']);
  for (const [name, text] of a) assert.ok(text === b.get(name), name);
});

test('no comment of the .proto is copied into the generated code', { skip }, () => {
  const proto = readFileSync(protoPath, 'utf8');
  const comments = [...proto.matchAll(/\/\/(.*)$/gm)].map((m) => m[1]!.trim()).filter((c) => c.length > 25);
  const blocks = [...proto.matchAll(/\/\*([\s\S]*?)\*\//g)].flatMap((m) => m[1]!.split('\n').map((l) => l.replace(/^\s*\*\s?/, '').trim()).filter((l) => l.length > 25));
  assert.ok(comments.length > 50 && blocks.length > 5);
  const generated = readdirSync(committedDir)
    .filter((f) => f.endsWith('.ts') && readFileSync(join(committedDir, f), 'utf8').startsWith(HEADER))
    .map((f) => readFileSync(join(committedDir, f), 'utf8'))
    .join('\n');
  for (const c of [...comments, ...blocks]) assert.ok(!generated.includes(c), `comment copied: ${c}`);
});

const parse = (text: string) => parseProto([{ file: 't.proto', text }]);

test('parser: nested types, qualified names, packed, defaults of every kind', () => {
  const p = parse(`
    syntax = "proto2"; package a.b; option java_package = "x";
    /* block
       comment */
    enum E { option allow_alias = true; ZERO = 0; NEG = -2 [deprecated = true]; HEX = 0x10; }
    message Outer {
      message Inner { optional int32 x = 1 [default = -7]; enum Kind { A = 0; B = 1; } }
      reserved 9, 10 to 12; extensions 100 to 199;
      repeated sint64 s = 1 [packed = true];
      optional Inner inner = 2;
      optional Inner.Kind kind = 3 [default = B];
      optional .a.b.E e = 4 [default = HEX];
      optional a.b.E e2 = 5;
      optional string str = 6 [default = "q\\"\\n"];
      optional bool flag = 7 [default = true];
      optional double d = 8 [default = -inf];
      optional fixed64 f = 13 [default = 18446744073709551615];
      optional bytes raw = 14 [default = 'ab'];
    }`);
  assert.equal(p.pkg, 'a.b');
  assert.deepEqual(p.messages.map((m) => m.tsName), ['Outer', 'OuterInner']);
  assert.deepEqual(p.enums.map((e) => e.tsName), ['E', 'OuterInnerKind']);
  assert.deepEqual(p.enums[0]!.values, [{ name: 'ZERO', number: 0 }, { name: 'NEG', number: -2 }, { name: 'HEX', number: 16 }]);
  const f = Object.fromEntries(p.messages[0]!.fields.map((x) => [x.name, x]));
  assert.equal(f.s!.packed, true);
  assert.equal(f.inner!.type!.kind, 'message');
  const ref = (x: FieldDef) => (x.type?.kind === 'enum' ? `enum ${x.type.def.tsName}` : x.type?.kind === 'message' ? `message ${x.type.def.tsName}` : x.type?.scalar);
  assert.deepEqual(
    Object.values(f).map((x) => [x.name, ref(x), defaultValue(x)]),
    [
      ['s', 'sint64', undefined],
      ['inner', 'message OuterInner', undefined],
      ['kind', 'enum OuterInnerKind', 1],
      ['e', 'enum E', 16],
      ['e2', 'enum E', undefined],
      ['str', 'string', 'q"\n'],
      ['flag', 'bool', true],
      ['d', 'double', -Infinity],
      ['f', 'fixed64', 18446744073709551615n],
      ['raw', 'bytes', 'ab'],
    ],
  );
  assert.equal(defaultValue(p.messages[1]!.fields[0]!), -7);
});

test('parser: unsupported or invalid definitions fail with file and line', () => {
  const bad: Array<[string, RegExp]> = [
    ['syntax = "proto3";', /only proto2/],
    ['message M { optional int32 x = 1; }', /syntax/],
    ['syntax = "proto2"; import "x.proto";', /t\.proto:1:.*unsupported top-level/],
    ['syntax = "proto2";\nmessage M {\n oneof o { int32 a = 1; } }', /t\.proto:3:2: unsupported statement "oneof"/],
    ['syntax = "proto2"; message M { optional map<int32, int32> m = 1; }', /maps are not supported/],
    ['syntax = "proto2"; message M { optional group G = 1 {} }', /groups are not supported/],
    ['syntax = "proto2"; message M { optional Nope x = 1; }', /unknown type Nope/],
    ['syntax = "proto2"; message M { optional int32 x = 1; optional int32 y = 1; }', /duplicate field number/],
    ['syntax = "proto2"; message M { optional int32 x = 0; }', /bad field number 0/],
    ['syntax = "proto2"; message M { optional int32 x = 1 [default = 3000000000]; }', /bad default/],
    ['syntax = "proto2"; message M { optional string x = 1 [packed = true]; }', /packed on a non-repeated|packed is only/],
    ['syntax = "proto2"; message M { repeated string x = 1 [packed = true]; }', /packed is only for numeric/],
    ['syntax = "proto2"; message M { int32 x = 1; }', /need a label/],
    ['syntax = "proto2"; message M { optional int32 a_b = 1; optional int32 aB = 2; }', /clashes/],
    ['syntax = "proto2"; message M { optional int32 x = 1; ', /unterminated message|end of file/],
    ['syntax = "proto2"; /* open', /unterminated comment/],
  ];
  for (const [text, re] of bad) assert.throws(() => parse(text), re, text);
});

test('generator CLI writes into a directory and removes stale generated files only', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'pulsar-gen-cli-'));
  try {
    const proto = join(tmp, 'x.proto');
    writeFileSync(proto, 'syntax = "proto2"; message M { required uint64 id = 1; }');
    const out = join(tmp, 'out');
    writeOutput(generate(proto), out);
    writeFileSync(join(out, 'stale.ts'), `${HEADER}\n`);
    writeFileSync(join(out, 'runtime.ts'), '// hand-written\n');
    writeOutput(generate(tmp), out);
    assert.deepEqual(readdirSync(out).sort(), ['index.ts', 'pulsar-api.ts', 'runtime.ts', 'schema.ts']);
    assert.match(readFileSync(join(out, 'pulsar-api.ts'), 'utf8'), /export interface M \{\n {2}\/\*\* id = 1, required uint64 \*\/\n {2}id: bigint;/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
