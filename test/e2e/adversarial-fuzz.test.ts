/**
 * A bounded fuzz run against a live gateway, on both storage engines (embedded, and
 * storageEngine=pulsar on the run's shared broker): every API the gateway advertises is sent
 * structurally valid but hostile requests (names from a pool of legal, illegal and traversal
 * names; edge integers; random arrays; valid, corrupt and garbage record batches) and byte-level
 * mutations and truncations of them, over many raw connections, with authorization off (the most
 * permissive posture: every handler is reached). Seeded (KOP_FUZZ_SEED) and bounded in frames and
 * time; only loopback.
 *
 * What must hold afterwards (issue "hold against a hostile tenant"): the gateway still serves;
 * every record a well-behaved client had acknowledged before the run is still there at its
 * offset, and the client keeps producing and consuming; no handler failed with an unexpected error
 * (a log line at level error is a bug: it means UNKNOWN_SERVER_ERROR or a closed connection for
 * something the gateway should have answered); nothing was written outside the data directory.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { Gateway } from '../../src/server.js';
import type { Logger } from '../../src/logger.js';
import { encodeRequest, decodeResponse, type ApiKeyNumber } from '../../src/protocol/codec/frame.js';
import { schemaDefault } from '../../src/protocol/codec/sample.js';
import type { FieldSchema, MessageSchema } from '../../src/protocol/codec/types.js';
import { SCHEMAS } from '../../src/protocol/generated/index.js';
import { API_KEYS } from '../../src/protocol/generated/apis.js';
import { encodeBatchSync } from '../../src/protocol/records/encode.js';
import { RawClient } from '../helpers/raw-client.js';
import { kafkajsConsume, kafkajsProduce } from '../helpers/clients/kafkajs.js';
import { createNamespace, pulsarGatewayConfig, pulsarSkipReason, sharedPulsar, uniqueName } from '../helpers/pulsar.js';
import { prng } from '../helpers/prng.js';

const SEED = Number(process.env.KOP_FUZZ_SEED ?? 0xf22);
const FRAMES = Number(process.env.KOP_FUZZ_FRAMES ?? 1500);
const TIME_BUDGET_MS = 90_000;
const KEEP_TOPIC = 'fuzz-keep-3b1d';
const KEEP_RECORDS = 120;


const NAMES = [
  'fz-a',
  'fz-b',
  'persistent://public/default/fz-c',
  'persistent://fz-tenant/ns/fz-d',
  'persistent://public/../fz-e',
  'persistent://../../x/y',
  'persistent://./ns/t',
  '..',
  '.',
  '',
  '../../state',
  'a/b',
  'fz-\u0000',
  'x'.repeat(300),
  'persistent://' + 't'.repeat(300) + '/ns/x',
  '__consumer_offsets',
  'fz-g1',
  'fz-txn',
  'é€',
];
const INTS32 = [0, 1, -1, 2, 3, 7, 100, 1000, 65535, 2 ** 31 - 1, -(2 ** 31), 30_000];
const INTS64 = [0n, 1n, -1n, -2n, 2n ** 62n, -(2n ** 63n), 1_700_000_000_000n];

function pick<T>(rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)]!;
}

function sampleBatch(rnd: () => number): Buffer {
  const kind = rnd();
  const records = Array.from({ length: 1 + Math.floor(rnd() * 3) }, (_, i) => ({ key: rnd() < 0.5 ? null : Buffer.from(`k${i}`), value: Buffer.from(`v${i}-${'z'.repeat(Math.floor(rnd() * 50))}`), timestamp: 1_700_000_000_000 + i }));
  if (kind < 0.3) return encodeBatchSync({ records });
  if (kind < 0.45) return encodeBatchSync({ records, compression: 1 + Math.floor(rnd() * 4) });
  if (kind < 0.55) return encodeBatchSync({ records, isControl: true });
  if (kind < 0.65) return encodeBatchSync({ records, transactional: true, producerId: 5, producerEpoch: 0, baseSequence: 0 });
  if (kind < 0.75) return encodeBatchSync({ records, lastOffsetDelta: 2 ** 31 - 1 });
  const b = encodeBatchSync({ records });
  const out = Buffer.from(b);
  for (let i = 0; i < 1 + Math.floor(rnd() * 4); i++) out[Math.floor(rnd() * out.length)] = Math.floor(rnd() * 256);
  return out;
}

/** A structurally valid request of `schema` at `version` with hostile values. */
function hostileMessage(schema: MessageSchema, version: number, rnd: () => number): Record<string, unknown> {
  const inRange = (r: readonly [number, number] | null | undefined) => !!r && version >= r[0] && version <= r[1];
  const value = (f: FieldSchema, depth: number): unknown => {
    const struct = schema.structs[f.type];
    if (struct) return build(struct, depth + 1);
    switch (f.type) {
      case 'bool':
        return rnd() < 0.5;
      case 'int8':
        return pick(rnd, [0, 1, -1, 127, -128]);
      case 'int16':
        return pick(rnd, [0, 1, -1, 2, 32767, -32768]);
      case 'uint16':
        return pick(rnd, [0, 1, 65535]);
      case 'int32':
        return pick(rnd, INTS32);
      case 'uint32':
        return pick(rnd, [0, 1, 4294967295]);
      case 'int64':
        return pick(rnd, INTS64);
      case 'float64':
        return pick(rnd, [0, -1, 1e308, Number.NaN]);
      case 'string':
        return pick(rnd, NAMES);
      case 'bytes':
        return rnd() < 0.5 ? Buffer.alloc(0) : Buffer.from(pick(rnd, NAMES));
      case 'records':
        return sampleBatch(rnd);
      case 'uuid':
        return rnd() < 0.5 ? Buffer.alloc(16) : Buffer.from(Array.from({ length: 16 }, () => Math.floor(rnd() * 256)));
      default:
        throw new Error(`unknown type ${f.type}`);
    }
  };
  const build = (fields: readonly FieldSchema[], depth: number): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const f of fields) {
      if (!inRange(f.versions)) {
        out[f.name] = schemaDefault(schema, f);
        continue;
      }
      if (inRange(f.nullable) && rnd() < 0.1) {
        out[f.name] = null;
        continue;
      }
      if (f.array) {
        const n = depth > 2 ? Math.floor(rnd() * 2) : Math.floor(rnd() * 4);
        // a partition or topic listed many times: the duplicate case of the issue
        const one = value(f, depth);
        out[f.name] = Array.from({ length: n }, () => (rnd() < 0.3 ? one : value(f, depth)));
      } else {
        out[f.name] = value(f, depth);
      }
    }
    return out;
  };
  return build(schema.fields, 0);
}

