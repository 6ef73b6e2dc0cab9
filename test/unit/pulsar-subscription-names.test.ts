/**
 * The names of the Pulsar subscriptions kept for Kafka groups (src/storage/pulsar/subscription-names.ts):
 * a share group's Shared subscription and a consumer group's mirror never share a name.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { consumerGroupSubscription, shareGroupSubscription } from '../../src/storage/pulsar/subscription-names.js';

test('share groups read through share:<id>; consumer groups are mirrored under their id, never under share:', () => {
  assert.equal(shareGroupSubscription('orders'), 'share:orders');
  assert.equal(consumerGroupSubscription('orders'), 'orders');
  assert.equal(consumerGroupSubscription(''), null);
  // a consumer group whose id looks like a share group's subscription is not mirrored
  for (const id of ['share:orders', 'share:', 'share:share:x']) assert.equal(consumerGroupSubscription(id), null, id);
  for (const id of ['orders', 'share', 'Share:x', ' share:x', 'x-share:y']) {
    const mirrored = consumerGroupSubscription(id);
    assert.ok(mirrored === null || !mirrored.startsWith('share:'), id);
  }
});
