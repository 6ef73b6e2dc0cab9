/**
 * The group API handlers, version by version: each request is encoded and decoded with the
 * codec, handled against a coordinator on a real embedded engine (manual clock), and the
 * response encoded and decoded again at the same version. Real-client behaviour of the same
 * APIs: test/e2e/groups.test.ts.
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
import type { RequestContext } from '../../src/dispatch/registry.js';
import type { GatewayContext } from '../../src/gateway-context.js';
import { buildDispatchTable } from '../../src/handlers/index.js';
import { silentLogger } from '../../src/logger.js';
import type { Connection } from '../../src/network/connection.js';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse, encodeVersioned, type ApiKeyNumber } from '../../src/protocol/codec/frame.js';
import type { RequestBodies, ResponseBodies } from '../../src/protocol/generated/apis.js';
import { API_KEYS } from '../../src/protocol/generated/apis.js';
import { ConsumerProtocolSubscription } from '../../src/protocol/generated/index.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { anonymousSession, type Session } from '../../src/session/session.js';
import { EmbeddedEngine } from '../../src/storage/embedded/engine.js';
import { RequestAccess } from '../../src/security/access.js';
import { prepareAccess } from '../../src/dispatch/access-plan.js';
import type { Authorizer } from '../../src/security/types.js';

const NODE = 7;

/** Everything allowed except the group "secret" and the topic "hidden". */
const AUTHORIZER: Authorizer = {
  async can(_role, _action, resource) {
    if (resource.kind === 'group' && resource.group === 'secret') return { allowed: false, reason: 'test' };
    if (resource.kind === 'topic' && resource.topic.endsWith('/hidden')) return { allowed: false, reason: 'test' };
    return { allowed: true, reason: 'test' };
  },
};
const flush = () => new Promise<void>((r) => setImmediate(r));

