/**
 * The Pulsar client's registrations against a scripted broker (a TCP server speaking the binary
 * protocol), for orderings a real broker produces only by chance: a broker unloading a topic
 * (shutdown, restart, bundle move) sends CLOSE_PRODUCER / CLOSE_CONSUMER, and one can arrive in
 * the same read as the answer to a re-registration, before the producer or consumer counts itself
 * ready. The client must register again. (Found in e2e pulsar-broker-restart: the producer became
 * ready on a registration the broker had closed, was no longer known to its connection, and every
 * send of that partition timed out for good.) The same client against the real broker:
 * test/unit/pulsar-client.test.ts and test/e2e/pulsar-broker-restart.test.ts.
 * Also here: how soon producers and readers in reconnect back-off come back once the broker
 * answers again (the pool's probe of the service URL wakes them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createPulsarClient } from '../../src/pulsar/client/index.js';
import type { ClientLogger } from '../../src/pulsar/client/types.js';
import { waitFor } from '../helpers/wait.js';
import { BaseCommandType, CommandLookupTopicResponseLookupType, type BaseCommand } from '../../src/pulsar/proto/index.js';
import { PulsarFrameSplitter, decodeFrame, encodeCommand, encodePayloadCommand } from '../../src/pulsar/wire/index.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * A broker that answers what a producer or reader needs. `closeWithAnswer(n)` decides, for the
 * n-th PRODUCER or SUBSCRIBE (1-based), whether its answer is written in one write together with
 * a CLOSE_PRODUCER / CLOSE_CONSUMER of the same id. A SEND for a producer id it does not hold
 * closes the connection, as Pulsar's ServerCnx does ("the producer is not ready").
 */
