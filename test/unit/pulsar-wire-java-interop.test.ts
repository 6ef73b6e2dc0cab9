/**
 * Optional cross-check against Apache Pulsar's own protocol code: the
 * LightProto classes generated from PulsarApi.proto and
 * org.apache.pulsar.common.protocol.Commands, from the pulsar-common jar.
 *
 *  - frames built by Commands (newConnect, newLookup, newProducer, newSend with
 *    a batch, newSubscribe, newAck, a MESSAGE with broker entry metadata from
 *    Pulsar's own interceptors, ...) decode to what our builders make, and our
 *    builders give the same bytes wherever our .proto knows every field Pulsar
 *    sets;
 *  - a sample of every message, encoded by us, is parsed by Pulsar's class of
 *    the same name and written back identically;
 *  - our SEND / MESSAGE frames (checksum, broker entry metadata, batch) parse
 *    in Pulsar the way a broker or client reads them.
 *
 * Needs java (17+) and the jars of scripts/ci/fetch-pulsar-common.sh (~7 MB,
 * not fetched by .ci/run): skipped, with the reason in the test name, without
 * them. KOP_PULSAR_COMMON_HOME / KOP_PULSAR_COMMON_VERSION select another cache.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BaseCommandType,
  CommandAckAckType,
  CommandSubscribeInitialPosition,
  CommandSubscribeSubType,
  PULSAR_CODECS,
  PULSAR_MESSAGES,
  ProducerAccessMode,
  type BaseCommand,
  type MessageMetadata,
  type ProtoCodec,
} from '../../src/pulsar/proto/index.js';
import { sampleMessage } from '../../src/pulsar/proto/sample.js';
import {
  ackCommand,
  authResponseCommand,
  closeConsumerCommand,
  closeProducerCommand,
  connectCommand,
  decodeBatch,
  decodeSizedFrame,
  encodeBatch,
  encodeCommand,
  encodePayloadCommand,
  flowCommand,
  getLastMessageIdCommand,
  lookupCommand,
  partitionedMetadataCommand,
  pingCommand,
  pongCommand,
  producerCommand,
  seekCommand,
  sendCommand,
  subscribeCommand,
  unsubscribeCommand,
} from '../../src/pulsar/wire/index.js';

/** Keep in sync with default_version in scripts/ci/fetch-pulsar-common.sh. */
const DEFAULT_PULSAR_COMMON_VERSION = '3.3.6';
const version = process.env.KOP_PULSAR_COMMON_VERSION ?? DEFAULT_PULSAR_COMMON_VERSION;
const cacheDir = process.env.KOP_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'kop-gateway');
const home = process.env.KOP_PULSAR_COMMON_HOME ?? join(cacheDir, `pulsar-common-${version}`);
const libs = join(home, 'libs');
const java = process.env.KOP_JAVA_HOME ? join(process.env.KOP_JAVA_HOME, 'bin', 'java') : 'java';

const javaFound = spawnSync(java, ['-version'], { stdio: 'ignore' }).status === 0;
const jarsFound = existsSync(join(libs, `pulsar-common-${version}.jar`)) && existsSync(join(home, '.complete'));
const missing = !javaFound
  ? `java (${java}) not found`
  : !jarsFound
    ? `pulsar-common ${version} jars not found in ${libs} (run scripts/ci/fetch-pulsar-common.sh)`
    : '';
const title = (what: string) => (missing ? `${what}: skipped because ${missing}` : what);

