/**
 * Byte-rate quotas on the wire: a producer over quotaProducerByteRate gets
 * throttle_time_ms in its Produce response and the gateway reads nothing more
 * from that connection for that long (Kafka's muted channel); a fetch over
 * quotaConsumerByteRate returns no data, only the time to back off.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway } from '../helpers/gateway.js';
import { RawClient } from '../helpers/raw-client.js';
import { encodeRequest, decodeResponse } from '../../src/protocol/codec/frame.js';
import { API_KEYS } from '../../src/protocol/generated/apis.js';
import { ApiVersionsRequest, FetchRequest, MetadataRequest } from '../../src/protocol/generated/index.js';
import { encodeBatchSync } from '../../src/protocol/records/index.js';
import { ErrorCode } from '../../src/protocol/errors.js';

function produceFrame(correlationId: number, topic: string, bytes: number): Buffer {
  const batch = encodeBatchSync({ records: [{ value: Buffer.alloc(bytes, 1) }] });
  return encodeRequest(API_KEYS.Produce, 9, correlationId, 'quota-test', {
    transactionalId: null,
    acks: 1,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }],
  });
}

test('produce above quotaProducerByteRate: throttle_time_ms, then the connection is muted that long', async () => {
  const g = await startTestGateway({ quotaProducerByteRate: 20_000 });
  try {
    const c = await RawClient.open(g.port);
    c.send(encodeRequest(API_KEYS.Metadata, 9, 1, 'quota-test', { ...MetadataRequest.defaults(), topics: [{ topicId: Buffer.alloc(16), name: 'quota-t' }] }));
    await c.next();
    c.send(produceFrame(2, 'quota-t', 1_000));
    const small = decodeResponse((await c.next())!, API_KEYS.Produce, 9);
    assert.equal(small.body.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NONE);
    assert.equal(small.body.throttleTimeMs, 0, 'under the quota: no throttle');

    c.send(produceFrame(3, 'quota-t', 400_000));
    const big = decodeResponse((await c.next())!, API_KEYS.Produce, 9);
    assert.equal(big.body.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NONE, 'the data is still accepted');
    const throttle = big.body.throttleTimeMs;
    assert.ok(throttle > 1000, `throttled (${throttle} ms)`);

    const t0 = Date.now();
    c.send(encodeRequest(API_KEYS.ApiVersions, 0, 4, 'quota-test', ApiVersionsRequest.defaults()));
    assert.ok(await c.next(throttle + 5000));
    assert.ok(Date.now() - t0 >= throttle - 100, `muted for ${Date.now() - t0} ms of ${throttle}`);
    c.close();
  } finally {
    await g.stop();
  }
});

test('fetch above quotaConsumerByteRate: the next fetch returns no data and the time to back off', async () => {
  const g = await startTestGateway({ quotaConsumerByteRate: 20_000 });
  try {
    const c = await RawClient.open(g.port);
    c.send(encodeRequest(API_KEYS.Metadata, 9, 1, 'quota-test', { ...MetadataRequest.defaults(), topics: [{ topicId: Buffer.alloc(16), name: 'quota-f' }] }));
    await c.next();
    c.send(produceFrame(2, 'quota-f', 300_000));
    await c.next();
    const fetch = (id: number) =>
      encodeRequest(API_KEYS.Fetch, 11, id, 'quota-test', {
        ...FetchRequest.defaults(),
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1 << 20,
        topics: [{ topic: 'quota-f', topicId: Buffer.alloc(16), partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20, replicaDirectoryId: Buffer.alloc(16) }] }],
      });
    c.send(fetch(3));
    const first = decodeResponse((await c.next())!, API_KEYS.Fetch, 11);
    assert.ok(first.body.responses[0]!.partitions[0]!.records!.length > 250_000, 'the first fetch gets the data');
    assert.ok(first.body.throttleTimeMs > 1000, `and a throttle (${first.body.throttleTimeMs} ms)`);
    c.send(fetch(4));
    const second = decodeResponse((await c.next(30_000))!, API_KEYS.Fetch, 11);
    assert.deepEqual(second.body.responses, [], 'still over the quota: no data');
    assert.ok(second.body.throttleTimeMs > 0);
    c.close();
  } finally {
    await g.stop();
  }
});
