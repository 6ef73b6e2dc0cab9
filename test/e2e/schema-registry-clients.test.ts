/**
 * The schema registry with real clients, on both engines:
 *
 *  - confluent-kafka-python from PyPI (a venv made by scripts/ci/fetch-python-sr.sh) produces
 *    through the gateway with its Avro, JSON Schema and Protobuf serializers (auto-registration,
 *    HTTP Basic with a Pulsar token) and consumes with the deserializers; the Avro schema evolves
 *    under BACKWARD, and an incompatible change is refused with Confluent's 409 error.
 *  - franz-go's pkg/sr client (Go module proxy; test/e2e/drivers/franz-sr, built with `go build`)
 *    registers, reads back, evolves and is refused an incompatible change (embedded engine).
 *  - Two gateway nodes on one Pulsar (storageEngine=pulsar): the same schemas registered through
 *    both nodes at once get one id each, distinct schemas get distinct ids, and both nodes show
 *    the same registry.
 *
 * Without the venv (or Go) a test is skipped locally (the reason in its name) and fails under CI.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { repoRoot, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { assertAvailable, skipsFor } from '../helpers/clients/gate.js';
import { harnessEnv } from '../helpers/clients/paths.js';
import { commandExists, runCommand } from '../helpers/clients/proc.js';
import { createNamespace, pulsarGatewayConfig, pulsarSkipReason, sharedPulsar, uniqueName } from '../helpers/pulsar.js';

const dirs: string[] = [];
const gateways: TestGateway[] = [];
after(async () => {
  for (const g of gateways) await g.stop().catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

function pythonSr(): { python: string; why: string | undefined } {
  const python = process.env.KOP_PYTHON_SR || join(harnessEnv().cacheDir, 'python-sr', 'venv', 'bin', 'python');
  return { python, why: existsSync(python) ? undefined : `no Python venv with confluent-kafka's schema registry serializers at ${python} (run scripts/ci/fetch-python-sr.sh, or set KOP_PYTHON_SR)` };
}

async function runPython(bootstrap: string, registry: string, ns: string, token: string, prefix: string): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const { python } = pythonSr();
  const r = await runCommand(python, [join(repoRoot, 'test', 'e2e', 'drivers', 'sr_client.py'), bootstrap, registry, ns, token, prefix], { timeoutMs: 240_000 });
  assert.equal(r.code, 0, `sr_client.py failed:\n${r.stdout}\n${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop()!;
  return JSON.parse(line);
}

function checkPythonResult(out: Record<string, any>): void { // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.deepEqual(out['avro'], [
    { id: 'a', amount: 1 },
    { id: 'b', amount: 2 },
    { id: 'c', amount: 3, note: 'evolved' },
  ]);
  assert.deepEqual(out['avroVersions'], [1, 2], 'two versions: v1, then v2 evolved under BACKWARD');
  assert.equal(out['avroLatest'].version, 2);
  assert.ok(out['incompatible'], 'the incompatible change was refused');
  assert.equal(out['incompatible'].status, 409);
  assert.equal(out['incompatible'].code, 409);
  assert.match(out['incompatible'].message, /incompatible with an earlier schema/);
  assert.equal(out['compatible'], false);
  assert.deepEqual(out['json'], [
    { id: 'p1', cents: 100 },
    { id: 'p2', cents: 250 },
  ]);
  assert.deepEqual(out['protobuf'], [
    { id: 's1', weight: 7 },
    { id: 's2', weight: 9 },
  ]);
  assert.equal(out['protobufSchemaType'], 'PROTOBUF');
}

const py = pythonSr();
const pyName = (name: string): string => (py.why && skipsFor(py.why) ? `${name} [skipped: ${py.why}]` : name);

test(pyName('embedded: confluent-kafka-python serializers produce and consume through the gateway; BACKWARD evolution; incompatible change refused'), { skip: skipsFor(py.why) }, async () => {
  assertAvailable(py.why);
  const dir = tempDir('kop-sr-py-');
  const secret = randomBytes(32);
  const policies = join(dir, 'policies');
  mkdirSync(policies);
  writeFileSync(join(policies, 'acme.json'), JSON.stringify({ tenant: 'acme', namespaces: { shop: { permissions: { app: ['produce', 'consume'] } } } }));
  const gw = await startTestGateway(
    {
      kafkaListeners: 'SASL_PLAINTEXT://127.0.0.1:0',
      authenticationEnabled: true,
      authorizationEnabled: true,
      tokenSecretKey: `data:;base64,${secret.toString('base64')}`,
      policiesDirectory: policies,
      kopSchemaRegistryEnable: true,
      kopSchemaRegistryPort: 0,
      allowAutoTopicCreation: true,
    },
    dir,
  );
  gateways.push(gw);
  const token = await new SignJWT({ sub: 'app' }).setProtectedHeader({ alg: 'HS256' }).sign(secret);
  const out = await runPython(gw.bootstrap, gw.gateway.schemaRegistry!.url, 'acme/shop', token, 'orders');
  checkPythonResult(out);
});

const goWhy = commandExists('go') ? undefined : 'go not installed (franz-go pkg/sr client)';
const goName = (name: string): string => (goWhy && skipsFor(goWhy) ? `${name} [skipped: ${goWhy}]` : name);

test(goName("embedded: franz-go's pkg/sr registers, reads back, evolves; an incompatible change is refused with 409"), { skip: skipsFor(goWhy) }, async () => {
  assertAvailable(goWhy);
  const bin = join(harnessEnv().cacheDir, 'franz-sr', 'franz-sr');
  const build = await runCommand('go', ['build', '-o', bin, '.'], { cwd: join(repoRoot, 'test', 'e2e', 'drivers', 'franz-sr'), timeoutMs: 300_000 });
  assert.equal(build.code, 0, `go build failed:\n${build.stderr}`);
  const dir = tempDir('kop-sr-go-');
  const secret = randomBytes(32);
  const gw = await startTestGateway(
    {
      kafkaListeners: 'SASL_PLAINTEXT://127.0.0.1:0',
      authenticationEnabled: true,
      tokenSecretKey: `data:;base64,${secret.toString('base64')}`,
      kopSchemaRegistryEnable: true,
      kopSchemaRegistryPort: 0,
    },
    dir,
  );
  gateways.push(gw);
  const token = await new SignJWT({ sub: 'app' }).setProtectedHeader({ alg: 'HS256' }).sign(secret);
  const r = await runCommand(bin, [gw.gateway.schemaRegistry!.url, 'acme/shop', `token:${token}`, 'events-value'], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `franz-sr failed:\n${r.stdout}\n${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.deepEqual(out.v1.version, 1);
  assert.equal(out.byId, '{"type":"record","name":"Event","fields":[{"name":"id","type":"string"}]}');
  assert.equal(out.v2.version, 2);
  assert.notEqual(out.v2.id, out.v1.id);
  assert.deepEqual(out.latest, { id: out.v2.id, version: 2, schema: '{"type":"record","name":"Event","fields":[{"name":"id","type":"string"},{"name":"n","type":"int","default":0}]}' });
  assert.deepEqual(out.subjects, ['events-value']);
  assert.equal(out.incompatible.code, 409, JSON.stringify(out.incompatible));
  assert.match(out.incompatible.message, /incompatible with an earlier schema/);
  assert.equal(out.compatible, false);
});

const pulsarSkip = pulsarSkipReason();

test(pulsarSkip ? `pulsar: two gateway nodes [skipped: ${pulsarSkip}]` : 'pulsar: two gateway nodes, concurrent registrations through both get consistent ids; python serializers through one', { skip: pulsarSkip }, async (t) => {
  const p = await sharedPulsar();
  const ns = await createNamespace(p, uniqueName('sr'));
  const base = {
    ...pulsarGatewayConfig(p, ns),
    kafkaListeners: 'SASL_PLAINTEXT://127.0.0.1:0',
    authenticationEnabled: true,
    tokenSecretKey: `file://${p.secretKeyFile}`,
    kopSchemaRegistryEnable: true,
    kopSchemaRegistryPort: 0,
    schemaRegistryRegistrationsPerSecond: 0,
  };
  const nodes: TestGateway[] = [];
  for (const nodeId of [1, 2]) {
    const g = await startTestGateway({ ...base, kafkaNodeId: nodeId }, tempDir(`kop-sr-node${nodeId}-`));
    gateways.push(g);
    nodes.push(g);
  }
  const token = await p.token('app');
  const auth = 'Basic ' + Buffer.from(`${ns}:token:${token}`).toString('base64');
  const post = async (node: TestGateway, subject: string, schema: string): Promise<{ status: number; body: any }> => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const r = await fetch(`${node.gateway.schemaRegistry!.url}/subjects/${subject}/versions`, { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ schema }) });
    return { status: r.status, body: await r.json() };
  };
  const get = async (node: TestGateway, path: string): Promise<{ status: number; body: any }> => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const r = await fetch(`${node.gateway.schemaRegistry!.url}${path}`, { headers: { Authorization: auth } });
    return { status: r.status, body: await r.json() };
  };
  // 12 schemas, each registered through both nodes at the same moment (same subject for pairs, other subjects too)
  const schemas = Array.from({ length: 12 }, (_, i) => JSON.stringify({ type: 'record', name: `R${i}`, fields: [{ name: 'f', type: 'string' }] }));
  const results = await Promise.all(
    schemas.flatMap((s, i) => [post(nodes[0]!, `s-${i}`, s), post(nodes[1]!, `s-${i}`, s), post(nodes[1]!, `other-${i}`, s)]),
  );
  for (const r of results) assert.equal(r.status, 200, JSON.stringify(r.body));
  const ids = schemas.map((_, i) => {
    const [a, b, c] = results.slice(i * 3, i * 3 + 3);
    assert.equal(a!.body.id, b!.body.id, `schema ${i}: the same id through both nodes`);
    assert.equal(a!.body.id, c!.body.id, `schema ${i}: the same id under another subject`);
    return a!.body.id as number;
  });
  assert.equal(new Set(ids).size, ids.length, `distinct schemas, distinct ids: ${ids.join(',')}`);
  // both nodes converge on the same registry: every subject has exactly one version, ids agree
  for (const node of nodes) {
    for (let i = 0; i < schemas.length; i++) {
      let v: { status: number; body: any } | null = null; // eslint-disable-line @typescript-eslint/no-explicit-any
      for (let k = 0; k < 50; k++) {
        v = await get(node, `/subjects/s-${i}/versions`);
        if (v.status === 200) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(v!.body, [1], `subject s-${i} has one version`);
      assert.deepEqual((await get(node, `/schemas/ids/${ids[i]}`)).body, { schema: schemas[i] });
    }
  }
  // an evolution through node 2 is checked against what node 1 registered
  const bad = await post(nodes[1]!, 's-0', JSON.stringify({ type: 'record', name: 'R0', fields: [{ name: 'f', type: 'int' }] }));
  assert.equal(bad.status, 409);
  // state survives a restart of a node (read back from the log topic)
  await nodes[0]!.stop();
  gateways.splice(gateways.indexOf(nodes[0]!), 1);
  const again = await startTestGateway({ ...base, kafkaNodeId: 1 }, tempDir('kop-sr-node1b-'));
  gateways.push(again);
  assert.deepEqual((await get(again, `/schemas/ids/${ids[5]}`)).body, { schema: schemas[5] });
  const fresh = await post(again, 'after-restart', JSON.stringify({ type: 'enum', name: 'Fresh', symbols: ['A'] }));
  assert.ok(!ids.includes(fresh.body.id) && fresh.body.id > Math.max(...ids), 'a new id after the restart continues the sequence');

  if (py.why && skipsFor(py.why)) {
    t.diagnostic(`python part skipped: ${py.why}`);
    return;
  }
  assertAvailable(py.why);
  const out = await runPython(nodes[1]!.bootstrap, nodes[1]!.gateway.schemaRegistry!.url, ns, token, uniqueName('orders'));
  checkPythonResult(out);
});
