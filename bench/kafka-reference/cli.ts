/**
 * Command line for the Kafka reference (after `npm run build`):
 *
 *   node dist/bench/kafka-reference/cli.js start [--port N] [--heap 1g] [--dir D] [--sasl]
 *       start a broker, print its JSON description, run until SIGINT/SIGTERM, then stop it
 *   node dist/bench/kafka-reference/cli.js producer-perf --bootstrap B --topic T
 *       [--num-records N=100000] [--record-size S=1024] [--throughput R=-1] [--acks 1]
 *       [--compression none] [--warmup-records W]
 *   node dist/bench/kafka-reference/cli.js consumer-perf --bootstrap B --topic T [--num-records N=100000] [--group G]
 *   node dist/bench/kafka-reference/cli.js smoke [--num-records N=100000] [--record-size S=1024]
 *       start a broker, run both perf tools against it, stop it
 *
 * Results are printed as JSON on stdout.
 */
import { parseArgs } from 'node:util';
import { startKafkaBroker } from './broker.js';
import { runConsumerPerf, runProducerPerf } from './perf.js';
import type { Compression } from '../../test/helpers/clients/types.js';

function usage(): never {
  process.stderr.write(
    'usage: cli.js start|producer-perf|consumer-perf|smoke [options] (see bench/kafka-reference/README.md)\n',
  );
  process.exit(2);
}

function print(o: unknown): void {
  process.stdout.write(JSON.stringify(o, (k, v: unknown) => (k === 'output' ? undefined : v), 2) + '\n');
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  const { values } = parseArgs({
    args: rest,
    options: {
      port: { type: 'string' },
      heap: { type: 'string' },
      dir: { type: 'string' },
      sasl: { type: 'boolean' },
      bootstrap: { type: 'string' },
      topic: { type: 'string' },
      'num-records': { type: 'string' },
      'record-size': { type: 'string' },
      throughput: { type: 'string' },
      acks: { type: 'string' },
      compression: { type: 'string' },
      'warmup-records': { type: 'string' },
      group: { type: 'string' },
    },
  });
  const num = (v: string | undefined, d: number): number => (v === undefined ? d : Number(v));
  const acks = (values.acks ?? '1') as 'all' | '-1' | '0' | '1';
  const producerOpts = (bootstrap: string, topic: string) => {
    const o: Parameters<typeof runProducerPerf>[0] = {
      bootstrap,
      topic,
      numRecords: num(values['num-records'], 100_000),
      recordSize: num(values['record-size'], 1024),
      throughput: num(values.throughput, -1),
      acks: acks === 'all' ? 'all' : (Number(acks) as -1 | 0 | 1),
      compression: (values.compression ?? 'none') as Compression,
    };
    if (values['warmup-records'] !== undefined) o.warmupRecords = Number(values['warmup-records']);
    return o;
  };

  switch (command) {
    case 'start': {
      const opts: Parameters<typeof startKafkaBroker>[0] = {};
      if (values.port) opts.port = Number(values.port);
      if (values.heap) opts.heap = values.heap;
      if (values.dir) opts.dir = values.dir;
      if (values.sasl) opts.sasl = {};
      const k = await startKafkaBroker(opts);
      print({ ...k, stop: undefined });
      process.stderr.write(`Kafka ${k.kafkaVersion} on ${k.bootstrap}; Ctrl-C to stop (log: ${k.logFile})\n`);
      await new Promise<void>((res) => {
        process.once('SIGINT', res);
        process.once('SIGTERM', res);
      });
      await k.stop();
      return;
    }
    case 'producer-perf': {
      if (!values.bootstrap || !values.topic) usage();
      print(await runProducerPerf(producerOpts(values.bootstrap, values.topic)));
      return;
    }
    case 'consumer-perf': {
      if (!values.bootstrap || !values.topic) usage();
      const o: Parameters<typeof runConsumerPerf>[0] = {
        bootstrap: values.bootstrap,
        topic: values.topic,
        numRecords: num(values['num-records'], 100_000),
      };
      if (values.group) o.group = values.group;
      print(await runConsumerPerf(o));
      return;
    }
    case 'smoke': {
      const k = await startKafkaBroker();
      try {
        const topic = 'perf-smoke';
        const producer = await runProducerPerf(producerOpts(k.bootstrap, topic));
        const consumer = await runConsumerPerf({ bootstrap: k.bootstrap, topic, numRecords: producer.records });
        print({ kafkaVersion: k.kafkaVersion, startupMs: k.startupMs, producer, consumer });
      } finally {
        await k.stop();
      }
      return;
    }
    default:
      usage();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
