/**
 * Every registered API, every version it serves, through the real dispatcher
 * (declared access, checks before the handler, guarded storage), against a real
 * embedded engine, a real group coordinator and the real Pulsar authorizer:
 *
 *  1. A principal with no grants (`mallory`, whose own tenant has a policy
 *     granting it nothing), logged in to its own namespace or to the victim's,
 *     sends requests generated from the schema tables (src/protocol/codec/sample.ts)
 *     whose every string names the victim's topic / group / transactional id
 *     "secret" (which exists, with records, a committed group and configs), and
 *     the same requests naming "nothing" (which does not exist). The two answers
 *     must be identical once the name is blanked out: the client cannot tell that
 *     "secret" exists, nor read anything of it. Every answer that names a resource
 *     carries Kafka's authorization code for it, and no answer is an unexpected
 *     server error (a handler asking an undeclared question, or reaching storage
 *     for an unchecked topic, fails the request with UNKNOWN_SERVER_ERROR).
 *     Afterwards the victim's state is unchanged (nothing written, created, deleted).
 *  2. Each decision is audited once per request, however often the request names it.
 *  3. A handler that asks a question its entry did not declare, or reaches storage or
 *     the coordinator for something its request did not check, gets refused: the
 *     request fails with UNKNOWN_SERVER_ERROR and nothing is served.
 *  4. A superuser sends the same kinds of requests for its own topic: no request
 *     trips the declared-access checks (no UNKNOWN_SERVER_ERROR, no storage error),
 *     so the declarations cover what the handlers really touch.
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
import type { RequestContext } from '../../src/dispatch/registry.js';
import type { GatewayContext } from '../../src/gateway-context.js';
import { buildDispatchTable } from '../../src/handlers/index.js';
import { silentLogger } from '../../src/logger.js';
import type { Connection } from '../../src/network/connection.js';
import { decodeResponse, encodeRequest, type ApiKeyNumber } from '../../src/protocol/codec/frame.js';
import { sampleMessage } from '../../src/protocol/codec/sample.js';
import type { MessageSchema } from '../../src/protocol/codec/types.js';
import { SCHEMAS } from '../../src/protocol/generated/index.js';
import { API_KEYS, APIS } from '../../src/protocol/generated/apis.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { encodeBatchSync } from '../../src/protocol/records/encode.js';
import { PulsarAuthorizer, StaticPolicySource } from '../../src/security/authz/index.js';
import { validateTenantPolicy } from '../../src/security/authz/policy.js';
import type { AuditLog } from '../../src/security/types.js';
import { anonymousSession, type Session } from '../../src/session/session.js';
import { EmbeddedEngine } from '../../src/storage/embedded/engine.js';

const NODE = 3;
const VICTIM_TOPIC = 'persistent://victim/ns/secret';
const AUTH_CODES = new Set<number>([ErrorCode.TOPIC_AUTHORIZATION_FAILED, ErrorCode.GROUP_AUTHORIZATION_FAILED, ErrorCode.CLUSTER_AUTHORIZATION_FAILED, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED]);
/** Answers that cannot come from a well-declared handler. */
const BUG_CODES = new Set<number>([ErrorCode.UNKNOWN_SERVER_ERROR, ErrorCode.KAFKA_STORAGE_ERROR]);

function requestSchema(apiKey: number): MessageSchema {
  const s = Object.values(SCHEMAS).find((m) => m.type === 'request' && m.apiKey === apiKey);
  if (!s) throw new Error(`no request schema for API ${apiKey}`);
  return s;
}