const JAVA_SOURCE = String.raw`import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.io.*;
import java.lang.reflect.InvocationTargetException;
import java.nio.charset.StandardCharsets;
import java.util.*;
import com.scurrilous.circe.checksum.Crc32cIntChecksum;
import org.apache.pulsar.common.api.AuthData;
import org.apache.pulsar.common.api.proto.*;
import org.apache.pulsar.common.intercept.*;
import org.apache.pulsar.common.protocol.ByteBufPair;
import org.apache.pulsar.common.protocol.Commands;
import org.apache.pulsar.common.protocol.Commands.ChecksumType;

/** Reads commands from stdin, one per line: "frames", "proto <Message> <hex>", "parse <hex>". */
public class PulsarInterop {
  static final HexFormat HEX = HexFormat.of();
  static String hex(ByteBuf b) { return ByteBufUtil.hexDump(b); }
  static ByteBuf bytes(String s) { return Unpooled.wrappedBuffer(s.getBytes(StandardCharsets.UTF_8)); }

  static MessageMetadata metadata() {
    return new MessageMetadata().setProducerName("p").setSequenceId(7).setPublishTime(1700000000000L);
  }

  static void frames(PrintStream out) throws Exception {
    String topic = "persistent://public/default/t";
    out.println("connect " + hex(Commands.newConnect("token", "abc", 19, "kop-gateway", null, null, null, null)));
    BaseCommand ping = new BaseCommand().setType(BaseCommand.Type.PING);
    ping.setPing();
    out.println("ping " + hex(Commands.serializeWithSize(ping)));
    out.println("pong " + hex(Commands.newPong()));
    out.println("lookup " + hex(Commands.newLookup(topic, "internal", true, 11)));
    out.println("partitioned-metadata " + hex(Commands.newPartitionMetadataRequest(topic, 12, true)));
    out.println("producer " + hex(Commands.newProducer(topic, 13, 14, "prod", false, Map.of("a", "b"), null, 0, true,
        org.apache.pulsar.client.api.ProducerAccessMode.WaitForExclusive, Optional.empty(), false)));
    out.println("send " + hex(ByteBufPair.coalesce(Commands.newSend(1, 7, 1, ChecksumType.Crc32c, metadata(), bytes("hello")))));
    ByteBuf batch = Unpooled.buffer();
    for (int i = 1; i <= 3; i++) {
      SingleMessageMetadata smm = new SingleMessageMetadata().setSequenceId(i).setEventTime(99);
      if (i == 2) smm.setPartitionKey("k");
      Commands.serializeSingleMessageInBatchWithPayload(smm, bytes("m" + i), batch);
    }
    out.println("send-batch " + hex(ByteBufPair.coalesce(Commands.newSend(1, 1, 3, 3, ChecksumType.Crc32c, metadata().setNumMessagesInBatch(3), batch))));
    out.println("subscribe " + hex(Commands.newSubscribe(topic, "sub", 15, 16, CommandSubscribe.SubType.Shared, 0, "consumer", 0)));
    out.println("flow " + hex(Commands.newFlow(15, 1000)));
    out.println("seek " + hex(Commands.newSeek(15, 17, 100, 200, new long[0])));
    out.println("seek-time " + hex(Commands.newSeek(15, 17, 1700000000000L)));
    out.println("get-last-message-id " + hex(Commands.newGetLastMessageId(15, 18)));
    out.println("ack " + hex(Commands.newAck(15, 100, 200, null, CommandAck.AckType.Individual, null, Collections.emptyMap(), 19)));
    out.println("close-producer " + hex(Commands.newCloseProducer(13, 20)));
    out.println("close-consumer " + hex(Commands.newCloseConsumer(15, 21, null, null)));
    out.println("unsubscribe " + hex(Commands.newUnsubscribe(15, 22, false)));
    out.println("auth-response " + hex(Commands.newAuthResponse("token", AuthData.of("t2".getBytes(StandardCharsets.UTF_8)), 19, "kop-gateway")));
    // a MESSAGE as a broker with AppendIndexMetadataInterceptor + AppendBrokerTimestampMetadataInterceptor sends it
    AppendIndexMetadataInterceptor index = new AppendIndexMetadataInterceptor();
    index.recoveryIndexGenerator(40);
    Set<BrokerEntryMetadataInterceptor> interceptors = new LinkedHashSet<>(List.of(new AppendBrokerTimestampMetadataInterceptor(), index));
    ByteBuf entry = Commands.serializeMetadataAndPayload(ChecksumType.Crc32c, metadata(), bytes("hello"));
    ByteBuf withBem = Commands.addBrokerEntryMetadata(entry, interceptors, 1);
    BrokerEntryMetadata bem = Commands.peekBrokerEntryMetadataIfExist(withBem);
    BaseCommand msg = Commands.newMessageCommand(15, 100, 200, 2, 0, null, -1);
    out.println("message-bem " + hex(ByteBufPair.coalesce(Commands.serializeCommandMessageWithSize(msg, withBem)))
        + " " + bem.getBrokerTimestamp() + " " + bem.getIndex());
    out.println("end");
  }

  static void proto(PrintStream out, String name, String data) throws Exception {
    Class<?> c = Class.forName("org.apache.pulsar.common.api.proto." + name);
    Object m = c.getDeclaredConstructor().newInstance();
    c.getMethod("parseFrom", byte[].class).invoke(m, (Object) HEX.parseHex(data));
    out.println("ok " + HEX.formatHex((byte[]) c.getMethod("toByteArray").invoke(m)));
  }

  /** What a Pulsar client or broker reads from one of our frames. */
  static void parse(PrintStream out, String data) throws Exception {
    ByteBuf buf = Unpooled.wrappedBuffer(HEX.parseHex(data));
    int total = buf.readInt();
    if (total != buf.readableBytes()) throw new IllegalStateException("totalSize " + total + " != " + buf.readableBytes());
    int cmdSize = buf.readInt();
    BaseCommand cmd = new BaseCommand();
    cmd.parseFrom(buf, cmdSize);
    StringBuilder s = new StringBuilder("ok " + cmd.getType());
    if (buf.isReadable()) {
      BrokerEntryMetadata bem = Commands.parseBrokerEntryMetadataIfExist(buf);
      s.append(" bem=").append(bem == null ? "-" : bem.getBrokerTimestamp() + "/" + bem.getIndex());
      if (Commands.hasChecksum(buf)) {
        int stored = Commands.readChecksum(buf);
        int computed = Crc32cIntChecksum.computeChecksum(buf.slice());
        s.append(" crc=").append(stored == computed ? "match" : "MISMATCH");
      } else s.append(" crc=none");
      MessageMetadata md = new MessageMetadata();
      md.parseFrom(buf, (int) buf.readUnsignedInt());
      s.append(" producer=").append(md.getProducerName()).append(" seq=").append(md.getSequenceId());
      if (md.hasNumMessagesInBatch()) {
        int n = md.getNumMessagesInBatch();
        s.append(" batch=");
        for (int i = 0; i < n; i++) {
          SingleMessageMetadata smm = new SingleMessageMetadata();
          ByteBuf p = Commands.deSerializeSingleMessageInBatch(buf, smm, i, n);
          s.append(i == 0 ? "" : ",").append(smm.getSequenceId()).append(':').append(p.toString(StandardCharsets.UTF_8));
        }
      } else s.append(" payload=").append(buf.toString(StandardCharsets.UTF_8));
    }
    out.println(s);
  }

  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    PrintStream out = new PrintStream(new BufferedOutputStream(System.out), false);
    for (String line; (line = in.readLine()) != null; ) {
      String[] p = line.split(" ");
      try {
        switch (p[0]) {
          case "frames": frames(out); break;
          case "proto": proto(out, p[1], p.length > 2 ? p[2] : ""); break;
          case "parse": parse(out, p[1]); break;
          default: out.println("err unknown command " + p[0]);
        }
      } catch (Throwable t) {
        Throwable e = t instanceof InvocationTargetException ? t.getCause() : t;
        out.println("err " + e.getClass().getSimpleName() + ": " + String.valueOf(e.getMessage()).replace('\n', ' '));
      }
    }
    out.flush();
  }
}
`;

