import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/protocol/errors.js';
import { StorageError } from '../../src/storage/engine.js';
import {
  TOPIC_CONFIG_KEYS,
  applyAlterations,
  describeTopicConfigs,
  makeDefaults,
  resolveTopicConfig,
  validateTopicConfigs,
} from '../../src/storage/topic-config.js';

function invalid(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof StorageError);
    assert.equal(e.code, ErrorCode.INVALID_CONFIG);
    assert.match(e.message, re);
    return true;
  });
}

test('topic config: Kafka defaults and typed resolution', () => {
  const defaults = makeDefaults();
  assert.equal(defaults['max.message.bytes'], '1048588');
  assert.equal(defaults['retention.ms'], '604800000');
  assert.equal(defaults['retention.bytes'], '-1');
  assert.equal(defaults['segment.bytes'], '1073741824');
  assert.equal(defaults['cleanup.policy'], 'delete');
  assert.equal(defaults['message.timestamp.type'], 'CreateTime');
  assert.equal(defaults['flush.messages'], '9223372036854775807');
  const c = resolveTopicConfig({ 'retention.ms': '-1', 'message.timestamp.type': 'LogAppendTime' }, defaults);
  assert.equal(c.retentionMs, -1);
  assert.equal(c.timestampType, 'LogAppendTime');
  assert.equal(c.flushMessages, Number.MAX_SAFE_INTEGER, 'Long.MAX clamps');
  assert.equal(c.indexIntervalBytes, 4096);
  assert.equal(c.minInsyncReplicas, 1);
});

test('topic config: validation names the key and the problem', () => {
  invalid(() => validateTopicConfigs({ 'compression.typo': 'x' }), /unknown topic config 'compression\.typo'/);
  invalid(() => validateTopicConfigs({ 'retention.ms': 'soon' }), /retention\.ms.*not an integer/);
  invalid(() => validateTopicConfigs({ 'retention.ms': '-2' }), /at least -1/);
  invalid(() => validateTopicConfigs({ 'segment.bytes': '3000000000' }), /too large/);
  invalid(() => validateTopicConfigs({ 'message.timestamp.type': 'Wall' }), /CreateTime, LogAppendTime/);
  validateTopicConfigs({ 'cleanup.policy': 'compact' });
  validateTopicConfigs({ 'cleanup.policy': 'delete,compact' });
  invalid(() => validateTopicConfigs({ 'cleanup.policy': 'compact,shred' }), /invalid value 'shred'/);
  invalid(() => validateTopicConfigs({ 'min.cleanable.dirty.ratio': '-0.1' }), /between 0 and 1/);
  invalid(() => validateTopicConfigs({ 'cleanup.policy': 'shred' }), /invalid value 'shred'/);
  invalid(() => validateTopicConfigs({ 'min.insync.replicas': '2' }), /exactly one replica/);
  invalid(() => validateTopicConfigs({ 'flush.messages': '0' }), /at least 1/);
  validateTopicConfigs({
    'retention.ms': '-1',
    'retention.bytes': '10737418240',
    'segment.ms': '3600000',
    'min.insync.replicas': '1',
    'cleanup.policy': 'delete',
    'flush.ms': '9223372036854775807',
  });
  invalid(() => makeDefaults({ 'segment.bytes': 'big' }), /segment\.bytes/);
});

test('topic config: incremental alterations (set/delete/append/subtract)', () => {
  const defaults = makeDefaults();
  assert.deepEqual(
    applyAlterations(
      { 'retention.ms': '1' },
      [
        { name: 'retention.ms', value: null, op: 'delete' },
        { name: 'segment.ms', value: '1000', op: 'set' },
      ],
      defaults,
    ),
    { 'segment.ms': '1000' },
  );
  // append to a list starts from the effective value; subtract removes
  assert.deepEqual(applyAlterations({}, [{ name: 'cleanup.policy', value: 'delete', op: 'append' }], defaults), { 'cleanup.policy': 'delete' });
  assert.deepEqual(applyAlterations({}, [{ name: 'cleanup.policy', value: 'compact', op: 'append' }], defaults), { 'cleanup.policy': 'delete,compact' });
  invalid(() => applyAlterations({}, [{ name: 'cleanup.policy', value: 'compacted', op: 'append' }], defaults), /compacted/);
  invalid(() => applyAlterations({}, [{ name: 'cleanup.policy', value: 'delete', op: 'subtract' }], defaults), /must not be empty/);
  invalid(() => applyAlterations({}, [{ name: 'retention.ms', value: '1', op: 'append' }], defaults), /not a list/);
  invalid(() => applyAlterations({}, [{ name: 'retention.ms', value: null, op: 'set' }], defaults), /needs a value/);
  invalid(() => applyAlterations({}, [{ name: 'x.y', value: '1', op: 'delete' }], defaults), /unknown topic config 'x\.y'/);
});

test('topic config: describe lists every key with value and source', () => {
  const defaults = makeDefaults({ 'retention.ms': '1000' });
  const d = describeTopicConfigs({ 'segment.bytes': '2048' }, defaults);
  assert.deepEqual(
    d.map((e) => e.name),
    TOPIC_CONFIG_KEYS,
  );
  assert.deepEqual(
    d.find((e) => e.name === 'segment.bytes'),
    { name: 'segment.bytes', value: '2048', source: 'topic', readOnly: false, sensitive: false },
  );
  assert.deepEqual(
    d.find((e) => e.name === 'retention.ms'),
    { name: 'retention.ms', value: '1000', source: 'default', readOnly: false, sensitive: false },
  );
  assert.ok(d.every((e) => e.sensitive === false && e.readOnly === false));
});
