/**
 * REST API family "schemas": a schema by id (and its raw text, the subjects
 * and versions using it), the supported schema types, and the listing of
 * schemas. An id is only found in the tenant/namespace that registered it
 * (40403 elsewhere): ids are global numbers, schemas are not shared.
 */
import { E } from './errors.js';
import { flag, idParam, schemaView } from './core.js';
import { Raw, contextResource, type Route } from './http.js';
import { SCHEMA_TYPES } from './types.js';

export const schemaRoutes: Route[] = [
  {
    method: 'GET',
    path: /^\/schemas\/types\/?$/,
    operation: 'GetSchemaTypes',
    action: 'consume',
    resource: (c) => contextResource(c),
    handle: () => [...SCHEMA_TYPES],
  },
  {
    method: 'GET',
    path: /^\/schemas\/ids\/([^/]+)\/?$/,
    operation: 'GetSchemaById',
    action: 'consume',
    resource: (c) => `schema ${c.ctx}/${c.params[0]}`,
    handle: (c) => {
      const id = idParam(c.params[0]!);
      const rec = c.core.state.schema(c.ctx, id);
      if (!rec) throw E.schemaNotFound(id);
      return schemaView(rec);
    },
  },
  {
    method: 'GET',
    path: /^\/schemas\/ids\/([^/]+)\/schema\/?$/,
    operation: 'GetSchemaById',
    action: 'consume',
    resource: (c) => `schema ${c.ctx}/${c.params[0]}`,
    handle: (c) => {
      const id = idParam(c.params[0]!);
      const rec = c.core.state.schema(c.ctx, id);
      if (!rec) throw E.schemaNotFound(id);
      return new Raw(rec.schema);
    },
  },
  {
    method: 'GET',
    path: /^\/schemas\/ids\/([^/]+)\/subjects\/?$/,
    operation: 'GetSchemaSubjects',
    action: 'consume',
    resource: (c) => `schema ${c.ctx}/${c.params[0]}`,
    handle: (c) => {
      const id = idParam(c.params[0]!);
      if (!c.core.state.schema(c.ctx, id)) throw E.schemaNotFound(id);
      return [...new Set(c.core.state.usesOf(c.ctx, id, flag(c.query, 'deleted')).map((u) => u.subject))];
    },
  },
  {
    method: 'GET',
    path: /^\/schemas\/ids\/([^/]+)\/versions\/?$/,
    operation: 'GetSchemaVersions',
    action: 'consume',
    resource: (c) => `schema ${c.ctx}/${c.params[0]}`,
    handle: (c) => {
      const id = idParam(c.params[0]!);
      if (!c.core.state.schema(c.ctx, id)) throw E.schemaNotFound(id);
      return c.core.state.usesOf(c.ctx, id, flag(c.query, 'deleted'));
    },
  },
  {
    method: 'GET',
    path: /^\/schemas\/?$/,
    operation: 'ListSchemas',
    action: 'consume',
    resource: (c) => contextResource(c),
    handle: (c) => {
      const state = c.core.state;
      const deleted = flag(c.query, 'deleted');
      const latestOnly = flag(c.query, 'latestOnly');
      const out: Array<Record<string, unknown>> = [];
      for (const subject of state.subjects(c.ctx, deleted, c.query.get('subjectPrefix') ?? '')) {
        const versions = state.versions(c.ctx, subject, deleted);
        for (const v of latestOnly ? versions.slice(-1) : versions) out.push({ subject, version: v.version, id: v.id, ...schemaView(state.schema(c.ctx, v.id)!) });
      }
      return out;
    },
  },
];
