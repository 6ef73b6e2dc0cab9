/**
 * Authorization of transactional ids through the real dispatcher, the real
 * Pulsar authorizer and a real embedded engine, group and transaction
 * coordinator: the home namespace is fixed at first use and every later
 * request is checked there whatever namespace its session names; using an id
 * needs `produce` in its home (TRANSACTIONAL_ID_AUTHORIZATION_FAILED), each
 * partition added `produce` on its topic; describing and listing need `lookup`;
 * two tenants' ids of one name are two ids; every decision is audited.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { ManualClock } from '../../src/coordinator/clock.js';
import { LocalGroupCoordinator, coordinatorConfigFrom } from '../../src/coordinator/coordinator.js';
import { SingleNodeLocator } from '../../src/coordinator/locator.js';
import { TransactionCoordinator } from '../../src/coordinator/txn/coordinator.js';
import { Dispatcher } from '../../src/dispatch/dispatcher.js';
import type { GatewayContext } from '../../src/gateway-context.js';
import { buildDispatchTable } from '../../src/handlers/index.js';
import { silentLogger } from '../../src/logger.js';
import type { Connection } from '../../src/network/connection.js';
import { decodeResponse, encodeRequest, type ApiKeyNumber } from '../../src/protocol/codec/frame.js';
import { API_KEYS } from '../../src/protocol/generated/apis.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { PulsarAuthorizer, StaticPolicySource } from '../../src/security/authz/index.js';
import { validateTenantPolicy } from '../../src/security/authz/policy.js';
import type { AuditLog } from '../../src/security/types.js';
import { anonymousSession, type Session } from '../../src/session/session.js';
import { EmbeddedEngine } from '../../src/storage/embedded/engine.js';

const ns = (permissions: Record<string, string[]>) => ({ permissions, subscriptionPermissions: {}, subscriptionAuthMode: 'None', topics: {} });

describe('transactional ids: one home namespace, produce to use, lookup to describe', () => {
  let dir: string;
  let engine: EmbeddedEngine;
  let groups: LocalGroupCoordinator;
  let txns: TransactionCoordinator;
  let dispatcher: Dispatcher;
  let session: Session;
  let correlation = 1;
  const log = silentLogger();
  const decisions: Array<{ operation: string; allowed: boolean; resource: string; action: string }> = [];
  const homes: Array<{ resource: string; how: string }> = [];
  const audit = {
    decision: (_c: number, d: { operation: string; allowed: boolean; resource: string; action: string }) => decisions.push(d),
    filtered: () => {},
    homeAssigned: (_c: number, h: { resource: string; how: string }) => homes.push(h),
    authentication: () => {},
    connectionClosed: () => {},
  } as unknown as AuditLog;
  const conn = { id: 4, log, remoteAddress: '127.0.0.1', listenerName: 'PLAINTEXT', destroy() {}, isClosed: false, requests: 0, bytesIn: 0, bytesOut: 0 } as unknown as Connection & { context: unknown };
  const as = (principal: string, namespace: string, tenant = 'acme') => anonymousSession(principal, { tenant, namespace });

  async function call(apiKey: number, version: number, body: unknown, s: Session): Promise<any> {
    session = s;
    conn.context = s;
    const frame = encodeRequest(apiKey as ApiKeyNumber, version, correlation++, 'txn-authz', body as never);
    const r = await dispatcher.handle(frame.subarray(4), conn);
    const buf = Array.isArray(r.response) ? Buffer.concat(r.response) : r.response!;
    const out = decodeResponse(buf.subarray(4), apiKey as ApiKeyNumber, version).body;
    return out;
  }
  const init = (id: string, s: Session) => call(API_KEYS.InitProducerId, 4, { transactionalId: id, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 }, s);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kop-txn-authz-'));
    engine = new EmbeddedEngine({ dataDirectory: dir, retentionCheckIntervalMs: 0 });
    await engine.start();
    await engine.createTopic('persistent://acme/a/t', 2, {});
    await engine.createTopic('persistent://acme/c/locked', 1, {});
    const config = loadConfig({ env: {}, overrides: { kafkaNodeId: 1 } });
    const locator = new SingleNodeLocator(5, 1, () => ({ host: 'h', port: 1 }));
    groups = new LocalGroupCoordinator(locator, engine.state, coordinatorConfigFrom(config), log, new ManualClock());
    await groups.start();
    txns = new TransactionCoordinator(locator, engine.state, engine, { transactionMaxTimeoutMs: 900_000, abortTimedOutIntervalMs: 10_000, transactionalIdExpirationMs: 604_800_000 }, log, new ManualClock());
    txns.offsets = groups;
    await txns.start();
    const policies = new StaticPolicySource([
      validateTenantPolicy({ tenant: 'acme', adminRoles: [], namespaces: { a: ns({ alice: ['produce', 'consume'] }), b: ns({ alice: ['produce'], bob: ['produce'] }), c: ns({ bob: ['consume'] }) } }, 'acme.json'),
      validateTenantPolicy({ tenant: 'beta', adminRoles: [], namespaces: { x: ns({ zed: ['produce'] }) } }, 'beta.json'),
    ]);
    const authorizer = new PulsarAuthorizer(policies, { superUserRoles: ['root'], anonymousUserRole: null, allowWildcards: false });
    const gateway: GatewayContext = {
      config,
      storage: engine,
      table: buildDispatchTable(),
      log,
      clusterId: 'AAAAAAAAAAAAAAAAAAAAAA',
      nodeId: 1,
      security: { sasl: null, failedAuthenticationDelayMs: 0, authorizer, audit },
      advertisedEndpoint: () => ({ host: 'h', port: 1 }),
      coordinator: groups,
      transactions: txns,
    };
    dispatcher = new Dispatcher(gateway, () => session);
  });

  after(async () => {
    await txns.shutdown();
    await groups.shutdown();
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the home is where the id was first used; later sessions are checked there, whatever namespace they name', async () => {
    const first = await init('tx1', as('alice', 'a'));
    assert.equal(first.errorCode, ErrorCode.NONE);
    assert.deepEqual(homes, [{ ...homes[0], resource: 'transactional-id acme/a/tx1', how: 'created' }]);
    // bob may produce in acme/b, not in acme/a (the home)
    decisions.length = 0;
    assert.equal((await init('tx1', as('bob', 'b'))).errorCode, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    assert.deepEqual(
      decisions.map((d) => [d.operation, d.action, d.resource, d.allowed]),
      [['InitProducerId', 'produce', 'transactional-id acme/a/tx1', false]],
      'checked (and the denial audited) in the home',
    );
    assert.equal((await call(API_KEYS.FindCoordinator, 4, { key: '', keyType: 1, coordinatorKeys: ['tx1'] }, as('bob', 'b'))).coordinators[0].errorCode, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    assert.equal((await call(API_KEYS.DescribeTransactions, 0, { transactionalIds: ['tx1'] }, as('bob', 'b'))).transactionStates[0].errorCode, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    assert.deepEqual((await call(API_KEYS.ListTransactions, 1, { stateFilters: [], producerIdFilters: [], durationFilter: -1n }, as('bob', 'b'))).transactionStates, [], 'left out of the listing');
    assert.equal((await call(API_KEYS.EndTxn, 3, { transactionalId: 'tx1', producerId: first.producerId, producerEpoch: first.producerEpoch, committed: false }, as('bob', 'b'))).errorCode, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    // alice from acme/b: checked in acme/a, where she may produce
    const again = await init('tx1', as('alice', 'b'));
    assert.deepEqual([again.errorCode, again.producerId, again.producerEpoch], [ErrorCode.NONE, first.producerId, first.producerEpoch + 1]);
    assert.deepEqual((await call(API_KEYS.ListTransactions, 1, { stateFilters: [], producerIdFilters: [], durationFilter: -1n }, as('alice', 'b'))).transactionStates.map((t: { transactionalId: string }) => t.transactionalId), ['tx1']);
    assert.equal(homes.length, 1, 'the home was assigned once');
  });

  test('a principal without produce cannot create an id; another tenant\'s id of the same name is another id', async () => {
    assert.equal((await init('fresh', as('bob', 'c'))).errorCode, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 'consume only');
    assert.equal(txns.txnHome({ tenant: 'acme', transactionalId: 'fresh' }).home, null, 'nothing created');
    const beta = await init('tx1', as('zed', 'x', 'beta'));
    assert.equal(beta.errorCode, ErrorCode.NONE);
    assert.notEqual(beta.producerId, txns.state({ tenant: 'acme', transactionalId: 'tx1' })!.producerId);
    assert.equal(txns.txnHome({ tenant: 'beta', transactionalId: 'tx1' }).home, 'x');
  });

  test('every partition added needs produce on its topic; a refused one fails the request without adding anything', async () => {
    const alice = as('alice', 'a');
    const r = await init('tx2', alice);
    const add = await call(API_KEYS.AddPartitionsToTxn, 3, { v3AndBelowTransactionalId: 'tx2', v3AndBelowProducerId: r.producerId, v3AndBelowProducerEpoch: r.producerEpoch, v3AndBelowTopics: [{ name: 't', partitions: [0, 1] }, { name: 'persistent://acme/c/locked', partitions: [0] }], transactions: [] }, alice);
    assert.deepEqual(
      add.resultsByTopicV3AndBelow.map((t: { name: string; resultsByPartition: Array<{ partitionIndex: number; partitionErrorCode: number }> }) => [t.name, t.resultsByPartition.map((p) => p.partitionErrorCode)]),
      [
        ['t', [ErrorCode.OPERATION_NOT_ATTEMPTED, ErrorCode.OPERATION_NOT_ATTEMPTED]],
        ['persistent://acme/c/locked', [ErrorCode.TOPIC_AUTHORIZATION_FAILED]],
      ],
    );
    assert.equal(txns.state({ tenant: 'acme', transactionalId: 'tx2' })!.state, 'Empty', 'nothing added');
    const ok = await call(API_KEYS.AddPartitionsToTxn, 1, { v3AndBelowTransactionalId: 'tx2', v3AndBelowProducerId: r.producerId, v3AndBelowProducerEpoch: r.producerEpoch, v3AndBelowTopics: [{ name: 't', partitions: [1] }], transactions: [] }, alice);
    assert.equal(ok.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode, ErrorCode.NONE);
    // v1 of a fenced producer: INVALID_PRODUCER_EPOCH (PRODUCER_FENCED from v2)
    const fenced = (v: number) => call(API_KEYS.AddPartitionsToTxn, v, { v3AndBelowTransactionalId: 'tx2', v3AndBelowProducerId: r.producerId, v3AndBelowProducerEpoch: r.producerEpoch - 1, v3AndBelowTopics: [{ name: 't', partitions: [0] }], transactions: [] }, alice);
    assert.equal((await fenced(1)).resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
    assert.equal((await fenced(2)).resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode, ErrorCode.PRODUCER_FENCED);
    const described = await call(API_KEYS.DescribeTransactions, 0, { transactionalIds: ['tx2'] }, alice);
    assert.deepEqual([described.transactionStates[0].transactionState, described.transactionStates[0].topics], ['Ongoing', [{ topic: 't', partitions: [1] }]]);
  });

  test('AddPartitionsToTxn v4+ (a broker\'s batch) needs the cluster permission; verify-only answers per partition', async () => {
    const batch = (pid: bigint, epoch: number) => ({
      v3AndBelowTransactionalId: '',
      v3AndBelowProducerId: 0n,
      v3AndBelowProducerEpoch: 0,
      v3AndBelowTopics: [],
      transactions: [
        { transactionalId: 'tx2', producerId: pid, producerEpoch: epoch, verifyOnly: true, topics: [{ name: 't', partitions: [1, 0] }] },
        { transactionalId: 'nope', producerId: pid, producerEpoch: epoch, verifyOnly: true, topics: [{ name: 't', partitions: [0] }] },
      ],
    });
    const m = txns.state({ tenant: 'acme', transactionalId: 'tx2' })!;
    const refused = await call(API_KEYS.AddPartitionsToTxn, 4, batch(m.producerId, m.producerEpoch), as('alice', 'a'));
    assert.deepEqual([refused.errorCode, refused.resultsByTransaction], [ErrorCode.CLUSTER_AUTHORIZATION_FAILED, []]);
    const r = await call(API_KEYS.AddPartitionsToTxn, 5, batch(m.producerId, m.producerEpoch), as('root', 'a'));
    assert.equal(r.errorCode, ErrorCode.NONE);
    assert.deepEqual(
      r.resultsByTransaction.map((t: { transactionalId: string; topicResults: Array<{ resultsByPartition: Array<{ partitionErrorCode: number }> }> }) => [t.transactionalId, t.topicResults[0]!.resultsByPartition.map((p) => p.partitionErrorCode)]),
      [
        ['tx2', [ErrorCode.NONE, ErrorCode.TRANSACTION_ABORTABLE]],
        ['nope', [ErrorCode.INVALID_PRODUCER_ID_MAPPING]],
      ],
    );
  });
});
