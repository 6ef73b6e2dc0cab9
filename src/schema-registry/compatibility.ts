/**
 * Compatibility levels on top of each format's one question, "can this
 * reader read what that writer wrote" (formats/): BACKWARD (the new schema
 * reads data of the previous one), FORWARD (the previous reads the new one's
 * data), FULL (both); the _TRANSITIVE levels check every earlier version
 * instead of only the latest; NONE checks nothing. Soft-deleted versions are
 * not checked (as in Confluent).
 */
import { FORMATS, type ParsedSchema } from './formats/index.js';
import type { Compatibility } from './types.js';

/** Problems of registering `candidate` after `previous` (oldest first, live versions only) under `level`; empty: compatible. */
export function compatibilityProblems(level: Compatibility, candidate: ParsedSchema, previous: ParsedSchema[]): string[] {
  if (level === 'NONE' || previous.length === 0) return [];
  const against = level.endsWith('_TRANSITIVE') ? previous : previous.slice(-1);
  const backward = level.startsWith('BACKWARD') || level.startsWith('FULL');
  const forward = level.startsWith('FORWARD') || level.startsWith('FULL');
  const out: string[] = [];
  for (const old of against) {
    if (old.type !== candidate.type) {
      out.push(`{errorType:'SCHEMA_TYPE_CHANGED', description:'the schema type changed from ${old.type} to ${candidate.type}'}`);
      continue;
    }
    const format = FORMATS[candidate.type];
    if (backward) out.push(...format.readProblems(candidate, old));
    if (forward) out.push(...format.readProblems(old, candidate));
  }
  return [...new Set(out)];
}
