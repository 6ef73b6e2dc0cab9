/**
 * The Pulsar client's Shared-subscription operations against the run's shared broker (what the
 * share-group mapping uses, src/storage/pulsar/share-records.ts): explicit permits with
 * receiverQueueSize 0 (availablePermits), REDELIVER_UNACKNOWLEDGED_MESSAGES of given entries
 * (they come back with redelivery_count + 1), individual ACK of several entries in one command
 * (they never come back, even to another consumer).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createPulsarClient } from '../../src/pulsar/client/index.js';
import type { Consumer, PulsarClient, ReceivedEntry } from '../../src/pulsar/client/types.js';
import { createNamespace, pulsarSkipReason, sharedPulsar, uniqueName, type SharedPulsar } from '../helpers/pulsar.js';

const skip = pulsarSkipReason();

async function receive(c: Consumer, ms = 10_000): Promise<ReceivedEntry> {
  const e = await c.receive(ms);
  assert.ok(e, 'an entry within the timeout');
  return e;
}

describe('Pulsar client: Shared subscriptions (redeliver, acknowledgeMany, explicit permits)', { skip }, () => {
  let p: SharedPulsar;
  let ns: string;
  let client: PulsarClient;

  before(async () => {
    p = await sharedPulsar();
    ns = await createNamespace(p, uniqueName('client-shared'));
    client = createPulsarClient({ serviceUrl: p.serviceUrl, auth: { method: 'token', token: () => p.adminToken }, operationTimeoutMs: 15_000 });
  });

  after(async () => {
    await client?.close();
  });

  test('redelivered entries come back with redelivery count + 1; acked ones never come back', async () => {
    const topic = `persistent://${ns}/shared-${Math.random().toString(36).slice(2, 8)}`;
    const sub = { topic, subscription: 'share:g', subscriptionType: 'Shared' as const, initialPosition: 'Earliest' as const, receiverQueueSize: 0, forceTopicCreation: true };
    const c1 = await client.subscribe(sub);
    const producer = await client.createProducer({ topic });
    for (const v of ['a', 'b', 'c']) await producer.send({ payload: Buffer.from(v) });
    assert.equal(c1.availablePermits, 0);
    c1.flow(2);
    assert.equal(c1.availablePermits, 2);
    const a = await receive(c1);
    const b = await receive(c1);
    assert.deepEqual([a.payload.toString(), b.payload.toString()], ['a', 'b']);
    assert.deepEqual([a.redeliveryCount, b.redeliveryCount], [0, 0]);
    assert.equal(c1.availablePermits, 0);
    assert.equal(await c1.receive(300), null, 'no permit: c is not dispatched');

    c1.redeliver([a.messageId]);
    c1.flow(1);
    const again = await receive(c1);
    assert.equal(again.payload.toString(), 'a');
    assert.equal(again.redeliveryCount, 1);
    await c1.acknowledgeMany([again.messageId, b.messageId]);
    await c1.close();

    // another consumer of the subscription gets only what was not acknowledged
    const c2 = await client.subscribe(sub);
    c2.flow(10);
    const rest = await receive(c2);
    assert.equal(rest.payload.toString(), 'c');
    await c2.acknowledgeMany([rest.messageId]);
    assert.equal(await c2.receive(500), null);
    await c2.close();
    await producer.close();
  });
});
