import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseProperties } from '../../src/config/properties.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { SCHEMA, envName } from '../../src/config/schema.js';
import { parseListenerList } from '../../src/network/listeners.js';
import { tempDir } from '../helpers/temp.js';

function tempFile(text: string): string {
  const dir = tempDir('kop-config-');
  const file = join(dir, 'gateway.conf');
  writeFileSync(file, text);
  return file;
}

test('properties: separators, comments, continuations and escapes as Java reads them', () => {
  const entries = parseProperties(
    [
      '# comment',
      '! also a comment',
      '   ',
      'a=1',
      'b : two words ',
      'c three',
      'd=line one \\',
      '    continued',
      'e=tab\\there\\u0041',
      'key\\=with\\:seps=v',
      'empty=',
    ].join('\n'),
  );
  assert.deepEqual(
    entries.map((e) => [e.key, e.value, e.line]),
    [
      ['a', '1', 4],
      ['b', 'two words', 5],
      ['c', 'three', 6],
      ['d', 'line one continued', 7],
      ['e', 'tab\there\u0041', 9],
      ['key=with:seps', 'v', 10],
      ['empty', '', 11],
    ],
  );
});

test('config: defaults when nothing is given', () => {
  const c = loadConfig({ env: {} });
  assert.equal(c.kafkaListeners, 'PLAINTEXT://127.0.0.1:9092');
  assert.equal(c.kafkaTenant, 'public');
  assert.equal(c.socketRequestMaxBytes, 100 * 1024 * 1024);
  assert.equal(c.allowAutoTopicCreation, true);
});

test('config: broker.conf-style file values are typed and env overrides the file', () => {
  const file = tempFile('kafkaListeners=PLAINTEXT://0.0.0.0:19092\nkafkaTenant=acme\nallowAutoTopicCreation=false\nmaxQueuedRequests=7\n');
  const c = loadConfig({ file, env: { KOP_KAFKA_TENANT: 'other', PATH: '/bin' } });
  assert.equal(c.kafkaListeners, 'PLAINTEXT://0.0.0.0:19092');
  assert.equal(c.kafkaTenant, 'other');
  assert.equal(c.allowAutoTopicCreation, false);
  assert.equal(c.maxQueuedRequests, 7);
});

test('config: an unknown key fails and names the key and line, with a suggestion', () => {
  const file = tempFile('kafkaListeners=PLAINTEXT://127.0.0.1:9092\nkafkaListener=PLAINTEXT://x:1\n');
  assert.throws(() => loadConfig({ file, env: {} }), (err: Error) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /gateway\.conf:2: unknown configuration key 'kafkaListener' \(did you mean 'kafkaListeners'\?\)/);
    return true;
  });
});

test('config: invalid values fail naming the key', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ maxQueuedRequests: 'ten' }, /maxQueuedRequests: must be an integer/],
    [{ maxQueuedRequests: '0' }, /maxQueuedRequests: must be >= 1/],
    [{ allowAutoTopicCreation: 'yes' }, /allowAutoTopicCreation: must be true or false/],
    [{ storageEngine: 'cassandra' }, /storageEngine: must be one of the possible values/],
    [{ logLevel: 'loud' }, /logLevel/],
    [{ kafkaListeners: 'http://x:1' }, /kafkaListeners: invalid listener 'http:\/\/x:1'|kafkaListeners:.*HTTP/],
    [{ kafkaListeners: 'PLAINTEXT://host:99999' }, /port 99999 out of range/],
  ];
  for (const [overrides, pattern] of cases) {
    assert.throws(() => loadConfig({ overrides, env: {} }), pattern, JSON.stringify(overrides));
  }
});

test('config: a misspelt KOP_ environment variable fails; unrelated KOP_ tooling variables are ignored', () => {
  assert.throws(() => loadConfig({ env: { KOP_KAFKA_LISTENER: 'PLAINTEXT://x:1' } }), /unknown environment variable KOP_KAFKA_LISTENER \(did you mean KOP_KAFKA_LISTENERS\?\)/);
  assert.equal(loadConfig({ env: { KOP_CACHE_DIR: '/tmp/x', KOP_KAFKA_HOME: '/opt/kafka' } }).kafkaTenant, 'public');
});

test('config: every schema key has an environment variable that round-trips', () => {
  for (const key of Object.keys(SCHEMA)) {
    const name = envName(key);
    assert.match(name, /^KOP_[A-Z0-9_]+$/);
  }
  assert.equal(envName('kafkaListeners'), 'KOP_KAFKA_LISTENERS');
  assert.equal(envName('socketRequestMaxBytes'), 'KOP_SOCKET_REQUEST_MAX_BYTES');
});

test('listeners: names, protocol map, IPv6 and errors', () => {
  assert.deepEqual(parseListenerList('PLAINTEXT://127.0.0.1:9092,internal://[::1]:0', 'internal:PLAINTEXT'), [
    { name: 'PLAINTEXT', protocol: 'PLAINTEXT', host: '127.0.0.1', port: 9092 },
    { name: 'INTERNAL', protocol: 'PLAINTEXT', host: '::1', port: 0 },
  ]);
  assert.deepEqual(parseListenerList('SASL_SSL://:9093', ''), [{ name: 'SASL_SSL', protocol: 'SASL_SSL', host: '', port: 9093 }]);
  assert.throws(() => parseListenerList('FOO://h:1', ''), /neither a security protocol nor mapped/);
  assert.throws(() => parseListenerList('PLAINTEXT://h:1,PLAINTEXT://h:2', ''), /used twice/);
  assert.throws(() => parseListenerList('', ''), /no listener/);
});

test('cluster ids never start with "-" (Kafka\'s command-line tools would read one as an option)', async () => {
  const { newClusterId } = await import('../../src/cluster-id.js');
  for (let i = 0; i < 2000; i++) {
    const id = newClusterId();
    assert.match(id, /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
  }
});
