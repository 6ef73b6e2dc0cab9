/**
 * Tests that need an external client tool: under CI (KOP_HARNESS_STRICT, default when CI=true) a
 * missing tool fails the test; on a developer's machine the test is skipped, with the reason in
 * its name.
 *
 *   const why = unavailable('java', 'kcat');
 *   toolTest('java and kcat agree', why, async () => { ... });
 */
import { test, type TestContext } from 'node:test';
import { javaUnavailableReason } from './java.js';
import { kcatUnavailableReason } from './kcat.js';
import { harnessEnv } from './paths.js';
import { pythonUnavailableReason } from './python.js';

export type Tool = 'java' | 'kcat' | 'python' | 'kafkajs';

function kafkajsUnavailableReason(): string | undefined {
  try {
    // resolvable from this module = installed by npm
    import.meta.resolve('kafkajs');
    return undefined;
  } catch {
    return 'kafkajs not installed (npm ci)';
  }
}

/** Why some of these tools cannot run here (joined), or undefined when all can. */
export function unavailable(...tools: Tool[]): string | undefined {
  const reasons: string[] = [];
  for (const t of new Set(tools)) {
    const why =
      t === 'java'
        ? javaUnavailableReason()
        : t === 'kcat'
          ? kcatUnavailableReason()
          : t === 'python'
            ? pythonUnavailableReason()
            : kafkajsUnavailableReason();
    if (why) reasons.push(why);
  }
  return reasons.length ? reasons.join('; ') : undefined;
}

/** Throws for `reason` (which says what is missing and how to install it), when set. */
export function assertAvailable(reason: string | undefined): void {
  if (reason) throw new Error(`test tool missing (required under CI): ${reason}`);
}

/** Whether a test needing tools missing for `reason` is skipped (true) or must fail (false). */
export function skipsFor(reason: string | undefined): boolean {
  return reason !== undefined && !harnessEnv().strict;
}

/**
 * node:test `test()` for a test needing tools: skipped locally with the reason in its name, failing
 * under CI, run normally when `reason` is undefined.
 */
export function toolTest(
  name: string,
  reason: string | undefined,
  fn: (t: TestContext) => Promise<void> | void,
  opts: { timeout?: number } = {},
): void {
  if (skipsFor(reason)) {
    test(`${name} [skipped: ${reason}]`, { skip: reason }, () => undefined);
    return;
  }
  test(name, { timeout: opts.timeout ?? 120_000 }, async (t) => {
    assertAvailable(reason);
    await fn(t);
  });
}
