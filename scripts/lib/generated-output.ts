/**
 * Writes a generator's files into its output folder and removes stale files
 * that an earlier run generated (recognised by the header), never the
 * hand-written ones beside them.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function writeGeneratedFiles(files: Map<string, string>, outputDir: string, header: string): void {
  mkdirSync(outputDir, { recursive: true });
  for (const f of readdirSync(outputDir)) {
    if (!f.endsWith('.ts') || files.has(f)) continue;
    if (readFileSync(join(outputDir, f), 'utf8').startsWith(header)) rmSync(join(outputDir, f));
  }
  for (const [name, text] of files) writeFileSync(join(outputDir, name), text);
}
