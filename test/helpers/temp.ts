/**
 * Temporary directories of a test file, removed when its process exits (node --test runs each file
 * in a process of its own), so a run leaves nothing behind in the system's temp folder, whichever
 * way its cases end. Not for a directory a test hands to another test process (crash children):
 * those make and remove their own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

function removeAll(): void {
  for (const dir of made.splice(0)) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort: a file still held open elsewhere
    }
  }
}

/** A new directory under the system's temp folder, named `prefix` + random characters. */
export function tempDir(prefix: string): string {
  if (made.length === 0) process.once('exit', removeAll);
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
