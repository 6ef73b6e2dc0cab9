/**
 * brokerClientAuthenticationPlugin / brokerClientAuthenticationParameters as
 * the gateway reads them for its Pulsar clients (src/pulsar/auth-config.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gatewayPrincipalFromConfig, pulsarAdminOptionsFromConfig, tokenSupplierFromConfig, trustCertsFromConfig } from '../../src/pulsar/auth-config.js';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJl';
const cfg = (plugin: string, params: string) => ({ brokerClientAuthenticationPlugin: plugin, brokerClientAuthenticationParameters: params });

test('auth-config: no plugin (empty or none) means no authentication; parameters without a plugin are refused', () => {
  assert.equal(tokenSupplierFromConfig(cfg('', '')), undefined);
  assert.equal(tokenSupplierFromConfig(cfg('none', '')), undefined);
  assert.equal(tokenSupplierFromConfig(cfg('  ', '')), undefined);
  assert.throws(() => tokenSupplierFromConfig(cfg('', `token:${JWT}`)), /brokerClientAuthenticationParameters is set but brokerClientAuthenticationPlugin is empty/);
});

test('auth-config: token:, bare JWT and {"token"} forms, with both plugin names', async () => {
  for (const plugin of ['token', 'org.apache.pulsar.client.impl.auth.AuthenticationToken']) {
    for (const params of [`token:${JWT}`, ` token: ${JWT} `, JWT, JSON.stringify({ token: JWT })]) {
      const s = tokenSupplierFromConfig(cfg(plugin, params));
      assert.ok(s, `${plugin} ${params}`);
      assert.equal(await s(), JWT);
    }
  }
});

test('auth-config: file: forms re-read the file on every call', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kop-authcfg-'));
  try {
    const f = join(dir, 'admin.token');
    writeFileSync(f, `${JWT}\n`);
    for (const params of [`file:${f}`, pathToFileURL(f).href, JSON.stringify({ file: f })]) {
      const s = tokenSupplierFromConfig(cfg('token', params))!;
      assert.equal(await s(), JWT, params);
    }
    const s = tokenSupplierFromConfig(cfg('token', `file:${f}`))!;
    writeFileSync(f, 'rotated.token.value');
    assert.equal(await s(), 'rotated.token.value');
    writeFileSync(f, '  \n');
    await assert.rejects(async () => s(), /brokerClientAuthenticationParameters: token file .* is empty/);
    rmSync(f);
    await assert.rejects(async () => s(), /brokerClientAuthenticationParameters: token file .* cannot be read/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('auth-config: bad values fail at once, naming the key', () => {
  const bad: [string, string, RegExp][] = [
    ['basic', `token:${JWT}`, /brokerClientAuthenticationPlugin 'basic' is not supported/],
    ['org.apache.pulsar.client.impl.auth.AuthenticationTls', 'tlsCertFile:x', /brokerClientAuthenticationPlugin '.*AuthenticationTls' is not supported/],
    ['token', '', /brokerClientAuthenticationParameters is empty/],
    ['token', 'token:', /brokerClientAuthenticationParameters: token: with an empty token/],
    ['token', 'file:', /brokerClientAuthenticationParameters: file: with an empty path/],
    ['token', '{"token":', /brokerClientAuthenticationParameters: invalid JSON/],
    ['token', '{"tokn":"x"}', /brokerClientAuthenticationParameters: expected \{"token".*found keys: tokn/],
    ['token', '{"token":"a","file":"b"}', /brokerClientAuthenticationParameters: expected/],
    ['token', 'not a token', /brokerClientAuthenticationParameters: expected token:<jwt>/],
  ];
  for (const [plugin, params, re] of bad) assert.throws(() => tokenSupplierFromConfig(cfg(plugin, params)), re, `${plugin} ${params}`);
});

test('auth-config: trust certs and admin options from the configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kop-authcfg-'));
  try {
    assert.equal(trustCertsFromConfig({ brokerClientTrustCertsFilePath: '' }), undefined);
    assert.throws(() => trustCertsFromConfig({ brokerClientTrustCertsFilePath: join(dir, 'nope.pem') }), /brokerClientTrustCertsFilePath '.*nope.pem' cannot be read/);
    writeFileSync(join(dir, 'junk.pem'), 'hello');
    assert.throws(() => trustCertsFromConfig({ brokerClientTrustCertsFilePath: join(dir, 'junk.pem') }), /holds no PEM certificate/);
    writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    const o = pulsarAdminOptionsFromConfig({
      ...cfg('token', `token:${JWT}`),
      webServiceUrl: 'https://pulsar.example:8443',
      brokerClientTrustCertsFilePath: join(dir, 'ca.pem'),
      brokerClientTlsAllowInsecureConnection: true,
      pulsarOperationTimeoutMs: 1234,
    });
    assert.equal(o.webServiceUrl, 'https://pulsar.example:8443');
    assert.equal(o.timeoutMs, 1234);
    assert.equal(o.rejectUnauthorized, false);
    assert.ok(Buffer.isBuffer(o.ca));
    assert.equal(o.token?.(), JWT);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('identity forwarding needs a principal for the gateway\'s own work, sent as X-Original-Principal', () => {
  assert.equal(gatewayPrincipalFromConfig({ pulsarForwardClientIdentity: false, pulsarForwardGatewayPrincipal: 'admin' }), undefined);
  assert.throws(() => gatewayPrincipalFromConfig({ pulsarForwardClientIdentity: true, pulsarForwardGatewayPrincipal: ' ' }), /pulsarForwardClientIdentity=true needs pulsarForwardGatewayPrincipal/);
  assert.equal(gatewayPrincipalFromConfig({ pulsarForwardClientIdentity: true, pulsarForwardGatewayPrincipal: 'svc' }), 'svc');
  const o = pulsarAdminOptionsFromConfig({
    ...cfg('token', `token:${JWT}`),
    webServiceUrl: 'http://p:8080',
    brokerClientTrustCertsFilePath: '',
    brokerClientTlsAllowInsecureConnection: false,
    pulsarOperationTimeoutMs: 1000,
    pulsarForwardClientIdentity: true,
    pulsarForwardGatewayPrincipal: 'svc',
  });
  assert.equal(o.originalPrincipal, 'svc');
});
