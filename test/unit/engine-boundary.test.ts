/**
 * The storage factory owns engine wiring (ARCHITECTURE.md, "Decisions after the first round"):
 * nothing above the storage layer names an engine class. Every source file outside src/storage/
 * is read and must not mention PulsarEngine or EmbeddedEngine (what differs per engine goes
 * through src/storage/wiring.ts, handed out by src/storage/factory.ts).
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers/gateway.js';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

test('no source file outside src/storage/ names an engine class', () => {
  const src = join(repoRoot, 'src');
  const files = sources(src).filter((f) => !relative(src, f).startsWith('storage/'));
  assert.ok(files.length > 50, `the sources were found (${files.length} files in ${src})`);
  const offenders = files.flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .flatMap((line, i) => (/\b(PulsarEngine|EmbeddedEngine)\b/.test(line) ? [`${relative(repoRoot, f)}:${i + 1}: ${line.trim()}`] : [])),
  );
  assert.deepEqual(offenders, [], 'engine-specific wiring belongs in src/storage/<engine>/wiring.ts');
});