let javaRun: Promise<string[]> | undefined;
const requests: string[] = [];

/** Runs the Java side once with every request line; answers come back in order. */
function runJava(lines: string[]): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'pulsar-interop-'));
  const src = join(dir, 'PulsarInterop.java');
  writeFileSync(src, JAVA_SOURCE);
  return new Promise((resolve, reject) => {
    const child = spawn(java, ['-cp', join(libs, '*'), src], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      rmSync(dir, { recursive: true, force: true });
      if (code !== 0) reject(new Error(`java exited ${code}: ${err}`));
      else resolve(out.trimEnd().split('\n'));
    });
    child.stdin.end(lines.join('\n') + '\n');
  });
}

const hex = (s: string) => Buffer.from(s, 'hex');
const TOPIC = 'persistent://public/default/t';
const METADATA: MessageMetadata = { producerName: 'p', sequenceId: 7n, publishTime: 1700000000000n };
const HELLO = Buffer.from('hello');
const BATCH = encodeBatch([1, 2, 3].map((i) => ({ metadata: { ...(i === 2 ? { partitionKey: 'k' } : {}), eventTime: 99n, sequenceId: BigInt(i) }, payload: Buffer.from(`m${i}`) })));
const MESSAGE: BaseCommand = { type: BaseCommandType.MESSAGE, message: { consumerId: 15n, messageId: { ledgerId: 100n, entryId: 200n, partition: 2 } } };

