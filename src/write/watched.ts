// Who the writer knows to be watched live, learned from its own batches: the write script
// answers with the all-users stream's state and the users of the batch whose entries it
// published (script.ts). The writer starts a batch sooner while it holds an entry someone is
// watching (writer.ts), and lets entries nobody watches gather into larger, cheaper batches.
// Only latency depends on this: what is published is decided by the script, from the leases.
import { WATCH_LEASE_MS } from '../shared/keys.js'
import type { UserMemo } from './memory.js'

export class WatchedUsers {
  /** Watched users, until when (ms): a lease lives WATCH_LEASE_MS without renewal. */
  private readonly until = new Map<string, number>()
  /** Whether the all-users stream was watched when last heard of: then every entry is. */
  all = false

  /** The hook's question, per entry: one property read while nobody is watched. */
  has (user: string): boolean {
    return this.all || (this.until.size !== 0 && this.until.has(user))
  }

  /**
   * Learns from the reply of a batch's script call (a list of watched users' tags, after the
   * all-users state on a single node; 0 for a batch Redis had already applied).
   */
  learn (reply: unknown, users: UserMemo[], now: number, withAllState: boolean): void {
    for (const [user, until] of this.until) if (until <= now) this.until.delete(user)
    if (!Array.isArray(reply)) return
    let tags = reply as unknown[]
    if (withAllState) {
      this.all = tags[0] === 1
      tags = tags.slice(1)
    }
    if (tags.length === 0) return
    const userOf = new Map(users.map((m) => [m.tag, m.user]))
    for (const tag of tags) {
      const user = userOf.get(String(tag))
      if (user !== undefined) this.until.set(user, now + WATCH_LEASE_MS)
    }
  }

  get size (): number { return this.until.size }
}
