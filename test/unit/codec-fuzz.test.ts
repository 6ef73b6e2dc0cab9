/**
 * Property / fuzz tests over the generated codecs with a seeded PRNG
 * (set CODEC_FUZZ_SEED to reproduce or vary a run):
 *  - every truncation of a valid encoding throws KafkaCodecError;
 *  - random bytes and random mutations either decode or throw KafkaCodecError,
 *    never RangeError/TypeError, and every decode stays fast (no huge allocation).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaCodecError } from '../../src/protocol/codec/errors.js';
import { decodeRequest } from '../../src/protocol/codec/frame.js';
import { Reader } from '../../src/protocol/codec/reader.js';
import { Writer } from '../../src/protocol/codec/writer.js';
import { sampleMessage } from '../../src/protocol/codec/sample.js';
import type { MessageCodec, MessageSchema } from '../../src/protocol/codec/types.js';
import * as generated from '../../src/protocol/generated/index.js';
import { API_KEYS, SCHEMAS } from '../../src/protocol/generated/index.js';
import { prng } from '../helpers/prng.js';

const SEED = Number(process.env.CODEC_FUZZ_SEED ?? 0x5eed);
const codecs = generated as unknown as Record<string, MessageCodec<unknown>>;


function encode(codec: MessageCodec<unknown>, version: number, value: unknown): Buffer {
  const w = new Writer();
  codec.encode(w, version, value);
  return Buffer.from(w.finish());
}

/** Decodes; returns true on success, false on KafkaCodecError; any other error fails the test. */
function tryDecode(codec: MessageCodec<unknown>, version: number, bytes: Buffer, what: string): boolean {
  const t0 = performance.now();
  try {
    const value = codec.decode(new Reader(bytes), version);
    // a decoded value must be encodable again (e.g. no out-of-range numbers)
    try {
      encode(codec, version, value);
    } catch (e) {
      if (!(e instanceof KafkaCodecError)) throw e; // e.g. a replaced invalid UTF-8 sequence grown past 32767 bytes
    }
    return true;
  } catch (e) {
    if (e instanceof KafkaCodecError) return false;
    throw new Error(`${what}: unexpected ${(e as Error)?.name}: ${(e as Error)?.message} (seed ${SEED}, bytes ${bytes.toString('hex')})`);
  } finally {
    const ms = performance.now() - t0;
    if (ms > 250) assert.fail(`${what}: decode took ${ms.toFixed(0)} ms (seed ${SEED})`);
  }
}

/** Lowest, first flexible and highest version of a message. */
function sampleVersions(s: MessageSchema): number[] {
  const [lo, hi] = s.validVersions;
  const out = new Set([lo, hi]);
  if (s.flexibleVersions && s.flexibleVersions[0] > lo) out.add(s.flexibleVersions[0]).add(s.flexibleVersions[0] - 1);
  return [...out].sort((a, b) => a - b);
}

const messages = Object.values(SCHEMAS).filter((s) => s.type !== 'data');

test('every truncation of a valid encoding throws KafkaCodecError', () => {
  let truncations = 0;
  for (const s of messages) {
    const codec = codecs[s.name]!;
    for (const v of sampleVersions(s)) {
      for (const mode of ['values', 'nulls'] as const) {
        const bytes = encode(codec, v, sampleMessage(s, v, mode, 1));
        for (let n = 0; n < bytes.length; n++) {
          const what = `${s.name} v${v} ${mode} truncated to ${n}/${bytes.length}`;
          assert.equal(tryDecode(codec, v, bytes.subarray(0, n), what), false, `${what} decoded without error`);
          truncations++;
        }
      }
    }
  }
  assert.ok(truncations > 30_000, `only ${truncations} truncations`);
});

test('random bytes and mutations: decode or KafkaCodecError, never anything else', () => {
  const rnd = prng(SEED);
  const byte = () => Math.floor(rnd() * 256);
  const interesting = [0x00, 0x01, 0x7f, 0x80, 0xff];
  let decoded = 0;
  let rejected = 0;
  const t0 = performance.now();
  for (const s of messages) {
    const codec = codecs[s.name]!;
    for (const v of sampleVersions(s)) {
      const valid = encode(codec, v, sampleMessage(s, v, 'values', 2));
      const what = `${s.name} v${v}`;
      for (let i = 0; i < 300; i++) {
        // random strings, biased to short and to "interesting" bytes
        const len = Math.floor(rnd() * 48);
        const b = Buffer.alloc(len);
        for (let k = 0; k < len; k++) b[k] = rnd() < 0.3 ? interesting[Math.floor(rnd() * interesting.length)]! : byte();
        tryDecode(codec, v, b, `${what} random ${b.toString('hex')}`) ? decoded++ : rejected++;
      }
      if (valid.length === 0) continue;
      for (let i = 0; i < 700; i++) {
        // 1-3 mutated bytes of a valid encoding
        const b = Buffer.from(valid);
        const count = 1 + Math.floor(rnd() * 3);
        for (let k = 0; k < count; k++) b[Math.floor(rnd() * b.length)] = rnd() < 0.5 ? interesting[Math.floor(rnd() * 5)]! : byte();
        tryDecode(codec, v, b, `${what} mutated`) ? decoded++ : rejected++;
      }
    }
  }
  assert.ok(decoded > 1000 && rejected > 10_000, `decoded ${decoded}, rejected ${rejected}`);
  assert.ok(performance.now() - t0 < 20_000, 'fuzz loop stayed fast');
});

test('random request frames through decodeRequest: only KafkaCodecError (incl. UnsupportedVersionError)', () => {
  const rnd = prng(SEED + 1);
  const keys = Object.values(API_KEYS);
  for (let i = 0; i < 20_000; i++) {
    const len = 8 + Math.floor(rnd() * 40);
    const b = Buffer.alloc(len);
    for (let k = 0; k < len; k++) b[k] = Math.floor(rnd() * 256);
    // half of them with a real apiKey and a plausible version
    if (rnd() < 0.5) {
      b.writeInt16BE(keys[Math.floor(rnd() * keys.length)]!, 0);
      b.writeInt16BE(Math.floor(rnd() * 18), 2);
    }
    try {
      decodeRequest(b);
    } catch (e) {
      if (!(e instanceof KafkaCodecError)) assert.fail(`frame ${b.toString('hex')}: ${(e as Error).name}: ${(e as Error).message}`);
    }
  }
});

test('a frame claiming 2^31-1 array elements fails fast', () => {
  // MetadataRequest v1 body: topics count 0x7fffffff, then a few bytes
  const header = Buffer.from('00030001000000010000', 'hex');
  const frame = Buffer.concat([header, Buffer.from('7fffffff', 'hex'), Buffer.alloc(12)]);
  const t0 = performance.now();
  assert.throws(() => decodeRequest(frame), /array length 2147483647 at offset 10 exceeds remaining 12 bytes/);
  assert.ok(performance.now() - t0 < 20);
});