function requestSchema(apiKey: number): MessageSchema {
  const s = Object.values(SCHEMAS).find((m) => m.type === 'request' && m.apiKey === apiKey);
  if (!s) throw new Error(`no request schema for API ${apiKey}`);
  return s;
}

interface Collected {
  errors: Array<Record<string, unknown>>;
}

function capturingLogger(): { logger: Logger; collected: Collected } {
  const collected: Collected = { errors: [] };
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        try {
          const o = JSON.parse(line) as Record<string, unknown>;
          if (typeof o.level === 'number' && o.level >= 50) collected.errors.push(o);
        } catch {
          /* not JSON: ignore */
        }
      }
      cb();
    },
  });
  return { logger: pino({ level: 'error' }, sink) as unknown as Logger, collected };
}

async function fuzz(port: number, apis: Array<{ apiKey: number; minVersion: number; maxVersion: number }>, seed: number): Promise<{ sent: number; answered: number; closed: number; silent: number }> {
  const rnd = prng(seed);
  const stats = { sent: 0, answered: 0, closed: 0, silent: 0 };
  const parked: RawClient[] = [];
  let client = await RawClient.open(port);
  const deadline = Date.now() + TIME_BUDGET_MS;
  try {
    for (let i = 0; i < FRAMES && Date.now() < deadline; i++) {
      if (client.closed) client = await RawClient.open(port);
      const api = pick(rnd, apis);
      const version = api.minVersion + Math.floor(rnd() * (api.maxVersion - api.minVersion + 1));
      let frame: Buffer;
      try {
        frame = encodeRequest(api.apiKey as ApiKeyNumber, version, i, rnd() < 0.9 ? 'fuzz' : null, hostileMessage(requestSchema(api.apiKey), version, rnd) as never);
      } catch {
        continue; // a value the codec cannot encode in this version (e.g. a string too long): not a request
      }
      const mode = rnd();
      if (mode < 0.2) {
        // 1-3 random bytes of the body changed (the size prefix kept)
        frame = Buffer.from(frame);
        for (let k = 0; k < 1 + Math.floor(rnd() * 3); k++) frame[4 + Math.floor(rnd() * (frame.length - 4))] = Math.floor(rnd() * 256);
      } else if (mode < 0.25) {
        // truncated body with a consistent size prefix
        const n = 4 + Math.floor(rnd() * (frame.length - 4));
        frame = Buffer.from(frame.subarray(0, n));
        frame.writeInt32BE(n - 4, 0);
      }
      client.send(frame);
      stats.sent++;
      const response = await client.next(1500).catch(() => null);
      if (response) stats.answered++;
      else if (client.closed) stats.closed++;
      else {
        // parked (a long poll, a join waiting for a rebalance): leave it and go on with a new connection
        stats.silent++;
        parked.push(client);
        client = await RawClient.open(port);
        if (parked.length > 40) parked.shift()!.sock.destroy();
      }
    }
  } finally {
    client.sock.destroy();
    for (const c of parked) c.sock.destroy();
  }
  return stats;
}

