/**
 * Tenant policies as the authorizer reads them, and the strict parser of the
 * policy files of the embedded engine (one JSON or YAML file per tenant). The
 * shape mirrors Pulsar's admin data: a tenant's `adminRoles`, and per namespace
 * the `permissions` (Pulsar namespace_auth), `subscriptionPermissions`
 * (subscription_auth_roles), `subscriptionAuthMode` and per-topic permissions
 * (destination_auth). See docs/authorization.md.
 */
import { editDistance } from '../../util/edit-distance.js';
import { nameProblem, showName, type NameKind } from '../../topics/names.js';
import { basename, extname } from 'node:path';
import { parseDocument } from 'yaml';

/** The Pulsar actions a grant can carry that mean something to Kafka clients. */
export const GRANT_ACTIONS = ['produce', 'consume'] as const;
export type GrantAction = (typeof GRANT_ACTIONS)[number];

/** Pulsar's SubscriptionAuthMode. */
export const SUBSCRIPTION_AUTH_MODES = ['None', 'Prefix'] as const;
export type SubscriptionAuthMode = (typeof SUBSCRIPTION_AUTH_MODES)[number];

/** role (or wildcard pattern) -> granted actions */
export type Grants = ReadonlyMap<string, ReadonlySet<GrantAction>>;

export interface TopicPolicy {
  readonly permissions: Grants;
}

export interface NamespacePolicy {
  /** Namespace-level grants (Pulsar namespace_auth). */
  readonly permissions: Grants;
  /** subscription -> roles allowed to use it (Pulsar subscription_auth_roles). Empty set = open. */
  readonly subscriptionPermissions: ReadonlyMap<string, ReadonlySet<string>>;
  readonly subscriptionAuthMode: SubscriptionAuthMode;
  /** Topic-level grants by local topic name (Pulsar destination_auth), in addition to the namespace's. */
  readonly topics: ReadonlyMap<string, TopicPolicy>;
}

export interface TenantPolicy {
  readonly tenant: string;
  readonly adminRoles: ReadonlySet<string>;
  readonly namespaces: ReadonlyMap<string, NamespacePolicy>;
}

/** A policy file that cannot be used; the message names the file, the path in the document and the problem. */
export class PolicyError extends Error {
  override name = 'PolicyError';
  constructor(
    readonly file: string,
    readonly path: string,
    readonly problem: string,
  ) {
    super(path ? `${file}: ${path}: ${problem}` : `${file}: ${problem}`);
  }
}

/** File name endings read as policy files; anything else in the directory is ignored. */
export const POLICY_EXTENSIONS = ['.json', '.yaml', '.yml'] as const;

export function isPolicyFileName(name: string): boolean {
  if (name.startsWith('.')) return false; // editor swap files, hidden files
  return (POLICY_EXTENSIONS as readonly string[]).includes(extname(name).toLowerCase());
}

/** Tenant a policy file must define: its name without the extension. */
export function tenantOfFileName(file: string): string {
  const name = basename(file);
  return name.slice(0, name.length - extname(name).length);
}

const MAX_ROLE_LENGTH = 1024;
/** Policy files are small; a huge one is a mistake (or an attack on the reloader). */
export const MAX_POLICY_FILE_BYTES = 4 * 1024 * 1024;

