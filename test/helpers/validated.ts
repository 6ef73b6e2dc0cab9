/**
 * Storage engines append only ValidatedBatch values (src/storage/validated-batch.ts).
 * Tests that drive an engine directly get them from the real validator here,
 * as the Produce handler does: `validated(buf)` with Kafka's default topic
 * config, or `appendValidated(engine, tp, buf, options)` against the topic's
 * effective config (a refusal rejects with a StorageError carrying Kafka's code).
 */
import { StorageError, type AppendOptions, type AppendResult, type PartitionRef, type StorageEngine } from '../../src/storage/engine.js';
import { makeDefaults, resolveTopicConfig, type TopicConfig } from '../../src/storage/topic-config.js';
import { validateProduced, validateProducedSync, type ValidatedBatch } from '../../src/storage/validated-batch.js';

const DEFAULT_CONFIG = resolveTopicConfig({}, makeDefaults());

/** The batch validated with Kafka's default topic config (throws a StorageError when it is refused). */
export function validated(buf: Buffer, config: Partial<TopicConfig> = {}): ValidatedBatch {
  const v = validateProducedSync(buf, { config: { ...DEFAULT_CONFIG, ...config }, apiVersion: 11, nowMs: Date.now(), leaderEpoch: 0 });
  if (!v.ok) throw new StorageError(v.code, v.message);
  return v.batch;
}

/** Validate against the topic's effective config (as the Produce handler does), then append. */
export async function appendValidated(engine: StorageEngine, tp: PartitionRef, buf: Buffer, options: AppendOptions): Promise<AppendResult> {
  const info = await engine.describeTopic(tp.topic);
  const config = resolveTopicConfig(info?.configs ?? {}, engine.configDefaults);
  const v = await validateProduced(buf, { config, apiVersion: 11, nowMs: Date.now(), leaderEpoch: 0 });
  if (!v.ok) throw new StorageError(v.code, v.message);
  return engine.append(tp, v.batch, options);
}
