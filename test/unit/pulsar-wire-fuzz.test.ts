/**
 * Seeded fuzz of the Pulsar frame codec: mutated frames (simple, SEND with and
 * without checksum, MESSAGE with broker entry metadata, batch payloads) either
 * decode or throw PulsarProtoError; random chunking never changes what the
 * splitter yields; a corrupted size prefix gives frames or PulsarFrameSizeError
 * only. PULSAR_FUZZ_SEED / PULSAR_FUZZ_ROUNDS as in pulsar-proto-fuzz.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BaseCommandType, PulsarProtoError, type BaseCommand } from '../../src/pulsar/proto/index.js';
import { mutateBytes, seededRandom } from '../../src/pulsar/proto/sample.js';
import {
  PulsarFrameSizeError,
  PulsarFrameSplitter,
  checksumMatches,
  connectCommand,
  decodeBatch,
  decodeFrame,
  decodeSizedFrame,
  encodeBatch,
  encodeCommand,
  encodePayloadCommand,
  lookupCommand,
  sendCommand,
  subscribeCommand,
} from '../../src/pulsar/wire/index.js';

const SEED = Number(process.env.PULSAR_FUZZ_SEED ?? 0x5eed);
const ROUNDS = Number(process.env.PULSAR_FUZZ_ROUNDS ?? 150) * 10;

const metadata = { producerName: 'fuzz-producer', sequenceId: 42n, publishTime: 1700000000000n, properties: [{ key: 'k', value: 'v' }] };
const message: BaseCommand = { type: BaseCommandType.MESSAGE, message: { consumerId: 1n, messageId: { ledgerId: 123456789n, entryId: 42n, partition: 3 } } };
const batch = encodeBatch([0, 1, 2, 3].map((i) => ({ metadata: { partitionKey: `key-${i}`, eventTime: BigInt(i) }, payload: Buffer.alloc(i * 5, i) })));

const FRAMES: Buffer[] = [
  encodeCommand(connectCommand({ clientVersion: 'fuzz', authMethodName: 'token', authData: Buffer.from('eyJhbGciOi'), featureFlags: { supportsAuthRefresh: true } })),
  encodeCommand(lookupCommand({ topic: 'persistent://public/default/t', requestId: 7n })),
  encodeCommand(subscribeCommand({ topic: 't', subscription: 's', subType: 1, consumerId: 2n, requestId: 3n, startMessageId: { ledgerId: 1n, entryId: 2n } })),
  encodePayloadCommand(sendCommand({ producerId: 1n, sequenceId: 42n }), metadata, Buffer.from('a payload of some length')),
  encodePayloadCommand(sendCommand({ producerId: 1n, sequenceId: 42n }), metadata, Buffer.from('no checksum'), { checksum: false }),
  encodePayloadCommand(message, { ...metadata, numMessagesInBatch: 4 }, batch, { brokerEntryMetadata: { brokerTimestamp: 1700000000001n, index: 99n } }),
];

function decodeOrCleanError(f: () => unknown, what: string): boolean {
  try {
    f();
    return true;
  } catch (e) {
    assert.ok(e instanceof PulsarProtoError, `${what}: ${String((e as Error)?.stack ?? e)}`);
    return false;
  }
}

test(`fuzz: mutated frames decode or throw PulsarProtoError (seed ${SEED})`, () => {
  const rnd = seededRandom(SEED);
  let ok = 0;
  let errors = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const base = FRAMES[i % FRAMES.length]!;
    let b = mutateBytes(base, rnd);
    if (rnd() < 0.3) b = mutateBytes(b, rnd);
    const what = `round ${i} ${b.toString('hex')}`;
    const verify = rnd() < 0.5;
    const good = decodeOrCleanError(() => {
      const { message: m } = rnd() < 0.5 ? decodeSizedFrame(b, { verifyChecksum: verify }) : decodeFrame(b.subarray(4), { verifyChecksum: verify });
      if (m) {
        checksumMatches(m);
        if (m.metadata.numMessagesInBatch !== undefined) decodeBatch(m.payload, m.metadata.numMessagesInBatch);
      }
    }, what);
    if (good) ok++;
    else errors++;
  }
  assert.ok(ok > ROUNDS / 20 && errors > ROUNDS / 4, `ok ${ok}, errors ${errors}`);
});

test(`fuzz: mutated batch payloads with any message count (seed ${SEED})`, () => {
  const rnd = seededRandom(SEED + 2);
  for (let i = 0; i < ROUNDS; i++) {
    const b = mutateBytes(batch, rnd);
    const n = Math.floor(rnd() * 8) - 1;
    decodeOrCleanError(() => decodeBatch(b, n), `round ${i} n ${n} ${b.toString('hex')}`);
  }
});

test(`fuzz: the splitter yields the same frames whatever the chunking (seed ${SEED})`, () => {
  const rnd = seededRandom(SEED + 3);
  const stream = Buffer.concat(FRAMES.concat(FRAMES));
  for (let i = 0; i < ROUNDS / 10; i++) {
    const s = new PulsarFrameSplitter();
    const out: Buffer[] = [];
    for (let at = 0; at < stream.length; ) {
      const n = 1 + Math.floor(rnd() * 64);
      out.push(...s.push(stream.subarray(at, at + n)));
      at += n;
    }
    assert.equal(out.length, FRAMES.length * 2);
    out.forEach((f, k) => assert.ok(f.equals(FRAMES[k % FRAMES.length]!.subarray(4))));
    for (const f of out) decodeFrame(f);
  }
});

test(`fuzz: a corrupted stream gives frames or a clean framing error (seed ${SEED})`, () => {
  const rnd = seededRandom(SEED + 4);
  const stream = Buffer.concat(FRAMES);
  for (let i = 0; i < ROUNDS / 5; i++) {
    const b = mutateBytes(stream, rnd);
    const s = new PulsarFrameSplitter(4096);
    try {
      for (let at = 0; at < b.length; at += 37) for (const f of s.push(b.subarray(at, at + 37))) decodeOrCleanError(() => decodeFrame(f), `round ${i}`);
    } catch (e) {
      assert.ok(e instanceof PulsarFrameSizeError, `round ${i}: ${String(e)}`);
    }
  }
});