/** Every string (and string array entry) becomes `name`, every uuid `id`; numbers a request can be served with. */
function aimAt(value: unknown, name: string, id: Buffer, key = ''): unknown {
  if (typeof value === 'string') return name;
  if (Buffer.isBuffer(value)) {
    if (value.length === 16 && /topicid/i.test(key)) return id;
    if (key === 'records') return value;
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => aimAt(v, name, id, key));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = aimAt(v, name, id, k);
    return out;
  }
  if (typeof value === 'number') {
    switch (key) {
      case 'acks':
        return -1;
      case 'keyType':
        return 0; // GROUP
      case 'resourceType':
        return 2; // TOPIC
      case 'isolationLevel':
        return 0;
      case 'configOperation':
        return 0;
      default:
        return 0; // partitions, epochs, timeouts (no waiting), session ids
    }
  }
  if (typeof value === 'bigint') return 0n;
  if (typeof value === 'boolean') return key === 'allowAutoTopicCreation';
  return value;
}

/** Codes anywhere in a response, by field name *ErrorCode / errorCode. */
function codesOf(value: unknown, out: number[] = []): number[] {
  if (Array.isArray(value)) for (const v of value) codesOf(v, out);
  else if (value && typeof value === 'object' && !Buffer.isBuffer(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (/errorcode$/i.test(k) && typeof v === 'number') out.push(v);
      else codesOf(v, out);
    }
  }
  return out;
}

function show(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v && v.type === 'Buffer' ? Buffer.from(v.data).toString('hex') : v));
}

