/** Reader / Writer primitives: encodings, bounds checks and error messages. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaCodecError } from '../../src/protocol/codec/errors.js';
import { Reader } from '../../src/protocol/codec/reader.js';
import { Writer } from '../../src/protocol/codec/writer.js';
import { readElem, writeElem } from '../../src/protocol/codec/elements.js';

const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');
const written = (f: (w: Writer) => void) => {
  const w = new Writer({ initialSize: 16 });
  f(w);
  return Buffer.from(w.finish());
};
const codecError = (re: RegExp) => (e: unknown) => e instanceof KafkaCodecError && re.test(e.message);

test('fixed-size integers, bool, float64, uuid round trip big-endian', () => {
  const uuid = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
  const b = written((w) => {
    w.int8(-2);
    w.bool(true);
    w.int16(-3);
    w.uint16(65535);
    w.int32(-4);
    w.uint32(0xfffffffe);
    w.int64(-5n);
    w.float64(0.5);
    w.uuid(uuid);
  });
  assert.deepEqual(b, hex(`fe 01 fffd ffff fffffffc fffffffe fffffffffffffffb 3fe0000000000000 000102030405060708090a0b0c0d0e0f`));
  const r = new Reader(b);
  assert.deepEqual(
    [r.int8(), r.bool(), r.int16(), r.uint16(), r.int32(), r.uint32(), r.int64(), r.float64()],
    [-2, true, -3, 65535, -4, 0xfffffffe, -5n, 0.5],
  );
  const u = r.uuid();
  assert.deepEqual(u, uuid);
  assert.equal(u.buffer, b.buffer, 'uuid is a slice');
  assert.equal(r.remaining(), 0);
});

test('unsigned varints: boundaries, 5-byte limit, 32-bit limit', () => {
  const cases: Array<[number, string]> = [
    [0, '00'],
    [1, '01'],
    [127, '7f'],
    [128, '8001'],
    [300, 'ac02'],
    [16383, 'ff7f'],
    [16384, '808001'],
    [0x0fffffff, 'ffffff7f'],
    [0x10000000, '8080808001'],
    [0xffffffff, 'ffffffff0f'],
  ];
  for (const [v, h] of cases) {
    assert.equal(written((w) => w.unsignedVarint(v)).toString('hex'), h, `encode ${v}`);
    assert.equal(new Reader(hex(h)).unsignedVarint(), v, `decode ${h}`);
  }
  assert.throws(() => new Reader(hex('8080808080 01')).unsignedVarint(), codecError(/longer than 5 bytes/));
  assert.throws(() => new Reader(hex('ffffffff1f')).unsignedVarint(), codecError(/exceeds 32 bits/));
  assert.throws(() => new Reader(hex('8080')).unsignedVarint(), codecError(/truncated/));
  assert.throws(() => written((w) => w.unsignedVarint(-1)), KafkaCodecError);
});

test('zig-zag varint and varlong', () => {
  const ints: Array<[number, string]> = [
    [0, '00'],
    [-1, '01'],
    [1, '02'],
    [-64, '7f'],
    [64, '8001'],
    [2147483647, 'feffffff0f'],
    [-2147483648, 'ffffffff0f'],
  ];
  for (const [v, h] of ints) {
    assert.equal(written((w) => w.varint(v)).toString('hex'), h, `varint ${v}`);
    assert.equal(new Reader(hex(h)).varint(), v);
  }
  const longs = [0n, -1n, 1n, 1234567890123n, 9223372036854775807n, -9223372036854775808n];
  for (const v of longs) assert.equal(new Reader(written((w) => w.varlong(v))).varlong(), v, `varlong ${v}`);
  assert.equal(written((w) => w.varlong(-9223372036854775808n)).toString('hex'), 'ffffffffffffffffff01');
  assert.throws(() => new Reader(Buffer.alloc(11, 0x80)).varlong(), codecError(/longer than 10 bytes/));
});

test('truncation errors say what was needed where', () => {
  const r = new Reader(hex('00 01 02'), 1);
  assert.throws(() => r.int32(), { name: 'KafkaCodecError', message: 'truncated: need 4 bytes at offset 1, have 2' });
  assert.equal(r.offset, 1, 'a failed read does not move');
  // the end bound is honoured even when the buffer is longer
  assert.throws(() => new Reader(hex('0000000000'), 0, 3).int32(), KafkaCodecError);
  assert.throws(() => new Reader(hex('00'), 2), KafkaCodecError);
});

test('strings: classic and compact, UTF-8, null handling, length checks', () => {
  const s = 'héllo €';
  const b = written((w) => {
    w.string(s);
    w.nullableString(null);
    w.compactString(s);
    w.compactNullableString(null);
    w.compactString('');
    w.compactString('x'.repeat(300));
  });
  const r = new Reader(b);
  assert.equal(r.string(), s);
  assert.equal(r.nullableString(), null);
  assert.equal(r.compactString(), s);
  assert.equal(r.compactNullableString(), null);
  assert.equal(r.compactString(), '');
  assert.equal(r.compactString(), 'x'.repeat(300));
  assert.equal(r.remaining(), 0);
  assert.equal(Buffer.from(b.subarray(0, 2)).readInt16BE(0), Buffer.byteLength(s));

  assert.throws(() => new Reader(hex('ffff')).string(), codecError(/null string at offset 0 where it is not nullable/));
  assert.throws(() => new Reader(hex('fffe')).nullableString(), codecError(/negative string length -2/));
  assert.throws(() => new Reader(hex('0005 6162')).string(), codecError(/string length 5 at offset 0 exceeds remaining 2 bytes/));
  assert.throws(() => new Reader(hex('00')).compactString(), codecError(/null string/));
  assert.throws(() => new Reader(hex('8180 02')).compactString(), codecError(/exceeds 32767/));
  assert.throws(() => written((w) => w.string(null)), KafkaCodecError);
  assert.throws(() => written((w) => w.compactString('y'.repeat(0x8000))), codecError(/exceeds 32767/));
  assert.throws(() => written((w) => w.string('y'.repeat(0x8000))), codecError(/exceeds 32767/));
});

test('bytes are slices of the input, never copies', () => {
  const b = written((w) => {
    w.bytes(hex('0102'));
    w.nullableBytes(null);
    w.compactBytes(hex('03'));
    w.compactNullableBytes(null);
  });
  assert.deepEqual(b, hex('00000002 0102 ffffffff 02 03 00'));
  const r = new Reader(b);
  const first = r.bytes();
  assert.deepEqual(first, hex('0102'));
  assert.equal(first.buffer, b.buffer);
  assert.equal(first.byteOffset, b.byteOffset + 4);
  assert.equal(r.nullableBytes(), null);
  assert.deepEqual(r.compactBytes(), hex('03'));
  assert.equal(r.compactNullableBytes(), null);
  assert.throws(() => new Reader(hex('7fffffff 00')).bytes(), codecError(/bytes length 2147483647 at offset 0 exceeds remaining 1 bytes/));
  assert.throws(() => new Reader(hex('ffffffff')).bytes(), codecError(/null bytes/));
  assert.throws(() => new Reader(hex('80000000')).nullableBytes(), codecError(/negative bytes length/));
});

test('arrays: counts are checked against the remaining bytes before allocating', () => {
  const b = written((w) => w.array([1, 2, 3], writeElem.int32, 0));
  assert.deepEqual(new Reader(b).array(readElem.int32, 0, 4), [1, 2, 3]);
  assert.deepEqual(new Reader(hex('ffffffff')).nullableArray(readElem.int32, 0), null);
  assert.deepEqual(new Reader(hex('00')).compactNullableArray(readElem.int32, 0), null);
  assert.deepEqual(new Reader(hex('01')).compactArray(readElem.int32, 0), []);

  const huge = Buffer.concat([hex('7fffffff'), Buffer.alloc(12)]);
  const t0 = performance.now();
  assert.throws(() => new Reader(huge).array(readElem.int8, 0), {
    message: 'array length 2147483647 at offset 0 exceeds remaining 12 bytes',
  });
  assert.throws(() => new Reader(hex('ffffffff0f')).compactArray(readElem.int8, 0), codecError(/exceeds remaining/));
  assert.ok(performance.now() - t0 < 50, 'fails fast');
  // element size is taken into account: 4 int32 cannot fit in 12 bytes
  assert.throws(() => new Reader(Buffer.concat([hex('00000004'), Buffer.alloc(12)])).array(readElem.int32, 0, 4), codecError(/array length 4/));
  assert.throws(() => new Reader(hex('ffffffff')).array(readElem.int8, 0), codecError(/null array/));
  assert.throws(() => new Reader(hex('fffffffe')).nullableArray(readElem.int8, 0), codecError(/negative array length -2/));
  assert.throws(() => written((w) => w.array(null, writeElem.int8, 0)), KafkaCodecError);
});

test('tagged-field limits: a field cannot read past its declared size', () => {
  const r = new Reader(hex('02 0000 ff'));
  const outer = r.pushLimit(r.unsignedVarint());
  assert.equal(r.remaining(), 2);
  assert.throws(() => r.int32(), KafkaCodecError);
  r.popLimit(outer);
  assert.equal(r.remaining(), 1);
  assert.throws(() => new Reader(hex('05 00')).pushLimit(5), codecError(/tagged field size 5/));
  // skipTaggedFields: 2 fields (tag 0 size 1, tag 9 size 0), then one more byte
  const s = new Reader(hex('02 00 01 aa 09 00 77'));
  s.skipTaggedFields();
  assert.equal(s.int8(), 0x77);
});

test('Writer: growth, frames, size-prefixed sections', () => {
  const w = Writer.frame({ initialSize: 16 });
  for (let i = 0; i < 1000; i++) w.int32(i);
  const frame = w.finishFrame();
  assert.equal(frame.length, 4004);
  assert.equal(frame.readInt32BE(0), 4000);
  assert.equal(frame.readInt32BE(4 + 999 * 4), 999);
  assert.throws(() => new Writer().finishFrame(), KafkaCodecError);

  for (const size of [0, 1, 127, 128, 16383, 16384, 70000]) {
    const b = written((x) => {
      x.int8(7);
      const at = x.beginSized();
      x.raw(Buffer.alloc(size, 0xab));
      x.endSized(at);
      x.int8(8);
    });
    const r = new Reader(b);
    assert.equal(r.int8(), 7);
    assert.equal(r.unsignedVarint(), size);
    assert.ok(r.skip(size) === undefined && r.int8() === 8, `sized section of ${size}`);
    assert.equal(r.remaining(), 0);
  }
});

test('Writer: zero-copy records are referenced, and the output matches the copied one', () => {
  const big = Buffer.alloc(5000, 0x42);
  const small = Buffer.alloc(10, 0x43);
  const fill = (w: Writer) => {
    w.int16(1);
    w.records(big);
    w.records(small);
    w.compactRecords(big);
    w.records(null);
    for (let i = 0; i < 100; i++) w.int64(BigInt(i)); // forces growth after the chunks
  };
  const copied = Writer.frame({ initialSize: 16 });
  fill(copied);
  const zc = Writer.frame({ initialSize: 16, zeroCopyThreshold: 1000 });
  fill(zc);
  assert.equal(zc.length, copied.length);
  const chunks = zc.finishFrameChunks();
  assert.ok(chunks.includes(big), 'big records not copied');
  assert.equal(chunks.filter((c) => c === big).length, 2);
  const whole = copied.finishFrame();
  assert.deepEqual(Buffer.concat(chunks), whole);
  assert.equal(whole.readInt32BE(0), whole.length - 4);
  // records inside a size-prefixed section are always copied (the size must cover them)
  const inSized = new Writer({ zeroCopyThreshold: 1 });
  const at = inSized.beginSized();
  inSized.records(small);
  inSized.endSized(at);
  assert.equal(inSized.finishChunks().length, 1);
});

test('Writer: records given as several buffers are one records field, large parts referenced, bytes as if concatenated', () => {
  const a = Buffer.alloc(5000, 0x41);
  const b = Buffer.alloc(10, 0x42);
  const c = Buffer.alloc(3000, 0x43);
  const parts = Writer.frame({ initialSize: 16, zeroCopyThreshold: 1000 });
  parts.records([a, b, c]);
  parts.compactRecords([b, a]);
  parts.compactRecords([]);
  const one = Writer.frame({ initialSize: 16 });
  one.records(Buffer.concat([a, b, c]));
  one.compactRecords(Buffer.concat([b, a]));
  one.compactRecords(Buffer.alloc(0));
  const chunks = parts.finishFrameChunks();
  assert.equal(chunks.filter((x) => x === a).length, 2, 'the large part is referenced where it appears');
  assert.ok(chunks.includes(c));
  assert.ok(!chunks.includes(b), 'small parts are copied');
  assert.deepEqual(Buffer.concat(chunks), one.finishFrame());
});

test('Writer: bad values', () => {
  assert.throws(() => written((w) => w.uuid(Buffer.alloc(15))), KafkaCodecError);
  assert.throws(() => written((w) => w.compactBytes(null)), KafkaCodecError);
  assert.throws(() => written((w) => w.int16(40000)), RangeError);
});
