/**
 * cleanup.policy=compact on the Pulsar engine, against the run's real Pulsar
 * broker: a pure compact topic gets a topic-level retention of -1/-1, so
 * Pulsar's retention never deletes the latest value of a key even in a
 * namespace whose retention is 0. Proven side by side with a `delete` topic in
 * the same namespace, whose ledger Pulsar does trim (so the test can fail).
 * Also: keyless records refused with INVALID_RECORD, and the topic policy
 * following cleanup.policy changes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeBatchSync } from '../../src/protocol/records/encode.js';
import { decodeBatchesSync } from '../../src/protocol/records/records.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { StorageError } from '../../src/storage/engine.js';
import { PulsarEngine } from '../../src/storage/pulsar/engine.js';
import { createPulsarAdmin } from '../../src/pulsar/admin/index.js';
import { createPulsarClient } from '../../src/pulsar/client/index.js';
import { createNamespace, pulsarSkipReason, sharedPulsar, uniqueName, type SharedPulsar } from '../helpers/pulsar.js';
import { appendValidated } from '../helpers/validated.js';

const skip = pulsarSkipReason();

if (skip) {
  test(`Pulsar engine compaction [skipped: ${skip}]`, { skip }, () => undefined);
} else {
  let p: SharedPulsar;
  let ns: string;
  const engines: PulsarEngine[] = [];

  function engine(): PulsarEngine {
    const token = () => p.adminToken;
    const e = new PulsarEngine({
      client: createPulsarClient({ serviceUrl: p.serviceUrl, auth: { method: 'token', token }, operationTimeoutMs: 15_000 }),
      admin: createPulsarAdmin({ webServiceUrl: p.webUrl, token, timeoutMs: 15_000 }),
      entryFormat: 'pulsar',
      metadataNamespace: `${ns}-meta`,
      nodeId: 0,
      operationTimeoutMs: 15_000,
    });
    engines.push(e);
    return e;
  }

  async function rest(method: string, path: string): Promise<{ status: number; text: string }> {
    return p.rest(method, path);
  }

  /** Pulsar stores topic policies through a system topic: a read right after a write may not see it yet. */
  async function retentionEventually(admin: ReturnType<typeof createPulsarAdmin>, topic: string, want: { retentionTimeInMinutes: number; retentionSizeInMB: number } | null, applied = false): Promise<void> {
    let got: unknown = undefined;
    for (let i = 0; i < 60; i++) {
      got = await admin.getTopicRetention(topic, applied);
      if (JSON.stringify(got) === JSON.stringify(want)) return;
      await sleep(500);
    }
    assert.deepEqual(got, want, `topic retention of ${topic}${applied ? ' (applied)' : ''}`);
  }

  async function ledgers(topic: string): Promise<number[]> {
    const r = await rest('GET', `/admin/v2/persistent/${topic.replace('persistent://', '')}-partition-0/internalStats`);
    assert.equal(r.status, 200, r.text);
    return (JSON.parse(r.text) as { ledgers: Array<{ ledgerId: number }> }).ledgers.map((l) => l.ledgerId);
  }

  before(async () => {
    p = await sharedPulsar();
    ns = await createNamespace(p, uniqueName('compact'));
  });
  after(async () => {
    for (const e of engines) await e.close().catch(() => undefined);
  });

  test('pulsar engine: a pure compact topic keeps every entry although the namespace retention is 0; a delete topic next to it is trimmed', async () => {
    const admin = createPulsarAdmin({ webServiceUrl: p.webUrl, token: () => p.adminToken, timeoutMs: 15_000 });
    await admin.setRetention(ns, 0, 0);
    // the broker's deduplication cursor would hold back trimming until its next snapshot: off for this namespace
    const dd = await p.rest('POST', `/admin/v2/namespaces/${ns}/deduplication`, false);
    assert.ok(dd.status === 204 || dd.status === 200, `deduplication off: ${dd.status} ${dd.text}`);
    const e = engine();
    await e.start();
    const pure = `persistent://${ns}/pure`;
    const plain = `persistent://${ns}/plain`;
    await e.createTopic(pure, 1, { 'cleanup.policy': 'compact' });
    await e.createTopic(plain, 1, {});
    await retentionEventually(admin, pure, { retentionTimeInMinutes: -1, retentionSizeInMB: -1 });
    assert.equal(await admin.getTopicRetention(plain), null);

    // keyless records are refused on the compacted topic, as Kafka does
    await assert.rejects(
      appendValidated(e, { topic: pure, partition: 0 }, encodeBatchSync({ records: [{ key: null, value: 'x' }] }), { acks: -1 }),
      (x: unknown) => x instanceof StorageError && x.code === ErrorCode.INVALID_RECORD,
    );
    for (const topic of [pure, plain]) {
      for (let i = 0; i < 20; i++) {
        await appendValidated(e, { topic, partition: 0 }, encodeBatchSync({ records: [{ key: `k${i % 5}`, value: `v${i}` }] }), { acks: -1 });
      }
    }
    // Pulsar applies topic policies asynchronously: wait until the broker has it in force
    await retentionEventually(admin, pure, { retentionTimeInMinutes: -1, retentionSizeInMB: -1 }, true);
    await e.close();

    // Close the ledgers holding the data (unload: the next load opens a new ledger), then ask Pulsar to trim.
    const firstLedger = new Map<string, number>();
    for (const topic of [pure, plain]) {
      firstLedger.set(topic, (await ledgers(topic))[0]!);
      const path = topic.replace('persistent://', '');
      const u = await rest('PUT', `/admin/v2/persistent/${path}-partition-0/unload`);
      assert.ok(u.status === 204 || u.status === 200, `unload ${topic}: ${u.status} ${u.text}`);
    }
    const e2 = engine();
    await e2.start();
    for (const topic of [pure, plain]) {
      await appendValidated(e2, { topic, partition: 0 }, encodeBatchSync({ records: [{ key: 'k0', value: 'after-unload' }] }), { acks: -1 });
    }
    await e2.close();
    let plainTrimmed = false;
    for (let i = 0; i < 40 && !plainTrimmed; i++) {
      for (const topic of [pure, plain]) {
        const t = await rest('POST', `/admin/v2/persistent/${topic.replace('persistent://', '')}-partition-0/trim`);
        assert.ok(t.status === 204 || t.status === 200, `trim ${topic}: ${t.status} ${t.text}`);
      }
      plainTrimmed = !(await ledgers(plain)).includes(firstLedger.get(plain)!);
      if (!plainTrimmed) await sleep(500);
    }
    assert.ok(plainTrimmed, 'Pulsar deleted the first ledger of the delete topic (namespace retention 0)');
    assert.ok((await ledgers(pure)).includes(firstLedger.get(pure)!), 'the first ledger of the compact topic is still there');

    // a fresh engine reads every record of the compact topic from offset 0
    const e3 = engine();
    await e3.start();
    const tp = { topic: pure, partition: 0 };
    const seen: Array<[bigint, string, string]> = [];
    let offset = (await e3.offsets(tp)).logStartOffset;
    assert.equal(offset, 0n);
    const { highWatermark } = await e3.offsets(tp);
    while (offset < highWatermark) {
      const r = await e3.read(tp, offset, { maxBytes: 1 << 20, minOneMessage: true });
      assert.ok(r.records.length > 0);
      for (const b of r.records) {
        for (const d of decodeBatchesSync(b)) {
          for (const rec of d.records) seen.push([d.baseOffset + BigInt(rec.offsetDelta), rec.key!.toString(), rec.value!.toString()]);
          offset = d.baseOffset + BigInt(d.lastOffsetDelta) + 1n;
        }
      }
    }
    assert.equal(seen.length, 21);
    assert.deepEqual(seen.slice(15, 20).map((s) => [s[1], s[2]]), [0, 1, 2, 3, 4].map((k) => [`k${k}`, `v${15 + k}`]), 'the latest value of every key');

    // the topic policy follows cleanup.policy
    await e3.alterTopicConfigs(pure, [{ name: 'cleanup.policy', value: 'delete', op: 'append' }]);
    await retentionEventually(admin, pure, null); // compact,delete: the namespace retention applies
    await e3.replaceTopicConfigs(pure, { 'cleanup.policy': 'compact' });
    await retentionEventually(admin, pure, { retentionTimeInMinutes: -1, retentionSizeInMB: -1 });
  });
}
