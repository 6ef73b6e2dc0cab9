/** Polling until a condition holds, for tests (unit and end-to-end alike). */

/** Resolves once `cond()` is true (checked every 25 ms); throws after `timeoutMs`, saying what it waited for. */
export async function waitFor(cond: () => boolean, timeoutMs: number, what: string | (() => string)): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