describe('group API handlers through the codec, embedded engine', () => {
  let dir: string;
  let engine: EmbeddedEngine;
  let coordinator: LocalGroupCoordinator;
  let gateway: GatewayContext;
  const clock = new ManualClock();
  const table = buildDispatchTable();
  const log = silentLogger();
  const conn = { id: 1, log, remoteAddress: '10.1.2.3', listenerName: 'PLAINTEXT', context: undefined, destroy() {} } as unknown as Connection;
  const publicSession = anonymousSession(null, { tenant: 'public', namespace: 'default' });
  let correlation = 1;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kop-groups-unit-'));
    engine = new EmbeddedEngine({ dataDirectory: dir, retentionCheckIntervalMs: 0 });
    await engine.start();
    await engine.createTopic('persistent://public/default/t', 3, {});
    await engine.createTopic('persistent://public/other/u', 1, {});
    await engine.createTopic('persistent://acme/ns/t', 1, {});
    await engine.createTopic('persistent://public/default/hidden', 1, {});
    const config = loadConfig({ env: {}, overrides: { kafkaNodeId: NODE, groupInitialRebalanceDelayMs: 100, groupMinSessionTimeoutMs: 1000 } });
    coordinator = new LocalGroupCoordinator(new SingleNodeLocator(5, NODE, (l) => ({ host: `host-${l}`, port: 9093 })), engine.state, coordinatorConfigFrom(config), log, clock);
    await coordinator.start();
    gateway = { config, storage: engine, table, log, clusterId: 'AAAAAAAAAAAAAAAAAAAAAA', nodeId: NODE, advertisedEndpoint: () => ({ host: 'h', port: 1 }), coordinator } as unknown as GatewayContext;
  });

  after(async () => {
    await coordinator.shutdown();
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function call<K extends ApiKeyNumber>(key: K, version: number, body: RequestBodies[K], opts: { session?: Session; gateway?: GatewayContext } = {}): Promise<ResponseBodies[K]> {
    const corr = correlation++;
    const frame = encodeRequest(key, version, corr, 'unit-client', body);
    const decoded = decodeRequest(frame.subarray(4));
    const entry = table.get(key);
    assert.ok(entry && version >= entry.minVersion && version <= entry.maxVersion, `API ${key} v${version} served`);
    assert.equal(entry.rule, 'group', 'every group API is authorized by the group rule');
    const session = opts.session ?? publicSession;
    const access = new RequestAccess(AUTHORIZER, null, session, conn.id, `api-${key}`);
    const ctx = { apiKey: key, apiVersion: version, correlationId: corr, clientId: 'unit-client', conn, session, gateway: opts.gateway ?? gateway, log, closeAfterResponse: false, access } as unknown as RequestContext;
    await prepareAccess(ctx, entry.authz, decoded.body); // what the dispatcher does before the handler
    const res = (await entry.handle(ctx, decoded.body)) as ResponseBodies[K];
    const out = encodeResponse(key, version, corr, res);
    return decodeResponse(out.subarray(4), key, version).body;
  }

  const sub = (...topics: string[]) => encodeVersioned(ConsumerProtocolSubscription, 1, { topics, userData: null, ownedPartitions: [], generationId: -1, rackId: null });

  test('FindCoordinator: v0-v3 single key, v4+ batched, TRANSACTION keys, unknown key types', async () => {
    for (const v of [0, 1, 2, 3]) {
      const r = await call(API_KEYS.FindCoordinator, v, { key: 'g', keyType: 0, coordinatorKeys: [] });
      assert.equal(r.errorCode, ErrorCode.NONE, `v${v}`);
      assert.equal(r.nodeId, NODE);
      assert.equal(r.host, 'host-PLAINTEXT');
      assert.equal(r.port, 9093);
    }
    // a TRANSACTION key: its coordinator, or COORDINATOR_NOT_AVAILABLE at once on a gateway without one
    const txn = await call(API_KEYS.FindCoordinator, 3, { key: 'tx', keyType: 1, coordinatorKeys: [] });
    assert.equal(txn.errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    assert.match(txn.errorMessage ?? '', /no transaction coordinator/);
    const transactions = new TransactionCoordinator(coordinator.locator, engine.state, engine, { transactionMaxTimeoutMs: 60_000, abortTimedOutIntervalMs: 10_000, transactionalIdExpirationMs: 3_600_000 }, log, clock);
    await transactions.start();
    try {
      const withTxn = { ...gateway, transactions } as GatewayContext;
      const found = await call(API_KEYS.FindCoordinator, 4, { key: '', keyType: 1, coordinatorKeys: ['tx'] }, { gateway: withTxn });
      assert.deepEqual(found.coordinators.map((c) => [c.key, c.nodeId, c.host, c.port, c.errorCode]), [['tx', NODE, 'host-PLAINTEXT', 9093, 0]]);
    } finally {
      await transactions.shutdown();
    }
    const batched = await call(API_KEYS.FindCoordinator, 4, { key: '', keyType: 0, coordinatorKeys: ['a', 'b'] });
    assert.deepEqual(batched.coordinators.map((c) => [c.key, c.nodeId, c.host, c.port, c.errorCode]), [
      ['a', NODE, 'host-PLAINTEXT', 9093, 0],
      ['b', NODE, 'host-PLAINTEXT', 9093, 0],
    ]);
    const share = await call(API_KEYS.FindCoordinator, 6, { key: '', keyType: 2, coordinatorKeys: ['s'] });
    assert.equal(share.coordinators[0]!.errorCode, ErrorCode.INVALID_REQUEST);
  });

  test('JoinGroup/SyncGroup/Heartbeat/LeaveGroup: a member through a rebalance, per version', async () => {
    const protocols = [{ name: 'range', metadata: sub('t') }];
    // v4+: first the member id.
    const first = await call(API_KEYS.JoinGroup, 5, { groupId: 'm', sessionTimeoutMs: 5000, rebalanceTimeoutMs: 5000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols, reason: null });
    assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
    assert.equal(first.protocolName, '', 'v5 cannot send a null protocol name');
    assert.match(first.memberId, /^unit-client-/);
    const joining = call(API_KEYS.JoinGroup, 9, { groupId: 'm', sessionTimeoutMs: 5000, rebalanceTimeoutMs: 5000, memberId: first.memberId, groupInstanceId: null, protocolType: 'consumer', protocols, reason: 'test' });
    await flush();
    clock.advance(100);
    const joined = await joining;
    assert.equal(joined.errorCode, ErrorCode.NONE);
    assert.equal(joined.generationId, 1);
    assert.equal(joined.protocolType, 'consumer');
    assert.equal(joined.protocolName, 'range');
    assert.equal(joined.leader, first.memberId);
    assert.deepEqual(joined.members.map((m) => m.memberId), [first.memberId]);
    // SyncGroup v5 needs the protocol type and name.
    const bad = await call(API_KEYS.SyncGroup, 5, { groupId: 'm', generationId: 1, memberId: first.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    assert.equal(bad.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const synced = await call(API_KEYS.SyncGroup, 5, { groupId: 'm', generationId: 1, memberId: first.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId: first.memberId, assignment: Buffer.from([1, 2]) }] });
    assert.equal(synced.errorCode, ErrorCode.NONE);
    assert.deepEqual([...synced.assignment], [1, 2]);
    assert.equal(synced.protocolName, 'range');
    for (const v of [0, 3, 4]) {
      const hb = await call(API_KEYS.Heartbeat, v, { groupId: 'm', generationId: 1, memberId: first.memberId, groupInstanceId: null });
      assert.equal(hb.errorCode, ErrorCode.NONE, `heartbeat v${v}`);
    }
    assert.equal((await call(API_KEYS.Heartbeat, 4, { groupId: 'm', generationId: 0, memberId: first.memberId, groupInstanceId: null })).errorCode, ErrorCode.ILLEGAL_GENERATION);
    // LeaveGroup v0-2: one member, its error at the top; v3+: a list.
    const ghost = await call(API_KEYS.LeaveGroup, 1, { groupId: 'm', memberId: 'ghost', members: [] });
    assert.equal(ghost.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    const left = await call(API_KEYS.LeaveGroup, 5, { groupId: 'm', memberId: '', members: [{ memberId: first.memberId, groupInstanceId: null, reason: 'done' }, { memberId: 'ghost', groupInstanceId: null, reason: null }] });
    assert.equal(left.errorCode, ErrorCode.NONE);
    assert.deepEqual(left.members.map((m) => [m.memberId, m.errorCode]), [[first.memberId, 0], ['ghost', ErrorCode.UNKNOWN_MEMBER_ID]]);
    const described = await call(API_KEYS.DescribeGroups, 5, { groups: ['m'], includeAuthorizedOperations: false });
    assert.equal(described.groups[0]!.groupState, 'Empty');
  });

  test('JoinGroup v0: no member id round trip; errors carry empty protocol names before v7 and null from v7', async () => {
    const protocols = [{ name: 'roundrobin', metadata: sub('t') }];
    const joining = call(API_KEYS.JoinGroup, 0, { groupId: 'v0', sessionTimeoutMs: 5000, rebalanceTimeoutMs: -1, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols, reason: null });
    await flush();
    clock.advance(100);
    const r = await joining;
    assert.equal(r.errorCode, ErrorCode.NONE);
    assert.equal(r.protocolName, 'roundrobin');
    const tooShort = await call(API_KEYS.JoinGroup, 7, { groupId: 'v0', sessionTimeoutMs: 10, rebalanceTimeoutMs: 100, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols, reason: null });
    assert.equal(tooShort.errorCode, ErrorCode.INVALID_SESSION_TIMEOUT);
    assert.equal(tooShort.protocolName, null);
    assert.equal(tooShort.generationId, -1);
    const emptyId = await call(API_KEYS.JoinGroup, 2, { groupId: '', sessionTimeoutMs: 5000, rebalanceTimeoutMs: 5000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols, reason: null });
    assert.equal(emptyId.errorCode, ErrorCode.INVALID_GROUP_ID);
  });

  test('OffsetCommit: unknown topics and partitions, invalid names, per version; OffsetFetch in every shape', async () => {
    const commit = (v: number, topics: Array<{ name: string; partitions: Array<{ partitionIndex: number; committedOffset: bigint; committedMetadata?: string | null }> }>, groupId = 'o') =>
      call(API_KEYS.OffsetCommit, v, {
        groupId,
        generationIdOrMemberEpoch: -1,
        memberId: '',
        groupInstanceId: null,
        retentionTimeMs: -1n,
        topics: topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, committedOffset: p.committedOffset, committedLeaderEpoch: 4, commitTimestamp: -1n, committedMetadata: p.committedMetadata === undefined ? 'meta' : p.committedMetadata })) })),
      });
    for (const v of [0, 1, 2, 5, 8, 9]) {
      const r = await commit(v, [
        { name: 't', partitions: [{ partitionIndex: 0, committedOffset: BigInt(10 + v) }, { partitionIndex: 3, committedOffset: 1n }] },
        { name: 'nope', partitions: [{ partitionIndex: 0, committedOffset: 1n }] },
        { name: 'bad/name', partitions: [{ partitionIndex: 0, committedOffset: 1n }] },
      ]);
      assert.deepEqual(
        r.topics.map((t) => [t.name, t.partitions.map((p) => p.errorCode)]),
        [
          ['t', [ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]],
          ['nope', [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]],
          ['bad/name', [ErrorCode.INVALID_TOPIC_EXCEPTION]],
        ],
        `OffsetCommit v${v}`,
      );
    }
    await commit(8, [
      { name: 't', partitions: [{ partitionIndex: 1, committedOffset: 5n, committedMetadata: null }] },
      { name: 'persistent://public/other/u', partitions: [{ partitionIndex: 0, committedOffset: 3n }] },
    ]);
    // v1: named partitions; an uncommitted one is -1.
    const v1 = await call(API_KEYS.OffsetFetch, 1, { groupId: 'o', topics: [{ name: 't', partitionIndexes: [0, 2] }], groups: [], requireStable: false });
    assert.deepEqual(v1.topics[0]!.partitions.map((p) => [p.partitionIndex, p.committedOffset, p.metadata, p.errorCode]), [[0, 19n, 'meta', 0], [2, -1n, '', 0]]);
    // v5 with null topics: everything; names relative to the session's namespace; leader epochs.
    const all = await call(API_KEYS.OffsetFetch, 5, { groupId: 'o', topics: null, groups: [], requireStable: false });
    assert.equal(all.errorCode, ErrorCode.NONE);
    assert.deepEqual(
      all.topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.committedOffset, p.committedLeaderEpoch, p.metadata])]),
      [
        ['persistent://public/other/u', [[0, 3n, 4, 'meta']]],
        ['t', [[0, 19n, 4, 'meta'], [1, 5n, 4, '']]],
      ],
    );
    // v8: several groups, requireStable.
    const multi = await call(API_KEYS.OffsetFetch, 8, {
      groupId: '',
      topics: [],
      groups: [
        { groupId: 'o', memberId: null, memberEpoch: -1, topics: [{ name: 't', partitionIndexes: [1] }] },
        { groupId: 'none', memberId: null, memberEpoch: -1, topics: null },
      ],
      requireStable: true,
    });
    assert.deepEqual(multi.groups.map((g) => [g.groupId, g.errorCode, g.topics.map((t) => [t.name, t.partitions.map((p) => p.committedOffset)])]), [
      ['o', 0, [['t', [5n]]]],
      ['none', 0, []],
    ]);
  });

  test('groups are per tenant: the same group id in another tenant is another group', async () => {
    const acme = anonymousSession(null, { tenant: 'acme', namespace: 'ns' });
    const r = await call(
      API_KEYS.OffsetCommit,
      8,
      { groupId: 'billing', generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1n, topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 77n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: '' }] }] },
      { session: acme },
    );
    assert.equal(r.topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
    const mine = await call(API_KEYS.OffsetFetch, 6, { groupId: 'billing', topics: null, groups: [], requireStable: false }, { session: acme });
    assert.deepEqual(mine.topics.map((t) => [t.name, t.partitions[0]!.committedOffset]), [['t', 77n]]);
    const theirs = await call(API_KEYS.OffsetFetch, 6, { groupId: 'billing', topics: null, groups: [], requireStable: false });
    assert.deepEqual(theirs.topics, []);
    const listAcme = await call(API_KEYS.ListGroups, 4, { statesFilter: [], typesFilter: [] }, { session: acme });
    assert.deepEqual(listAcme.groups.map((g) => [g.groupId, g.groupState]), [['billing', 'Empty']]);
    const listPublic = await call(API_KEYS.ListGroups, 0, { statesFilter: [], typesFilter: [] });
    assert.ok(!listPublic.groups.some((g) => g.groupId === 'billing'));
  });

  test('ListGroups filters (v4 states, v5 types); DescribeGroups; DeleteGroups; OffsetDelete', async () => {
    const empty = await call(API_KEYS.ListGroups, 4, { statesFilter: ['Empty'], typesFilter: [] });
    assert.ok(empty.groups.length >= 1 && empty.groups.every((g) => g.groupState === 'Empty'));
    assert.deepEqual((await call(API_KEYS.ListGroups, 4, { statesFilter: ['Stable'], typesFilter: [] })).groups, []);
    const classic = await call(API_KEYS.ListGroups, 5, { statesFilter: [], typesFilter: ['classic'] });
    assert.ok(classic.groups.length >= 1 && classic.groups.every((g) => g.groupType === 'classic'));
    assert.deepEqual((await call(API_KEYS.ListGroups, 5, { statesFilter: [], typesFilter: ['consumer'] })).groups, []);
    const described = await call(API_KEYS.DescribeGroups, 0, { groups: ['o', 'unknown'], includeAuthorizedOperations: false });
    assert.deepEqual(described.groups.map((g) => [g.groupId, g.errorCode, g.groupState, g.protocolType]), [
      ['o', 0, 'Empty', ''],
      ['unknown', 0, 'Dead', ''],
    ]);
    // OffsetDelete: unknown topics are listed even when the group is unknown.
    const od = await call(API_KEYS.OffsetDelete, 0, { groupId: 'unknown', topics: [{ name: 'nope', partitions: [{ partitionIndex: 0 }] }, { name: 't', partitions: [{ partitionIndex: 0 }] }] });
    assert.equal(od.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
    assert.deepEqual(od.topics.map((t) => [t.name, t.partitions.map((p) => p.errorCode)]), [['nope', [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]]);
    const od2 = await call(API_KEYS.OffsetDelete, 0, { groupId: 'o', topics: [{ name: 't', partitions: [{ partitionIndex: 0 }, { partitionIndex: 9 }] }] });
    assert.equal(od2.errorCode, ErrorCode.NONE);
    assert.deepEqual(od2.topics[0]!.partitions.map((p) => p.errorCode), [ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
    const after = await call(API_KEYS.OffsetFetch, 3, { groupId: 'o', topics: [{ name: 't', partitionIndexes: [0, 1] }], groups: [], requireStable: false });
    assert.deepEqual(after.topics[0]!.partitions.map((p) => p.committedOffset), [-1n, 5n]);
    const del = await call(API_KEYS.DeleteGroups, 2, { groupsNames: ['o', 'unknown'] });
    assert.deepEqual(del.results.map((r) => [r.groupId, r.errorCode]), [['o', 0], ['unknown', ErrorCode.GROUP_ID_NOT_FOUND]]);
  });

  test('authorization: GROUP_AUTHORIZATION_FAILED for a group the session may not use, TOPIC_AUTHORIZATION_FAILED per topic', async () => {
    const fc = await call(API_KEYS.FindCoordinator, 4, { key: '', keyType: 0, coordinatorKeys: ['secret', 'open'] });
    assert.deepEqual(fc.coordinators.map((c) => [c.key, c.errorCode]), [['secret', ErrorCode.GROUP_AUTHORIZATION_FAILED], ['open', 0]]);
    const join = await call(API_KEYS.JoinGroup, 6, { groupId: 'secret', sessionTimeoutMs: 5000, rebalanceTimeoutMs: 5000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: sub('t') }], reason: null });
    assert.equal(join.errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
    assert.equal((await call(API_KEYS.Heartbeat, 2, { groupId: 'secret', generationId: 1, memberId: 'm', groupInstanceId: null })).errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
    const part = (partitionIndex: number) => ({ partitionIndex, committedOffset: 1n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: '' });
    const denied = await call(API_KEYS.OffsetCommit, 8, { groupId: 'secret', generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1n, topics: [{ name: 't', partitions: [part(0)] }] });
    assert.equal(denied.topics[0]!.partitions[0]!.errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
    const mixed = await call(API_KEYS.OffsetCommit, 8, { groupId: 'auth', generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1n, topics: [{ name: 'hidden', partitions: [part(0)] }, { name: 't', partitions: [part(0)] }] });
    assert.deepEqual(mixed.topics.map((t) => t.partitions[0]!.errorCode), [ErrorCode.TOPIC_AUTHORIZATION_FAILED, ErrorCode.NONE]);
    // Offsets of a topic the session may not consume are neither listed nor fetched.
    await gateway.coordinator!.commitOffsets({ key: { tenant: 'public', groupId: 'auth', namespace: 'default' }, generationId: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1n, offsets: [{ topic: 'persistent://public/default/hidden', partition: 0, offset: 9n, leaderEpoch: -1, metadata: '', commitTimestamp: -1n }], apiVersion: 8 });
    const all = await call(API_KEYS.OffsetFetch, 7, { groupId: 'auth', topics: null, groups: [], requireStable: false });
    assert.deepEqual(all.topics.map((t) => t.name), ['t']);
    const named = await call(API_KEYS.OffsetFetch, 7, { groupId: 'auth', topics: [{ name: 'hidden', partitionIndexes: [0] }], groups: [], requireStable: false });
    assert.deepEqual(named.topics[0]!.partitions.map((p) => [p.committedOffset, p.errorCode]), [[-1n, ErrorCode.TOPIC_AUTHORIZATION_FAILED]]);
    const fetchDenied = await call(API_KEYS.OffsetFetch, 8, { groupId: '', topics: [], groups: [{ groupId: 'secret', memberId: null, memberEpoch: -1, topics: null }], requireStable: false });
    assert.equal(fetchDenied.groups[0]!.errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
    const described = await call(API_KEYS.DescribeGroups, 1, { groups: ['secret'], includeAuthorizedOperations: false });
    assert.equal(described.groups[0]!.errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
    const deleted = await call(API_KEYS.DeleteGroups, 1, { groupsNames: ['secret'] });
    assert.equal(deleted.results[0]!.errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
    assert.equal((await call(API_KEYS.OffsetDelete, 0, { groupId: 'secret', topics: [] })).errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
    // A group the session may not use is not listed.
    await gateway.coordinator!.commitOffsets({ key: { tenant: 'public', groupId: 'secret', namespace: 'default' }, generationId: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1n, offsets: [{ topic: 'persistent://public/default/t', partition: 0, offset: 1n, leaderEpoch: -1, metadata: '', commitTimestamp: -1n }], apiVersion: 8 });
    const listed = await call(API_KEYS.ListGroups, 3, { statesFilter: [], typesFilter: [] });
    assert.ok(listed.groups.some((g) => g.groupId === 'auth') && !listed.groups.some((g) => g.groupId === 'secret'));
  });

  test('ConsumerGroupHeartbeat (KIP-848) v0-v1 and ConsumerGroupDescribe: join, regex resolved here, authorization, validation, offsets by member epoch', async () => {
    const hb = (body: Partial<RequestBodies[68]>, version = 1) =>
      call(API_KEYS.ConsumerGroupHeartbeat, version, { groupId: 'kip848', memberId: 'mem-1', memberEpoch: 0, instanceId: null, rackId: null, rebalanceTimeoutMs: 30_000, subscribedTopicNames: null, subscribedTopicRegex: null, serverAssignor: null, topicPartitions: [], ...body });
    const tId = (await engine.describeTopic('persistent://public/default/t'))!.topicId;
    // The regex matches t and hidden in the session's namespace (u is in public/other): hidden is filtered out.
    const joined = await hb({ subscribedTopicRegex: '.*' });
    assert.equal(joined.errorCode, ErrorCode.NONE, joined.errorMessage ?? '');
    assert.equal(joined.memberId, 'mem-1');
    assert.equal(joined.memberEpoch, 1);
    assert.deepEqual(joined.assignment!.topicPartitions.map((t) => [t.topicId.equals(tId), t.partitions]), [[true, [0, 1, 2]]]);
    // v0: the coordinator names the member.
    const v0 = await hb({ memberId: '', subscribedTopicNames: ['t'] }, 0);
    assert.equal(v0.errorCode, ErrorCode.NONE);
    assert.match(v0.memberId ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(v0.memberEpoch, 2);
    // Named topics need consume: the heartbeat is refused.
    const denied = await hb({ memberId: 'mem-3', subscribedTopicNames: ['t', 'hidden'] });
    assert.equal(denied.errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    assert.equal(denied.errorMessage, 'Unauthorized topics: hidden');
    assert.equal((await hb({ groupId: 'secret', subscribedTopicNames: ['t'] })).errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
    // Validation as Kafka 4.x.
    assert.deepEqual(await hb({ memberId: '', subscribedTopicNames: ['t'] }).then((r) => [r.errorCode, r.errorMessage]), [ErrorCode.INVALID_REQUEST, "MemberId can't be empty."]);
    assert.equal((await hb({ subscribedTopicNames: ['t'], serverAssignor: 'sticky' })).errorCode, ErrorCode.UNSUPPORTED_ASSIGNOR);
    assert.equal((await hb({ subscribedTopicRegex: '[' })).errorCode, ErrorCode.INVALID_REGULAR_EXPRESSION);
    assert.equal((await hb({ memberEpoch: 5, topicPartitions: null })).errorCode, ErrorCode.FENCED_MEMBER_EPOCH);
    // mem-1 must give up partitions for the v0 member: its assignment shrinks, its epoch stays.
    const shrink = await hb({ memberEpoch: 1, topicPartitions: [{ topicId: tId, partitions: [0, 1, 2] }] });
    assert.equal(shrink.memberEpoch, 1);
    const kept = shrink.assignment!.topicPartitions[0]!.partitions;
    assert.ok(kept.length < 3, `revocation asked: ${JSON.stringify(kept)}`);
    const stable = await hb({ memberEpoch: 1, topicPartitions: [{ topicId: tId, partitions: kept }] });
    assert.equal(stable.memberEpoch, 2);
    // Offsets by member epoch.
    const part = (partitionIndex: number) => ({ partitionIndex, committedOffset: 4n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: '' });
    const commit = (epoch: number, version = 9) => call(API_KEYS.OffsetCommit, version, { groupId: 'kip848', generationIdOrMemberEpoch: epoch, memberId: 'mem-1', groupInstanceId: null, retentionTimeMs: -1n, topics: [{ name: 't', partitions: [part(kept[0]!)] }] });
    assert.equal((await commit(1)).topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE, 'KIP-1251: held since epoch 1');
    assert.equal((await commit(3)).topics[0]!.partitions[0]!.errorCode, ErrorCode.STALE_MEMBER_EPOCH, 'a newer epoch');
    assert.equal((await commit(2, 8)).topics[0]!.partitions[0]!.errorCode, ErrorCode.UNSUPPORTED_VERSION);
    assert.equal((await commit(2)).topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
    const fetchAs = (memberEpoch: number) => call(API_KEYS.OffsetFetch, 9, { groupId: '', topics: [], groups: [{ groupId: 'kip848', memberId: 'mem-1', memberEpoch, topics: [{ name: 't', partitionIndexes: [kept[0]!] }] }], requireStable: true });
    assert.equal((await fetchAs(1)).groups[0]!.errorCode, ErrorCode.STALE_MEMBER_EPOCH);
    assert.equal((await fetchAs(2)).groups[0]!.topics[0]!.partitions[0]!.committedOffset, 4n);
    // Describe and list.
    const d = await call(API_KEYS.ConsumerGroupDescribe, 0, { groupIds: ['kip848', 'o2', 'secret'], includeAuthorizedOperations: false });
    const [g, missing, secret] = d.groups;
    assert.equal(g!.errorCode, ErrorCode.NONE);
    assert.equal(g!.groupState, 'Reconciling', 'the v0 member has not taken its partitions yet');
    assert.equal(g!.assignorName, 'uniform');
    const m1 = g!.members.find((m) => m.memberId === 'mem-1')!;
    assert.equal(m1.subscribedTopicRegex, '.*');
    assert.equal(m1.clientHost, '/10.1.2.3');
    assert.deepEqual(m1.assignment.topicPartitions.map((t) => [t.topicName, t.partitions]), [['t', kept]]);
    assert.equal(missing!.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
    assert.equal(secret!.errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
    const listed = await call(API_KEYS.ListGroups, 5, { statesFilter: [], typesFilter: ['consumer'] });
    assert.deepEqual(listed.groups.map((x) => [x.groupId, x.groupType, x.protocolType, x.groupState]), [['kip848', 'consumer', 'consumer', 'Reconciling']]);
    const classicView = await call(API_KEYS.DescribeGroups, 5, { groups: ['kip848'], includeAuthorizedOperations: false });
    assert.equal(classicView.groups[0]!.groupState, 'Dead');
    // Leaving.
    assert.equal((await hb({ memberEpoch: -1, topicPartitions: null })).memberEpoch, -1);
    assert.equal((await hb({ memberId: v0.memberId!, memberEpoch: -1, topicPartitions: null })).errorCode, ErrorCode.NONE);
    const empty = await call(API_KEYS.ConsumerGroupDescribe, 0, { groupIds: ['kip848'], includeAuthorizedOperations: false });
    assert.equal(empty.groups[0]!.groupState, 'Empty');
  });

  test('without a coordinator: COORDINATOR_NOT_AVAILABLE in each API\'s shape', async () => {
    const none = { ...gateway, coordinator: undefined } as GatewayContext;
    const fc = await call(API_KEYS.FindCoordinator, 2, { key: 'g', keyType: 0, coordinatorKeys: [] }, { gateway: none });
    assert.equal(fc.errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    const v1 = await call(API_KEYS.OffsetFetch, 1, { groupId: 'g', topics: [{ name: 't', partitionIndexes: [0] }], groups: [], requireStable: false }, { gateway: none });
    assert.equal(v1.topics[0]!.partitions[0]!.errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE, 'v0-1: on the partitions');
    const v3 = await call(API_KEYS.OffsetFetch, 3, { groupId: 'g', topics: [{ name: 't', partitionIndexes: [0] }], groups: [], requireStable: false }, { gateway: none });
    assert.equal(v3.errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE, 'v2+: at the top');
    const hb = await call(API_KEYS.Heartbeat, 1, { groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null }, { gateway: none });
    assert.equal(hb.errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
  });

});
