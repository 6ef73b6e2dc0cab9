/**
 * The name rules (src/topics/names.ts, docs/names.md) and the name encoders:
 * Pulsar's NamedEntity rule for tenants and namespaces, Kafka's Topic.validate
 * for the local part, '.'/'..' refused everywhere, the length bound, reserved
 * names; file-name segments that keep ordinary names as they are and encode
 * everything else reversibly; URL segments that never step to another resource.
 * Plus the storage layer's own refusal to leave its directory, and the SASL and
 * configuration entry points.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MAX_NAME_LENGTH,
  decodeFsSegment,
  encodeFsSegment,
  encodeUrlSegment,
  isLegalName,
  nameProblem,
  parseFullName,
  parseNamespace,
  resolveTopic,
  showName,
} from '../../src/topics/names.js';
import { ErrorCode, KafkaError } from '../../src/protocol/errors.js';
import { topicPath } from '../../src/pulsar/admin/client.js';
import { TopicStore } from '../../src/storage/embedded/topic-store.js';
import { StorageError } from '../../src/storage/engine.js';
import { SaslAuthenticator } from '../../src/security/sasl/authenticator.js';
import { AuthenticationError } from '../../src/security/types.js';
import { loadConfig } from '../../src/config/load.js';

const DEFAULTS = { tenant: 'public', namespace: 'default' };

function invalidTopic(fn: () => unknown, why?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof KafkaError, `expected a KafkaError, got ${String(e)}`);
    assert.equal(e.code, ErrorCode.INVALID_TOPIC_EXCEPTION);
    if (why) assert.match(e.message, why);
    return true;
  });
}

test('tenant and namespace: Pulsar NamedEntity characters [-=:.A-Za-z0-9_], never empty, "." or "..", at most 249', () => {
  for (const ok of ['acme', 'a', 'ACME-1', 'a_b', 'a=b', 'a:b', 'a.b', '.a', '..a', 'a..', '-', 'x'.repeat(MAX_NAME_LENGTH)]) {
    assert.equal(nameProblem('tenant', ok), null, ok);
    assert.equal(nameProblem('namespace', ok), null, ok);
  }
  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['.', /'\.' or '\.\.'/],
    ['..', /'\.' or '\.\.'/],
    ['x'.repeat(MAX_NAME_LENGTH + 1), /250 characters long; the limit is 249/],
    ['a/b', /characters other than/],
    ['a b', /characters other than/],
    ['%2e%2e', /characters other than/],
    ['a\\b', /characters other than/],
    ['a\u0000', /characters other than/],
    ['\u0430cme', /characters other than/], // Cyrillic а
    ['\uff0e\uff0e', /characters other than/], // fullwidth dots
    ['acme\u202e', /characters other than/],
  ];
  for (const [name, why] of bad) {
    assert.match(nameProblem('tenant', name) ?? '', why, showName(name));
    assert.match(nameProblem('namespace', name) ?? '', why, showName(name));
  }
});

test("topic (local part): Kafka's Topic.validate (legal chars, 249, not '.'/'..'), no partition suffix, no Pulsar system topic", () => {
  for (const ok of ['orders', 'a.b_c-d', '.hidden', '..x', 'x'.repeat(249), '__consumer_offsets']) assert.equal(nameProblem('topic', ok), null, ok);
  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['.', /'\.' or '\.\.'/],
    ['..', /'\.' or '\.\.'/],
    ['x'.repeat(250), /limit is 249/],
    ['a:b', /characters other than ASCII alphanumerics, '\.', '_' and '-'/],
    ['a=b', /characters other than/],
    ['a/b', /characters other than/],
    ['%2e', /characters other than/],
    ['t-partition-0', /-partition-/],
    ['__change_events', /Pulsar's system topics/],
    ['__transaction_buffer_snapshot', /Pulsar's system topics/],
    ['sub__transaction_pending_ack', /Pulsar's system topics/],
  ];
  for (const [name, why] of bad) assert.match(nameProblem('topic', name) ?? '', why, showName(name));
  assert.equal(isLegalName('topic', 'ok'), true);
  assert.equal(isLegalName('topic', '..'), false);
});

test('resolveTopic: every path-shaped or over-long name is INVALID_TOPIC_EXCEPTION; legal names resolve as before', () => {
  assert.deepEqual(resolveTopic('orders', DEFAULTS), { tenant: 'public', namespace: 'default', local: 'orders', full: 'persistent://public/default/orders' });
  assert.deepEqual(resolveTopic('persistent://acme/sales/orders', DEFAULTS), { tenant: 'acme', namespace: 'sales', local: 'orders', full: 'persistent://acme/sales/orders' });
  assert.equal(resolveTopic('persistent://a=b/c:d/t', DEFAULTS).full, 'persistent://a=b/c:d/t');
  const probes = [
    'persistent://acme/../other',
    'persistent://acme/../other/x',
    'persistent://./x/y',
    'persistent://../x/y',
    'persistent://x/./y',
    'persistent://x/../y',
    'persistent://../../x',
    'persistent://acme/ns/..',
    'persistent://acme/ns/.',
    'persistent://acme//t',
    'persistent:///ns/t',
    'persistent://acme/ns/',
    'persistent://acme/ns/a/b',
    'persistent://%2e%2e/x/y',
    'persistent://acme/%2e%2e/y',
    'persistent://acme/ns/%2e%2e',
    `persistent://${'t'.repeat(250)}/ns/x`,
    `persistent://acme/${'n'.repeat(250)}/x`,
    `persistent://acme/ns/${'x'.repeat(250)}`,
    `persistent://${'t'.repeat(100_000)}/ns/x`,
    'persistent://acme\u0000/ns/x',
    'persistent://pulsar/system/x',
    'non-persistent://acme/ns/x',
    'PERSISTENT://acme/ns/x',
    '../x',
    '..',
    '.',
    'a/b',
    '',
  ];
  for (const p of probes) invalidTopic(() => resolveTopic(p, DEFAULTS));
  invalidTopic(() => resolveTopic(`persistent://${'t'.repeat(250)}/ns/x`, DEFAULTS), /tenant name is 250 characters long/);
  // the session namespace is checked again: a name is never built from an unchecked part
  invalidTopic(() => resolveTopic('x', { tenant: '..', namespace: 'y' }), /session namespace/);
  // messages stay printable and bounded whatever the name
  try {
    resolveTopic(`persistent://${'t'.repeat(100_000)}\u202e/ns/x`, DEFAULTS);
  } catch (e) {
    assert.ok((e as Error).message.length < 400, (e as Error).message);
    assert.doesNotMatch((e as Error).message, /[^\x20-\x7e]/);
  }
  invalidTopic(() => parseFullName('orders'));
});

test('parseNamespace (SASL usernames, extensions, configuration): the same rules', () => {
  assert.deepEqual(parseNamespace('acme/orders'), { tenant: 'acme', namespace: 'orders' });
  for (const bad of ['../x', 'acme/..', './x', 'acme/.', '../..', 'acme', 'a/b/c', '/x', 'x/', `${'t'.repeat(250)}/x`, 'pulsar/system', 'ac me/x']) {
    assert.throws(() => parseNamespace(bad), /invalid namespace/, bad);
  }
});

test('file-name segments: ordinary names keep their layout; anything else is encoded reversibly into ONE segment', () => {
  for (const plain of ['acme', 'orders', 'a.b_c-D9', '.hidden', '..x', 'x'.repeat(249)]) {
    assert.equal(encodeFsSegment(plain), plain);
    assert.equal(decodeFsSegment(plain), plain);
  }
  const cases: Array<[string, string]> = [
    ['.', '%2E'],
    ['..', '%2E%2E'],
    ['a:b', 'a%3Ab'],
    ['a=b', 'a%3Db'],
    ['a/b', 'a%2Fb'],
    ['a\\b', 'a%5Cb'],
    ['%2e', '%252e'],
    ['a\u0000b', 'a%00b'],
    ['\u0430', '%D0%B0'],
  ];
  for (const [name, seg] of cases) {
    assert.equal(encodeFsSegment(name), seg, showName(name));
    assert.equal(decodeFsSegment(seg), name, seg);
    assert.ok(!seg.includes('/') && seg !== '.' && seg !== '..');
  }
  // a Pulsar-legal name of the maximum length with ':' (3 bytes each) is refused rather than truncated
  assert.throws(() => encodeFsSegment(':'.repeat(249)), /too long for a file name/);
  assert.throws(() => encodeFsSegment(''), /empty/);
  // segments encodeFsSegment never produces are not names
  for (const seg of ['.', '..', '', '%2e', '%41', 'a%2', 'a b', '%FF']) assert.equal(decodeFsSegment(seg), null, seg);
});

test('URL segments: percent-encoded, and never empty, "." or ".." (Pulsar admin REST paths)', () => {
  assert.equal(encodeUrlSegment('a b/c'), 'a%20b%2Fc');
  for (const bad of ['', '.', '..']) assert.throws(() => encodeUrlSegment(bad), /cannot be a URL path segment/);
  assert.equal(topicPath('persistent://acme/ns/t'), 'persistent/acme/ns/t');
  for (const bad of ['persistent://acme/../other', 'persistent://../x/y', 'persistent://acme/ns/..', 'persistent://acme/ns/a/b', 'persistent://acme//t']) {
    assert.throws(() => topicPath(bad), /invalid topic|URL path segment/, bad);
  }
});

test('topic store: cannot leave its topics directory whatever name it is handed (fails closed); ordinary names keep the old layout', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kop-names-'));
  try {
    const logs: unknown[] = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (o: unknown) => void logs.push(o) };
    const store = new TopicStore(dir, { fsyncs: 0, logSyncs: 0, flushRounds: 0, logWrites: 0 } as never, logger as never);
    await store.init();
    assert.equal(store.topicDir('persistent://acme/orders/t1'), join(dir, 'topics', 'acme', 'orders', 't1'));
    assert.equal(store.partitionDir('persistent://acme/orders/t1', 3), join(dir, 'topics', 'acme', 'orders', 't1', '3'));
    assert.equal(store.topicDir('persistent://a:b/c=d/t'), join(dir, 'topics', 'a%3Ab', 'c%3Dd', 't'));
    for (const bad of ['persistent://acme/../other', 'persistent://.././state', 'persistent://../x/y', 'persistent://acme/ns/..', 'x', `persistent://${'t'.repeat(250)}/n/x`]) {
      assert.throws(
        () => store.topicDir(bad),
        (e: unknown) => e instanceof StorageError && e.code === ErrorCode.INVALID_TOPIC_EXCEPTION,
        bad,
      );
    }
    assert.throws(() => store.partitionDir('persistent://acme/orders/t1', -1), StorageError);
    // legal, but its encoding is longer than a file name: refused, not truncated
    assert.throws(() => store.topicDir(`persistent://${':'.repeat(100)}/ns/t`), (e: unknown) => e instanceof StorageError && e.code === ErrorCode.INVALID_TOPIC_EXCEPTION);
    // trash purges only its own entries
    await assert.rejects(store.purge(join(dir, 'topics')), /not an entry of the trash/);
    await assert.rejects(store.purge(join(dir, 'trash', '..', 'state')), /not an entry of the trash/);
    assert.ok(existsSync(join(dir, 'topics')));

    // a planted topic.json naming another place is skipped at load, its directory left alone
    const meta = { name: 'persistent://acme/orders/t1', topicId: Buffer.alloc(16, 1), partitions: 1, configs: {}, internal: false, createdMs: 1 };
    await store.create(meta);
    const { writeFileSync, mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'topics', 'other', 'ns', 'x', '0'), { recursive: true });
    writeFileSync(
      join(dir, 'topics', 'other', 'ns', 'x', 'topic.json'),
      JSON.stringify({ version: 1, name: 'persistent://acme/../other', topicId: '22'.repeat(16), partitions: 1, configs: {}, internal: false, createdMs: 1 }),
    );
    const loaded = await store.loadAll();
    assert.deepEqual(loaded.map((m) => m.name), ['persistent://acme/orders/t1']);
    assert.ok(existsSync(join(dir, 'topics', 'other', 'ns', 'x', 'topic.json')), 'the foreign directory is left in place');
    assert.ok(logs.length >= 1);
    assert.deepEqual(readdirSync(join(dir, 'topics')).sort(), ['acme', 'other']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SASL: usernames and the OAUTHBEARER namespace extension that name "." or ".." or break the rules are authentication failures', async () => {
  const validator = { validate: async (t: string) => ({ role: t, expiresAt: undefined }) };
  const settings = { validator, mechanisms: ['PLAIN', 'OAUTHBEARER'] as const, defaults: DEFAULTS, maxReauthMs: 0 };
  const plain = (user: string) => Buffer.from(`\u0000${user}\u0000token:alice`);
  const bearer = (ns: string) => Buffer.from(`n,,\u0001auth=Bearer alice\u0001namespace=${ns}\u0001\u0001`);
  const usernames = ['../x', 'acme/..', '..', '.', './x', 'acme/.', `${'t'.repeat(250)}/ns`, `acme/${'n'.repeat(250)}`, '\uff0e\uff0e/x', 'pulsar/system', 'a/b/c'];
  for (const u of usernames) {
    const a = new SaslAuthenticator(settings as never);
    a.selectMechanism('PLAIN');
    const step = await a.step(plain(u));
    assert.equal(step.kind, 'failure', u);
    assert.match((step as { reason: string }).reason, /^invalid username /, u);
    assert.doesNotMatch((step as { reason: string }).reason, /[^\x20-\x7e]/);
  }
  for (const ns of ['..', '.', 'acme/..', '../x', `${'t'.repeat(250)}`]) {
    const a = new SaslAuthenticator(settings as never);
    a.selectMechanism('OAUTHBEARER');
    const step = await a.step(bearer(ns));
    assert.equal(step.kind, 'challenge', ns);
    assert.match((step as { failure: string }).failure, /^invalid namespace extension /, ns);
  }
  const ok = new SaslAuthenticator(settings as never);
  ok.selectMechanism('PLAIN');
  assert.deepEqual(((await ok.step(plain('acme/orders'))) as { namespace: unknown }).namespace, { tenant: 'acme', namespace: 'orders' });
  assert.ok(new AuthenticationError('x') instanceof Error);
});

test('configuration: kafkaTenant/kafkaNamespace and the metadata tenant/namespace follow the same rules', () => {
  const load = (overrides: Record<string, string>) => loadConfig({ env: {}, overrides });
  assert.equal(load({ kafkaTenant: 'acme', kafkaNamespace: 'a=b' }).kafkaNamespace, 'a=b');
  for (const [key, value] of [
    ['kafkaTenant', '..'],
    ['kafkaNamespace', '.'],
    ['kafkaTenant', 'a/b'],
    ['kafkaMetadataTenant', '..'],
    ['kafkaMetadataNamespace', 'x'.repeat(250)],
  ] as const) {
    assert.throws(() => load({ [key]: value }), new RegExp(key), `${key}=${value}`);
  }
});
