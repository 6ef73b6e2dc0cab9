/**
 * docs/authorization.md's table of what each Kafka API checks is generated
 * from the dispatch table (scripts/gen-authz-docs.ts); this keeps it in sync,
 * and checks that the table's rules and declarations hold together.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { renderAuthzTable, updateAuthzDoc } from '../../scripts/gen-authz-docs.js';
import { DispatchTable } from '../../src/dispatch/registry.js';
import { buildDispatchTable } from '../../src/handlers/index.js';
import { API_KEYS } from '../../src/protocol/generated/apis.js';

test('docs/authorization.md carries the table generated from the dispatch table (npm run gen:authz-docs)', () => {
  const doc = readFileSync(new URL('../../../docs/authorization.md', import.meta.url), 'utf8');
  assert.equal(updateAuthzDoc(doc), doc, 'docs/authorization.md is stale: run npm run gen:authz-docs');
  const table = renderAuthzTable();
  for (const e of buildDispatchTable().all()) assert.match(table, new RegExp(`\\(${e.apiKey}, v${e.minVersion}-${e.maxVersion}\\)`), `API ${e.apiKey} in the table`);
});

test('an entry cannot be registered without declaring its resources, nor with checks its rule does not admit', () => {
  const base = { apiKey: API_KEYS.Produce, minVersion: 3, maxVersion: 3, handle: () => null };
  assert.throws(() => new DispatchTable().register({ ...base, rule: 'topic-produce' } as never), /without declaring the resources/);
  assert.throws(() => new DispatchTable().register({ ...base, rule: 'topic-produce', authz: { checks: [], needs: () => [] } }), /no check declared/);
  assert.throws(
    () => new DispatchTable().register({ ...base, rule: 'topic-produce', authz: { checks: [{ action: 'consume', on: 'topic', denial: 'x' }], needs: () => [] } }),
    /does not admit consume on topic/,
  );
  assert.throws(() => new DispatchTable().register({ ...base, rule: 'pre-auth', authz: { checks: [{ action: 'lookup', on: 'topic', denial: 'x' }], needs: () => [] } }), /does not admit/);
});
