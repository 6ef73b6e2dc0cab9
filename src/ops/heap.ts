/**
 * Process tuning of V8's garbage collector for the gateway (config heapGrowingPercent).
 *
 * V8 sets the limit of the next full (mark-compact) collection at the live size times a factor
 * it derives from how fast its marking looks against the allocation rate. For the gateway that
 * heuristic chose ~1.3x: a full collection every ~250 ms under produce load, whose concurrent
 * marking runs on another core, the one the Pulsar broker and the clients need on a small
 * machine (~16% of the gateway's CPU in a profile; docs/benchmarks.md). A fixed factor, as a
 * JVM broker's start script fixes its collector's settings, trades a larger heap for that CPU.
 */
import { setFlagsFromString } from 'node:v8';

/**
 * Applies V8's --heap-growing-percent unless `percent` is 0 (V8's heuristic) or node was
 * started with the flag itself (the command line wins). V8 reads the flag whenever it sets the
 * next limit, so it applies from the next full collection on. Returns whether it was applied.
 */
export function tuneHeap(percent: number, execArgv: readonly string[] = process.execArgv): boolean {
  if (percent === 0 || execArgv.some((a) => /^--heap[-_]growing[-_]percent/.test(a))) return false;
  setFlagsFromString(`--heap-growing-percent=${percent}`);
  return true;
}
