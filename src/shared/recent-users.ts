// Who was seen lately and what their newest entries are: read by Active now (the admin API) and
// by the realtime server's presence stream, which starts from the same picture before it follows
// new entries.
import type { Keys } from './keys.js'
import type { RedisLike } from './redis.js'
import { parseStoredEntry } from './stored.js'

export interface UserSeen { user: string, lastSeen: number }

/** Newest entries read per user to find their presence: enough to reach a heartbeat past a burst of requests. */
export const PRESENCE_SCAN = 50

/** Users seen since `since` (ms), most recent first, from the users index. */
export async function usersSeenSince (
  client: RedisLike, keys: Keys, since: number, limit: number
): Promise<UserSeen[]> {
  const flat = await client.zrevrangebyscore(keys.usersIndex, '+inf', since, 'WITHSCORES', 'LIMIT', 0, limit)
  const users: UserSeen[] = []
  for (let i = 0; i + 1 < flat.length; i += 2) users.push({ user: flat[i] as string, lastSeen: Number(flat[i + 1]) })
  return users
}

/** Each user's newest `count` entries, parsed, newest first (an unreadable item is skipped). */
export async function newestEntries (
  client: RedisLike, keys: Keys, users: string[], count = PRESENCE_SCAN
): Promise<Array<Array<Record<string, unknown>>>> {
  return await Promise.all(users.map(async (user) => {
    const raw = await client.lrange(keys.log(user), 0, count - 1)
    const out: Array<Record<string, unknown>> = []
    for (const json of raw) {
      const entry = parseStoredEntry(json)
      if (entry !== null) out.push(entry)
    }
    return out
  }))
}
