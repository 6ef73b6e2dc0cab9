/**
 * The Pulsar binary-protocol client (src/pulsar/client/) against the run's
 * real Pulsar standalone broker (token auth, authorization, broker entry
 * metadata, proxy role `proxy`): connect and auth, lookup and partitioned
 * metadata, producing and reading whole entries, start positions (inclusive
 * and exclusive), the broker entry index, seeks, durable subscriptions with
 * acks, last message ids, proxy-role forwarding, exclusive producers, and
 * reconnects with resends (no loss, no duplicates).
 *
 * Facts about the broker (3.0.7) these tests pin down:
 * - a non-durable SUBSCRIBE with start_message_id delivers that entry itself,
 *   whether batch_index is absent, -1, 0 or 1 (the broker always steps back one
 *   entry); exclusive starts are the client's job;
 * - SEEK answers SUCCESS after sending CLOSE_CONSUMER; the subscription (also a
 *   non-durable one) keeps the reset cursor and the next entry is the target;
 * - BrokerEntryMetadata.index is the index of the entry's LAST message,
 *   counting from 0: a first entry of 1 message has index 0, a following entry
 *   with num_messages_in_batch=5 has index 5 more than its predecessor.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createPulsarClient, PulsarClientError, type PulsarClientImpl } from '../../src/pulsar/client/index.js';
import type { Consumer, MessageId, PulsarClient, ReceivedEntry } from '../../src/pulsar/client/types.js';
import { Connection } from '../../src/pulsar/client/connection.js';
import { encodeCommand, flowCommand, partitionedMetadataCommand, subscribeCommand } from '../../src/pulsar/wire/index.js';
import { BaseCommandType } from '../../src/pulsar/proto/index.js';
import { createNamespace, pulsarSkipReason, sharedPulsar, uniqueName, type SharedPulsar } from '../helpers/pulsar.js';

const skip = pulsarSkipReason();

async function drain(c: Consumer, idleMs = 500): Promise<ReceivedEntry[]> {
  const out: ReceivedEntry[] = [];
  for (;;) {
    const e = await c.receive(idleMs);
    if (!e) return out;
    out.push(e);
  }
}

async function receiveN(c: Consumer, n: number, timeoutMs = 10_000): Promise<ReceivedEntry[]> {
  const out: ReceivedEntry[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n) {
    const e = await c.receive(Math.max(1, deadline - Date.now()));
    if (!e) break;
    out.push(e);
  }
  return out;
}

const text = (es: ReceivedEntry[]) => es.map((e) => e.payload.toString());

if (skip) {
  test(`Pulsar client [skipped: ${skip}]`, { skip }, () => undefined);
} else {
  describe('Pulsar client against a real broker', () => {
    let p: SharedPulsar;
    let ns: string;
    let client: PulsarClient;
    const clients: PulsarClient[] = [];
    let n = 0;
    const topic = (name = 't') => `persistent://${ns}/${name}-${n++}`;
    const newClient = (extra: Partial<Parameters<typeof createPulsarClient>[0]> = {}): PulsarClient => {
      const c = createPulsarClient({ serviceUrl: p.serviceUrl, auth: { method: 'token', token: () => p.adminToken }, operationTimeoutMs: 15_000, ...extra });
      clients.push(c);
      return c;
    };

    before(async () => {
      p = await sharedPulsar();
      ns = await createNamespace(p, uniqueName('client'));
      const r = await p.rest('POST', `/admin/v2/namespaces/${ns}/deduplication`, true);
      assert.equal(r.status, 204, r.text);
      client = newClient();
    });

    after(async () => {
      await Promise.allSettled(clients.map((c) => c.close()));
    });

    test('connects with a valid token; a bad token is refused with a clear AuthenticationError', async () => {
      assert.equal(await client.getPartitionedTopicMetadata(topic()), 0);
      assert.ok(client.openConnections >= 1);
      const bad = newClient({ auth: { method: 'token', token: () => 'not-a-jwt' } });
      await assert.rejects(bad.getPartitionedTopicMetadata(topic()), (e: unknown) => {
        assert.ok(e instanceof PulsarClientError, String(e));
        assert.equal(e.serverError, 'AuthenticationError');
        assert.equal(e.retriable, false);
        assert.match(e.message, /connect to pulsar:\/\/.*AuthenticationError/);
        return true;
      });
      assert.equal(bad.openConnections, 0);
      const none = newClient({ auth: { method: 'none' } });
      await assert.rejects(none.getPartitionedTopicMetadata(topic()), (e: unknown) => e instanceof PulsarClientError && e.serverError === 'AuthenticationError');
    });

    test('the token supplier is called on every connect', async () => {
      let calls = 0;
      const c = newClient({ auth: { method: 'token', token: async () => (calls++, p.adminToken) } });
      await c.getPartitionedTopicMetadata(topic());
      assert.equal(calls, 1);
      (c as PulsarClientImpl).closeConnections();
      await c.getPartitionedTopicMetadata(topic());
      assert.equal(calls, 2);
    });

    test('several hosts in the service URL: a dead one is skipped', async () => {
      const dead = net.createServer();
      await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
      const deadPort = (dead.address() as net.AddressInfo).port;
      await new Promise<void>((r) => dead.close(() => r()));
      const c = newClient({ serviceUrl: `pulsar://127.0.0.1:${deadPort},${p.serviceUrl.replace('pulsar://', '')}` });
      assert.equal(await c.getPartitionedTopicMetadata(topic()), 0);
    });

    test('a server that never answers CONNECT: retriable Timeout after connectionTimeoutMs', async () => {
      const silent = net.createServer(() => undefined);
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      try {
        const port = (silent.address() as net.AddressInfo).port;
        const c = newClient({ serviceUrl: `pulsar://127.0.0.1:${port}`, connectionTimeoutMs: 300, operationTimeoutMs: 200 });
        const t0 = Date.now();
        await assert.rejects(c.getPartitionedTopicMetadata(topic()), (e: unknown) => e instanceof PulsarClientError && e.serverError === 'Timeout' && e.retriable);
        assert.ok(Date.now() - t0 >= 290);
      } finally {
        silent.close();
      }
    });

    test('partitioned metadata (missing topic = 0, partitioned = its count) and lookup', async () => {
      const pt = topic('part');
      const r = await p.rest('PUT', `/admin/v2/persistent/${pt.slice('persistent://'.length)}/partitions`, 3);
      assert.equal(r.status, 204, r.text);
      assert.equal(await client.getPartitionedTopicMetadata(pt), 3);
      assert.equal(await client.getPartitionedTopicMetadata(topic('missing')), 0);
      const l = await client.lookup(`${pt}-partition-1`);
      assert.equal(l.brokerUrl, p.serviceUrl);
      await assert.rejects(client.lookup('persistent://no-such-tenant/x/y'), (e: unknown) => e instanceof PulsarClientError && e.retriable === false);
    });

    test('produce entries, read them back from earliest; broker entry index = last message index, from 0', async () => {
      const t = topic();
      const name = `p-${n}`;
      const prod = await client.createProducer({ topic: t, producerName: name, properties: { who: 'test' } });
      assert.equal(prod.lastSequenceIdPublished, -1n);
      assert.equal(prod.connected, true);
      const sizes = [1, 5, 1, 3, 1];
      const receipts = [];
      for (let i = 0; i < sizes.length; i++) {
        receipts.push(await prod.send({ payload: Buffer.from(`e${i}`), metadata: { numMessagesInBatch: sizes[i]!, properties: [{ key: 'i', value: String(i) }] } }));
      }
      assert.deepEqual(
        receipts.map((r) => r.sequenceId),
        [0n, 1n, 2n, 3n, 4n],
      );
      const reader = await client.subscribe({ topic: t, subscription: 'r', durable: false, initialPosition: 'Earliest' });
      const got = await receiveN(reader, 5);
      assert.deepEqual(text(got), ['e0', 'e1', 'e2', 'e3', 'e4']);
      assert.deepEqual(
        got.map((e) => [e.messageId.ledgerId, e.messageId.entryId]),
        receipts.map((r) => [r.messageId.ledgerId, r.messageId.entryId]),
      );
      assert.deepEqual(
        got.map((e) => e.brokerEntryMetadata?.index),
        [0n, 5n, 6n, 9n, 10n],
      );
      for (let i = 1; i < got.length; i++) {
        assert.equal(got[i]!.brokerEntryMetadata!.index! - got[i - 1]!.brokerEntryMetadata!.index!, BigInt(sizes[i]!));
      }
      assert.ok(got.every((e) => (e.brokerEntryMetadata?.brokerTimestamp ?? 0n) > 0n));
      assert.deepEqual(
        got.map((e) => [e.metadata.producerName, e.metadata.sequenceId, e.metadata.numMessagesInBatch, e.metadata.properties?.[0]?.value]),
        got.map((_, i) => [name, BigInt(i), sizes[i], String(i)]),
      );
      assert.equal(await reader.receive(200), null);
      await reader.close();
      await prod.close();
      assert.equal(await prod.closed, null);
      await assert.rejects(prod.send({ payload: Buffer.from('x') }), (e: unknown) => e instanceof PulsarClientError && e.serverError === 'Closed');
    });

    test('the broker delivers a non-durable start_message_id entry itself, with or without batch_index', async () => {
      const t = topic();
      const prod = await client.createProducer({ topic: t });
      const ids: MessageId[] = [];
      for (let i = 0; i < 4; i++) ids.push((await prod.send({ payload: Buffer.from(`m${i}`), ...(i === 1 ? { metadata: { numMessagesInBatch: 3 } } : {}) })).messageId);
      const [host, port] = p.serviceUrl.replace('pulsar://', '').split(':');
      const logger = { debug() {}, info() {}, warn() {}, error() {} };
      const cnx = await Connection.open({ host: { host: host!, port: Number(port) }, tls: false, auth: { method: 'token', token: () => p.adminToken }, connectionTimeoutMs: 5000, keepAliveIntervalMs: 30_000, operationTimeoutMs: 5000, logger });
      try {
        let id = 1_000_000n;
        const firstFrom = async (batchIndex: number | undefined): Promise<string> => {
          const consumerId = id++;
          const requestId = id++;
          const got: string[] = [];
          cnx.registerConsumer(consumerId, { onMessage: (_c, pl) => void got.push(pl!.payload.toString()), onBrokerClose() {}, onConnectionClosed() {} });
          const start = { ledgerId: ids[1]!.ledgerId, entryId: ids[1]!.entryId, ...(batchIndex !== undefined ? { batchIndex } : {}) };
          await cnx.request(requestId, subscribeCommand({ topic: t, subscription: `raw-${consumerId}`, subType: 0, consumerId, requestId, durable: false, startMessageId: start }), { what: 'subscribe' });
          cnx.send(flowCommand({ consumerId, messagePermits: 100 }));
          const deadline = Date.now() + 5000;
          while (got.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
          return got.join(',');
        };
        for (const bi of [undefined, -1, 0, 1]) assert.equal(await firstFrom(bi), 'm1,m2,m3', `batch_index ${bi}`);
      } finally {
        cnx.close();
      }
      await prod.close();
    });

    test('readers: inclusive and exclusive start ids, Latest, and a start past the end', async () => {
      const t = topic();
      const prod = await client.createProducer({ topic: t });
      const ids: MessageId[] = [];
      for (let i = 0; i < 5; i++) ids.push((await prod.send({ payload: Buffer.from(`m${i}`), metadata: { numMessagesInBatch: 2 } })).messageId);
      const read = async (o: { start?: MessageId; inclusive?: boolean; initial?: 'Earliest' | 'Latest' }) => {
        const r = await client.subscribe({
          topic: t,
          subscription: `r-${n++}`,
          durable: false,
          ...(o.start ? { startMessageId: o.start } : {}),
          ...(o.inclusive !== undefined ? { startInclusive: o.inclusive } : {}),
          ...(o.initial ? { initialPosition: o.initial } : {}),
        });
        const got = text(await drain(r, 400));
        await r.close();
        return got;
      };
      assert.deepEqual(await read({ start: ids[2], inclusive: true }), ['m2', 'm3', 'm4']);
      assert.deepEqual(await read({ start: ids[2], inclusive: false }), ['m3', 'm4']);
      assert.deepEqual(await read({ start: ids[2] }), ['m3', 'm4']);
      assert.deepEqual(await read({ start: ids[0], inclusive: true }), ['m0', 'm1', 'm2', 'm3', 'm4']);
      assert.deepEqual(await read({ start: ids[4], inclusive: true }), ['m4']);
      assert.deepEqual(await read({ start: ids[4], inclusive: false }), []);
      // a batch index in the given id changes nothing: entries are the unit
      assert.deepEqual(await read({ start: { ...ids[3]!, batchIndex: 1 }, inclusive: true }), ['m3', 'm4']);
      assert.deepEqual(await read({ start: { ...ids[3]!, batchIndex: 1 }, inclusive: false }), ['m4']);
      assert.deepEqual(await read({ initial: 'Latest' }), []);
      assert.deepEqual(await read({ initial: 'Earliest' }), ['m0', 'm1', 'm2', 'm3', 'm4']);
      await prod.close();
    });

    test('pipelined sends resolve in order with increasing entry ids; onReadable and buffered', async () => {
      const t = topic();
      const prod = await client.createProducer({ topic: t, maxPendingMessages: 50 });
      const reader = await client.subscribe({ topic: t, subscription: 'r', durable: false, initialPosition: 'Earliest', receiverQueueSize: 10 });
      let readable = 0;
      const off = reader.onReadable(() => readable++);
      const order: bigint[] = [];
      const sends = Array.from({ length: 200 }, (_, i) => prod.send({ payload: Buffer.from(`m${i}`) }).then((r) => (order.push(r.sequenceId), r)));
      const receipts = await Promise.all(sends);
      assert.deepEqual(
        order,
        receipts.map((_, i) => BigInt(i)),
      );
      for (let i = 1; i < receipts.length; i++) {
        const a = receipts[i - 1]!.messageId;
        const b = receipts[i]!.messageId;
        assert.ok(b.ledgerId > a.ledgerId || (b.ledgerId === a.ledgerId && b.entryId === a.entryId + 1n), `entry ${i}`);
      }
      // a receiver queue of 10 holds at most 10 entries; permits come back as entries are taken
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(reader.buffered > 0 && reader.buffered <= 10, `buffered ${reader.buffered}`);
      assert.ok(readable >= 1);
      off();
      const got = await receiveN(reader, 200);
      assert.deepEqual(
        text(got),
        receipts.map((_, i) => `m${i}`),
      );
      await reader.close();
      await prod.close();
    });

    test('receiverQueueSize 0: nothing arrives without flow(); flow(n) brings n messages', async () => {
      const t = topic();
      const prod = await client.createProducer({ topic: t });
      for (let i = 0; i < 5; i++) await prod.send({ payload: Buffer.from(`m${i}`) });
      const r = await client.subscribe({ topic: t, subscription: 'r', durable: false, initialPosition: 'Earliest', receiverQueueSize: 0 });
      assert.equal(await r.receive(300), null);
      r.flow(2);
      assert.deepEqual(text(await drain(r, 300)), ['m0', 'm1']);
      assert.equal(r.permits, 0);
      r.flow(10);
      assert.deepEqual(text(await drain(r, 300)), ['m2', 'm3', 'm4']);
      assert.equal(r.permits, 7, 'granted minus delivered, as the broker counts');
      await r.close();
      await prod.close();
    });

    test('receiverQueueBytes: the buffer stays near the byte bound once the message size is known; every entry arrives, in order', async () => {
      const t = topic();
      const prod = await client.createProducer({ topic: t, maxPendingMessages: 300 });
      const value = (i: number) => Buffer.concat([Buffer.from(`m${i}:`), Buffer.alloc(1000, 0x61)]);
      await Promise.all(Array.from({ length: 300 }, (_, i) => prod.send({ payload: value(i) })));
      const r = await client.subscribe({ topic: t, subscription: 'r', durable: false, initialPosition: 'Earliest', receiverQueueSize: 1000, receiverQueueBytes: 10_000 });
      await new Promise((res) => setTimeout(res, 300));
      // before any size is known: min(receiverQueueSize, 100) permits
      assert.equal(r.buffered, 100);
      const first = await receiveN(r, 100);
      await new Promise((res) => setTimeout(res, 300));
      // ~1 KiB messages: about 10 permits for 10,000 bytes, topped up as they are taken
      assert.ok(r.buffered > 0 && r.buffered <= 10, `buffered ${r.buffered}`);
      // a larger bound grants at once
      r.setReceiverQueueBytes(30_000);
      await new Promise((res) => setTimeout(res, 300));
      assert.ok(r.buffered > 10 && r.buffered <= 30, `buffered ${r.buffered} after raising the bound`);
      const rest = await receiveN(r, 200);
      assert.deepEqual(
        [...first, ...rest].map((e) => e.payload.subarray(0, e.payload.indexOf(0x3a)).toString()),
        Array.from({ length: 300 }, (_, i) => `m${i}`),
      );
      assert.equal(await r.receive(200), null);
      await r.close();
      await prod.close();
    });

    for (const durable of [false, true]) {
      test(`seek by message id and by publish time (${durable ? 'durable' : 'non-durable'})`, async () => {
        const t = topic();
        const prod = await client.createProducer({ topic: t });
        const ids: MessageId[] = [];
        const times: bigint[] = [];
        for (let i = 0; i < 6; i++) {
          const r = await prod.send({ payload: Buffer.from(`m${i}`) });
          ids.push(r.messageId);
          await new Promise((res) => setTimeout(res, 15));
        }
        const reader = await client.subscribe({ topic: t, subscription: 'seeker', durable, initialPosition: 'Earliest' });
        const all = await receiveN(reader, 6);
        times.push(...all.map((e) => e.metadata.publishTime));
        assert.deepEqual(text(all), ['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
        await reader.seek(ids[2]!);
        assert.equal(reader.buffered, 0);
        assert.deepEqual(text(await receiveN(reader, 4)), ['m2', 'm3', 'm4', 'm5']);
        await reader.seek({ publishTime: times[4]! });
        assert.deepEqual(text(await receiveN(reader, 2)), ['m4', 'm5']);
        await reader.seek(ids[0]!);
        const first = await reader.receive(10_000);
        assert.equal(first?.payload.toString(), 'm0');
        // on a lost connection a reader resumes after what it handed out; a durable
        // subscription gets the unacknowledged entries again (from the reset cursor)
        (client as PulsarClientImpl).closeConnections();
        if (durable) assert.deepEqual(text(await receiveN(reader, 6)), ['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
        else assert.deepEqual(text(await receiveN(reader, 5)), ['m1', 'm2', 'm3', 'm4', 'm5']);
        assert.equal(await reader.receive(300), null);
        await reader.close();
        await prod.close();
      });
    }

    test('durable subscription: cumulative ack, then a new consumer resumes after the ack; individual ack', async () => {
      const t = topic();
      const prod = await client.createProducer({ topic: t });
      for (let i = 0; i < 10; i++) await prod.send({ payload: Buffer.from(`m${i}`) });
      const c1 = await client.subscribe({ topic: t, subscription: 'durable', initialPosition: 'Earliest', subscriptionProperties: { owner: 'test' } });
      const first = await receiveN(c1, 5);
      assert.deepEqual(text(first), ['m0', 'm1', 'm2', 'm3', 'm4']);
      await c1.acknowledgeCumulative(first[4]!.messageId);
      await c1.close();
      const c2 = await client.subscribe({ topic: t, subscription: 'durable', initialPosition: 'Earliest' });
      const next = await receiveN(c2, 5);
      assert.deepEqual(text(next), ['m5', 'm6', 'm7', 'm8', 'm9']);
      await c2.acknowledge(next[0]!.messageId);
      await c2.acknowledgeCumulative(next[4]!.messageId);
      await c2.close();
      const stats = JSON.parse((await p.rest('GET', `/admin/v2/persistent/${t.slice('persistent://'.length)}/stats`)).text) as { subscriptions: Record<string, { msgBacklog: number }> };
      assert.equal(stats.subscriptions.durable?.msgBacklog, 0);
      const c3 = await client.subscribe({ topic: t, subscription: 'durable' });
      assert.equal(await c3.receive(300), null);
      await c3.unsubscribe();
      const after = JSON.parse((await p.rest('GET', `/admin/v2/persistent/${t.slice('persistent://'.length)}/stats`)).text) as { subscriptions: Record<string, unknown> };
      assert.equal(after.subscriptions.durable, undefined);
      await prod.close();
    });

    test('getLastMessageId: entryId -1 on an empty topic, the last entry otherwise', async () => {
      const t = topic();
      const prod = await client.createProducer({ topic: t });
      const empty = await client.getLastMessageId(t);
      assert.equal(empty.entryId, -1n);
      let last;
      for (let i = 0; i < 3; i++) last = (await prod.send({ payload: Buffer.from(`m${i}`) })).messageId;
      const got = await client.getLastMessageId(t);
      assert.equal(got.ledgerId, last!.ledgerId);
      assert.equal(got.entryId, last!.entryId);
      const reader = await client.subscribe({ topic: t, subscription: 'r', durable: false, initialPosition: 'Earliest' });
      const viaReader = await reader.getLastMessageId();
      assert.equal(viaReader.entryId, last!.entryId);
      await reader.close();
      await prod.close();
    });

    test('proxy role: forwarded principal without permission is refused (AuthorizationError); a granted one works', async () => {
      const denied = uniqueName('nobody');
      const granted = uniqueName('granted');
      const r = await p.rest('POST', `/admin/v2/namespaces/${ns}/permissions/${granted}`, ['produce', 'consume']);
      assert.equal(r.status, 204, r.text);
      const proxy = newClient({ auth: { method: 'token', token: () => p.proxyToken } });
      const t = topic();
      await assert.rejects(proxy.createProducer({ topic: t, originalIdentity: { principal: denied } }), (e: unknown) => {
        assert.ok(e instanceof PulsarClientError, String(e));
        assert.equal(e.serverError, 'AuthorizationError');
        assert.equal(e.retriable, false);
        return true;
      });
      await assert.rejects(
        proxy.subscribe({ topic: t, subscription: 's', originalIdentity: { principal: denied } }),
        (e: unknown) => e instanceof PulsarClientError && e.serverError === 'AuthorizationError',
      );
      const prod = await proxy.createProducer({ topic: t, originalIdentity: { principal: granted } });
      const rc = await prod.send({ payload: Buffer.from('hello') });
      assert.ok(rc.messageId.entryId >= 0n);
      const reader = await proxy.subscribe({ topic: t, subscription: 's', durable: false, initialPosition: 'Earliest', originalIdentity: { principal: granted } });
      assert.deepEqual(text(await receiveN(reader, 1)), ['hello']);
      // one connection per (broker, forwarded identity)
      assert.ok(proxy.openConnections >= 2, `connections ${proxy.openConnections}`);
      await reader.close();
      await prod.close();
    });

    test('exclusive producers: a second Exclusive is refused; WaitForExclusive takes over when the first closes; fencing ends it', async () => {
      const t = topic();
      const p1 = await client.createProducer({ topic: t, accessMode: 'Exclusive' });
      await p1.send({ payload: Buffer.from('from-p1') });
      await assert.rejects(client.createProducer({ topic: t, accessMode: 'Exclusive' }), (e: unknown) => {
        assert.ok(e instanceof PulsarClientError, String(e));
        assert.equal(e.serverError, 'ProducerFenced');
        return true;
      });
      let ready = false;
      const waiting = client.createProducer({ topic: t, accessMode: 'WaitForExclusive' }).then((x) => ((ready = true), x));
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(ready, false, 'WaitForExclusive waits while p1 holds the topic (past operation timeouts too)');
      await p1.close();
      const p2 = await waiting;
      assert.equal(p2.connected, true);
      await p2.send({ payload: Buffer.from('from-p2') });
      const p3 = await client.createProducer({ topic: t, accessMode: 'ExclusiveWithFencing' });
      // Pulsar 3.0.7 fences p2 silently; its next SEND makes the broker close the connection,
      // and the re-registration is refused (topic epoch moved): the send fails, `closed` says why
      await assert.rejects(p2.send({ payload: Buffer.from('late') }), (e: unknown) => e instanceof PulsarClientError && e.serverError === 'ProducerFenced');
      const why = await p2.closed;
      assert.ok(why instanceof PulsarClientError, String(why));
      assert.equal(why.serverError, 'ProducerFenced');
      assert.equal(p2.connected, false);
      await p3.send({ payload: Buffer.from('from-p3') });
      const reader = await client.subscribe({ topic: t, subscription: 'r', durable: false, initialPosition: 'Earliest' });
      assert.deepEqual(text(await drain(reader)), ['from-p1', 'from-p2', 'from-p3']);
      await reader.close();
      await p3.close();
    });

    test('reconnect while sending (connections dropped, topic unloaded): every send resolves once, entries consecutive, no duplicates', async () => {
      const events: string[] = [];
      const note = (_o: object, msg?: string) => void events.push(msg ?? '');
      const c = newClient({ maxBackoffMs: 500, logger: { debug() {}, info: note, warn: note, error: note } });
      const t = topic();
      const prod = await c.createProducer({ topic: t, producerName: `dedup-${n}`, maxPendingMessages: 100 });
      const reader = await c.subscribe({ topic: t, subscription: 'tail', durable: false, initialPosition: 'Earliest', receiverQueueSize: 20 });
      const N = 300;
      const resolved = new Map<bigint, number>();
      const order: bigint[] = [];
      const sends: Promise<unknown>[] = [];
      const tasks: Promise<unknown>[] = [];
      const readBack: ReceivedEntry[] = [];
      const reading = (async () => {
        while (readBack.length < N) {
          const e = await reader.receive(20_000);
          if (!e) break;
          readBack.push(e);
        }
      })();
      for (let i = 0; i < N; i++) {
        sends.push(
          prod.send({ payload: Buffer.from(`m${i}`) }).then((r) => {
            resolved.set(r.sequenceId, (resolved.get(r.sequenceId) ?? 0) + 1);
            order.push(r.sequenceId);
          }),
        );
        // disrupt with sends in flight, then let both registrations come back before the next disruption
        if (i === 60 || i === 200) (c as PulsarClientImpl).closeConnections('test: drop');
        if (i === 130) tasks.push(p.rest('PUT', `/admin/v2/persistent/${t.slice('persistent://'.length)}/unload`));
        if (i === 61 || i === 131 || i === 201) {
          await tasks[0];
          const deadline = Date.now() + 20_000;
          await new Promise((r) => setTimeout(r, 50));
          while (!(prod.connected && reader.connected) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        }
      }
      await Promise.all(sends);
      const [unload] = await Promise.all(tasks);
      assert.equal((unload as { status: number }).status, 204);
      assert.equal(resolved.size, N);
      assert.ok([...resolved.values()].every((v) => v === 1));
      assert.deepEqual(
        order,
        Array.from({ length: N }, (_, i) => BigInt(i)),
      );
      await reading;
      // the producer and the reader did lose their registrations (twice by connection, once by unload)
      assert.ok(events.filter((m) => m.includes('producer connection lost')).length >= 2, events.join('\n'));
      // the unload reaches the producer as CLOSE_PRODUCER, or, when a send is in flight at that moment,
      // first as a retriable SEND_ERROR (the topic is closing): either way it re-registers
      assert.ok(events.filter((m) => m.includes('broker closed the producer') || m.includes('retriable SEND_ERROR, re-registering')).length >= 1, events.join('\n'));
      assert.ok(events.filter((m) => m.includes('consumer connection lost')).length >= 2, events.join('\n'));
      assert.equal(readBack.length, N);
      assert.deepEqual(
        readBack.map((e) => e.metadata.sequenceId),
        Array.from({ length: N }, (_, i) => BigInt(i)),
      );
      assert.deepEqual(
        readBack.map((e) => e.brokerEntryMetadata?.index),
        Array.from({ length: N }, (_, i) => BigInt(i)),
      );
      assert.equal(await reader.receive(500), null, 'no duplicate after the last');
      // a new reader sees exactly the same
      const check = await c.subscribe({ topic: t, subscription: 'check', durable: false, initialPosition: 'Earliest' });
      const all = await drain(check, 800);
      assert.deepEqual(
        all.map((e) => e.payload.toString()),
        Array.from({ length: N }, (_, i) => `m${i}`),
      );
      await check.close();
      await reader.close();
      await prod.close();
    });

    test('a broker that answers CONNECTED then falls silent: requests time out (Timeout), keep-alive closes the connection (ConnectionClosed)', async () => {
      const sockets: net.Socket[] = [];
      const fake = net.createServer((s) => {
        sockets.push(s);
        s.once('data', () => s.write(encodeCommand({ type: BaseCommandType.CONNECTED, connected: { serverVersion: 'fake', protocolVersion: 19 } })));
      });
      await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
      try {
        const url = `pulsar://127.0.0.1:${(fake.address() as net.AddressInfo).port}`;
        const c1 = newClient({ serviceUrl: url, operationTimeoutMs: 250, keepAliveIntervalMs: 60_000 });
        await assert.rejects(c1.getPartitionedTopicMetadata(topic()), (e: unknown) => e instanceof PulsarClientError && e.serverError === 'Timeout' && e.retriable);
        assert.equal(c1.openConnections, 1);
        const logger = { debug() {}, info() {}, warn() {}, error() {} };
        const cnx = await Connection.open({ host: { host: '127.0.0.1', port: (fake.address() as net.AddressInfo).port }, tls: false, connectionTimeoutMs: 2000, keepAliveIntervalMs: 100, operationTimeoutMs: 60_000, logger });
        const t0 = Date.now();
        await assert.rejects(cnx.request(7n, partitionedMetadataCommand({ topic: topic(), requestId: 7n }), { what: 'metadata' }), (e: unknown) => {
          assert.ok(e instanceof PulsarClientError, String(e));
          assert.equal(e.serverError, 'ConnectionClosed');
          assert.equal(e.retriable, true);
          assert.match(e.message, /keep-alive/);
          return true;
        });
        const took = Date.now() - t0;
        assert.ok(took >= 150 && took < 2000, `closed after ${took} ms`);
        assert.equal(cnx.isClosed, true);
      } finally {
        for (const s of sockets) s.destroy();
        fake.close();
      }
    });

    test('keep-alive: an idle connection with a short ping interval stays up (the broker answers PING)', async () => {
      const c = newClient({ keepAliveIntervalMs: 150 });
      const t = topic();
      const prod = await c.createProducer({ topic: t });
      const conns = c.openConnections;
      await new Promise((r) => setTimeout(r, 800));
      assert.equal(prod.connected, true);
      assert.equal(c.openConnections, conns);
      await prod.send({ payload: Buffer.from('still here') });
      await prod.close();
    });
  });
}