function scriptedBroker(closeWithAnswer: (kind: 'producer' | 'consumer', n: number) => boolean) {
  const sockets = new Set<net.Socket>();
  const stats = { producerRegistrations: 0, subscriptions: 0, receipts: 0, sendsToUnknownProducer: 0 };
  const producers = new Set<bigint>();
  const consumers = new Set<bigint>();
  let entry = 0n;
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    const splitter = new PulsarFrameSplitter();
    const write = (...cmds: BaseCommand[]) => s.write(Buffer.concat(cmds.map((c) => encodeCommand(c))));
    s.on('data', (chunk: Buffer) => {
      for (const f of splitter.push(chunk)) {
        const { command: c } = decodeFrame(f);
        switch (c.type) {
          case BaseCommandType.CONNECT:
            write({ type: BaseCommandType.CONNECTED, connected: { serverVersion: 'scripted', protocolVersion: 19 } });
            break;
          case BaseCommandType.PING:
            write({ type: BaseCommandType.PONG, pong: {} });
            break;
          case BaseCommandType.LOOKUP: {
            const { port } = server.address() as net.AddressInfo;
            write({
              type: BaseCommandType.LOOKUP_RESPONSE,
              lookupTopicResponse: { requestId: c.lookupTopic!.requestId, response: CommandLookupTopicResponseLookupType.Connect, brokerServiceUrl: `pulsar://127.0.0.1:${port}`, authoritative: true },
            });
            break;
          }
          case BaseCommandType.PRODUCER: {
            const p = c.producer!;
            const n = ++stats.producerRegistrations;
            const answer: BaseCommand = { type: BaseCommandType.PRODUCER_SUCCESS, producerSuccess: { requestId: p.requestId, producerName: 'scripted-producer', lastSequenceId: -1n } };
            if (closeWithAnswer('producer', n)) {
              producers.delete(p.producerId);
              write(answer, { type: BaseCommandType.CLOSE_PRODUCER, closeProducer: { producerId: p.producerId, requestId: 0n } });
            } else {
              producers.add(p.producerId);
              write(answer);
            }
            break;
          }
          case BaseCommandType.SEND: {
            const send = c.send!;
            if (!producers.has(send.producerId)) {
              stats.sendsToUnknownProducer++;
              s.destroy();
              return;
            }
            stats.receipts++;
            write({ type: BaseCommandType.SEND_RECEIPT, sendReceipt: { producerId: send.producerId, sequenceId: send.sequenceId, messageId: { ledgerId: 7n, entryId: entry++ } } });
            break;
          }
          case BaseCommandType.SUBSCRIBE: {
            const sub = c.subscribe!;
            const n = ++stats.subscriptions;
            const answer: BaseCommand = { type: BaseCommandType.SUCCESS, success: { requestId: sub.requestId } };
            if (closeWithAnswer('consumer', n)) {
              consumers.delete(sub.consumerId);
              write(answer, { type: BaseCommandType.CLOSE_CONSUMER, closeConsumer: { consumerId: sub.consumerId, requestId: 0n } });
            } else {
              consumers.add(sub.consumerId);
              write(answer);
            }
            break;
          }
          case BaseCommandType.FLOW: {
            const flow = c.flow!;
            if (!consumers.has(flow.consumerId)) break; // a real broker ignores permits for a consumer it does not hold
            s.write(
              encodePayloadCommand(
                { type: BaseCommandType.MESSAGE, message: { consumerId: flow.consumerId, messageId: { ledgerId: 7n, entryId: 0n } } },
                { producerName: 'scripted-producer', sequenceId: 0n, publishTime: BigInt(Date.now()) },
                Buffer.from('the entry'),
              ),
            );
            break;
          }
          case BaseCommandType.CLOSE_PRODUCER:
            producers.delete(c.closeProducer!.producerId);
            write({ type: BaseCommandType.SUCCESS, success: { requestId: c.closeProducer!.requestId } });
            break;
          case BaseCommandType.CLOSE_CONSUMER:
            consumers.delete(c.closeConsumer!.consumerId);
            write({ type: BaseCommandType.SUCCESS, success: { requestId: c.closeConsumer!.requestId } });
            break;
          default:
            break;
        }
      }
    });
  });
  return {
    stats,
    async start(port = 0): Promise<string> {
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
      return `pulsar://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    },
    /** The broker goes away (connections reset, the port refuses) until start(port) again. */
    async away(): Promise<number> {
      const { port } = server.address() as net.AddressInfo;
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      producers.clear();
      consumers.clear();
      await closed;
      return port;
    },
    /** The broker unloads the topic: CLOSE_PRODUCER for every producer it holds. */
    closeProducers(): void {
      for (const s of sockets) for (const id of producers) s.write(encodeCommand({ type: BaseCommandType.CLOSE_PRODUCER, closeProducer: { producerId: id, requestId: 0n } }));
      producers.clear();
    },
    stop(): void {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

type Broker = ReturnType<typeof scriptedBroker>;
type Client = ReturnType<typeof createPulsarClient>;

/** A scripted broker and a client of it (operation timeout 3 s) for `run`; both closed afterwards. */
async function withScriptedBroker(script: Parameters<typeof scriptedBroker>[0], run: (broker: Broker, client: Client) => Promise<void>, logger: ClientLogger = quiet): Promise<void> {
  const broker = scriptedBroker(script);
  const client = createPulsarClient({ serviceUrl: await broker.start(), operationTimeoutMs: 3000, logger });
  try {
    await run(broker, client);
  } finally {
    await client.close();
    broker.stop();
  }
}

test('a CLOSE_PRODUCER read together with the answer to a re-registration: the producer registers again and its sends are answered', () =>
  // registration 1: normal; the broker then unloads the topic; registration 2 is answered together
  // with a CLOSE_PRODUCER; registration 3: normal
  withScriptedBroker((kind, n) => kind === 'producer' && n === 2, async (broker, client) => {
    const producer = await client.createProducer({ topic: 'persistent://t/n/races' });
    const first = await producer.send({ payload: Buffer.from('before the unload') });
    assert.equal(first.messageId.entryId, 0n);
    broker.closeProducers();
    // send once the client has re-registered (a send racing the CLOSE_PRODUCER is another case:
    // the broker drops the connection for it and the producer resends after reconnecting)
    await waitFor(() => broker.stats.producerRegistrations >= 2, 2000, 'the producer to register again after the unload');
    const second = await producer.send({ payload: Buffer.from('after the unload') });
    assert.equal(broker.stats.producerRegistrations, 3, 'the registration closed with its answer was followed by another');
    assert.equal(broker.stats.sendsToUnknownProducer, 0, 'nothing was sent into the closed registration');
    assert.equal(second.messageId.entryId, 1n);
    assert.equal(producer.connected, true);
  }));

test('a CLOSE_CONSUMER read together with the SUBSCRIBE answer: the reader subscribes again and receives', () =>
  withScriptedBroker((kind, n) => kind === 'consumer' && n === 1, async (broker, client) => {
    const reader = await client.subscribe({ topic: 'persistent://t/n/races', subscription: 'reader', durable: false, receiverQueueSize: 10 });
    const e = await reader.receive(2000);
    assert.ok(e, 'an entry arrived (a reader left on the closed registration gets nothing)');
    assert.equal(e.payload.toString(), 'the entry');
    assert.equal(broker.stats.subscriptions, 2);
  }));

test('the broker away for seconds: a producer and a reader in reconnect back-off are back within moments of it answering again, not after their grown delay', async (t) => {
  const delays: number[] = [];
  const logger = {
    ...quiet,
    info(o: { delayMs?: number }, msg?: string) {
      if (msg === 'pulsar: producer reconnecting' && o.delayMs !== undefined) delays.push(o.delayMs);
    },
  };
  await withScriptedBroker(
    () => false,
    async (broker, client) => {
      const producer = await client.createProducer({ topic: 'persistent://t/n/away' });
      const reader = await client.subscribe({ topic: 'persistent://t/n/away', subscription: 'reader', durable: false, receiverQueueSize: 10 });
      await producer.send({ payload: Buffer.from('before') });
      const port = await broker.away();
      // the producer retries while the broker is away, each delay about twice the last
      await waitFor(() => delays.some((d) => d >= 5_000), 30_000, () => `the back-off to grow (${delays.join(', ')} ms)`);
      const sleeping = delays.at(-1)!;
      assert.ok(sleeping >= 5_000, `the back-off grew (${delays.join(', ')} ms)`);
      const back = Date.now();
      await broker.start(port);
      await waitFor(() => producer.connected && reader.connected, 15_000, 'the producer and the reader to reconnect');
      const took = Date.now() - back;
      t.diagnostic(`back ${took} ms after the broker answered again; the producer's back-off delay then: ${sleeping} ms`);
      assert.ok(took < 3_000, `back ${took} ms after the broker answered again, while the producer's back-off delay was ${sleeping} ms`);
      const r = await producer.send({ payload: Buffer.from('after') });
      assert.ok(r.messageId.entryId >= 0n);
    },
    logger,
  );
});