describe('every registered API: a principal without grants learns nothing of another tenant', () => {
  let dir: string;
  let engine: EmbeddedEngine;
  let coordinator: LocalGroupCoordinator;
  let transactions: TransactionCoordinator;
  let dispatcher: Dispatcher;
  let victimId: Buffer;
  const table = buildDispatchTable();
  const log = silentLogger();
  const decisions: Array<{ operation: string; allowed: boolean; resource: string }> = [];
  const audit = {
    decision: (_c: number, d: { operation: string; allowed: boolean; resource: string }) => decisions.push(d),
    filtered: () => {},
    homeAssigned: () => {},
    authentication: () => {},
    connectionClosed: () => {},
  } as unknown as AuditLog;
  let session: Session;
  let correlation = 1;
  const conn = { id: 9, log, remoteAddress: '127.0.0.1', listenerName: 'PLAINTEXT', destroy() {}, isClosed: false, requests: 0, bytesIn: 0, bytesOut: 0 } as unknown as Connection & { context: unknown };

  async function call(apiKey: number, version: number, body: unknown, as: Session): Promise<{ closed: boolean; body: unknown }> {
    session = as;
    conn.context = as;
    const frame = encodeRequest(apiKey as ApiKeyNumber, version, correlation++, 'authz-unit', body as never);
    const r = await dispatcher.handle(frame.subarray(4), conn);
    if (!r.response) return { closed: r.close === true, body: null };
    const buf = Array.isArray(r.response) ? Buffer.concat(r.response) : r.response;
    return { closed: r.close === true, body: decodeResponse(buf.subarray(4), apiKey as ApiKeyNumber, version).body };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kop-authz-every-api-'));
    engine = new EmbeddedEngine({ dataDirectory: dir, retentionCheckIntervalMs: 0 });
    await engine.start();
    const config = loadConfig({ env: {}, overrides: { kafkaNodeId: NODE, groupInitialRebalanceDelayMs: 0, allowAutoTopicCreation: true } });
    const locator = new SingleNodeLocator(5, NODE, (l) => ({ host: `host-${l}`, port: 9093 }));
    coordinator = new LocalGroupCoordinator(locator, engine.state, coordinatorConfigFrom(config), log, new ManualClock());
    await coordinator.start();
    transactions = new TransactionCoordinator(locator, engine.state, engine, { transactionMaxTimeoutMs: 900_000, abortTimedOutIntervalMs: 10_000, transactionalIdExpirationMs: 604_800_000 }, log, new ManualClock());
    transactions.offsets = coordinator;
    await transactions.start();
    const ns = { permissions: {}, subscriptionPermissions: {}, subscriptionAuthMode: 'None', topics: {} };
    const policies = new StaticPolicySource([
      validateTenantPolicy({ tenant: 'victim', adminRoles: ['victim-admin'], namespaces: { ns: { ...ns, permissions: { alice: ['produce', 'consume'] } } } }, 'victim.json'),
      validateTenantPolicy({ tenant: 'attacker', adminRoles: [], namespaces: { ns } }, 'attacker.json'),
    ]);
    const authorizer = new PulsarAuthorizer(policies, { superUserRoles: ['root'], anonymousUserRole: null, allowWildcards: false });
    const gateway: GatewayContext = {
      config,
      storage: engine,
      table,
      log,
      clusterId: 'AAAAAAAAAAAAAAAAAAAAAA',
      nodeId: NODE,
      security: { sasl: null, failedAuthenticationDelayMs: 0, authorizer, audit },
      advertisedEndpoint: () => ({ host: '127.0.0.1', port: 9092 }),
      coordinator,
      transactions,
    };
    dispatcher = new Dispatcher(gateway, () => session);

    // the victim's resources: a topic with records and configs, a group with a committed offset
    const alice = anonymousSession('alice', { tenant: 'victim', namespace: 'ns' });
    await engine.createTopic(VICTIM_TOPIC, 2, { 'retention.ms': '3600000' });
    victimId = (await engine.describeTopic(VICTIM_TOPIC))!.topicId;
    const records = encodeBatchSync({ records: [{ key: 'k', value: 'confidential', timestamp: 1700000000000n }] });
    const produced = await call(API_KEYS.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'secret', partitionData: [{ index: 0, records }] }] }, alice);
    assert.equal(codesOf(produced.body)[0], ErrorCode.NONE, 'the victim produced');
    const committed = await call(API_KEYS.OffsetCommit, 2, { groupId: 'secret', generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1n, topics: [{ name: 'secret', partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: 'm' }] }] }, alice);
    assert.deepEqual(codesOf(committed.body), [ErrorCode.NONE], 'the victim committed');
    // the victim's transactional id "secret", with an open transaction on the topic
    const init = await call(API_KEYS.InitProducerId, 4, { transactionalId: 'secret', transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 }, alice);
    assert.equal(codesOf(init.body)[0], ErrorCode.NONE, 'the victim initialized its transactional producer');
    const { producerId, producerEpoch } = init.body as { producerId: bigint; producerEpoch: number };
    const added = await call(API_KEYS.AddPartitionsToTxn, 3, { v3AndBelowTransactionalId: 'secret', v3AndBelowProducerId: producerId, v3AndBelowProducerEpoch: producerEpoch, v3AndBelowTopics: [{ name: 'secret', partitions: [0] }], transactions: [] }, alice);
    assert.deepEqual(codesOf((added.body as { resultsByTopicV3AndBelow: unknown }).resultsByTopicV3AndBelow), [ErrorCode.NONE], 'the victim began a transaction');
  });

  after(async () => {
    await transactions.shutdown();
    await coordinator.shutdown();
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** What the victim has; compared before and after the attack. */
  async function victimState(): Promise<string> {
    const topics = (await engine.listTopics()).filter((t) => t.name.startsWith('persistent://victim/')).map((t) => [t.name, t.partitions, t.configs]);
    const offsets = [await engine.offsets({ topic: VICTIM_TOPIC, partition: 0 }), await engine.offsets({ topic: VICTIM_TOPIC, partition: 1 })];
    const group = await coordinator.fetchOffsets({ tenant: 'victim', groupId: 'secret', namespace: 'ns' }, null, false);
    const txn = transactions.describe({ tenant: 'victim', transactionalId: 'secret', namespace: 'ns' });
    return show({ topics, offsets, group, groups: await coordinator.listGroups('victim', [], []), txn, txns: transactions.list('victim', [], [], -1) });
  }

  test('no grants: the answer for an existing resource equals the answer for an absent one, with Kafka\'s codes; nothing changes', async () => {
    const before = await victimState();
    const sessions = [
      { label: 'mallory@attacker/ns', session: anonymousSession('mallory', { tenant: 'attacker', namespace: 'ns' }), exists: VICTIM_TOPIC, absent: 'persistent://victim/ns/nothing' },
      { label: 'mallory@victim/ns', session: anonymousSession('mallory', { tenant: 'victim', namespace: 'ns' }), exists: 'secret', absent: 'nothing' },
    ];
    const noAuthCode: string[] = [];
    let requests = 0;
    for (const entry of table.all()) {
      if (entry.rule === 'pre-auth') continue;
      const schema = requestSchema(entry.apiKey);
      for (let v = entry.minVersion; v <= entry.maxVersion; v++) {
        for (const mode of ['values', 'nulls'] as const) {
          const sample = sampleMessage(schema, v, mode, 1);
          for (const s of sessions) {
            const answers = [];
            for (const name of [s.exists, s.absent]) {
              const r = await call(entry.apiKey, v, aimAt(sample, name, victimId), s.session);
              requests++;
              const text = show(r.body).split(JSON.stringify(name).slice(1, -1)).join('<name>');
              answers.push({ ...r, text });
            }
            const where = `${APIS[entry.apiKey]!.name} v${v} (${mode}) as ${s.label}`;
            assert.equal(answers[0]!.closed, answers[1]!.closed, `${where}: closes the connection for one name only`);
            assert.equal(answers[0]!.text, answers[1]!.text, `${where}: the answer tells the existing resource from the absent one`);
            const codes = codesOf(answers[0]!.body);
            for (const c of codes) assert.ok(!BUG_CODES.has(c), `${where}: answered ${c} (a handler asked an undeclared question or reached unchecked storage): ${answers[0]!.text}`);
            assert.ok(!answers[0]!.closed || answers[0]!.body === null, `${where}: closed after answering`);
            if (!codes.some((c) => AUTH_CODES.has(c))) noAuthCode.push(`${APIS[entry.apiKey]!.name} v${v} ${mode} ${s.label}: ${codes.join(',')}`);
          }
        }
      }
    }
    assert.equal(await victimState(), before, 'the victim\'s topics, records, configs and groups are unchanged');
    assert.deepEqual(decisions.filter((d) => d.allowed && d.operation !== 'Produce' && d.operation !== 'OffsetCommit' && d.operation !== 'InitProducerId' && d.operation !== 'AddPartitionsToTxn'), [], 'mallory was allowed nothing');
    // Requests whose answer carries no authorization code name no resource of the victim that could be
    // checked: DescribeCluster, filtered listings (Metadata of all topics, ListGroups, ListTransactions,
    // OffsetFetch of all topics, which list nothing of the victim), names that cannot exist, and
    // DeleteTopics v6 naming a topic by name and id at once (INVALID_REQUEST before any check, as Kafka).
    const unexpected = noAuthCode.filter((l) => !/^(DescribeCluster|ListGroups|ListTransactions|Metadata v\d+ nulls|Metadata v0 |DeleteTopics v6 values)/.test(l));
    assert.deepEqual(unexpected, [], 'requests naming a resource are refused with an authorization code');
    assert.ok(requests > 500, `${requests} requests`);
  });

  test('each decision is audited once per request, however often the request names the resource', async () => {
    const mallory = anonymousSession('mallory', { tenant: 'victim', namespace: 'ns' });
    decisions.length = 0;
    const records = encodeBatchSync({ records: [{ key: null, value: 'x', timestamp: 1700000000000n }] });
    const r = await call(API_KEYS.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [0, 1, 0].map((index) => ({ name: 'secret', partitionData: [{ index, records }] })) }, mallory);
    assert.deepEqual(codesOf(r.body), [29, 29, 29], 'TOPIC_AUTHORIZATION_FAILED on every partition');
    const m = await call(API_KEYS.Metadata, 12, { topics: [{ name: 'secret', topicId: Buffer.alloc(16) }, { name: 'secret', topicId: Buffer.alloc(16) }, { name: null, topicId: victimId }], allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }, mallory);
    assert.deepEqual(codesOf(m.body), [29, 29, 29]);
    assert.deepEqual(
      decisions.map((d) => [d.operation, d.allowed, d.resource]),
      [
        ['Produce', false, 'persistent://victim/ns/secret'],
        ['Metadata', false, 'persistent://victim/ns/secret'],
      ],
    );
  });

  test('a handler that asks an undeclared question, or reaches storage or the coordinator for what it did not check, fails closed', async () => {
    const { DispatchTable } = await import('../../src/dispatch/registry.js');
    const { ALLOW_ALL_AUTHORIZER } = await import('../../src/security/authz/index.js');
    const { parseFullName } = await import('../../src/topics/names.js');
    const touched: string[] = [];
    const table2 = new DispatchTable();
    // declares `lookup` on the topics named, then does something else
    let misbehave: (ctx: RequestContext) => Promise<unknown> = async () => null;
    table2.register({
      apiKey: API_KEYS.ListOffsets,
      minVersion: 0,
      maxVersion: 10,
      rule: 'topic-lookup',
      authz: { checks: [{ action: 'lookup', on: 'topic', denial: 'x' }], needs: (req: { topics: Array<{ name: string }> }) => req.topics.map((t) => ({ on: 'topic' as const, action: 'lookup' as const, name: t.name })) },
      async handle(ctx: RequestContext) {
        await misbehave(ctx);
        touched.push('served');
        return { throttleTimeMs: 0, topics: [] };
      },
      errorResponse: (_req: unknown, errorCode: number) => ({ throttleTimeMs: 0, topics: [{ name: 'err', partitions: [{ partitionIndex: 0, errorCode, oldStyleOffsets: [], timestamp: -1n, offset: -1n, leaderEpoch: -1 }] }] }),
    } as never);
    const config = loadConfig({ env: {}, overrides: { kafkaNodeId: NODE } });
    const d2 = new Dispatcher({ config, storage: engine, table: table2, log, clusterId: 'AAAAAAAAAAAAAAAAAAAAAA', nodeId: NODE, security: { sasl: null, failedAuthenticationDelayMs: 0, authorizer: ALLOW_ALL_AUTHORIZER, audit: null }, advertisedEndpoint: () => ({ host: 'h', port: 1 }), coordinator, transactions }, () => anonymousSession('root', { tenant: 'root', namespace: 'ns' }));
    const ask = async (): Promise<number> => {
      const frame = encodeRequest(API_KEYS.ListOffsets, 7, correlation++, 'x', { replicaId: -1, isolationLevel: 0, topics: [{ name: 'persistent://root/ns/declared', partitions: [] }], timeoutMs: 0 });
      const out = await d2.handle(frame.subarray(4), { ...conn, context: undefined } as unknown as Connection);
      return codesOf(decodeResponse((out.response as Buffer).subarray(4), API_KEYS.ListOffsets, 7).body)[0] ?? 0;
    };
    assert.equal(await ask(), ErrorCode.NONE, 'declared and behaving: served');
    const misbehaviours: Array<[string, typeof misbehave]> = [
      ['ask about an undeclared topic', (ctx) => ctx.access.topic(parseFullName(VICTIM_TOPIC), 'lookup')],
      ['ask for another action on the declared topic', (ctx) => ctx.access.topic(parseFullName('persistent://root/ns/declared'), 'produce')],
      ['ask about a group', (ctx) => ctx.access.groupAccess('secret', 'consume')],
      ['ask for the cluster', (ctx) => ctx.access.cluster()],
      ['look up an unchecked topic', (ctx) => ctx.gateway.storage.describeTopic(VICTIM_TOPIC)],
      ['read an unchecked topic', (ctx) => ctx.gateway.storage.offsets({ topic: VICTIM_TOPIC, partition: 0 })],
      ['read the declared topic with only a lookup decision', (ctx) => ctx.gateway.storage.read({ topic: 'persistent://root/ns/declared', partition: 0 }, 0n, { maxBytes: 1, minOneMessage: true, principal: 'root' })],
      ['list every topic', (ctx) => ctx.gateway.storage.listTopics()],
      ['delete a topic', (ctx) => ctx.gateway.storage.deleteTopic(VICTIM_TOPIC)],
      ['allocate a producer id', (ctx) => ctx.gateway.storage.allocateProducerId()],
      ['describe a group with a hand-made ref', (ctx) => ctx.gateway.coordinator!.describeGroup({ tenant: 'victim', groupId: 'secret', namespace: 'ns' })],
      ['list the groups of another tenant', (ctx) => ctx.gateway.coordinator!.listGroups('victim', [], [])],
      ['ask about a transactional id', (ctx) => ctx.access.txnAccess('secret', 'produce')],
      ['end a transaction with a hand-made ref', (ctx) => ctx.gateway.transactions!.endTransaction({ tenant: 'victim', transactionalId: 'secret', namespace: 'ns' }, 0n, 0, false)],
      ['describe a transactional id with a hand-made ref', async (ctx) => ctx.gateway.transactions!.describe({ tenant: 'victim', transactionalId: 'secret', namespace: 'ns' })],
      ['list the transactions of another tenant', async (ctx) => ctx.gateway.transactions!.list('victim', [], [], -1)],
      ['complete transactional offsets', (ctx) => ctx.gateway.coordinator!.completeTxnOffsets('victim', ['secret'], 0n, true)],
      ['write a transaction marker', (ctx) => ctx.gateway.storage.writeTxnMarker({ topic: VICTIM_TOPIC, partition: 0 }, { producerId: 0n, producerEpoch: 0, commit: true, coordinatorEpoch: 0 })],
    ];
    for (const [what, fn] of misbehaviours) {
      misbehave = fn;
      touched.length = 0;
      assert.equal(await ask(), ErrorCode.UNKNOWN_SERVER_ERROR, `${what}: refused`);
      assert.deepEqual(touched, [], `${what}: nothing served`);
    }
    assert.ok(await engine.describeTopic(VICTIM_TOPIC), 'the victim topic is still there');
  });

  test('a superuser goes through every API without tripping the declared-access checks', async () => {
    const root = anonymousSession('root', { tenant: 'root', namespace: 'ns' });
    await engine.createTopic('persistent://root/ns/own', 2, {});
    const ownId = (await engine.describeTopic('persistent://root/ns/own'))!.topicId;
    for (const entry of table.all()) {
      if (entry.rule === 'pre-auth') continue;
      const schema = requestSchema(entry.apiKey);
      for (let v = entry.minVersion; v <= entry.maxVersion; v++) {
        for (const mode of ['values', 'nulls'] as const) {
          if (entry.apiKey === API_KEYS.DeleteTopics || entry.apiKey === API_KEYS.DeleteGroups) continue; // keep the topic for the next requests
          const r = await call(entry.apiKey, v, aimAt(sampleMessage(schema, v, mode, 1), 'own', ownId), root);
          const where = `${APIS[entry.apiKey]!.name} v${v} (${mode})`;
          assert.ok(!r.closed, `${where}: connection closed`);
          for (const c of codesOf(r.body)) assert.ok(!BUG_CODES.has(c), `${where}: answered ${c}: ${show(r.body)}`);
        }
      }
    }
    const deleted = await call(API_KEYS.DeleteTopics, 6, { topics: [{ name: null, topicId: ownId }], topicNames: [], timeoutMs: 1000 }, root);
    assert.deepEqual(codesOf(deleted.body), [ErrorCode.NONE], 'DeleteTopics by id');
  });
});
