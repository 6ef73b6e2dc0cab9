/**
 * Cross-check against Apache Kafka's own generated Java message classes
 * (kafka-clients jar of the CI's Kafka version): for every message and version
 * both sides know (except versions still marked unstable in our definitions),
 * our encoding of a sample value is read by Kafka's `<Message>Data.read()` and
 * written back by its `write()`; the bytes must come back unchanged.
 *
 * Needs java (17+) and the jars of scripts/ci/fetch-java-deps.sh
 * (KOP_JAVA_CLASSPATH, default $KOP_CACHE_DIR/kafka-$KOP_KAFKA_VERSION/libs/*).
 * Skipped when they are missing, failed instead when KOP_HARNESS_STRICT=1 or CI=true.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writer } from '../../src/protocol/codec/writer.js';
import { sampleMessage } from '../../src/protocol/codec/sample.js';
import type { MessageCodec } from '../../src/protocol/codec/types.js';
import * as generated from '../../src/protocol/generated/index.js';
import { APIS, SCHEMAS } from '../../src/protocol/generated/index.js';

const codecs = generated as unknown as Record<string, MessageCodec<unknown>>;

const cacheDir = process.env.KOP_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'kop-gateway');
const kafkaHome = process.env.KOP_KAFKA_HOME ?? join(cacheDir, `kafka-${process.env.KOP_KAFKA_VERSION ?? '4.3.1'}`);
const classpath = process.env.KOP_JAVA_CLASSPATH ?? join(kafkaHome, 'libs', '*');
const java = process.env.KOP_JAVA_HOME ? join(process.env.KOP_JAVA_HOME, 'bin', 'java') : 'java';
const strict = (process.env.KOP_HARNESS_STRICT ?? (process.env.CI === 'true' ? '1' : '0')) === '1';

const javaFound = spawnSync(java, ['-version'], { stdio: 'ignore' }).status === 0;
const jarsFound = existsSync(classpath.replace(/\*$/, '')) || existsSync(classpath);
const missing = !javaFound ? `java (${java}) not found` : !jarsFound ? `Kafka jars not found at ${classpath}` : '';

/** Reads lines "Name version hex" from stdin, answers "ok <hex>", "skip <why>" or "err <message>" for each. */
const JAVA_SOURCE = String.raw`
import java.io.*;
import java.nio.ByteBuffer;
import java.util.HexFormat;
import org.apache.kafka.common.protocol.*;

public class CodecInterop {
  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    PrintStream out = new PrintStream(new BufferedOutputStream(System.out), false);
    HexFormat hex = HexFormat.of();
    for (String line; (line = in.readLine()) != null; ) {
      String[] p = line.split(" ", -1);
      try {
        Class<?> c;
        try { c = Class.forName("org.apache.kafka.common.message." + p[0] + "Data"); }
        catch (ClassNotFoundException e) {
          try { c = Class.forName("org.apache.kafka.common.message." + p[0]); }
          catch (ClassNotFoundException e2) { out.println("skip absent"); continue; } // removed from Kafka since
        }
        Message m = (Message) c.getDeclaredConstructor().newInstance();
        short v = Short.parseShort(p[1]);
        if (v < m.lowestSupportedVersion() || v > m.highestSupportedVersion()) {
          out.println("skip " + m.lowestSupportedVersion() + "-" + m.highestSupportedVersion());
          continue;
        }
        ByteBufferAccessor acc = new ByteBufferAccessor(ByteBuffer.wrap(hex.parseHex(p[2])));
        m.read(acc, v);
        if (acc.remaining() != 0) throw new IllegalStateException(acc.remaining() + " bytes left");
        ObjectSerializationCache cache = new ObjectSerializationCache();
        ByteBuffer b = ByteBuffer.allocate(m.size(cache, v));
        m.write(new ByteBufferAccessor(b), cache, v);
        out.println("ok " + hex.formatHex(b.array()));
      } catch (Throwable t) {
        out.println("err " + t.getClass().getSimpleName() + ": " + String.valueOf(t.getMessage()).replace('\n', ' '));
      }
    }
    out.flush();
  }
}
`;

function runJava(lines: string[]): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'codec-interop-'));
  const src = join(dir, 'CodecInterop.java');
  writeFileSync(src, JAVA_SOURCE);
  return new Promise((resolve, reject) => {
    const child = spawn(java, ['-cp', classpath, src], { stdio: ['pipe', 'pipe', 'pipe'] });
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

const name = missing
  ? `Kafka Java classes read and re-write our bytes identically: ${strict ? 'FAILS' : 'skipped'} because ${missing}`
  : 'Kafka Java classes read and re-write our bytes identically (every shared message version)';

test(name, { skip: missing && !strict ? missing : false, timeout: 120_000 }, async (t) => {
  assert.equal(missing, '', missing);
  const cases: Array<{ what: string; line: string; hex: string }> = [];
  for (const s of Object.values(SCHEMAS)) {
    const codec = codecs[s.name]!;
    const [lo, hi] = s.validVersions;
    // A version still unstable in our snapshot may have changed since (e.g. share-group APIs):
    // the request's flag covers the response too.
    const unstable = codec.latestVersionUnstable || (s.type === 'response' && APIS[s.apiKey]!.request.latestVersionUnstable);
    const top = unstable ? hi - 1 : hi;
    for (let v = lo; v <= top; v++) {
      for (const mode of ['values', 'nulls'] as const) {
        const w = new Writer();
        codec.encode(w, v, sampleMessage(s, v, mode));
        const hex = w.finish().toString('hex');
        cases.push({ what: `${s.name} v${v} ${mode}`, line: `${s.name} ${v} ${hex}`, hex });
      }
    }
  }
  const answers = await runJava(cases.map((c) => c.line));
  assert.equal(answers.length, cases.length);
  let compared = 0;
  const failures: string[] = [];
  cases.forEach((c, i) => {
    const a = answers[i]!;
    if (a.startsWith('skip ')) return;
    if (a === `ok ${c.hex}`) compared++;
    else failures.push(`${c.what}: ${a.startsWith('ok ') ? `Kafka wrote ${a.slice(3)}\n      we wrote ${c.hex}` : a}`);
  });
  t.diagnostic(`${compared} message versions identical in Kafka's Java classes, ${cases.length - compared - failures.length} not in Kafka ${process.env.KOP_KAFKA_VERSION ?? '4.3.1'}`);
  assert.deepEqual(failures, [], `${failures.length} mismatches:\n${failures.slice(0, 20).join('\n')}`);
  // Kafka 4.x dropped many old versions, but well over half must still be shared.
  assert.ok(compared > cases.length / 2, `only ${compared} of ${cases.length} compared`);
});
