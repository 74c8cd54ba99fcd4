// "Who the user is": the card at the top of a user's log, built from what is retained of them:
// the sessions hash and the newest and oldest log entries (one round trip: all in the user's slot).
//   browser, os, device  parsed from the latest session's User-Agent (browsers.ts), or from the
//                        newest entry's when the user has no browser session (server requests only)
//   firstSeen, lastSeen  the earliest and latest time in the retained log and sessions (ms)
//   sessions             browser sessions retained
//   fields               describeUser's fields of the latest session that recorded any
import type { Keys } from '../shared/keys.js'
import type { Entry, RedisLike } from '../types.js'
import { parseStoredEntry } from '../shared/stored.js'
import { summarize, type SessionSummary } from '../collector/sessions.js'
import type { BrowserCache, DeviceType } from '../report/browsers.js'
import type { UserFields } from '../collector/describe-user.js'

export interface UserCard {
  user: string
  browser: { name: string, version: string }
  os: { name: string, version: string }
  device: DeviceType
  firstSeen: number
  lastSeen: number
  sessions: number
  fields: UserFields
}

/** The card, from a sessions hash (newest first once summarized) and the newest and oldest entries; null if none. */
export function buildCard (
  user: string, sessions: SessionSummary[], newest: Entry | null, oldest: Entry | null, agents: BrowserCache
): UserCard | null {
  const times: number[] = []
  for (const s of sessions) times.push(s.start, s.last)
  for (const e of [newest, oldest]) if (typeof e?.t === 'number' && Number.isFinite(e.t)) times.push(e.t)
  if (times.length === 0) return null
  const latest = sessions[0]
  const ua = latest?.ua ?? (typeof newest?.ua === 'string' ? newest.ua : '')
  const { browser, os, device } = agents.agent(ua)
  return {
    user,
    browser: { ...browser },
    os: { ...os },
    device,
    firstSeen: Math.min(...times),
    lastSeen: Math.max(...times),
    sessions: sessions.length,
    fields: sessions.find((s) => s.fields !== null)?.fields ?? {}
  }
}

/** Reads and builds the card of `user`; null for a user with nothing retained. */
export async function readCard (
  client: RedisLike, keys: Keys, user: string, agents: BrowserCache, now = Date.now()
): Promise<UserCard | null> {
  const log = keys.log(user)
  const [hash, newest, oldest] = await Promise.all([
    client.hgetall(keys.sessions(user)),
    client.lrange(log, 0, 0),
    client.lrange(log, -1, -1)
  ])
  const entryOf = (items: string[]): Entry | null => items[0] === undefined ? null : parseStoredEntry(items[0])
  return buildCard(user, summarize(hash, now), entryOf(newest), entryOf(oldest), agents)
}
