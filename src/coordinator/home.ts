/**
 * Resource homes: where the permissions of a resource that Pulsar has no
 * resource type for (a consumer group, a transactional id) are checked.
 *
 * Such a resource is named by a Kafka client within its tenant only, but
 * Pulsar grants live per namespace. Checking it in whatever namespace the
 * session chose at login would let a principal refused in one namespace use
 * the resource from another namespace where it has grants. So a resource has
 * ONE home namespace, fixed when it is first used and stored durably with it;
 * every later operation is checked there, whatever namespace the session
 * names (docs/authorization.md, "Resources with a home namespace").
 *
 * The rule, in two halves that the callers cannot get out of step:
 *  - `checkNamespace`: the namespace a caller must authorize in: the home, or,
 *    when the resource has no home yet (new, or stored before homes existed),
 *    the session's namespace, which then becomes the home.
 *  - `verifyHome`: the coordinator's side, run synchronously with the state it
 *    guards: the namespace the caller checked must still be the home (a home
 *    set between the caller's lookup and its operation means the check was
 *    made in the wrong place: the operation is refused, the client retries).
 */

/** Where a caller must check a resource's permission. */
export function checkNamespace(home: string | null, sessionNamespace: string): string {
  return home ?? sessionNamespace;
}

export type HomeVerdict =
  /** The caller checked in the resource's home. */
  | 'home'
  /** The resource has no home yet: the operation may record `checkedIn` as its home. */
  | 'unset'
  /** The caller checked elsewhere (the home was set meanwhile): refuse, retriably. */
  | 'moved';

export function verifyHome(home: string | null, checkedIn: string): HomeVerdict {
  if (home === null) return 'unset';
  return home === checkedIn ? 'home' : 'moved';
}

/** How a resource got its home, for the audit log and the operational log. */
export type HomeAssignment = 'created' | 'adopted' | 'inferred';
