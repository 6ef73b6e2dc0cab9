/**
 * Compile a single-file Java test driver once per (source, salt) hash into
 * $KOP_CACHE_DIR/<cacheName>/<hash>/ and return that classes folder. Safe
 * against concurrent compiles (compile into a temp folder, then rename).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { harnessEnv } from './paths.js';
import { checkResult, runCommand } from './proc.js';

export interface JavaSource {
  /** the .java file */
  source: string;
  /** its public class (the .class file that marks a finished compile) */
  mainClass: string;
  /** folder under the cache dir */
  cacheName: string;
  /** javac class path */
  classpath: string;
  /** what else the classes depend on (e.g. "kafka 4.3.1"): part of the hash */
  salt: string;
}

export async function compileJavaSource(s: JavaSource): Promise<string> {
  const env = harnessEnv();
  const hash = createHash('sha256').update(`${s.salt}\n`).update(readFileSync(s.source)).digest('hex').slice(0, 16);
  const base = join(env.cacheDir, s.cacheName);
  const classes = join(base, hash);
  const marker = join(classes, `${s.mainClass}.class`);
  if (existsSync(marker)) return classes;
  mkdirSync(base, { recursive: true });
  const tmp = mkdtempSync(join(base, `.tmp-${hash}-`));
  try {
    checkResult(await runCommand(env.javac, ['-nowarn', '-encoding', 'UTF-8', '-d', tmp, '-cp', s.classpath, s.source], { timeoutMs: 180_000 }));
    try {
      renameSync(tmp, classes);
    } catch (e) {
      if (!existsSync(marker)) throw e;
      rmSync(tmp, { recursive: true, force: true }); // another process finished first
    }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return classes;
}
