/**
 * The registry's state and the one function that changes it: `apply(entry)`.
 *
 * Every change (register, delete, config, mode) is an entry of the registry's
 * log (log.ts); every gateway node applies the same entries in the same order
 * with this deterministic code, so every node holds the same state and hands
 * out the same ids: an id is the next number in log order, and a schema
 * already registered in a context keeps its id. That is what makes two
 * registrations on two nodes safe without a lock: whichever entry the log
 * orders first gets the id, the second finds the schema and returns that id
 * (never two ids for one schema, never one id for two schemas). Compatibility
 * is decided at apply time too, against the state in log order, so two
 * concurrent registrations cannot both pass a check the other would fail.
 *
 * Contexts: each tenant/namespace has its own subjects, configuration and
 * mode; ids are numbered globally (unique across contexts) but a schema id
 * is only visible in the context that registered it. An id's schema stays
 * readable while any version (also a soft-deleted one) refers to it; after
 * hard deletes it is hidden, and registering the same schema in that context
 * again gives it back its id.
 */
import { FORMATS, type ParsedSchema } from './formats/index.js';
import { compatibilityProblems } from './compatibility.js';
import { E, RegistryError } from './errors.js';
import type { Compatibility, Context, Mode, Reference, ResolvedReference, SchemaType } from './types.js';

export type Entry =
  | { op: 'register'; rid: string; ctx: Context; subject: string; schemaType: SchemaType; schema: string; references: Reference[]; normalize: boolean; id?: number; version?: number }
  | { op: 'deleteVersion'; rid: string; ctx: Context; subject: string; version: number | 'latest'; permanent: boolean }
  | { op: 'deleteSubject'; rid: string; ctx: Context; subject: string; permanent: boolean }
  | { op: 'config'; rid: string; ctx: Context; subject: string | null; compatibility: Compatibility | null }
  | { op: 'mode'; rid: string; ctx: Context; subject: string | null; mode: Mode | null };

export type Outcome = { ok: true; value: unknown } | { ok: false; status: number; code: number; message: string };

export type RegisterPlan =
  | { kind: 'existing'; id: number; version: number }
  /** id: the context's id of this schema, or the IMPORT id; null: the next id, assigned by apply. */
  | { kind: 'new'; id: number | null; version: number; parsed: ParsedSchema; text: string; key: string };

export interface SchemaRecord {
  id: number;
  ctx: Context;
  type: SchemaType;
  schema: string;
  references: Reference[];
  /** Versions (live or soft-deleted) that use it. */
  uses: number;
}

export interface VersionRecord {
  version: number;
  id: number;
  deleted: boolean;
}

interface SubjectState {
  versions: VersionRecord[];
  compatibility: Compatibility | null;
  mode: Mode | null;
}

interface ContextState {
  subjects: Map<string, SubjectState>;
  /** schema key -> id */
  ids: Map<string, number>;
  compatibility: Compatibility | null;
  mode: Mode | null;
  /** Versions stored (live and soft-deleted), for the bound. */
  versionCount: number;
}

export interface StateLimits {
  /** Versions (live and soft-deleted) per context; must be equal on every node (it is part of apply). */
  maxVersionsPerContext: number;
  defaultCompatibility: Compatibility;
}

function keyOf(type: SchemaType, schema: string, references: Reference[]): string {
  return `${type}\u0000${schema}\u0000${JSON.stringify(references.map((r) => [r.name, r.subject, r.version]))}`;
}

export class RegistryState {
  private readonly contexts = new Map<Context, ContextState>();
  private readonly schemas = new Map<number, SchemaRecord>();
  private readonly parsedCache = new Map<number, ParsedSchema>();
  private nextId = 1;
  /** Entry ids already applied (a resent entry is applied once). */
  private readonly applied = new Set<string>();

  constructor(readonly limits: StateLimits) {}

  // ------------------------------------------------------------ apply

