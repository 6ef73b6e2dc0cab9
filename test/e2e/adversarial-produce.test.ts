/**
 * Hostile Produce requests, as raw frames (the generated codec) against a live
 * gateway, on both storage engines: embedded, and storageEngine=pulsar on the
 * run's shared Pulsar broker with both entry formats. Every bad batch gets the
 * exact Kafka code (with record_errors / error_message where Kafka gives them),
 * nothing is stored (the high watermark does not move), and afterwards a real
 * Java consumer and kcat read the partition normally and a well-behaved Java
 * producer on the same gateway still works.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { RawClient } from '../helpers/raw-client.js';
import { toolTest, unavailable } from '../helpers/clients/gate.js';
import { JavaKafkaClient } from '../helpers/clients/java.js';
import { kcatConsume } from '../helpers/clients/kcat.js';
import { createNamespace, pulsarGatewayConfig, pulsarSkipReason, sharedPulsar, uniqueName } from '../helpers/pulsar.js';
import { decodeResponse, encodeRequest } from '../../src/protocol/codec/frame.js';
import { API_KEYS } from '../../src/protocol/generated/apis.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { BATCH_HEADER_SIZE, encodeBatchSync, encodeEndTxnMarker, updateCrc } from '../../src/protocol/records/index.js';
import { writeVarint } from '../../src/protocol/records/varint.js';

const HOUR = 3_600_000;
const PRODUCE_V = 9;

type Variant = { name: string; start: () => Promise<TestGateway> };

const pulsarSkip = pulsarSkipReason();
const variants: Variant[] = [{ name: 'embedded', start: () => startTestGateway() }];
for (const format of ['kafka', 'pulsar'] as const) {
  if (pulsarSkip) continue;
  variants.push({
    name: `pulsar/${format}`,
    start: async () => {
      const p = await sharedPulsar();
      const ns = await createNamespace(p, uniqueName(`adv-${format}`));
      return startTestGateway(pulsarGatewayConfig(p, ns, format));
    },
  });
}
if (pulsarSkip) test(`adversarial produce on storageEngine=pulsar [skipped: ${pulsarSkip}]`, { skip: pulsarSkip }, () => undefined);

// ---------------------------------------------------------------- batches

function good(values: string[], ts = Date.now()): Buffer {
  return encodeBatchSync({ records: values.map((v, i) => ({ key: `k-${v}`, value: v, timestamp: ts + i })) });
}

/** A batch header (from a real one) around hand-made record bytes, with a valid CRC. */
function rawBatch(records: Buffer, count: number, lastOffsetDelta = count - 1, patch?: (b: Buffer) => void): Buffer {
  const b = Buffer.concat([good(['x']).subarray(0, BATCH_HEADER_SIZE), records]);
  b.writeInt32BE(b.length - 12, 8);
  b.writeInt32BE(count, 57);
  b.writeInt32BE(lastOffsetDelta, 23);
  patch?.(b);
  updateCrc(b, 0);
  return b;
}

function rec(fields: number[]): Buffer {
  const body = Buffer.from(fields);
  const len = Buffer.alloc(5);
  return Buffer.concat([len.subarray(0, writeVarint(len, 0, body.length)), body]);
}
const OK_RECORD = (offsetDelta: number) => rec([0, 0, offsetDelta * 2, 1, 1, 0]);

interface BadCase {
  what: string;
  batch: () => Buffer;
  code: number;
  message: RegExp;
  /** record_errors batch indexes Kafka names (empty: a batch-level problem) */
  records: number[];
}

const BAD: BadCase[] = [
  {
    what: 'bad CRC',
    batch: () => {
      const b = good(['a', 'b']);
      b[b.length - 2]! ^= 0x40;
      return b;
    },
    code: ErrorCode.CORRUPT_MESSAGE,
    message: /corrupt/,
    records: [],
  },
  {
    what: 'valid CRC, a record that does not parse (key length past its end)',
    batch: () => rawBatch(Buffer.concat([OK_RECORD(0), rec([0, 0, 2, 40, 1, 0])]), 2),
    code: ErrorCode.INVALID_RECORD,
    message: /record 1: key length/,
    records: [1],
  },
  {
    what: 'varint too long (6-byte offset delta)',
    batch: () => rawBatch(rec([0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1, 1, 0]), 1),
    code: ErrorCode.INVALID_RECORD,
    message: /record 0: malformed/,
    records: [0],
  },
  {
    what: 'lastOffsetDelta 2^31-1 for one record (an offset jump of 2^31)',
    batch: () => encodeBatchSync({ records: [{ value: 'jump' }], lastOffsetDelta: 0x7fffffff }),
    code: ErrorCode.INVALID_RECORD,
    message: /inconsistent batch offset range \[0, 2147483647\] and record count 1/,
    records: [],
  },
  {
    what: 'gzip flag on records that are not compressed',
    batch: () => {
      const plain = good(['p', 'q']);
      plain.writeInt16BE(1, 21);
      updateCrc(plain, 0);
      return plain;
    },
    code: ErrorCode.INVALID_RECORD,
    message: /do not decompress/,
    records: [],
  },
  {
    what: 'control batch from a client',
    batch: () => encodeEndTxnMarker({ commit: true, coordinatorEpoch: 0, producerId: 7n, producerEpoch: 0 }),
    code: ErrorCode.INVALID_RECORD,
    message: /Clients are not allowed to write control records/,
    records: [],
  },
  {
    what: 'timestamps beyond message.timestamp.after.max.ms (1 h)',
    batch: () => encodeBatchSync({ records: [{ value: 'now', timestamp: BigInt(Date.now()) }, { value: 'future', timestamp: BigInt(Date.now() + 2 * HOUR) }] }),
    code: ErrorCode.INVALID_TIMESTAMP,
    message: /invalid timestamp/,
    records: [1],
  },
];

