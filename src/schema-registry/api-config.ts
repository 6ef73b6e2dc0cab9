/**
 * REST API family "config" and "mode": the compatibility level of the
 * tenant/namespace (`/config`, Confluent's global level, here per context)
 * and of one subject (`/config/{subject}`), and the mode (READWRITE,
 * READONLY, IMPORT) likewise. Reading needs `consume`; changing or deleting
 * needs a tenant admin.
 */
import { E } from './errors.js';
import { flag, subjectParam } from './core.js';
import { contextResource, subjectResource, type Call, type Route } from './http.js';
import { parseCompatibility, parseMode } from './types.js';

function bodyField(c: Call, name: string): unknown {
  const b = c.body;
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw E.badRequest(`the request body must be a JSON object with "${name}"`);
  return (b as Record<string, unknown>)[name];
}

export const configRoutes: Route[] = [
  {
    method: 'GET',
    path: /^\/config\/?$/,
    operation: 'GetConfig',
    action: 'consume',
    resource: (c) => contextResource(c),
    handle: (c) => ({ compatibilityLevel: c.core.state.compatibility(c.ctx, null) }),
  },
  {
    method: 'PUT',
    path: /^\/config\/?$/,
    operation: 'UpdateConfig',
    action: 'admin',
    resource: (c) => contextResource(c),
    handle: async (c) => {
      const level = parseCompatibility(bodyField(c, 'compatibility'));
      if (!level) throw E.invalidCompatibility();
      await c.core.write({ op: 'config', ctx: c.ctx, subject: null, compatibility: level });
      return { compatibility: level };
    },
  },
  {
    method: 'DELETE',
    path: /^\/config\/?$/,
    operation: 'DeleteConfig',
    action: 'admin',
    resource: (c) => contextResource(c),
    handle: async (c) => {
      const before = c.core.state.compatibility(c.ctx, null);
      await c.core.write({ op: 'config', ctx: c.ctx, subject: null, compatibility: null });
      return { compatibilityLevel: before };
    },
  },
  {
    method: 'GET',
    path: /^\/config\/([^/]+)\/?$/,
    operation: 'GetConfig',
    action: 'consume',
    resource: (c) => subjectResource(c, 0),
    handle: (c) => {
      const subject = subjectParam(c.params[0]!);
      const level = c.core.state.configured(c.ctx, subject);
      if (level) return { compatibilityLevel: level };
      if (flag(c.query, 'defaultToGlobal')) return { compatibilityLevel: c.core.state.compatibility(c.ctx, null) };
      throw E.subjectCompatibilityNotConfigured(subject);
    },
  },
  {
    method: 'PUT',
    path: /^\/config\/([^/]+)\/?$/,
    operation: 'UpdateConfig',
    action: 'admin',
    resource: (c) => subjectResource(c, 0),
    handle: async (c) => {
      const subject = subjectParam(c.params[0]!);
      const level = parseCompatibility(bodyField(c, 'compatibility'));
      if (!level) throw E.invalidCompatibility();
      await c.core.write({ op: 'config', ctx: c.ctx, subject, compatibility: level });
      return { compatibility: level };
    },
  },
  {
    method: 'DELETE',
    path: /^\/config\/([^/]+)\/?$/,
    operation: 'DeleteConfig',
    action: 'admin',
    resource: (c) => subjectResource(c, 0),
    handle: async (c) => {
      const subject = subjectParam(c.params[0]!);
      const before = c.core.state.configured(c.ctx, subject);
      if (!before) throw E.subjectCompatibilityNotConfigured(subject);
      await c.core.write({ op: 'config', ctx: c.ctx, subject, compatibility: null });
      return { compatibilityLevel: before };
    },
  },
  {
    method: 'GET',
    path: /^\/mode\/?$/,
    operation: 'GetMode',
    action: 'consume',
    resource: (c) => contextResource(c),
    handle: (c) => ({ mode: c.core.state.mode(c.ctx, null) }),
  },
  {
    method: 'PUT',
    path: /^\/mode\/?$/,
    operation: 'UpdateMode',
    action: 'admin',
    resource: (c) => contextResource(c),
    handle: async (c) => {
      const raw = bodyField(c, 'mode');
      const mode = parseMode(raw);
      if (!mode) throw E.invalidMode(String(raw));
      await c.core.write({ op: 'mode', ctx: c.ctx, subject: null, mode });
      return { mode };
    },
  },
  {
    method: 'DELETE',
    path: /^\/mode\/?$/,
    operation: 'DeleteMode',
    action: 'admin',
    resource: (c) => contextResource(c),
    handle: async (c) => {
      const before = c.core.state.mode(c.ctx, null);
      await c.core.write({ op: 'mode', ctx: c.ctx, subject: null, mode: null });
      return { mode: before };
    },
  },
  {
    method: 'GET',
    path: /^\/mode\/([^/]+)\/?$/,
    operation: 'GetMode',
    action: 'consume',
    resource: (c) => subjectResource(c, 0),
    handle: (c) => {
      const subject = subjectParam(c.params[0]!);
      const mode = c.core.state.configuredMode(c.ctx, subject);
      if (mode) return { mode };
      if (flag(c.query, 'defaultToGlobal')) return { mode: c.core.state.mode(c.ctx, null) };
      throw E.subjectModeNotConfigured(subject);
    },
  },
  {
    method: 'PUT',
    path: /^\/mode\/([^/]+)\/?$/,
    operation: 'UpdateMode',
    action: 'admin',
    resource: (c) => subjectResource(c, 0),
    handle: async (c) => {
      const subject = subjectParam(c.params[0]!);
      const raw = bodyField(c, 'mode');
      const mode = parseMode(raw);
      if (!mode) throw E.invalidMode(String(raw));
      await c.core.write({ op: 'mode', ctx: c.ctx, subject, mode });
      return { mode };
    },
  },
  {
    method: 'DELETE',
    path: /^\/mode\/([^/]+)\/?$/,
    operation: 'DeleteMode',
    action: 'admin',
    resource: (c) => subjectResource(c, 0),
    handle: async (c) => {
      const subject = subjectParam(c.params[0]!);
      const before = c.core.state.configuredMode(c.ctx, subject);
      if (!before) throw E.subjectModeNotConfigured(subject);
      await c.core.write({ op: 'mode', ctx: c.ctx, subject, mode: null });
      return { mode: before };
    },
  },
];
