/**
 * kafkajs (npm devDependency; pure JS, old non-flexible protocol versions) as a test peer, with
 * the same option and result shapes as the Java / Python clients.
 *
 *   const kafka = kafkajsClient({ bootstrap: '127.0.0.1:9092' });   // a kafkajs Kafka instance
 *   await kafkajsProduce({ bootstrap }, { topic: 't', records: [{ key: 'k', value: 'v' }] });
 *   const recs = await kafkajsConsume({ bootstrap }, { topic: 't', group: 'g', maxRecords: 1 });
 */
import { readFileSync } from 'node:fs';
import kafkajs from 'kafkajs';
import type { Kafka as KafkaInstance, KafkaConfig, SASLOptions, IHeaders } from 'kafkajs';
import {
  toBuffer,
  type ClientOptions,
  type ConsumedRecord,
  type ConsumeOptions,
  type ProducedRecord,
  type ProduceOptions,
  type ProduceRecordInput,
} from './types.js';

const { Kafka, logLevel, CompressionTypes } = kafkajs;

export function kafkajsConfig(o: ClientOptions): KafkaConfig {
  const cfg: KafkaConfig = {
    clientId: o.clientId ?? 'kop-test-kafkajs',
    brokers: o.bootstrap.split(','),
    logLevel: logLevel.NOTHING,
    requestTimeout: o.requestTimeoutMs ?? 15_000,
    connectionTimeout: 5_000,
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 2_000 },
  };
  const s = o.security;
  if (s) {
    const protocol = s.protocol ?? 'PLAINTEXT';
    if (protocol.endsWith('SSL')) {
      const tls: NonNullable<Exclude<KafkaConfig['ssl'], boolean>> = {};
      if (s.caPemFile) tls.ca = [readFileSync(s.caPemFile, 'utf8')];
      if (s.certPemFile) tls.cert = readFileSync(s.certPemFile, 'utf8');
      if (s.keyPemFile) tls.key = readFileSync(s.keyPemFile, 'utf8');
      if (!s.verifyHostname) tls.checkServerIdentity = () => undefined;
      cfg.ssl = tls;
    }
    if (protocol.startsWith('SASL')) {
      const mech = s.mechanism ?? (s.token ? 'OAUTHBEARER' : 'PLAIN');
      let sasl: SASLOptions;
      if (mech === 'OAUTHBEARER') {
        const token = s.token;
        if (!token) throw new Error('OAUTHBEARER needs a token');
        sasl = { mechanism: 'oauthbearer', oauthBearerProvider: () => Promise.resolve({ value: token }) };
      } else if (mech === 'PLAIN') {
        sasl = { mechanism: 'plain', username: s.username ?? '', password: s.password ?? '' };
      } else if (mech === 'SCRAM-SHA-256') {
        sasl = { mechanism: 'scram-sha-256', username: s.username ?? '', password: s.password ?? '' };
      } else {
        sasl = { mechanism: 'scram-sha-512', username: s.username ?? '', password: s.password ?? '' };
      }
      cfg.sasl = sasl;
    }
  }
  return cfg;
}

export function kafkajsClient(o: ClientOptions): KafkaInstance {
  return new Kafka(kafkajsConfig(o));
}

