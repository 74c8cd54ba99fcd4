// Redis key and channel names. Every name carries a hash tag ({…}) so that a Redis Cluster
// places all keys of one user in one slot, and usernames are percent-encoded so that no
// user-controlled character (':', '*', '{', '}', '?', '[', ']', spaces…) ever reaches a key
// or a channel raw.

const UNRESERVED = /^[A-Za-z0-9_.-]*$/

/** Sharded all-users channels on a Redis Cluster (see Keys.allShardChannel). */
export const ALL_SHARDS = 8

/**
 * Percent-encodes every UTF-8 byte of `user` outside `[A-Za-z0-9_.-]`, with upper-case hex.
 * Lone surrogates are replaced by U+FFFD first, so no string can make it throw.
 */
export function encodeUser (user: string): string {
  if (UNRESERVED.test(user)) return user
  return encodeURIComponent(user.toWellFormed()).replace(/[!'()*~]/g, (c) =>
    '%' + c.charCodeAt(0).toString(16).toUpperCase())
}

/** The inverse of {@link encodeUser}. */
export function decodeUser (encoded: string): string {
  return decodeURIComponent(encoded)
}

/** Names of every key and channel under one prefix. */
export class Keys {
  readonly prefix: string
  readonly usersIndex: string
  readonly namesIndex: string
  readonly lastPath: string
  readonly audit: string
  readonly allChannel: string
  readonly rateLimit: string

  constructor (prefix: string) {
    this.prefix = prefix
    this.usersIndex = `${prefix}:{idx}:users`
    this.namesIndex = `${prefix}:{idx}:names`
    this.lastPath = `${prefix}:{idx}:last`
    this.audit = `${prefix}:{audit}:log`
    this.allChannel = `${prefix}:live:*all`
    this.rateLimit = `${prefix}:{rl}:`
  }

  /** The user's log: a list of JSON entries, newest first. */
  log (user: string): string { return `${this.prefix}:{${encodeUser(user)}}:log` }
  /** The user's browser sessions. */
  sessions (user: string): string { return `${this.prefix}:{${encodeUser(user)}}:sessions` }
  /** The last batch number a writer process applied (makes retried batches idempotent). */
  writerMarker (writerId: string): string { return `${this.prefix}:{idx}:writer:${writerId}` }
  /** Every key of one user matches this SCAN pattern (the encoded name has no glob characters). */
  userPattern (user: string): string { return `${this.prefix}:{${encodeUser(user)}}:*` }
  /** A live-view grant, taken once with GETDEL. */
  token (token: string): string { return `${this.prefix}:{tok}:${token}` }
  /** Report counters of one day (`YYYY-MM-DD` in the configured time zone). */
  stats (day: string, what: string): string { return `${this.prefix}:{stats}:${day}:${what}` }
  /**
   * On a Redis Cluster the all-users stream is spread over ALL_SHARDS sharded channels (SPUBLISH /
   * SSUBSCRIBE), so that no single node carries everyone's traffic; an all-users viewer listens to
   * every shard. Shard `k` of a batch holds the entries of users whose key slot % ALL_SHARDS = k.
   */
  allShardChannel (k: number): string { return `${this.prefix}:live:{*all.${k}}` }
  /** The live channel of one user. Its messages are JSON arrays of entries. */
  userChannel (user: string): string { return `${this.prefix}:live:{${encodeUser(user)}}` }
  /**
   * A realtime server's lease on a user's live channel: while it exists, the writers publish that
   * user's entries (nobody else's). In the user's slot, so a cluster script can read it, and
   * outside `userPattern`, so erasing a user does not stop a live view of them.
   */
  watchLease (user: string): string { return `${this.prefix}:watch:{${encodeUser(user)}}` }
  /** The lease on the all-users stream: while it exists, every batch is published there too. */
  get allWatchLease (): string { return `${this.prefix}:watch:{*all}` }
}

/** How long a lease lives without renewal; realtime servers renew theirs every third of it. */
export const WATCH_LEASE_MS = 30_000

/** ASCII-lower-case name, NUL, name: the member of the names index, searched case-insensitively by prefix. */
export function namesMember (user: string): string {
  return asciiLower(user) + '\0' + user
}

/** Lower-cases A-Z only, exactly like Lua's string.lower in Redis, so JS and Lua agree on members. */
export function asciiLower (s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase())
}
