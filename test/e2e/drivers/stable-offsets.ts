/**
 * For the transaction e2e tests: wait until no transaction is open on a topic's
 * partitions, i.e. the last stable offsets (ListOffsets LATEST, isolation_level=1)
 * reached the high watermarks. A client's commit returns once the coordinator
 * wrote PrepareCommit (Kafka's order); the markers that move the LSO follow.
 * And which transactions a node has open (to kill something at the right time).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { RawClient } from '../../helpers/raw-client.js';
import { decodeResponse, encodeRequest } from '../../../src/protocol/codec/frame.js';
import { API_KEYS } from '../../../src/protocol/generated/apis.js';
import { ErrorCode } from '../../../src/protocol/errors.js';

/** ListOffsets LATEST of partitions 0..n-1 at an isolation level (1: the last stable offsets). */
export async function latestOffsets(port: number, topic: string, partitions: number, isolationLevel: 0 | 1): Promise<bigint[]> {
  const c = await RawClient.open(port);
  try {
    c.send(encodeRequest(API_KEYS.ListOffsets, 5, 1, 'stable-offsets', { replicaId: -1, isolationLevel, topics: [{ name: topic, partitions: Array.from({ length: partitions }, (_, partitionIndex) => ({ partitionIndex, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 })) }] } as never));
    const payload = await c.next(30_000);
    assert.ok(payload, 'a ListOffsets response');
    const body = decodeResponse(payload, API_KEYS.ListOffsets, 5).body as { topics: Array<{ partitions: Array<{ errorCode: number; offset: bigint }> }> };
    return body.topics[0]!.partitions.map((p) => {
      assert.equal(p.errorCode, ErrorCode.NONE);
      return p.offset;
    });
  } finally {
    c.sock.destroy();
  }
}

/** Resolves once every partition's last stable offset equals its high watermark (fails after timeoutMs). */
export async function waitStable(port: number, topic: string, partitions: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stable = await latestOffsets(port, topic, partitions, 1);
    const high = await latestOffsets(port, topic, partitions, 0);
    if (stable.every((o, i) => o === high[i])) return;
    assert.ok(Date.now() < deadline, `${topic}: a transaction is still open (last stable offsets ${stable.join(',')}, high watermarks ${high.join(',')})`);
    await sleep(100);
  }
}

/** The transactional ids in state Ongoing the node at `port` coordinates (ListTransactions v1). */
export async function ongoingTransactions(port: number): Promise<string[]> {
  const c = await RawClient.open(port);
  try {
    c.send(encodeRequest(API_KEYS.ListTransactions, 1, 1, 'stable-offsets', { stateFilters: ['Ongoing'], producerIdFilters: [], durationFilter: -1n } as never));
    const payload = await c.next(30_000);
    assert.ok(payload, 'a ListTransactions response');
    const body = decodeResponse(payload, API_KEYS.ListTransactions, 1).body as { errorCode: number; transactionStates: Array<{ transactionalId: string }> };
    return body.errorCode === ErrorCode.NONE ? body.transactionStates.map((t) => t.transactionalId) : [];
  } finally {
    c.sock.destroy();
  }
}
