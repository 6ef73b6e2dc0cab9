/**
 * The committed src/protocol/generated/ is exactly what the generator makes
 * from ../shared/kafka-protocol/message (or $KAFKA_PROTOCOL_DIR) and, for the
 * messages of a newer Kafka (NEWER_MESSAGES), that release's kafka-clients
 * jar, and the generator is deterministic. Skipped, with the reason, when the
 * definitions are not there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { definitionFiles, generate, newerMessagesJar, readKafkaJson, writeOutput, HEADER } from '../../scripts/gen-kafka-protocol.js';
import { SCHEMAS } from '../../src/protocol/generated/index.js';

/** The directory holding this project's package.json (works from test/ and from dist/test/). */
function repoRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'kop-gateway') return dir;
    if (dirname(dir) === dir) throw new Error('repository root not found');
  }
}

const root = repoRoot();
const inputDir = resolve(process.env.KAFKA_PROTOCOL_DIR ?? join(root, '..', 'shared', 'kafka-protocol', 'message'));
const committedDir = join(root, 'src', 'protocol', 'generated');
const skip = !existsSync(inputDir)
  ? `Kafka message definitions not found at ${inputDir} (set KAFKA_PROTOCOL_DIR)`
  : !existsSync(newerMessagesJar())
    ? `kafka-clients jar not found at ${newerMessagesJar()} (run scripts/ci/fetch-java-deps.sh, or set KAFKA_CLIENTS_JAR)`
    : false;

test('generated code is up to date with the Kafka definitions', { skip }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'kafka-gen-'));
  try {
    const files = generate(inputDir);
    writeOutput(files, tmp);
    const fresh = readdirSync(tmp).sort();
    const committed = readdirSync(committedDir)
      .filter((f) => f.endsWith('.ts'))
      .sort();
    assert.deepEqual(committed, fresh, 'file list differs: run `npm run gen:kafka`');
    for (const f of fresh) {
      const want = readFileSync(join(tmp, f), 'utf8');
      const got = readFileSync(join(committedDir, f), 'utf8');
      assert.ok(got === want, `${f} is stale: run \`npm run gen:kafka\``);
      assert.ok(got.startsWith(HEADER), `${f} lacks the generated header`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('generator is deterministic', { skip }, () => {
  const a = generate(inputDir);
  const b = generate(inputDir);
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [name, text] of a) assert.ok(text === b.get(name), name);
});

test('every definition file is generated, and none of its "about" prose is copied', { skip }, () => {
  const jsonFiles = readdirSync(inputDir).filter((f) => f.endsWith('.json'));
  assert.equal(Object.keys(SCHEMAS).length, definitionFiles(inputDir).length);
  const abouts: string[] = [];
  const collect = (x: unknown): void => {
    if (Array.isArray(x)) x.forEach(collect);
    else if (x && typeof x === 'object') {
      for (const [k, v] of Object.entries(x)) {
        if (k === 'about' && typeof v === 'string' && v.length > 40) abouts.push(v);
        else collect(v);
      }
    }
  };
  for (const f of jsonFiles) {
    const j = readKafkaJson(join(inputDir, f)) as { name: string };
    assert.ok(SCHEMAS[j.name], `${j.name} not generated`);
    collect(j);
  }
  assert.ok(abouts.length > 500);
  const generatedText = readdirSync(committedDir)
    .map((f) => readFileSync(join(committedDir, f), 'utf8'))
    .join('\n');
  for (const about of abouts) assert.ok(!generatedText.includes(about), `"about" text copied: ${about}`);
});