  /** Apply one log entry; the outcome is what the request that wrote it answers. Deterministic. */
  apply(entry: Entry): Outcome {
    if (this.applied.has(entry.rid)) return { ok: false, status: 409, code: 50001, message: 'duplicate entry' };
    this.applied.add(entry.rid);
    try {
      switch (entry.op) {
        case 'register':
          return { ok: true, value: this.register(entry) };
        case 'deleteVersion':
          return { ok: true, value: this.deleteVersion(entry) };
        case 'deleteSubject':
          return { ok: true, value: this.deleteSubject(entry) };
        case 'config': {
          const c = this.ctx(entry.ctx);
          if (entry.subject === null) c.compatibility = entry.compatibility;
          else {
            const s = this.subjectState(c, entry.subject);
            s.compatibility = entry.compatibility;
            this.dropIfEmpty(c, entry.subject);
          }
          return { ok: true, value: entry.compatibility };
        }
        case 'mode': {
          const c = this.ctx(entry.ctx);
          if (entry.subject === null) c.mode = entry.mode;
          else {
            const s = this.subjectState(c, entry.subject);
            s.mode = entry.mode;
            this.dropIfEmpty(c, entry.subject);
          }
          return { ok: true, value: entry.mode };
        }
      }
    } catch (err) {
      if (err instanceof RegistryError) return { ok: false, status: err.status, code: err.code, message: err.message };
      // the same on every node (deterministic code): the entry fails everywhere, the log goes on
      return { ok: false, status: 500, code: 50001, message: `Error in the backend data store - ${(err as Error).name}` };
    }
  }

  /**
   * What registering `e` would do now, without changing anything: the version that already holds
   * the schema, or the checks passed for a new version. Throws the error the registration gets.
   * The REST layer calls it before writing to the log (a schema already registered needs no entry;
   * a refusal is answered at once), apply() calls it again in log order and decides.
   */
  planRegister(e: Extract<Entry, { op: 'register' }>): RegisterPlan {
    const c = this.contexts.get(e.ctx);
    const mode = this.mode(e.ctx, e.subject);
    if (mode === 'READONLY') throw E.operationNotPermitted(`Subject ${e.subject} is in read-only mode`);
    if ((e.id !== undefined || e.version !== undefined) && mode !== 'IMPORT') throw E.operationNotPermitted(`Subject ${e.subject} is not in import mode: a schema id or version can only be given in IMPORT mode`);
    const parsed = this.parse(e.ctx, e.schemaType, e.schema, e.references);
    const text = e.normalize ? parsed.normalized : parsed.canonical;
    const key = keyOf(e.schemaType, text, e.references);
    const s = c?.subjects.get(e.subject);
    const existingId = c?.ids.get(key);
    if (s && existingId !== undefined) {
      const live = s.versions.find((v) => v.id === existingId && !v.deleted);
      if (live && (e.id === undefined || e.id === existingId)) return { kind: 'existing', id: existingId, version: live.version };
    }
    if (e.id !== undefined) {
      const other = this.schemas.get(e.id);
      if (other && (other.ctx !== e.ctx || keyOf(other.type, other.schema, other.references) !== key)) throw E.operationNotPermitted(`Overwrite new schema with id ${e.id} is not permitted.`);
      if (existingId !== undefined && existingId !== e.id) throw E.operationNotPermitted(`The schema is already registered with id ${existingId}, not ${e.id}`);
    }
    const live = (s?.versions ?? []).filter((v) => !v.deleted);
    if (mode !== 'IMPORT') {
      const level = this.compatibility(e.ctx, e.subject);
      const problems = compatibilityProblems(level, parsed, live.map((v) => this.parsedById(v.id)));
      if (problems.length > 0) throw E.incompatible(e.subject, problems);
    }
    if ((c?.versionCount ?? 0) >= this.limits.maxVersionsPerContext) {
      throw E.limit(`this tenant/namespace holds ${c?.versionCount} schema versions, the limit (schemaRegistryMaxVersionsPerNamespace); delete versions permanently to make room`);
    }
    const versions = s?.versions ?? [];
    const version = e.version ?? (versions.length ? versions[versions.length - 1]!.version + 1 : 1);
    if (versions.some((v) => v.version === version)) throw E.operationNotPermitted(`Version ${version} of subject ${e.subject} already exists`);
    return { kind: 'new', id: existingId ?? e.id ?? null, version, parsed, text, key };
  }

  private register(e: Extract<Entry, { op: 'register' }>): { id: number; version: number } {
    const plan = this.planRegister(e);
    if (plan.kind === 'existing') return { id: plan.id, version: plan.version };
    const c = this.ctx(e.ctx);
    const id = plan.id ?? this.nextId;
    this.nextId = Math.max(this.nextId, id + 1);
    let rec = this.schemas.get(id);
    if (!rec) {
      rec = { id, ctx: e.ctx, type: e.schemaType, schema: plan.text, references: e.references, uses: 0 };
      this.schemas.set(id, rec);
      c.ids.set(plan.key, id);
      this.parsedCache.set(id, plan.parsed);
    }
    rec.uses++;
    c.versionCount++;
    const state = this.subjectState(c, e.subject);
    state.versions.push({ version: plan.version, id, deleted: false });
    state.versions.sort((a, b) => a.version - b.version);
    return { id, version: plan.version };
  }