/**
 * What each Commands call of the Java side (same name) must decode to, made with our builders.
 * `sameBytes: false` where Pulsar sets fields our copy of PulsarApi.proto does not have (skipped on decode).
 */
function expectedFrames(bemTimestamp: bigint): Record<string, { frame: Buffer; sameBytes: boolean }> {
  const cmd = (c: BaseCommand, sameBytes = true) => ({ frame: encodeCommand(c), sameBytes });
  return {
    // Pulsar 3.3 also sets FeatureFlags 5 and 6, newer than our .proto
    connect: cmd(connectCommand({ clientVersion: 'kop-gateway', authMethodName: 'token', authData: Buffer.from('abc'), protocolVersion: 19, featureFlags: { supportsAuthRefresh: true, supportsBrokerEntryMetadata: true, supportsPartialProducer: true } }), false),
    ping: cmd(pingCommand()),
    pong: cmd(pongCommand()),
    lookup: cmd(lookupCommand({ topic: TOPIC, requestId: 11n, authoritative: true, advertisedListenerName: 'internal' })),
    // ... and metadata_auto_creation_enabled (6) here
    'partitioned-metadata': cmd(partitionedMetadataCommand({ topic: TOPIC, requestId: 12n }), false),
    producer: cmd(producerCommand({ topic: TOPIC, producerId: 13n, requestId: 14n, producerName: 'prod', encrypted: false, metadata: [{ key: 'a', value: 'b' }], epoch: 0n, userProvidedProducerName: true, producerAccessMode: ProducerAccessMode.WaitForExclusive, txnEnabled: false })),
    send: { frame: encodePayloadCommand(sendCommand({ producerId: 1n, sequenceId: 7n }), METADATA, HELLO), sameBytes: true },
    'send-batch': { frame: encodePayloadCommand(sendCommand({ producerId: 1n, sequenceId: 1n, numMessages: 3, highestSequenceId: 3n }), { ...METADATA, numMessagesInBatch: 3 }, BATCH), sameBytes: true },
    subscribe: cmd(
      subscribeCommand({
        topic: TOPIC,
        subscription: 'sub',
        subType: CommandSubscribeSubType.Shared,
        consumerId: 15n,
        requestId: 16n,
        consumerName: 'consumer',
        priorityLevel: 0,
        durable: true,
        readCompacted: false,
        initialPosition: CommandSubscribeInitialPosition.Earliest,
        replicateSubscriptionState: false,
        forceTopicCreation: true,
        consumerEpoch: (1n << 64n) - 1n, // Java's -1 (DEFAULT_CONSUMER_EPOCH) in a uint64
      }),
    ),
    flow: cmd(flowCommand({ consumerId: 15n, messagePermits: 1000 })),
    seek: cmd(seekCommand({ consumerId: 15n, requestId: 17n, messageId: { ledgerId: 100n, entryId: 200n } })),
    'seek-time': cmd(seekCommand({ consumerId: 15n, requestId: 17n, messagePublishTime: 1700000000000n })),
    'get-last-message-id': cmd(getLastMessageIdCommand({ consumerId: 15n, requestId: 18n })),
    ack: cmd(ackCommand({ consumerId: 15n, ackType: CommandAckAckType.Individual, messageId: [{ ledgerId: 100n, entryId: 200n }], requestId: 19n })),
    'close-producer': cmd(closeProducerCommand({ producerId: 13n, requestId: 20n })),
    'close-consumer': cmd(closeConsumerCommand({ consumerId: 15n, requestId: 21n })),
    unsubscribe: cmd(unsubscribeCommand({ consumerId: 15n, requestId: 22n, force: false })),
    'auth-response': cmd(authResponseCommand({ clientVersion: 'kop-gateway', protocolVersion: 19, response: { authMethodName: 'token', authData: Buffer.from('t2') } })),
    'message-bem': { frame: encodePayloadCommand(MESSAGE, METADATA, HELLO, { brokerEntryMetadata: { brokerTimestamp: bemTimestamp, index: 41n } }), sameBytes: true },
  };
}