async function apiVersionsAnswered(port: number): Promise<boolean> {
  const c = await RawClient.open(port);
  try {
    c.send(encodeRequest(API_KEYS.ApiVersions, 3, 1, 'probe', { clientSoftwareName: 'probe', clientSoftwareVersion: '1' }));
    const r = await c.next(5000);
    if (!r) return false;
    return decodeResponse(r, API_KEYS.ApiVersions, 3).body.errorCode === 0;
  } finally {
    c.sock.destroy();
  }
}

const pulsarSkip = pulsarSkipReason();

for (const engine of ['embedded', 'pulsar'] as const) {
  const skip = engine === 'pulsar' ? pulsarSkip : undefined;
  describe(`fuzz against a live gateway (${engine} engine)`, { skip }, () => {
    let gateway: Gateway;
    let dir: string;
    let parent: string;
    let port: number;
    let collected: Collected;
    let acked: number[] = [];

    before(async () => {
      parent = mkdtempSync(join(tmpdir(), `kop-fuzz-${engine}-`));
      dir = join(parent, 'data');
      const extra: Record<string, string | number | boolean> = engine === 'pulsar' ? pulsarGatewayConfig(await sharedPulsar(), await createNamespace(await sharedPulsar(), uniqueName('fuzz'))) : {};
      const config = loadConfig({ env: {}, overrides: { kafkaListeners: 'PLAINTEXT://127.0.0.1:0', dataDirectory: dir, auditLogFile: join(dir, 'audit.log'), allowAutoTopicCreation: true, ...extra } });
      const captured = capturingLogger();
      collected = captured.collected;
      gateway = await Gateway.start(config, { logger: captured.logger });
      port = gateway.port();
      const produced = await kafkajsProduce({ bootstrap: `127.0.0.1:${port}` }, { topic: KEEP_TOPIC, records: Array.from({ length: KEEP_RECORDS }, (_, i) => ({ key: `k${i}`, value: `keep-${i}` })), acks: 'all' });
      acked = produced.map((r) => Number(r.offset));
    });

    after(async () => {
      await gateway?.stop(2000);
      rmSync(parent, { recursive: true, force: true });
    });

    test(`${FRAMES} hostile frames over every advertised API: the gateway keeps serving, acknowledged records survive, no handler fails unexpectedly, nothing written outside the data directory`, { timeout: 240_000 }, async () => {
      assert.equal(acked.length, KEEP_RECORDS);
      const apis = gateway.context.table.advertised();
      assert.ok(apis.length > 20, `advertised APIs: ${apis.length}`);
      const stats = await fuzz(port, apis, SEED + (engine === 'pulsar' ? 1 : 0));
      console.log(`# fuzz ${engine}: seed ${SEED}, ${JSON.stringify(stats)}`);
      assert.ok(stats.sent >= Math.min(FRAMES, 300), `sent ${stats.sent} frames`);
      assert.ok(stats.answered > stats.sent / 4, `most requests are answered, not closed (${JSON.stringify(stats)})`);

      assert.ok(await apiVersionsAnswered(port), 'the gateway still answers ApiVersions');
      // the well-behaved client: everything acknowledged before is still there, in order
      const got = await kafkajsConsume({ bootstrap: `127.0.0.1:${port}` }, { topic: KEEP_TOPIC, partitions: [0], offset: 'beginning', maxRecords: KEEP_RECORDS, timeoutMs: 30_000 });
      assert.deepEqual(got.map((r) => r.offset), acked, 'acknowledged offsets');
      assert.deepEqual(got.map((r) => r.valueText), acked.map((_, i) => `keep-${i}`), 'acknowledged values');
      const more = await kafkajsProduce({ bootstrap: `127.0.0.1:${port}` }, { topic: KEEP_TOPIC, records: [{ key: 'after', value: 'after-fuzz' }], acks: 'all' });
      assert.equal(Number(more[0]!.offset), KEEP_RECORDS, 'produce after the run continues the log');

      // nothing created beside the data directory (a traversal name would land in its parent)
      assert.deepEqual(readdirSync(parent), ['data'], 'only the data directory exists in its parent');
      const unexpected = collected.errors.map((e) => `${String(e.msg)}: ${JSON.stringify(e.err ?? e).slice(0, 400)}`);
      assert.deepEqual(unexpected, [], `log lines at level error during the fuzz run (seed ${SEED}):\n${unexpected.slice(0, 10).join('\n')}`);
    });
  });
}