  private deleteVersion(e: Extract<Entry, { op: 'deleteVersion' }>): number {
    const c = this.ctx(e.ctx);
    if (this.mode(e.ctx, e.subject) === 'READONLY') throw E.operationNotPermitted(`Subject ${e.subject} is in read-only mode`);
    const s = c.subjects.get(e.subject);
    if (!s || s.versions.length === 0) throw E.subjectNotFound(e.subject);
    const v =
      e.version === 'latest'
        ? (e.permanent ? s.versions : s.versions.filter((x) => !x.deleted)).at(-1)
        : s.versions.find((x) => x.version === e.version);
    if (!v) throw E.versionNotFound(e.version === 'latest' ? 'latest' : e.version);
    if (this.referencedBy(e.ctx, e.subject, v.version).length > 0) throw E.referenceExists(e.subject, v.version);
    if (!e.permanent) {
      if (v.deleted) throw E.versionSoftDeleted(e.subject, v.version);
      v.deleted = true;
      return v.version;
    }
    if (!v.deleted) throw E.versionNotSoftDeleted(e.subject, v.version);
    this.removeVersion(c, s, v);
    this.dropIfEmpty(c, e.subject);
    return v.version;
  }

  private deleteSubject(e: Extract<Entry, { op: 'deleteSubject' }>): number[] {
    const c = this.ctx(e.ctx);
    if (this.mode(e.ctx, e.subject) === 'READONLY') throw E.operationNotPermitted(`Subject ${e.subject} is in read-only mode`);
    const s = c.subjects.get(e.subject);
    if (!s || s.versions.length === 0) throw E.subjectNotFound(e.subject);
    for (const v of s.versions) if (this.referencedBy(e.ctx, e.subject, v.version).length > 0) throw E.referenceExists(e.subject, v.version);
    if (!e.permanent) {
      const live = s.versions.filter((v) => !v.deleted);
      if (live.length === 0) throw E.subjectSoftDeleted(e.subject);
      for (const v of live) v.deleted = true;
      return live.map((v) => v.version);
    }
    if (s.versions.some((v) => !v.deleted)) throw E.subjectNotSoftDeleted(e.subject);
    const all = s.versions.map((v) => v.version);
    for (const v of [...s.versions]) this.removeVersion(c, s, v);
    s.compatibility = null;
    s.mode = null;
    this.dropIfEmpty(c, e.subject);
    return all;
  }

  private removeVersion(c: ContextState, s: SubjectState, v: VersionRecord): void {
    s.versions.splice(s.versions.indexOf(v), 1);
    c.versionCount--;
    const rec = this.schemas.get(v.id);
    if (rec) rec.uses--;
  }

  private dropIfEmpty(c: ContextState, subject: string): void {
    const s = c.subjects.get(subject);
    if (s && s.versions.length === 0 && s.compatibility === null && s.mode === null) c.subjects.delete(subject);
  }

  // ------------------------------------------------------------ reads

  private ctx(ctx: Context): ContextState {
    let c = this.contexts.get(ctx);
    if (!c) this.contexts.set(ctx, (c = { subjects: new Map(), ids: new Map(), compatibility: null, mode: null, versionCount: 0 }));
    return c;
  }

  private subjectState(c: ContextState, subject: string): SubjectState {
    let s = c.subjects.get(subject);
    if (!s) c.subjects.set(subject, (s = { versions: [], compatibility: null, mode: null }));
    return s;
  }

  /** Parse a schema with its references resolved in `ctx`. Throws 42201. */
  parse(ctx: Context, type: SchemaType, schema: string, references: Reference[]): ParsedSchema {
    return FORMATS[type].parse(schema, this.resolveReferences(ctx, references, 0));
  }

  resolveReferences(ctx: Context, references: Reference[], depth: number): ResolvedReference[] {
    if (depth > 32) throw E.invalidSchema('references are nested more than 32 levels deep');
    return references.map((r) => {
      const v = this.contexts.get(ctx)?.subjects.get(r.subject)?.versions.find((x) => x.version === r.version && !x.deleted);
      const rec = v ? this.schemas.get(v.id) : undefined;
      if (!rec) throw E.invalidSchema(`reference '${r.name}': subject '${r.subject}' version ${r.version} not found`);
      return { name: r.name, type: rec.type, schema: rec.schema, references: this.resolveReferences(ctx, rec.references, depth + 1) };
    });
  }

