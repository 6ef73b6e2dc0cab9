/**
 * The schema registry's errors: Confluent's error codes and bodies
 * (`{"error_code": 40401, "message": "Subject 'x' not found."}`), with the
 * HTTP status each code goes with. Anything the REST layer answers with an
 * error is a RegistryError; anything else becomes 50001 (logged).
 */

export class RegistryError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'RegistryError';
  }

  body(): { error_code: number; message: string } {
    return { error_code: this.code, message: this.message };
  }
}

/** Confluent's codes (io.confluent.kafka.schemaregistry.rest.exceptions.Errors and the REST layer). */
export const E = {
  badRequest: (msg: string) => new RegistryError(400, 400, msg),
  unauthorized: (msg: string) => new RegistryError(401, 401, msg),
  /** Confluent's RBAC plugin answers 403/40301 "User is denied operation ... on Subject: x". */
  forbidden: (msg: string) => new RegistryError(403, 40301, msg),
  notFound: () => new RegistryError(404, 404, 'HTTP 404 Not Found'),
  methodNotAllowed: () => new RegistryError(405, 405, 'HTTP 405 Method Not Allowed'),
  subjectNotFound: (s: string) => new RegistryError(404, 40401, `Subject '${s}' not found.`),
  versionNotFound: (v: number | string) => new RegistryError(404, 40402, `Version ${v} not found.`),
  schemaNotFound: (id?: number) => new RegistryError(404, 40403, id === undefined ? 'Schema not found' : `Schema ${id} not found`),
  subjectSoftDeleted: (s: string) => new RegistryError(404, 40404, `Subject '${s}' was soft deleted.Set permanent=true to delete permanently`),
  subjectNotSoftDeleted: (s: string) => new RegistryError(404, 40405, `Subject '${s}' was not deleted first before being permanently deleted`),
  versionSoftDeleted: (s: string, v: number) => new RegistryError(404, 40406, `Subject '${s}' Version ${v} was soft deleted.Set permanent=true to delete permanently`),
  versionNotSoftDeleted: (s: string, v: number) => new RegistryError(404, 40407, `Subject '${s}' Version ${v} was not deleted first before being permanently deleted`),
  subjectCompatibilityNotConfigured: (s: string) => new RegistryError(404, 40408, `Subject '${s}' does not have subject-level compatibility configured`),
  subjectModeNotConfigured: (s: string) => new RegistryError(404, 40409, `Subject '${s}' does not have subject-level mode configured`),
  incompatible: (s: string, details: string[]) =>
    new RegistryError(409, 409, `Schema being registered is incompatible with an earlier schema for subject "${s}", details: [${details.join(', ')}]`),
  tooLarge: (msg: string) => new RegistryError(413, 413, msg),
  invalidSchema: (msg: string) => new RegistryError(422, 42201, `Invalid schema ${msg}`),
  invalidVersion: (v: string) =>
    new RegistryError(422, 42202, `The specified version '${v}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"`),
  invalidCompatibility: () =>
    new RegistryError(422, 42203, 'Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive'),
  invalidMode: (m: string) => new RegistryError(422, 42204, `Invalid mode ${m}. Valid values are READWRITE, READONLY, IMPORT`),
  operationNotPermitted: (msg: string) => new RegistryError(422, 42205, msg),
  referenceExists: (s: string, v: number) => new RegistryError(422, 42206, `One or more references exist to the schema {subject=${s},version=${v}}.`),
  invalidSubject: (msg: string) => new RegistryError(422, 42208, msg),
  limit: (msg: string) => new RegistryError(422, 42209, msg),
  rateLimited: (msg: string) => new RegistryError(429, 42901, msg),
  store: (msg: string) => new RegistryError(500, 50001, `Error in the backend data store - ${msg}`),
  timeout: (msg: string) => new RegistryError(500, 50002, `Operation timed out - ${msg}`),
};