// ---------------------------------------------------------------- wire helpers

class Wire {
  private corr = 1;
  constructor(private readonly c: RawClient) {}

  static async open(port: number): Promise<Wire> {
    return new Wire(await RawClient.open(port));
  }

  async createTopic(name: string, configs: Record<string, string>): Promise<number> {
    const id = this.corr++;
    this.c.send(
      encodeRequest(API_KEYS.CreateTopics, 5, id, 'adversary', {
        topics: [{ name, numPartitions: 1, replicationFactor: -1, assignments: [], configs: Object.entries(configs).map(([n, value]) => ({ name: n, value })) }],
        timeoutMs: 30_000,
        validateOnly: false,
      }),
    );
    const r = decodeResponse((await this.c.next(30_000))!, API_KEYS.CreateTopics, 5);
    return r.body.topics[0]!.errorCode;
  }

  async produce(topic: string, batch: Buffer) {
    const id = this.corr++;
    this.c.send(
      encodeRequest(API_KEYS.Produce, PRODUCE_V, id, 'adversary', {
        transactionalId: null,
        acks: -1,
        timeoutMs: 30_000,
        topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }],
      }),
    );
    const frame = await this.c.next(30_000);
    assert.ok(frame, 'the gateway answers (the connection stays open)');
    return decodeResponse(frame, API_KEYS.Produce, PRODUCE_V).body.responses[0]!.partitionResponses[0]!;
  }

  async highWatermark(topic: string): Promise<bigint> {
    const id = this.corr++;
    this.c.send(
      encodeRequest(API_KEYS.ListOffsets, 5, id, 'adversary', {
        replicaId: -1,
        isolationLevel: 0,
        topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }] }],
        timeoutMs: 0,
      }),
    );
    const r = decodeResponse((await this.c.next(30_000))!, API_KEYS.ListOffsets, 5);
    const p = r.body.topics[0]!.partitions[0]!;
    assert.equal(p.errorCode, ErrorCode.NONE);
    return p.offset;
  }

  close(): void {
    this.c.close();
  }
}

// ---------------------------------------------------------------- tests

for (const variant of variants) describe(`adversarial produce, ${variant.name}`, () => {
  let g: TestGateway;
  let wire: Wire;
  const topic = `adversarial-${variant.name.replace('/', '-')}`;

  before(async () => {
    g = await variant.start();
    wire = await Wire.open(g.port);
    assert.equal(await wire.createTopic(topic, { 'message.timestamp.after.max.ms': String(HOUR) }), ErrorCode.NONE);
  });
  after(async () => {
    wire?.close();
    await g?.stop();
  });

  test(`${variant.name}: every bad batch gets Kafka's code and nothing is stored`, async () => {
    const first = await wire.produce(topic, good(['g0', 'g1', 'g2']));
    assert.equal(first.errorCode, ErrorCode.NONE, first.errorMessage ?? '');
    assert.equal(first.baseOffset, 0n);
    for (const bad of BAD) {
      const r = await wire.produce(topic, bad.batch());
      assert.equal(r.errorCode, bad.code, `${bad.what}: code ${r.errorCode} (${r.errorMessage})`);
      assert.match(r.errorMessage ?? '', bad.message, bad.what);
      assert.deepEqual(r.recordErrors.map((e) => e.batchIndex), bad.records, `${bad.what}: record_errors`);
      assert.equal(r.baseOffset, -1n, bad.what);
      assert.equal(await wire.highWatermark(topic), 3n, `${bad.what}: nothing stored`);
    }
    const next = await wire.produce(topic, good(['g3', 'g4', 'g5']));
    assert.equal(next.errorCode, ErrorCode.NONE, next.errorMessage ?? '');
    assert.equal(next.baseOffset, 3n, 'the next good batch follows the first: no offsets were taken');
  });

  toolTest(`${variant.name}: after the attack a Java consumer and kcat read the partition; a Java producer still works`, unavailable('java', 'kcat'), async () => {
    const java = new JavaKafkaClient({ bootstrap: g.bootstrap });
    const expected = ['g0', 'g1', 'g2', 'g3', 'g4', 'g5'];
    const got = await java.consume({ topic, partitions: [0], offset: 'beginning', maxRecords: 6, timeoutMs: 30_000 });
    assert.deepEqual(got.map((r) => r.valueText), expected);
    assert.deepEqual(got.map((r) => r.offset), [0, 1, 2, 3, 4, 5]);
    const k = await kcatConsume(g.bootstrap, topic, { partition: 0, offset: 'beginning', count: 6 });
    assert.deepEqual(k.map((r) => r.value), expected);
    const acked = await java.produce({ topic, partition: 0, records: [{ value: 'after-1' }, { value: 'after-2' }], acks: 'all' });
    assert.deepEqual(acked.map((a) => [a.error ?? null, a.offset]), [[null, 6], [null, 7]]);
    const all = await java.consume({ topic, partitions: [0], offset: 'beginning', maxRecords: 8, timeoutMs: 30_000 });
    assert.deepEqual(all.map((r) => r.valueText), [...expected, 'after-1', 'after-2']);
  }, { timeout: 180_000 });
});
