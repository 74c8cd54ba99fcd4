// Reads for the admin API, and erasure. The writes live in the batch script (write/script.ts).
import { Buffer } from 'node:buffer'
import { asciiLower, namesMember, type Keys } from '../shared/keys.js'
import { isCluster, mastersFor, type RedisLike } from '../shared/redis.js'
import { presence, type PresenceState } from '../shared/view-rules.js'
import { newestEntries, usersSeenSince, type UserSeen } from '../shared/recent-users.js'

export type { UserSeen }
export interface ActiveUser extends UserSeen {
  path: string | null
  /** From the user's latest client events (null when the newest entries hold none). */
  state: PresenceState | null
  since: number | null
}

export class Store {
  constructor (readonly client: RedisLike, readonly keys: Keys) {}

  /**
   * Users whose name starts with `q` (ASCII case-insensitive), most recently seen first.
   * Uses the lexicographic index, never a scan of the keyspace.
   */
  async searchUsers (q: string, limit: number): Promise<UserSeen[]> {
    if (q === '') {
      const flat = await this.client.zrevrange(this.keys.usersIndex, 0, limit - 1, 'WITHSCORES')
      const out: UserSeen[] = []
      for (let i = 0; i + 1 < flat.length; i += 2) out.push({ user: flat[i] as string, lastSeen: Number(flat[i + 1]) })
      return out
    }
    const lower = asciiLower(q)
    // Members are "lowercase\0name"; every member with this prefix sorts between [lower and [lower\xff.
    const min = Buffer.from('[' + lower)
    const max = Buffer.concat([Buffer.from('[' + lower), Buffer.from([0xff])])
    const members = await this.client.zrangebylex(this.keys.namesIndex, min, max, 'LIMIT', 0, 500)
    if (members.length === 0) return []
    const names = members.map((m) => m.slice(m.indexOf('\0') + 1))
    const scores = await this.client.zmscore(this.keys.usersIndex, ...names)
    const out: UserSeen[] = []
    names.forEach((user, i) => {
      const score = scores[i]
      if (score !== null && score !== undefined) out.push({ user, lastSeen: Number(score) })
    })
    out.sort((a, b) => b.lastSeen - a.lastSeen)
    return out.slice(0, limit)
  }

  /** Users seen in the last `minutes`, with the last path each visited. */
  async activeUsers (minutes: number, limit: number): Promise<ActiveUser[]> {
    const users = await usersSeenSince(this.client, this.keys, Date.now() - minutes * 60_000, limit)
    if (users.length === 0) return []
    const names = users.map((u) => u.user)
    const [paths, logs] = await Promise.all([
      this.client.hmget(this.keys.lastPath, ...names),
      newestEntries(this.client, this.keys, names)
    ])
    const now = Date.now()
    return users.map((u, i) => {
      const p = presence.presenceOfLog(logs[i] ?? [], now)
      return { ...u, path: paths[i] ?? null, state: p?.state ?? null, since: p?.since ?? null }
    })
  }

  /** The user's newest `limit` entries as stored (JSON strings), newest first. */
  async rawLog (user: string, limit: number): Promise<string[]> {
    return await this.client.lrange(this.keys.log(user), 0, limit - 1)
  }

  /** Removes the user's log, sessions and every other key of theirs, and their index entries. Idempotent. */
  async deleteUser (user: string): Promise<void> {
    const toDelete = [this.keys.log(user), this.keys.sessions(user)]
    // All of a user's keys share one hash tag, hence one slot: SCAN finds any the layout adds later.
    // SCAN only walks the node it runs on: on a cluster, the master that owns the user's slot.
    const nodes = isCluster(this.client) ? mastersFor(this.client, toDelete[0] as string) : [this.client]
    for (const node of nodes) {
      let cursor = '0'
      do {
        const [next, found] = await node.scan(cursor, 'MATCH', this.keys.userPattern(user), 'COUNT', 1000)
        cursor = next
        toDelete.push(...found)
      } while (cursor !== '0')
    }
    // One slot, so one DEL even on a cluster.
    await this.client.del(...new Set(toDelete))
    await this.client.zrem(this.keys.usersIndex, user)
    await this.client.zrem(this.keys.namesIndex, namesMember(user))
    await this.client.hdel(this.keys.lastPath, user)
  }
}
