// Annotations that one component writes and another reads, named once.

/**
 * The hub's record of what it applied to a member object (a hash of the desired object), which tells an edit on the
 * member from a change of the service. It changes with every change of the hub service, so the Unit Operator leaves
 * it out of a UnitSet's revision: a new hash alone must restart nothing.
 */
export const HUB_DESIRED_HASH_ANNOTATION = 'upm.io/desired-hash';
