/**
 * One error hierarchy: every error that carries a Kafka code is a KafkaError, so the dispatcher
 * answers any of them with its own code. A storage failure escaping a handler (e.g. a retriable
 * NOT_LEADER_OR_FOLLOWER from an engine inside topic resolution) reaches the client as that code,
 * which clients retry, not as UNKNOWN_SERVER_ERROR; any other exception stays UNKNOWN_SERVER_ERROR.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { Dispatcher } from '../../src/dispatch/dispatcher.js';
import { DispatchTable, type ApiEntry } from '../../src/dispatch/registry.js';
import type { GatewayContext } from '../../src/gateway-context.js';
import { silentLogger } from '../../src/logger.js';
import type { Connection } from '../../src/network/connection.js';
import { decodeResponse, encodeRequest } from '../../src/protocol/codec/frame.js';
import { ErrorCode, KafkaError } from '../../src/protocol/errors.js';
import { API_KEYS } from '../../src/protocol/generated/apis.js';
import type { ListOffsetsRequest, ListOffsetsResponse } from '../../src/protocol/generated/index.js';
import { RecordsError } from '../../src/protocol/records/errors.js';
import { CompressionError } from '../../src/protocol/compression/errors.js';
import { ALLOW_ALL } from '../../src/security/index.js';
import { anonymousSession } from '../../src/session/session.js';
import { StorageError, type StorageEngine } from '../../src/storage/engine.js';

test('StorageError, RecordsError and CompressionError are KafkaErrors', () => {
  assert.ok(new StorageError(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'x') instanceof KafkaError);
  assert.ok(new RecordsError('bad-count', 'x') instanceof KafkaError);
  assert.ok(new CompressionError(1, 'corrupt' as never, 'x') instanceof KafkaError);
});

test('a storage failure escaping a handler is answered with its own (retriable) code; anything else is UNKNOWN_SERVER_ERROR', async () => {
  let toThrow: Error = new Error('unset');
  const entry: ApiEntry<ListOffsetsRequest, ListOffsetsResponse> = {
    apiKey: API_KEYS.ListOffsets,
    minVersion: 0,
    maxVersion: 9,
    rule: 'topic-lookup',
    authz: { checks: [{ action: 'lookup', on: 'topic', denial: 'TOPIC_AUTHORIZATION_FAILED' }], needs: () => [] },
    handle() {
      throw toThrow;
    },
    errorResponse(request, errorCode) {
      return {
        throttleTimeMs: 0,
        topics: request.topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode, oldStyleOffsets: [], timestamp: -1n, offset: -1n, leaderEpoch: -1 })),
        })),
      };
    },
  };
  const table = new DispatchTable();
  table.register(entry);
  const log = silentLogger();
  const gateway: GatewayContext = {
    config: loadConfig({ env: {} }),
    storage: {} as StorageEngine,
    table,
    log,
    clusterId: 'AAAAAAAAAAAAAAAAAAAAAA',
    nodeId: 1,
    security: { sasl: null, failedAuthenticationDelayMs: 0, authorizer: ALLOW_ALL, audit: null },
    advertisedEndpoint: () => ({ host: '127.0.0.1', port: 9092 }),
  };
  const dispatcher = new Dispatcher(gateway, () => anonymousSession(null, { tenant: 'public', namespace: 'default' }));
  const conn = { id: 1, log, remoteAddress: '127.0.0.1', listenerName: 'PLAINTEXT', context: undefined, destroy() {} } as unknown as Connection;
  const ask = async (): Promise<number> => {
    const body = { replicaId: -1, isolationLevel: 0, timeoutMs: 1000, topics: [{ name: 't', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }] }] };
    const r = await dispatcher.handle(encodeRequest(API_KEYS.ListOffsets, 7, 1, 'x', body).subarray(4), conn);
    assert.ok(r.response && !r.close);
    const buf = Array.isArray(r.response) ? Buffer.concat(r.response) : r.response;
    return decodeResponse(buf.subarray(4), API_KEYS.ListOffsets, 7).body.topics[0]!.partitions[0]!.errorCode;
  };
  for (const code of [ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.REQUEST_TIMED_OUT, ErrorCode.KAFKA_STORAGE_ERROR]) {
    toThrow = new StorageError(code, 'engine said so');
    assert.equal(await ask(), code);
  }
  toThrow = new TypeError('a bug');
  assert.equal(await ask(), ErrorCode.UNKNOWN_SERVER_ERROR);
});