function headersOf(h: ProduceRecordInput['headers']): IHeaders | undefined {
  if (h === undefined) return undefined;
  const out: IHeaders = {};
  const list = Array.isArray(h) ? h : Object.entries(h).map(([key, value]) => ({ key, value }));
  for (const { key, value } of list) {
    // kafkajs keeps one value per header key in this shape; repeated keys become arrays
    const v = value === null ? (null as unknown as Buffer) : toBuffer(value);
    const prev = out[key];
    out[key] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

/**
 * Produces with kafkajs, one send() per record (so each gets its offset back). Only gzip among
 * the codecs (kafkajs needs plug-ins for the others).
 */
export async function kafkajsProduce(o: ClientOptions, p: ProduceOptions): Promise<ProducedRecord[]> {
  const kafka = kafkajsClient(o);
  const producer = kafka.producer({ idempotent: p.idempotence ?? false, allowAutoTopicCreation: true });
  const compression =
    p.compression === undefined || p.compression === 'none'
      ? CompressionTypes.None
      : p.compression === 'gzip'
        ? CompressionTypes.GZIP
        : (() => {
            throw new Error(`kafkajs has no built-in ${p.compression} codec`);
          })();
  const acks = p.acks === undefined || p.acks === 'all' ? -1 : Number(p.acks);
  const records: ProduceRecordInput[] =
    p.records ?? Array.from({ length: p.count ?? 0 }, (_, i) => ({ key: `key-${i}`, value: `value-${i}` }));
  const out: ProducedRecord[] = [];
  await producer.connect();
  try {
    for (const [index, r] of records.entries()) {
      try {
        const msg: Parameters<typeof producer.send>[0]['messages'][number] = {
          key: r.key === undefined || r.key === null ? null : toBuffer(r.key),
          value: r.value === undefined || r.value === null ? null : toBuffer(r.value),
        };
        const partition = r.partition ?? p.partition;
        if (partition !== undefined) msg.partition = partition;
        const headers = headersOf(r.headers);
        if (headers) msg.headers = headers;
        if (r.timestamp !== undefined) msg.timestamp = String(r.timestamp);
        const [md] = await producer.send({ topic: r.topic ?? p.topic, messages: [msg], acks, compression });
        const rec: ProducedRecord = { index, topic: md?.topicName ?? p.topic };
        if (md) {
          rec.partition = md.partition;
          rec.offset = Number(md.baseOffset ?? md.offset ?? -1);
          rec.timestamp = Number(md.logAppendTime ?? -1);
        }
        out.push(rec);
      } catch (e) {
        if (!p.allowErrors) throw e;
        const err = e as Error & { type?: string };
        out.push({ index, error: err.type ?? err.name, message: err.message });
      }
    }
  } finally {
    await producer.disconnect();
  }
  return out;
}

/**
 * Consumes with a kafkajs consumer group (kafkajs has no assign mode): from the beginning unless
 * `offset: 'end'`, until `maxRecords` or `timeoutMs` (default 30 s; throws on timeout unless
 * `allowPartial`). Offsets are committed only with `commit: true`.
 */
export async function kafkajsConsume(o: ClientOptions, c: ConsumeOptions): Promise<ConsumedRecord[]> {
  const kafka = kafkajsClient(o);
  const group = c.group ?? `kop-kafkajs-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const consumer = kafka.consumer({
    groupId: group,
    sessionTimeout: 10_000,
    rebalanceTimeout: 10_000,
    heartbeatInterval: 1_000,
    readUncommitted: c.isolationLevel !== 'read_committed',
  });
  const out: ConsumedRecord[] = [];
  const max = c.maxRecords ?? Number.POSITIVE_INFINITY;
  const timeoutMs = c.timeoutMs ?? 30_000;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: c.topic, fromBeginning: c.offset !== 'end' });
    await new Promise<void>((resolveDone, reject) => {
      const timer = setTimeout(() => {
        if (c.allowPartial || c.maxRecords === undefined) resolveDone();
        else reject(new Error(`kafkajs consume: timeout after ${timeoutMs} ms with ${out.length} of ${max} records`));
      }, timeoutMs);
      consumer
        .run({
          autoCommit: c.commit ?? false,
          eachMessage: async ({ topic, partition, message }) => {
            if (out.length >= max) return;
            const headers: ConsumedRecord['headers'] = [];
            for (const [key, v] of Object.entries(message.headers ?? {})) {
              for (const one of Array.isArray(v) ? v : [v]) {
                const b = one === undefined || one === null ? null : toBuffer(one);
                headers.push({ key, value: b, valueText: b === null ? null : b.toString('utf8') });
              }
            }
            const key = message.key ?? null;
            const value = message.value ?? null;
            out.push({
              topic,
              partition,
              offset: Number(message.offset),
              timestamp: Number(message.timestamp),
              // attributes bit 3: the broker set LogAppendTime
              timestampType: (message.attributes & 0x08) !== 0 ? 'LogAppendTime' : 'CreateTime',
              key,
              value,
              keyText: key === null ? null : key.toString('utf8'),
              valueText: value === null ? null : value.toString('utf8'),
              headers,
            });
            if (out.length >= max) {
              clearTimeout(timer);
              resolveDone();
            }
            return Promise.resolve();
          },
        })
        .catch((e: unknown) => {
          clearTimeout(timer);
          reject(e instanceof Error ? e : new Error(String(e)));
        });
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}