/** Our frames and what Pulsar must read in them. */
const OUR_FRAMES: Array<[string, Buffer, string]> = [
  ['send', encodePayloadCommand(sendCommand({ producerId: 1n, sequenceId: 7n }), METADATA, HELLO), 'ok SEND bem=- crc=match producer=p seq=7 payload=hello'],
  ['send without checksum', encodePayloadCommand(sendCommand({ producerId: 1n, sequenceId: 7n }), METADATA, HELLO, { checksum: false }), 'ok SEND bem=- crc=none producer=p seq=7 payload=hello'],
  ['send batch', encodePayloadCommand(sendCommand({ producerId: 1n, sequenceId: 1n, numMessages: 3 }), { ...METADATA, numMessagesInBatch: 3 }, BATCH), 'ok SEND bem=- crc=match producer=p seq=7 batch=1:m1,2:m2,3:m3'],
  ['message with broker entry metadata', encodePayloadCommand(MESSAGE, METADATA, HELLO, { brokerEntryMetadata: { brokerTimestamp: 1700000000001n, index: 41n } }), 'ok MESSAGE bem=1700000000001/41 crc=match producer=p seq=7 payload=hello'],
  ['connect', encodeCommand(connectCommand({ clientVersion: 'kop-gateway', authMethodName: 'token', authData: Buffer.from('abc') })), 'ok CONNECT'],
];

const codecs = PULSAR_CODECS as Readonly<Record<string, ProtoCodec<unknown>>>;
const samples: Array<{ what: string; name: string; bytes: Buffer; value: unknown }> = [];
for (const name of Object.keys(PULSAR_MESSAGES)) {
  for (const mode of ['full', 'required'] as const) {
    const value = sampleMessage(name, mode);
    samples.push({ what: `${name} ${mode}`, name, bytes: codecs[name]!.encode(value), value });
  }
}

/** One Java run for all three tests. */
function answers(): Promise<{ frames: string[]; protos: string[]; parses: string[] }> {
  if (!javaRun) {
    requests.push('frames', ...samples.map((s) => `proto ${s.name} ${s.bytes.toString('hex')}`), ...OUR_FRAMES.map(([, b]) => `parse ${b.toString('hex')}`));
    javaRun = runJava(requests);
  }
  return javaRun.then((lines) => {
    const end = lines.indexOf('end');
    assert.ok(end > 0, `no frames from Java: ${lines.slice(0, 3).join('\n')}`);
    const rest = lines.slice(end + 1);
    assert.equal(rest.length, samples.length + OUR_FRAMES.length, rest.slice(0, 3).join('\n'));
    return { frames: lines.slice(0, end), protos: rest.slice(0, samples.length), parses: rest.slice(samples.length) };
  });
}

const opts = { skip: missing || false, timeout: 120_000 };

