// A long-running group member for the consumer group e2e tests: a kafkajs consumer subscribed to
// one topic, printing JSON lines on stdout like GroupConsumer.java:
//   {"event":"ready"} / {"event":"assignment","partitions":[...]} (after every group join) /
//   {"event":"record","partition":p,"offset":o,"value":"..."} /
//   {"event":"committed","offsets":{"p":next}} / {"event":"commit-failed","error":"..."} / {"event":"closed"}
// Records are printed before the commit of their batch. "close" (or EOF) on stdin disconnects
// cleanly (LeaveGroup).
//
// Usage: node kafkajs-group-consumer.mjs --bootstrap H:P --group G --topic T
//        [--session-timeout-ms MS] [--heartbeat-interval-ms MS] [--client-id ID]
import { createInterface } from 'node:readline';
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;
const args = {};
for (let i = 2; i + 1 < process.argv.length; i += 2) args[process.argv[i]] = process.argv[i + 1];
const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const kafka = new Kafka({
  clientId: args['--client-id'] ?? 'kop-group-kafkajs',
  brokers: args['--bootstrap'].split(','),
  logLevel: logLevel.NOTHING,
  retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 },
});
const topic = args['--topic'];
const consumer = kafka.consumer({
  groupId: args['--group'],
  sessionTimeout: Number(args['--session-timeout-ms'] ?? 6000),
  heartbeatInterval: Number(args['--heartbeat-interval-ms'] ?? 500),
  rebalanceTimeout: 20_000,
  maxWaitTimeInMs: 200,
});
consumer.on(consumer.events.GROUP_JOIN, (e) => {
  emit({ event: 'assignment', partitions: [...(e.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b) });
});

let closing = false;
async function close() {
  if (closing) return;
  closing = true;
  await consumer.disconnect();
  emit({ event: 'closed' });
  process.exit(0);
}
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (line.trim() === 'close') void close();
});
rl.on('close', () => void close());

await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
emit({ event: 'ready' });
await consumer.run({
  autoCommit: false,
  eachBatchAutoResolve: false,
  eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
    let last = null;
    for (const m of batch.messages) {
      if (!isRunning() || isStale()) break;
      emit({ event: 'record', partition: batch.partition, offset: Number(m.offset), value: m.value === null ? null : m.value.toString('utf8') });
      resolveOffset(m.offset);
      last = Number(m.offset);
    }
    if (last === null) return;
    const next = String(last + 1);
    try {
      await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }]);
      emit({ event: 'committed', offsets: { [batch.partition]: Number(next) } });
    } catch (e) {
      emit({ event: 'commit-failed', error: String(e?.type ?? e?.message ?? e) });
    }
    await heartbeat();
  },
});
