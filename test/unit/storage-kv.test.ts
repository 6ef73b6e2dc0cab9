import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { join } from 'node:path';
import { FileKeyValueStore } from '../../src/storage/embedded/kv-store.js';
import { newIoStats } from '../../src/storage/embedded/io.js';
import { silentEngineLogger } from '../../src/storage/logger.js';
import { openEngine, tempDir } from './storage-fixtures.test.js';

async function openKv(dir: string, compactMinBytes = 4 << 20): Promise<FileKeyValueStore> {
  const kv = new FileKeyValueStore(dir, newIoStats(), silentEngineLogger, { compactMinBytes });
  await kv.open();
  return kv;
}

test('kv: put/get/scan/delete, values copied, survives restart', async () => {
  const d = tempDir();
  try {
    let kv = await openKv(d.path);
    const v = Buffer.from('one');
    await kv.put('groups', 'g1', v);
    v.write('XXX'); // the store keeps its own copy
    await kv.put('groups', 'g2', Buffer.from('two'));
    await kv.put('offsets', 'g1/t/0', Buffer.from([1, 2, 3]));
    await kv.put('groups', 'g3', Buffer.alloc(0));
    await kv.put('groups', 'g2', null);
    assert.deepEqual(await kv.get('groups', 'g1'), Buffer.from('one'));
    assert.equal(await kv.get('groups', 'g2'), null);
    assert.equal(await kv.get('nope', 'g1'), null);
    assert.deepEqual(await kv.get('groups', 'g3'), Buffer.alloc(0));
    const scan = (await kv.scan('groups')).sort((a, b) => a.key.localeCompare(b.key));
    assert.deepEqual(
      scan.map((e) => [e.key, e.value.toString()]),
      [
        ['g1', 'one'],
        ['g3', ''],
      ],
    );
    assert.deepEqual(await kv.scan('empty'), []);
    await kv.close();
    kv = await openKv(d.path);
    assert.deepEqual(await kv.get('groups', 'g1'), Buffer.from('one'));
    assert.equal(await kv.get('groups', 'g2'), null);
    assert.deepEqual(await kv.get('offsets', 'g1/t/0'), Buffer.from([1, 2, 3]));
    assert.equal((await kv.scan('groups')).length, 2);
    await kv.close();
  } finally {
    d.cleanup();
  }
});

test('kv: concurrent puts share one fdatasync (group commit); order of puts to one key is kept', async () => {
  const d = tempDir();
  try {
    const stats = newIoStats();
    const kv = new FileKeyValueStore(d.path, stats, silentEngineLogger);
    await kv.open();
    const before = stats.fsyncs;
    await Promise.all(Array.from({ length: 200 }, (_, i) => kv.put('ns', `k${i % 10}`, Buffer.from(String(i)))));
    assert.ok(stats.fsyncs - before <= 3, `${stats.fsyncs - before} fsyncs for 200 puts`);
    for (let k = 0; k < 10; k++) assert.equal((await kv.get('ns', `k${k}`))!.toString(), String(190 + k));
    await kv.close();
  } finally {
    d.cleanup();
  }
});

test('kv: a torn or corrupt tail is dropped on load, earlier records kept', async () => {
  const d = tempDir();
  try {
    let kv = await openKv(d.path);
    for (let i = 0; i < 10; i++) await kv.put('ns', `k${i}`, Buffer.from(`value-${i}`));
    await kv.close();
    const file = join(d.path, 'kv.log');
    const full = fs.readFileSync(file);
    for (const cut of [full.length - 1, full.length - 10, Math.floor(full.length / 2)]) {
      fs.writeFileSync(file, full.subarray(0, cut));
      kv = await openKv(d.path);
      const n = (await kv.scan('ns')).length;
      assert.ok(n >= 1 && n < 10, `cut ${cut}: ${n} entries`);
      for (const e of await kv.scan('ns')) assert.equal(e.value.toString(), `value-${e.key.slice(1)}`);
      await kv.put('ns', 'after', Buffer.from('x'));
      await kv.close();
      kv = await openKv(d.path);
      assert.deepEqual(await kv.get('ns', 'after'), Buffer.from('x'));
      await kv.close();
    }
    const flipped = Buffer.from(full);
    flipped[flipped.length - 3] ^= 1;
    fs.writeFileSync(file, flipped);
    kv = await openKv(d.path);
    assert.equal((await kv.scan('ns')).length, 9);
    await kv.close();
  } finally {
    d.cleanup();
  }
});

test('kv: compaction rewrites the file with live entries only', async () => {
  const d = tempDir();
  try {
    let kv = await openKv(d.path, 4096);
    for (let round = 0; round < 50; round++) {
      await Promise.all(Array.from({ length: 10 }, (_, k) => kv.put('offsets', `key-${k}`, Buffer.from(`round-${round}`.padEnd(40, '.')))));
    }
    await kv.put('offsets', 'gone', Buffer.from('x'));
    await kv.put('offsets', 'gone', null);
    assert.ok(kv.sizeOnDisk < 4096 * 2 + 2000, `file is ${kv.sizeOnDisk} bytes after compaction`);
    assert.ok(!fs.existsSync(join(d.path, 'kv.log.tmp')));
    await kv.close();
    kv = await openKv(d.path, 4096);
    const all = await kv.scan('offsets');
    assert.equal(all.length, 10);
    for (const e of all) assert.equal(e.value.toString().trimEnd().replace(/\.+$/, ''), 'round-49');
    await kv.close();
  } finally {
    d.cleanup();
  }
});

test('kv through the engine: engine.state is durable across restarts', async () => {
  const d = tempDir();
  try {
    let engine = await openEngine(d.path);
    await engine.state.put('__consumer_offsets', 'grp', Buffer.from('{"gen":1}'));
    await engine.close();
    engine = await openEngine(d.path);
    assert.deepEqual(await engine.state.get('__consumer_offsets', 'grp'), Buffer.from('{"gen":1}'));
    await engine.close();
    await assert.rejects(engine.state.put('a', 'b', Buffer.from('c')), /closed/);
  } finally {
    d.cleanup();
  }
});