function key(path: string, k: string): string {
  return /^[A-Za-z0-9_-]+$/.test(k) ? (path ? `${path}.${k}` : k) : `${path}[${JSON.stringify(k)}]`;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v} (${JSON.stringify(v)})`;
}

class Checker {
  constructor(readonly file: string) {}

  fail(path: string, problem: string): never {
    throw new PolicyError(this.file, path, problem);
  }

  object(v: unknown, path: string, allowed: readonly string[]): Record<string, unknown> {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(path, `expected an object, found ${typeName(v)}`);
    const obj = v as Record<string, unknown>;
    for (const k of Object.keys(obj)) {
      if (!allowed.includes(k)) {
        const near = allowed.find((a) => editDistance(a.toLowerCase(), k.toLowerCase()) <= 2);
        this.fail(key(path, k), `unknown field '${k}'${near ? ` (did you mean '${near}'?)` : ''}; allowed here: ${allowed.join(', ')}`);
      }
    }
    return obj;
  }

  /** An object used as a map (arbitrary keys). */
  map(v: unknown, path: string): Record<string, unknown> {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(path, `expected an object, found ${typeName(v)}`);
    return v as Record<string, unknown>;
  }

  array(v: unknown, path: string): unknown[] {
    if (!Array.isArray(v)) this.fail(path, `expected an array, found ${typeName(v)}`);
    return v;
  }

  string(v: unknown, path: string): string {
    if (typeof v !== 'string') this.fail(path, `expected a string, found ${typeName(v)}`);
    return v;
  }

  /** The gateway's name rules (src/topics/names.ts, docs/names.md). */
  name(v: string, path: string, what: NameKind): string {
    const problem = nameProblem(what, v);
    if (problem) this.fail(path, `invalid ${what} name ${showName(v)}: ${problem}`);
    return v;
  }

  role(v: unknown, path: string): string {
    const role = this.string(v, path);
    this.roleText(role, path);
    return role;
  }

  roleText(role: string, path: string): void {
    if (role.length === 0) this.fail(path, 'a role cannot be empty');
    if (role.trim() !== role) this.fail(path, `role ${JSON.stringify(role)} has leading or trailing whitespace`);
    if (role.length > MAX_ROLE_LENGTH) this.fail(path, `role is longer than ${MAX_ROLE_LENGTH} characters`);
  }

  actions(v: unknown, path: string): Set<GrantAction> {
    const out = new Set<GrantAction>();
    this.array(v, path).forEach((a, i) => {
      const p = `${path}[${i}]`;
      const s = this.string(a, p);
      if (!(GRANT_ACTIONS as readonly string[]).includes(s)) {
        const pulsarOnly = ['functions', 'sources', 'sinks', 'packages'].includes(s);
        this.fail(
          p,
          pulsarOnly
            ? `'${s}' is a Pulsar action with no meaning for Kafka clients; allowed: ${GRANT_ACTIONS.join(', ')}`
            : `unknown action ${JSON.stringify(s)}; allowed: ${GRANT_ACTIONS.join(', ')}`,
        );
      }
      out.add(s as GrantAction);
    });
    return out;
  }

  grants(v: unknown, path: string): Map<string, Set<GrantAction>> {
    const out = new Map<string, Set<GrantAction>>();
    for (const [role, actions] of Object.entries(this.map(v, path))) {
      const p = key(path, role);
      this.roleText(role, p);
      out.set(role, this.actions(actions, p));
    }
    return out;
  }
}

const TENANT_FIELDS = ['tenant', 'adminRoles', 'namespaces'] as const;
const NAMESPACE_FIELDS = ['permissions', 'subscriptionPermissions', 'subscriptionAuthMode', 'topics'] as const;
const TOPIC_FIELDS = ['permissions'] as const;

/**
 * Validate a parsed policy document. `file` names it in errors; when
 * `expectTenant` is given, the document's tenant must be that one (the file name).
 */
export function validateTenantPolicy(doc: unknown, file: string, expectTenant?: string): TenantPolicy {
  const c = new Checker(file);
  const top = c.object(doc, '', TENANT_FIELDS);
  if (!('tenant' in top)) c.fail('tenant', 'missing (the tenant this file grants on)');
  const tenant = c.name(c.string(top.tenant, 'tenant'), 'tenant', 'tenant');
  if (expectTenant !== undefined && tenant !== expectTenant) {
    c.fail('tenant', `is ${JSON.stringify(tenant)} but the file is named for tenant ${JSON.stringify(expectTenant)}; name the file ${tenant}${extname(file) || '.json'}`);
  }
  const adminRoles = new Set<string>();
  if (top.adminRoles !== undefined) {
    c.array(top.adminRoles, 'adminRoles').forEach((r, i) => adminRoles.add(c.role(r, `adminRoles[${i}]`)));
  }
  const namespaces = new Map<string, NamespacePolicy>();
  if (top.namespaces !== undefined) {
    for (const [ns, value] of Object.entries(c.map(top.namespaces, 'namespaces'))) {
      const p = key('namespaces', ns);
      c.name(ns, p, 'namespace');
      namespaces.set(ns, namespacePolicy(c, value, p));
    }
  }
  return { tenant, adminRoles, namespaces };
}

function namespacePolicy(c: Checker, value: unknown, path: string): NamespacePolicy {
  const obj = c.object(value, path, NAMESPACE_FIELDS);
  const permissions = obj.permissions === undefined ? new Map() : c.grants(obj.permissions, key(path, 'permissions'));
  const subscriptionPermissions = new Map<string, Set<string>>();
  if (obj.subscriptionPermissions !== undefined) {
    const sp = key(path, 'subscriptionPermissions');
    for (const [sub, roles] of Object.entries(c.map(obj.subscriptionPermissions, sp))) {
      const p = key(sp, sub);
      if (sub.length === 0) c.fail(p, 'a subscription name cannot be empty');
      const set = new Set<string>();
      c.array(roles, p).forEach((r, i) => set.add(c.role(r, `${p}[${i}]`)));
      subscriptionPermissions.set(sub, set);
    }
  }
  let subscriptionAuthMode: SubscriptionAuthMode = 'None';
  if (obj.subscriptionAuthMode !== undefined) {
    const p = key(path, 'subscriptionAuthMode');
    const mode = c.string(obj.subscriptionAuthMode, p);
    if (!(SUBSCRIPTION_AUTH_MODES as readonly string[]).includes(mode)) {
      c.fail(p, `unknown mode ${JSON.stringify(mode)}; allowed: ${SUBSCRIPTION_AUTH_MODES.join(', ')}`);
    }
    subscriptionAuthMode = mode as SubscriptionAuthMode;
  }
  const topics = new Map<string, TopicPolicy>();
  if (obj.topics !== undefined) {
    const tp = key(path, 'topics');
    for (const [topic, tv] of Object.entries(c.map(obj.topics, tp))) {
      const p = key(tp, topic);
      if (topic.includes('://') || topic.includes('/')) c.fail(p, 'use the local topic name (the key is inside its namespace), not a full name');
      if (topic.includes('-partition-')) c.fail(p, 'grant on the topic, not on one partition (a topic grant covers all its partitions)');
      c.name(topic, p, 'topic');
      const t = c.object(tv, p, TOPIC_FIELDS);
      topics.set(topic, { permissions: t.permissions === undefined ? new Map() : c.grants(t.permissions, key(p, 'permissions')) });
    }
  }
  return { permissions, subscriptionPermissions, subscriptionAuthMode, topics };
}

/** Parse the text of a policy file (JSON for .json, YAML for .yaml/.yml) and validate it. */
export function parsePolicyText(text: string, file: string, expectTenant?: string): TenantPolicy {
  const ext = extname(file).toLowerCase();
  let doc: unknown;
  if (ext === '.json') {
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new PolicyError(file, '', `invalid JSON${positionOf(text)}: ${(err as Error).message.split('\n')[0]}`);
    }
    // JSON.parse keeps the last of duplicate keys silently; a policy must not.
    const dup = parseDocument(text, { uniqueKeys: true }).errors.find((e) => e.code === 'DUPLICATE_KEY');
    if (dup) throw new PolicyError(file, '', `duplicate key${at(dup.linePos)}`);
  } else if (ext === '.yaml' || ext === '.yml') {
    const d = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
    const first = d.errors[0];
    if (first) {
      const what = first.code === 'DUPLICATE_KEY' ? 'duplicate key' : `invalid YAML: ${first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`;
      throw new PolicyError(file, '', `${what}${at(first.linePos)}`);
    }
    try {
      doc = d.toJS({ maxAliasCount: 100 });
    } catch (err) {
      throw new PolicyError(file, '', `invalid YAML: ${(err as Error).message}`);
    }
    if (doc === null || doc === undefined) throw new PolicyError(file, '', 'the file is empty');
  } else {
    throw new PolicyError(file, '', `not a policy file (expected ${POLICY_EXTENSIONS.join(', ')})`);
  }
  return validateTenantPolicy(doc, file, expectTenant);
}

function at(linePos: readonly { line: number; col: number }[] | undefined): string {
  const p = linePos?.[0];
  return p ? ` at line ${p.line}, column ${p.col}` : '';
}

/** Line/column of a JSON syntax error, located with the YAML parser (JSON is YAML). */
function positionOf(text: string): string {
  const e = parseDocument(text).errors[0];
  return e ? at(e.linePos) : '';
}

/** A readable listing of what a policy grants (for `kop-gateway policies check`). */
export function describePolicy(p: TenantPolicy): string[] {
  const lines: string[] = [];
  const wild = (role: string) => (role.startsWith('*') || role.endsWith('*') ? ' (wildcard: only with authorizationAllowWildcardsMatching=true)' : '');
  const grants = (g: Grants, indent: string) => {
    for (const [role, actions] of g) lines.push(`${indent}role ${role}: ${actions.size ? [...actions].join(', ') : '(no actions)'}${wild(role)}`);
  };
  lines.push(`tenant ${p.tenant}`);
  lines.push(`  admin roles (everything in the tenant): ${p.adminRoles.size ? [...p.adminRoles].join(', ') : '(none)'}`);
  for (const [ns, n] of p.namespaces) {
    lines.push(`  namespace ${p.tenant}/${ns} (subscriptionAuthMode ${n.subscriptionAuthMode})`);
    if (n.permissions.size === 0 && n.topics.size === 0) lines.push('    (no grants)');
    grants(n.permissions, '    ');
    for (const [sub, roles] of n.subscriptionPermissions) {
      lines.push(`    subscription ${sub}: ${roles.size ? `only roles ${[...roles].join(', ')}` : 'open (empty role list)'}`);
    }
    for (const [topic, t] of n.topics) {
      lines.push(`    topic persistent://${p.tenant}/${ns}/${topic}${t.permissions.size ? '' : ': (no grants)'}`);
      grants(t.permissions, '      ');
    }
  }
  return lines;
}
