/**
 * REST API family "compatibility": would this schema be accepted by a
 * subject, against one version (`/versions/{version}`, `latest`) or against
 * what the subject's level checks (`/versions`). Answers
 * `{"is_compatible": bool}` and, with `verbose=true`, the problems found.
 */
import { compatibilityProblems } from './compatibility.js';
import { flag, pinReferences, schemaBody, subjectParam, versionParam } from './core.js';
import { subjectResource, type Call, type Route } from './http.js';
import type { VersionRecord } from './state.js';

function check(c: Call, pick: (all: VersionRecord[]) => VersionRecord[], levelOverride: boolean): unknown {
  const subject = subjectParam(c.params[0]!);
  const body = schemaBody(c.body, c.core.limits, false);
  const state = c.core.state;
  const references = pinReferences(state, c.ctx, body.references);
  const parsed = state.parse(c.ctx, body.schemaType, body.schema, references);
  let live: VersionRecord[];
  try {
    live = state.versions(c.ctx, subject, false);
  } catch (err) {
    if (c.params[1] === undefined) live = []; // no versions yet: anything is compatible
    else throw err;
  }
  const against = pick(live);
  let level = state.compatibility(c.ctx, subject);
  // against one named version, the level's direction applies to that version alone
  if (levelOverride) level = level.replace('_TRANSITIVE', '') as typeof level;
  const problems = compatibilityProblems(level, parsed, against.map((v) => state.parsedById(v.id)));
  return { is_compatible: problems.length === 0, ...(flag(c.query, 'verbose') ? { messages: problems } : {}) };
}

export const compatibilityRoutes: Route[] = [
  {
    method: 'POST',
    path: /^\/compatibility\/subjects\/([^/]+)\/versions\/([^/]+)\/?$/,
    operation: 'CheckCompatibility',
    action: 'consume',
    resource: (c) => subjectResource(c, 0),
    handle: (c) => {
      const subject = subjectParam(c.params[0]!);
      const version = versionParam(c.params[1]!);
      const v = c.core.state.version(c.ctx, subject, version, false);
      return check(c, () => [v], true);
    },
  },
  {
    method: 'POST',
    path: /^\/compatibility\/subjects\/([^/]+)\/versions\/?$/,
    operation: 'CheckCompatibility',
    action: 'consume',
    resource: (c) => subjectResource(c, 0),
    handle: (c) => check(c, (all) => all, false),
  },
];