  parsedById(id: number): ParsedSchema {
    let p = this.parsedCache.get(id);
    if (!p) {
      const rec = this.schemas.get(id)!;
      p = this.parse(rec.ctx, rec.type, rec.schema, rec.references);
      this.parsedCache.set(id, p);
    }
    return p;
  }

  compatibility(ctx: Context, subject: string | null): Compatibility {
    const c = this.contexts.get(ctx);
    return (subject !== null ? c?.subjects.get(subject)?.compatibility : null) ?? c?.compatibility ?? this.limits.defaultCompatibility;
  }

  /** The configured level: subject's (null when unset), or the context's (null: the default). */
  configured(ctx: Context, subject: string | null): Compatibility | null {
    const c = this.contexts.get(ctx);
    return subject === null ? (c?.compatibility ?? null) : (c?.subjects.get(subject)?.compatibility ?? null);
  }

  mode(ctx: Context, subject: string | null): Mode {
    const c = this.contexts.get(ctx);
    return (subject !== null ? c?.subjects.get(subject)?.mode : null) ?? c?.mode ?? 'READWRITE';
  }

  configuredMode(ctx: Context, subject: string | null): Mode | null {
    const c = this.contexts.get(ctx);
    return subject === null ? (c?.mode ?? null) : (c?.subjects.get(subject)?.mode ?? null);
  }

  subjects(ctx: Context, deleted: boolean, prefix = ''): string[] {
    const c = this.contexts.get(ctx);
    if (!c) return [];
    const out: string[] = [];
    for (const [name, s] of c.subjects) {
      if (!name.startsWith(prefix)) continue;
      if (s.versions.some((v) => deleted || !v.deleted)) out.push(name);
    }
    return out.sort();
  }

  /** A subject's versions (live, or all with `deleted`). Throws 40401 when none. */
  versions(ctx: Context, subject: string, deleted: boolean): VersionRecord[] {
    const s = this.contexts.get(ctx)?.subjects.get(subject);
    const out = (s?.versions ?? []).filter((v) => deleted || !v.deleted);
    if (out.length === 0) throw E.subjectNotFound(subject);
    return out;
  }

  /** One version: a number, or 'latest' (-1). Throws 40401 / 40402. */
  version(ctx: Context, subject: string, version: number | 'latest', deleted: boolean): VersionRecord {
    const all = this.versions(ctx, subject, deleted);
    const v = version === 'latest' ? all.at(-1) : all.find((x) => x.version === version);
    if (!v) throw E.versionNotFound(version);
    return v;
  }

  /** A schema by id, if visible in `ctx`. */
  schema(ctx: Context, id: number): SchemaRecord | null {
    const rec = this.schemas.get(id);
    return rec && rec.ctx === ctx && rec.uses > 0 ? rec : null;
  }

  /** (subject, version) pairs using an id in `ctx`. */
  usesOf(ctx: Context, id: number, deleted: boolean): Array<{ subject: string; version: number }> {
    const out: Array<{ subject: string; version: number }> = [];
    const c = this.contexts.get(ctx);
    if (!c) return out;
    for (const [subject, s] of c.subjects) for (const v of s.versions) if (v.id === id && (deleted || !v.deleted)) out.push({ subject, version: v.version });
    return out.sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : a.version - b.version));
  }

  /** Ids of live schemas that reference (subject, version). */
  referencedBy(ctx: Context, subject: string, version: number): number[] {
    const out: number[] = [];
    const c = this.contexts.get(ctx);
    if (!c) return out;
    for (const s of c.subjects.values()) {
      for (const v of s.versions) {
        const rec = this.schemas.get(v.id);
        if (rec && rec.references.some((r) => r.subject === subject && r.version === version) && !out.includes(v.id)) out.push(v.id);
      }
    }
    return out.sort((a, b) => a - b);
  }

  /** The live version of `subject` whose schema equals this one (normalize: by normalized form). */
  lookup(ctx: Context, subject: string, parsed: ParsedSchema, references: Reference[], normalize: boolean, deleted: boolean): VersionRecord | null {
    const all = this.versions(ctx, subject, deleted);
    for (let i = all.length - 1; i >= 0; i--) {
      const v = all[i]!;
      const rec = this.schemas.get(v.id)!;
      if (rec.type !== parsed.type || JSON.stringify(rec.references) !== JSON.stringify(references)) continue;
      if (rec.schema === parsed.canonical || rec.schema === parsed.normalized) return v;
      if (normalize && this.parsedById(v.id).normalized === parsed.normalized) return v;
    }
    return null;
  }

  /** Ids in every context (metrics, tests). */
  get size(): { schemas: number; nextId: number } {
    return { schemas: this.schemas.size, nextId: this.nextId };
  }
}
