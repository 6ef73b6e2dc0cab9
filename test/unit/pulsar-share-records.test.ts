/**
 * The Pulsar engine's share-group records side (src/storage/pulsar/share-records.ts) against the
 * run's shared broker, without a gateway: entries written by a plain Pulsar producer are acquired
 * with their broker-entry-index offsets, acks reach the Shared subscription `share:<group>`, and
 * an upgrade (a start offset stored by the gateway's own share-partition) creates the
 * subscription at that offset's entry instead of at share.auto.offset.reset; the administration
 * (AlterShareGroupOffsets: reset-cursor to an offset's entry, latest, earliest creating a deleted
 * subscription; DeleteShareGroupOffsets: the subscription deleted).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createPulsarClient } from '../../src/pulsar/client/index.js';
import type { MessageId, PulsarClient } from '../../src/pulsar/client/types.js';
import { createPulsarAdmin, type PulsarAdminClient } from '../../src/pulsar/admin/index.js';
import { PulsarShareRecords } from '../../src/storage/pulsar/share-records.js';
import { silentEngineLogger } from '../../src/storage/logger.js';
import { newRecordCounts } from '../../src/share/partition.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import type { ShareReadContext } from '../../src/share/records.js';
import { createNamespace, pulsarSkipReason, sharedPulsar, uniqueName, type SharedPulsar } from '../helpers/pulsar.js';

const skip = pulsarSkipReason();
const SETTINGS = { lockDurationMs: 5000, deliveryCountLimit: 5, maxInFlight: 100, autoOffsetReset: 'earliest' as const };
// fetch only asks whether the client went away; offsets() is not called here
const rc = { storage: {} as ShareReadContext['storage'], principal: null, isClosed: () => false };

describe('Pulsar share records (Shared subscriptions) against a real broker', { skip }, () => {
  let p: SharedPulsar;
  let ns: string;
  let client: PulsarClient;
  let admin: PulsarAdminClient;

  before(async () => {
    p = await sharedPulsar();
    ns = await createNamespace(p, uniqueName('share-records'));
    client = createPulsarClient({ serviceUrl: p.serviceUrl, auth: { method: 'token', token: () => p.adminToken }, operationTimeoutMs: 15_000 });
    admin = createPulsarAdmin({ webServiceUrl: p.webUrl, token: () => p.adminToken, timeoutMs: 15_000 });
  });

  after(async () => {
    await client?.close();
    admin?.close();
  });

  /** A one-partition topic with `n` plain Pulsar messages (one entry each); their positions. */
  async function topicWith(n: number): Promise<{ topic: string; ids: MessageId[] }> {
    const topic = `persistent://${ns}/t-${Math.random().toString(36).slice(2, 8)}`;
    const r = await p.rest('PUT', `/admin/v2/${topic.replace('://', '/')}/partitions`, 1);
    assert.equal(r.status, 204, r.text);
    const producer = await client.createProducer({ topic: `${topic}-partition-0` });
    const ids: MessageId[] = [];
    for (let i = 0; i < n; i++) ids.push((await producer.send({ payload: Buffer.from(`m${i}`) })).messageId);
    await producer.close();
    return { topic, ids };
  }

  const records = (ids: MessageId[], storedStart: bigint | null) =>
    new PulsarShareRecords({
      client,
      admin,
      nodeId: 7,
      logger: silentEngineLogger,
      settings: () => SETTINGS,
      counts: newRecordCounts(),
      storedStart: () => storedStart,
      positionOf: async (_topic, offset) => ids[Number(offset)] ?? null,
    });

  test('acquire with broker-index offsets, accept: the Shared subscription share:<group> has no backlog', async () => {
    const { topic, ids } = await topicWith(3);
    const r = records(ids, null);
    const key = { tenant: 'public', groupId: 'g1' };
    const target = { topic, partition: 0, topicId: Buffer.alloc(16) };
    try {
      const got = await r.fetch(key, 'm', [target], { maxRecords: 10, maxBytes: 1 << 20, maxWaitMs: 10_000 }, rc);
      assert.equal(got[0]!.errorCode, ErrorCode.NONE, got[0]!.errorMessage ?? '');
      let acquired = got[0]!.acquired.map((a) => [Number(a.firstOffset), Number(a.lastOffset), a.deliveryCount]);
      // entries may arrive over more than one fetch
      while (acquired.length < 3) {
        const more = await r.fetch(key, 'm', [target], { maxRecords: 10, maxBytes: 1 << 20, maxWaitMs: 5_000 }, rc);
        if (more[0]!.acquired.length === 0) break;
        acquired = [...acquired, ...more[0]!.acquired.map((a) => [Number(a.firstOffset), Number(a.lastOffset), a.deliveryCount])];
      }
      assert.deepEqual(acquired, [
        [0, 0, 1],
        [1, 1, 1],
        [2, 2, 1],
      ]);
      assert.deepEqual(await r.acknowledge(key, 'other', [{ target, batches: [{ firstOffset: 0n, lastOffset: 0n, acknowledgeTypes: [1] }] }], false), [ErrorCode.INVALID_RECORD_STATE]);
      assert.deepEqual(await r.acknowledge(key, 'm', [{ target, batches: [{ firstOffset: 0n, lastOffset: 2n, acknowledgeTypes: [1] }] }], false), [ErrorCode.NONE]);
      const stats = JSON.parse((await p.rest('GET', `/admin/v2/${topic.replace('://', '/')}-partition-0/stats`)).text) as { subscriptions: Record<string, { msgBacklog: number; type: string }> };
      assert.equal(stats.subscriptions['share:g1']?.type, 'Shared');
      assert.equal(stats.subscriptions['share:g1']?.msgBacklog, 0);
    } finally {
      await r.close();
    }
  });

  test('an upgrade: the subscription is created at the stored share-partition start offset', async () => {
    const { topic, ids } = await topicWith(5);
    const r = records(ids, 3n);
    const key = { tenant: 'public', groupId: 'g2' };
    const target = { topic, partition: 0, topicId: Buffer.alloc(16) };
    try {
      const offsets: number[] = [];
      for (let i = 0; i < 3 && offsets.length < 2; i++) {
        const got = await r.fetch(key, 'm', [target], { maxRecords: 10, maxBytes: 1 << 20, maxWaitMs: 5_000 }, rc);
        assert.equal(got[0]!.errorCode, ErrorCode.NONE, got[0]!.errorMessage ?? '');
        for (const a of got[0]!.acquired) for (let o = a.firstOffset; o <= a.lastOffset; o++) offsets.push(Number(o));
      }
      assert.deepEqual(offsets, [3, 4], 'starts at the stored offset, not at the earliest');
    } finally {
      await r.close();
    }
  });

  test('administration: the subscription reset to an offset, to latest, deleted, created again at earliest', async () => {
    const { topic, ids } = await topicWith(5);
    const r = records(ids, null);
    const key = { tenant: 'public', groupId: 'g3' };
    const target = { topic, partition: 0, topicId: Buffer.alloc(16) };
    // the log as the engine's offsets() says (five plain entries: offsets 0-4)
    const admin5 = { storage: { offsets: async () => ({ logStartOffset: 0n, highWatermark: 5n, lastStableOffset: 5n }) } as unknown as ShareReadContext['storage'] };
    const fetchAll = async (maxWaitMs: number): Promise<number[]> => {
      const offsets: number[] = [];
      for (let i = 0; i < 5; i++) {
        const got = await r.fetch(key, 'm', [target], { maxRecords: 10, maxBytes: 1 << 20, maxWaitMs }, rc);
        assert.equal(got[0]!.errorCode, ErrorCode.NONE, got[0]!.errorMessage ?? '');
        if (got[0]!.acquired.length === 0) break;
        for (const a of got[0]!.acquired) for (let o = a.firstOffset; o <= a.lastOffset; o++) offsets.push(Number(o));
        const last = got[0]!.acquired[got[0]!.acquired.length - 1]!.lastOffset;
        assert.deepEqual(await r.acknowledge(key, 'm', [{ target, batches: [{ firstOffset: got[0]!.acquired[0]!.firstOffset, lastOffset: last, acknowledgeTypes: [1] }] }], false), [ErrorCode.NONE]);
        if (offsets.length >= 5) break;
      }
      return offsets;
    };
    const subscriptions = async (): Promise<string[]> => JSON.parse((await p.rest('GET', `/admin/v2/${topic.replace('://', '/')}-partition-0/subscriptions`)).text) as string[];
    try {
      assert.deepEqual(await fetchAll(10_000), [0, 1, 2, 3, 4]);
      assert.deepEqual(await r.resetStart(key, [{ target, startOffset: 2n }], admin5), [ErrorCode.NONE]);
      assert.deepEqual(await fetchAll(10_000), [2, 3, 4], 'delivered again from the reset offset');
      assert.deepEqual(await r.resetStart(key, [{ target, startOffset: 5n }], admin5), [ErrorCode.NONE]);
      assert.deepEqual(await fetchAll(1_000), [], 'latest: nothing to deliver');
      assert.deepEqual(await r.deleteOffsets(key, [{ topic, partitions: 1 }]), [ErrorCode.NONE]);
      assert.ok(!(await subscriptions()).includes('share:g3'));
      assert.deepEqual(await r.deleteOffsets(key, [{ topic, partitions: 1 }]), [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION], 'nothing left to delete');
      assert.deepEqual(await r.resetStart(key, [{ target, startOffset: 0n }], admin5), [ErrorCode.NONE]);
      assert.ok((await subscriptions()).includes('share:g3'), 'created by the reset');
      assert.deepEqual(await fetchAll(10_000), [0, 1, 2, 3, 4]);
    } finally {
      await r.close();
    }
  });
});
