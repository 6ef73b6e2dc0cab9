/**
 * The README's first command: a bare `kop-gateway start` (no configuration)
 * runs the secure development profile. Real clients connect over SASL_SSL with
 * the printed CA and superuser token; an unauthenticated client cannot. The
 * schema registry is on, over https with the same CA and token.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { repoRoot } from '../helpers/gateway.js';
import { toolTest, unavailable } from '../helpers/clients/gate.js';
import { JavaKafkaClient } from '../helpers/clients/java.js';
import { kcatMetadata, runKcat } from '../helpers/clients/kcat.js';

async function portFree(port: number): Promise<boolean> {
  const s = createServer();
  return new Promise((resolve) => {
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** GET over https with a CA file; resolves with status and body. */
function httpsGet(url: string, ca: string, authorization?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca: readFileSync(ca), headers: authorization ? { Authorization: authorization } : {} }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

toolTest('bare `kop-gateway start` runs the secure development profile; clients connect with the printed CA and token', unavailable('java', 'kcat'), async () => {
  assert.ok(await portFree(9092), 'port 9092 must be free for the development profile');
  assert.ok(await portFree(8001), 'port 8001 must be free for the development profile (schema registry)');
  const cwd = mkdtempSync(join(tmpdir(), 'kop-devprofile-'));
  cpSync(join(repoRoot, 'policies'), join(cwd, 'policies'), { recursive: true });
  const compiled = import.meta.url.endsWith('.js');
  const args = compiled ? [join(repoRoot, 'dist/src/cli.js'), 'start'] : ['--import', import.meta.resolve('tsx'), join(repoRoot, 'src/cli.ts'), 'start'];
  // No KOP_* variable: any configuration would turn the profile off.
  const child = spawn(process.execPath, args, { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | string>((r) => child.on('exit', (code, signal) => r(code ?? signal ?? -1)));
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no banner in 30 s:\n${err}`)), 30_000);
      const check = () => {
        if (err.includes('Superuser token:')) {
          clearTimeout(t);
          resolve();
        }
      };
      child.stderr.on('data', check);
      void exited.then((c) => reject(new Error(`exited ${c}:\n${err}`)));
    });
    assert.match(err, /Bootstrap:\s+127\.0\.0\.1:9092 \(SASL_SSL\)/);
    const ca = join(cwd, 'certs', 'ca.pem');
    const tokenFile = join(cwd, 'data', 'dev', 'admin.token');
    assert.ok(existsSync(ca) && existsSync(tokenFile));
    const token = readFileSync(tokenFile, 'utf8').trim();
    const security = { protocol: 'SASL_SSL' as const, mechanism: 'PLAIN' as const, username: 'public/default', password: `token:${token}`, caPemFile: ca, verifyHostname: true };

    // the schema registry: printed, https with the dev CA, the same token; nothing without it
    assert.match(err, /Schema registry:\s+https:\/\/127\.0\.0\.1:8001/);
    const sr = await httpsGet('https://127.0.0.1:8001/subjects', ca, 'Basic ' + Buffer.from(`public/default:token:${token}`).toString('base64'));
    assert.deepEqual({ status: sr.status, body: JSON.parse(sr.body) }, { status: 200, body: [] });
    assert.equal((await httpsGet('https://127.0.0.1:8001/subjects', ca)).status, 401);

    const md = await kcatMetadata('127.0.0.1:9092', { security });
    assert.equal(md.brokers.length, 1);
    const java = new JavaKafkaClient({ bootstrap: '127.0.0.1:9092', security });
    const acked = await java.produce({ topic: 'dev-profile', count: 10 });
    assert.deepEqual(acked.map((a) => a.offset), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const got = await java.consume({ topic: 'dev-profile', partitions: [0], offset: 'beginning', maxRecords: 10 });
    assert.deepEqual(got.map((r) => r.valueText), acked.map((_, i) => `value-${i}`));

    // Without credentials (plain TLS) and with a wrong password the gateway refuses.
    const noSasl = await runKcat(['-b', '127.0.0.1:9092', '-X', 'security.protocol=ssl', '-X', `ssl.ca.location=${ca}`, '-L', '-m', '5'], { okCodes: [0, 1], timeoutMs: 20_000 });
    assert.notEqual(noSasl.code, 0, 'no SASL: no metadata');
    const badPass = await runKcat(['-b', '127.0.0.1:9092', '-X', 'security.protocol=SASL_SSL', '-X', `ssl.ca.location=${ca}`, '-X', 'sasl.mechanisms=PLAIN', '-X', 'sasl.username=public/default', '-X', 'sasl.password=token:not-a-jwt', '-L', '-m', '5'], { okCodes: [0, 1], timeoutMs: 20_000 });
    assert.notEqual(badPass.code, 0);
    assert.match(badPass.stderr + badPass.stdout, /Authentication failed|SASL/i);
    const audit = readFileSync(join(cwd, 'logs', 'audit.log'), 'utf8');
    assert.match(audit, /"event":"authentication".*"outcome":"failure"/);
    assert.match(audit, /"principal":"admin"/);
  } finally {
    child.kill('SIGTERM');
    await exited;
    rmSync(cwd, { recursive: true, force: true });
  }
}, { timeout: 180_000 });
