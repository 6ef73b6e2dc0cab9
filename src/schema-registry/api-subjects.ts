/**
 * REST API family "subjects": list subjects, a subject's versions, one
 * version (number or `latest`) and its raw schema, the schemas that
 * reference it, register a schema (POST .../versions), look a schema up in
 * a subject (POST /subjects/{subject}), soft and permanent deletes of a
 * version or a whole subject. Confluent's paths, bodies and error codes.
 */
import { E } from './errors.js';
import { flag, pinReferences, schemaBody, schemaView, subjectParam, versionParam } from './core.js';
import { Raw, subjectResource, contextResource, type Route } from './http.js';

export const subjectRoutes: Route[] = [
  {
    method: 'GET',
    path: /^\/subjects\/?$/,
    operation: 'ListSubjects',
    action: 'consume',
    resource: (c) => contextResource(c),
    handle: (c) => c.core.state.subjects(c.ctx, flag(c.query, 'deleted'), c.query.get('subjectPrefix') ?? ''),
  },
  {
    method: 'GET',
    path: /^\/subjects\/([^/]+)\/versions\/?$/,
    operation: 'ListVersions',
    action: 'consume',
    resource: (c) => subjectResource(c, 0),
    handle: (c) => c.core.state.versions(c.ctx, subjectParam(c.params[0]!), flag(c.query, 'deleted')).map((v) => v.version),
  },
  {
    method: 'GET',
    path: /^\/subjects\/([^/]+)\/versions\/([^/]+)\/?$/,
    operation: 'GetVersion',
    action: 'consume',
    resource: (c) => subjectResource(c, 0),
    handle: (c) => {
      const subject = subjectParam(c.params[0]!);
      const v = c.core.state.version(c.ctx, subject, versionParam(c.params[1]!), flag(c.query, 'deleted'));
      const rec = c.core.state.schema(c.ctx, v.id)!;
      return { subject, version: v.version, id: v.id, ...schemaView(rec) };
    },
  },
  {
    method: 'GET',
    path: /^\/subjects\/([^/]+)\/versions\/([^/]+)\/schema\/?$/,
    operation: 'GetVersionSchema',
    action: 'consume',
    resource: (c) => subjectResource(c, 0),
    handle: (c) => {
      const v = c.core.state.version(c.ctx, subjectParam(c.params[0]!), versionParam(c.params[1]!), flag(c.query, 'deleted'));
      return new Raw(c.core.state.schema(c.ctx, v.id)!.schema);
    },
  },
  {
    method: 'GET',
    path: /^\/subjects\/([^/]+)\/versions\/([^/]+)\/referencedby\/?$/,
    operation: 'GetReferencedBy',
    action: 'consume',
    resource: (c) => subjectResource(c, 0),
    handle: (c) => {
      const subject = subjectParam(c.params[0]!);
      const v = c.core.state.version(c.ctx, subject, versionParam(c.params[1]!), true);
      return c.core.state.referencedBy(c.ctx, subject, v.version);
    },
  },
  {
    method: 'POST',
    path: /^\/subjects\/([^/]+)\/versions\/?$/,
    operation: 'RegisterSchema',
    action: 'produce',
    resource: (c) => subjectResource(c, 0),
    rateLimited: true,
    handle: async (c) => {
      const subject = subjectParam(c.params[0]!);
      const body = schemaBody(c.body, c.core.limits, true);
      const entry = {
        op: 'register' as const,
        ctx: c.ctx,
        subject,
        schemaType: body.schemaType,
        schema: body.schema,
        references: pinReferences(c.core.state, c.ctx, body.references),
        normalize: flag(c.query, 'normalize'),
        ...(body.id !== undefined ? { id: body.id } : {}),
        ...(body.version !== undefined ? { version: body.version } : {}),
      };
      // Checked now (a schema already registered needs no log entry; a refusal is answered at once),
      // and decided again when the entry is applied in log order.
      const plan = c.core.state.planRegister({ ...entry, rid: '' });
      if (plan.kind === 'existing') return { id: plan.id };
      const r = (await c.core.write(entry)) as { id: number };
      return { id: r.id };
    },
  },
  {
    method: 'POST',
    path: /^\/subjects\/([^/]+)\/?$/,
    operation: 'LookupSchema',
    action: 'consume',
    resource: (c) => subjectResource(c, 0),
    handle: (c) => {
      const subject = subjectParam(c.params[0]!);
      const body = schemaBody(c.body, c.core.limits, false);
      const deleted = flag(c.query, 'deleted');
      c.core.state.versions(c.ctx, subject, deleted); // 40401 first
      const references = pinReferences(c.core.state, c.ctx, body.references);
      const parsed = c.core.state.parse(c.ctx, body.schemaType, body.schema, references);
      const v = c.core.state.lookup(c.ctx, subject, parsed, references, flag(c.query, 'normalize'), deleted);
      if (!v) throw E.schemaNotFound();
      return { subject, version: v.version, id: v.id, ...schemaView(c.core.state.schema(c.ctx, v.id)!) };
    },
  },
  {
    method: 'DELETE',
    path: /^\/subjects\/([^/]+)\/?$/,
    operation: 'DeleteSubject',
    action: (c) => (flag(c.query, 'permanent') ? 'admin' : 'produce'),
    resource: (c) => subjectResource(c, 0),
    handle: (c) => c.core.write({ op: 'deleteSubject', ctx: c.ctx, subject: subjectParam(c.params[0]!), permanent: flag(c.query, 'permanent') }),
  },
  {
    method: 'DELETE',
    path: /^\/subjects\/([^/]+)\/versions\/([^/]+)\/?$/,
    operation: 'DeleteVersion',
    action: (c) => (flag(c.query, 'permanent') ? 'admin' : 'produce'),
    resource: (c) => subjectResource(c, 0),
    handle: (c) => c.core.write({ op: 'deleteVersion', ctx: c.ctx, subject: subjectParam(c.params[0]!), version: versionParam(c.params[1]!), permanent: flag(c.query, 'permanent') }),
  },
];