test(title(`frames made by Pulsar ${version}'s Commands decode to what our builders make`), opts, async (t) => {
  const { frames } = await answers();
  const got = new Map(frames.map((l) => {
    const [name, data, ...extra] = l.split(' ');
    return [name!, { data: hex(data!), extra }];
  }));
  const bem = got.get('message-bem')!.extra.map((x) => BigInt(x));
  assert.equal(bem[1], 41n, 'index of the first message after 40 with AppendIndexMetadataInterceptor');
  const want = expectedFrames(bem[0]!);
  assert.deepEqual([...got.keys()].sort(), Object.keys(want).sort());
  let identical = 0;
  for (const [name, { frame, sameBytes }] of Object.entries(want)) {
    const java = got.get(name)!.data;
    const ours = decodeSizedFrame(frame);
    const theirs = decodeSizedFrame(java);
    assert.deepEqual(theirs, ours, name);
    if (sameBytes) {
      assert.equal(frame.toString('hex'), java.toString('hex'), `${name}: our bytes differ from Pulsar's`);
      identical++;
    }
    if (theirs.message?.metadata.numMessagesInBatch) {
      const entries = decodeBatch(theirs.message.payload, theirs.message.metadata.numMessagesInBatch);
      assert.deepEqual(entries.map((e) => [e.metadata.sequenceId, e.payload.toString()]), [[1n, 'm1'], [2n, 'm2'], [3n, 'm3']]);
    }
  }
  t.diagnostic(`${Object.keys(want).length} Commands frames decoded, ${identical} byte-identical to ours`);
});

/** Fields of our PulsarApi.proto that Pulsar 3.3's classes do not have (they drop them when re-writing). */
const NEWER_THAN_PULSAR: ReadonlyArray<readonly [string, string]> = [['CommandLookupTopic', 'properties']];

/** `value` of message `name` without the fields of NEWER_THAN_PULSAR, at any depth. */
function withoutNewerFields(name: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const f of PULSAR_MESSAGES[name]!.fields) {
    if (NEWER_THAN_PULSAR.some(([m, n]) => m === name && n === f.name)) delete out[f.name];
    else if (f.type === 'message' && out[f.name] !== undefined) {
      const v = out[f.name];
      out[f.name] = Array.isArray(v) ? v.map((x) => withoutNewerFields(f.ref!, x)) : withoutNewerFields(f.ref!, v);
    }
  }
  return out;
}

/** Does `value` hold a uint32 of 2^31 or more (which Pulsar's LightProto writes as a 10-byte varint, as if signed)? */
function hasLargeUint32(name: string, value: unknown): boolean {
  const m = value as Record<string, unknown>;
  return PULSAR_MESSAGES[name]!.fields.some((f) => {
    const vs = (Array.isArray(m[f.name]) ? m[f.name] : [m[f.name]]) as unknown[];
    return vs.some((v) => v !== undefined && (f.type === 'message' ? hasLargeUint32(f.ref!, v) : f.type === 'uint32' && (v as number) >= 2 ** 31));
  });
}

test(title(`every message encoded by us is read and re-written by Pulsar ${version}'s classes`), opts, async (t) => {
  const { protos } = await answers();
  const failures: string[] = [];
  let identical = 0;
  let largeUint32 = 0;
  protos.forEach((a, i) => {
    const s = samples[i]!;
    if (!a.startsWith('ok ')) return failures.push(`${s.what}: ${a}`);
    if (a === `ok ${s.bytes.toString('hex')}`) return identical++;
    // Different bytes are fine only for the two known reasons, and the values must still agree.
    const theirs = hex(a.slice(3));
    const want = withoutNewerFields(s.name, s.value);
    const stripped = codecs[s.name]!.encode(want).length !== s.bytes.length;
    if (!stripped && !hasLargeUint32(s.name, s.value)) return failures.push(`${s.what}: Pulsar wrote ${a.slice(3)}\n      we wrote     ${s.bytes.toString('hex')}`);
    if (hasLargeUint32(s.name, s.value)) largeUint32++;
    try {
      assert.deepEqual(codecs[s.name]!.decode(theirs), want);
    } catch (e) {
      failures.push(`${s.what}: Pulsar's bytes decode to other values: ${(e as Error).message}`);
    }
  });
  t.diagnostic(`${samples.length} samples: ${identical} byte-identical; ${largeUint32} with uint32 >= 2^31 written as 10-byte varints by LightProto (same values); the rest differ only by fields newer than Pulsar ${version}`);
  assert.deepEqual(failures, [], `${failures.length} mismatches:\n${failures.slice(0, 20).join('\n')}`);
  assert.ok(identical > samples.length * 0.9);
});

test(title(`Pulsar ${version} reads our payload frames (checksum, broker entry metadata, batch)`), opts, async () => {
  const { parses } = await answers();
  OUR_FRAMES.forEach(([what, , want], i) => assert.equal(parses[i], want, what));
});
