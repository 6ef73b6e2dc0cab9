/**
 * Seeded fuzz of the generated Pulsar protobuf codec: mutated encodings of
 * every message and random garbage either decode or throw PulsarProtoError
 * (never anything else), and whatever decodes re-encodes and decodes to the
 * same value. Set PULSAR_FUZZ_SEED to replay another seed, PULSAR_FUZZ_ROUNDS
 * for more rounds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PULSAR_CODECS, PULSAR_MESSAGES, PulsarProtoError, type ProtoCodec } from '../../src/pulsar/proto/index.js';
import { mutateBytes as mutate, sampleMessage, seededRandom as prng } from '../../src/pulsar/proto/sample.js';

const SEED = Number(process.env.PULSAR_FUZZ_SEED ?? 0x5eed);
const ROUNDS = Number(process.env.PULSAR_FUZZ_ROUNDS ?? 150);

const codecs = PULSAR_CODECS as Readonly<Record<string, ProtoCodec<unknown>>>;

function check(c: ProtoCodec<unknown>, input: Buffer, what: string): 'ok' | 'error' {
  let value: unknown;
  try {
    value = c.decode(input);
  } catch (e) {
    assert.ok(e instanceof PulsarProtoError, `${what}: ${String((e as Error)?.stack ?? e)}`);
    return 'error';
  }
  const again = c.encode(value); // whatever decodes is a valid value
  assert.deepEqual(c.decode(again), value, `${what}: re-encoding changed the value`);
  return 'ok';
}

test(`fuzz: mutated encodings of every message (seed ${SEED}, ${ROUNDS} rounds each)`, () => {
  const rnd = prng(SEED);
  let ok = 0;
  let errors = 0;
  for (const name of Object.keys(PULSAR_MESSAGES)) {
    const c = codecs[name]!;
    const base = c.encode(sampleMessage(name, 'full'));
    for (let i = 0; i < ROUNDS; i++) {
      let b = mutate(base, rnd);
      if (rnd() < 0.3) b = mutate(b, rnd);
      if (check(c, b, `${name} round ${i} ${b.toString('hex')}`) === 'ok') ok++;
      else errors++;
    }
  }
  assert.ok(ok > 1000 && errors > 1000, `ok ${ok}, errors ${errors}`);
});

test(`fuzz: random bytes into every decoder (seed ${SEED})`, () => {
  const rnd = prng(SEED + 1);
  for (const name of Object.keys(PULSAR_MESSAGES)) {
    const c = codecs[name]!;
    for (let i = 0; i < ROUNDS; i++) {
      const b = Buffer.from(Array.from({ length: Math.floor(rnd() * 40) }, () => Math.floor(rnd() * 256)));
      check(c, b, `${name} ${b.toString('hex')}`);
    }
  }
});
