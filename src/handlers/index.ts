/**
 * Every API the gateway serves, registered in one place. Each handler module
 * declares its versions and authorization rule next to its code.
 */
import { DispatchTable, type ApiEntry } from '../dispatch/registry.js';
import { apiVersions } from './api-versions.js';
import { metadata } from './metadata.js';
import { produce } from './produce.js';
import { fetch } from './fetch.js';
import { listOffsets } from './list-offsets.js';
import { offsetForLeaderEpoch } from './offset-for-leader-epoch.js';
import { initProducerId } from './init-producer-id.js';
import { describeCluster } from './describe-cluster.js';
import { createTopics } from './create-topics.js';
import { deleteTopics } from './delete-topics.js';
import { createPartitions } from './create-partitions.js';
import { describeConfigs } from './describe-configs.js';
import { alterConfigs, incrementalAlterConfigs } from './alter-configs.js';
import { deleteRecords } from './delete-records.js';
import { findCoordinator } from './find-coordinator.js';
import { heartbeat, joinGroup, leaveGroup, syncGroup } from './group-membership.js';
import { offsetCommit, offsetDelete, offsetFetch } from './group-offsets.js';
import { deleteGroups, describeGroups, listGroups } from './group-admin.js';
import { describeShareGroupOffsets, shareGroupDescribe, shareGroupHeartbeat } from './share-group.js';
import { shareAcknowledge, shareFetch } from './share-fetch.js';
import { alterShareGroupOffsets, deleteShareGroupOffsets } from './share-group-admin.js';
import { addOffsetsToTxn, addPartitionsToTxn, endTxn } from './transactions.js';
import { txnOffsetCommit } from './txn-offset-commit.js';
import { describeProducers, describeTransactions, listTransactions, writeTxnMarkers } from './txn-admin.js';
import { consumerGroupDescribe, consumerGroupHeartbeat } from './consumer-group.js';
import { saslHandshake } from './sasl-handshake.js';
import { saslAuthenticate } from './sasl-authenticate.js';

export interface TableOptions {
  /** Serve share groups (KIP-932): shareGroupsEnabled. */
  shareGroups?: boolean;
}

export function buildDispatchTable(options: TableOptions = {}): DispatchTable {
  const table = new DispatchTable();
  const entries: ApiEntry[] = [apiVersions, metadata, produce, fetch, listOffsets, offsetForLeaderEpoch, initProducerId, describeCluster, createTopics, deleteTopics, createPartitions, describeConfigs, alterConfigs, incrementalAlterConfigs, deleteRecords];
  // consumer groups (src/coordinator)
  entries.push(findCoordinator, joinGroup, syncGroup, heartbeat, leaveGroup, offsetCommit, offsetFetch, offsetDelete, describeGroups, listGroups, deleteGroups);
  // share groups (src/share)
  if (options.shareGroups ?? true) entries.push(shareGroupHeartbeat, shareGroupDescribe, shareFetch, shareAcknowledge, describeShareGroupOffsets, alterShareGroupOffsets, deleteShareGroupOffsets);
  // transactions (src/coordinator/txn)
  entries.push(addPartitionsToTxn, addOffsetsToTxn, endTxn, txnOffsetCommit, describeTransactions, listTransactions, describeProducers, writeTxnMarkers);
  // the consumer group protocol, KIP-848 (src/coordinator/consumer-group-protocol.ts)
  entries.push(consumerGroupHeartbeat, consumerGroupDescribe);
  // authentication (src/security/sasl)
  entries.push(saslHandshake, saslAuthenticate);
  for (const entry of entries) {
    table.register(entry);
  }
  return table;
}
