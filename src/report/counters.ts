// Report counters, maintained at write time: the contributor below adds a few ops to the same
// script call that writes the logs, so the report never scans logs. It runs for every entry of
// every batch, hence the care: the day comes from a cached range (DayClock), the day's key names
// are built once per day, User-Agents are classified once each (BrowserCache), and the
// HyperLogLog adds are de-duplicated per batch so a user's hundred requests cost one PFADD.
//
// Keys (prefix P, one hash tag {stats} so a cluster keeps them in one slot; <day> = YYYY-MM-DD in
// the `timeZone` option; every key expires STATS_TTL_S after its last write):
//   P:{stats}:<day>:totals        hash  requests, pageview, heartbeat, interaction, session_end
//                                       (events), first, last (ms of the day's earliest and
//                                       latest entry)
//   P:{stats}:<day>:ended         hash  sessions that reported their end: "#n" distinct sessions,
//                                       "#s" the sum of their durations (s), and per session
//                                       (SHA-256 of its sid, 16 characters) its longest duration,
//                                       at most MAX_ENDED_TRACKED a day (HMAXSUM). A multi-page
//                                       visit sends session_end on every page it leaves, each
//                                       with the duration so far: the session counts once, with
//                                       its longest duration.
//   P:{stats}:<day>:routes        hash  route pattern → requests ("(unmatched)" for 404s), capped
//   P:{stats}:<day>:pages         hash  client page-view path without query → views, capped
//   P:{stats}:<day>:interactions  hash  interaction event (click, submit…) → count, capped
//   P:{stats}:<day>:users         HLL   distinct users
//   P:{stats}:<day>:sessions      HLL   distinct client sessions (`sid`)
//   P:{stats}:<day>:browser:<family>  HLL  distinct users per browser family (browsers.ts)
// Capped hashes hold at most their cap of fields besides "other", which counts the rest.
// None of these keys names a user: hashes hold counts, HyperLogLogs hold hashed registers.
//
// Entry fields used (client entries come from the collector, src/collector):
//   every entry: t, user, ua (optional)
//   kind 'request': route (null when no route matched)
//   src 'client': kind pageview | heartbeat | interaction | session_end, sid (the browser
//   session id), path (pageview), event (interaction type), duration (session_end: seconds
//   since the session started)
import { createHash } from 'node:crypto'
import type { BatchOps, Contributor } from '../batch.js'
import type { PluginContext } from '../context.js'
import type { Entry } from '../entry.js'
import type { Keys } from '../keys.js'
import { DayClock } from './days.js'
import { BROWSER_FAMILIES, BrowserCache } from './browsers.js'

/** Days of counters kept: the longest report (31 days) plus one for clocks and zones. */
export const STATS_DAYS_KEPT = 32
export const STATS_TTL_S = STATS_DAYS_KEPT * 86_400
/** Distinct fields a capped hash takes per day before counting into "other". */
export const MAX_PAGES = 500
export const MAX_ROUTES = 500
export const MAX_INTERACTION_TYPES = 50
/** Longest page path or event name kept as a counter field. */
export const MAX_FIELD = 256
/** Sessions a day whose longest duration is remembered; past it each session_end counts as a session. */
export const MAX_ENDED_TRACKED = 10_000
/** A session longer than this (seconds) is counted as this long. */
export const MAX_SESSION_SECONDS = 86_400
export const UNMATCHED_ROUTE = '(unmatched)'

/** The key names of one day's counters. */
export interface DayKeys {
  totals: string
  routes: string
  pages: string
  interactions: string
  ended: string
  users: string
  sessions: string
  /** HyperLogLog per browser family, indexed like BROWSER_FAMILIES. */
  browsers: string[]
}

export function dayKeys (keys: Keys, day: string): DayKeys {
  return {
    totals: keys.stats(day, 'totals'),
    routes: keys.stats(day, 'routes'),
    pages: keys.stats(day, 'pages'),
    interactions: keys.stats(day, 'interactions'),
    ended: keys.stats(day, 'ended'),
    users: keys.stats(day, 'users'),
    sessions: keys.stats(day, 'sessions'),
    browsers: BROWSER_FAMILIES.map((family) => keys.stats(day, 'browser:' + family))
  }
}

// Bits of DayBatch.seen per user: which HyperLogLogs already have them in this batch.
const USER_BIT = 1 << 8
// Bits of DayBatch.expiring: keys whose EXPIRE this batch already queued.
const E_TOTALS = 1 << 0
const E_ROUTES = 1 << 1
const E_PAGES = 1 << 2
const E_INTERACTIONS = 1 << 3
const E_USERS = 1 << 4
const E_SESSIONS = 1 << 5
const E_ENDED = 1 << 6
const E_BROWSER = 7 // + browser index

/** What one batch has already sent for one day. */
interface DayBatch {
  keys: DayKeys
  /** user → USER_BIT | (1 << browser index) for each add already sent */
  seen: Map<string, number>
  sessions: Set<string>
  expiring: number
}

/** A short digest of a session id: the counters keep no cookie value. */
function sidDigest (sid: string): string {
  return createHash('sha256').update(sid).digest('base64url').slice(0, 16)
}

/** A page path as counted: no query or fragment, bounded length. */
export function pagePath (path: string): string {
  let end = path.length
  const q = path.indexOf('?')
  if (q !== -1) end = q
  const h = path.indexOf('#')
  if (h !== -1 && h < end) end = h
  if (end > MAX_FIELD) end = MAX_FIELD
  return end === path.length ? path : path.slice(0, end)
}

export function reportContributor (ctx: Pick<PluginContext, 'settings' | 'keys'>): Contributor {
  const clock = new DayClock(ctx.settings.timeZone)
  const browsers = new BrowserCache()
  // Key names of the last few days (a batch rarely spans more than two).
  const names = new Map<string, DayKeys>()
  let batch: BatchOps | null = null
  let days = new Map<string, DayBatch>()
  let lastDay = ''
  let last: DayBatch | null = null

  function dayBatch (ops: BatchOps, day: string): DayBatch {
    if (ops !== batch) {
      batch = ops
      days = new Map()
      last = null
    } else if (day === lastDay && last !== null) {
      return last
    }
    let d = days.get(day)
    if (d === undefined) {
      let k = names.get(day)
      if (k === undefined) {
        if (names.size >= 4) names.delete(names.keys().next().value as string)
        k = dayKeys(ctx.keys, day)
        names.set(day, k)
      }
      d = { keys: k, seen: new Map(), sessions: new Set(), expiring: 0 }
      days.set(day, d)
    }
    lastDay = day
    last = d
    return d
  }

  /**
   * Queues the key's EXPIRE once per batch, right after the op that may create it: hash
   * updates are merged and sent before every queued op (BatchOps.encode), and a PFADD is queued
   * just before this call, so the key exists when its EXPIRE runs.
   */
  function expire (ops: BatchOps, d: DayBatch, bit: number, key: string): void {
    if ((d.expiring & bit) !== 0) return
    d.expiring |= bit
    ops.expire(key, STATS_TTL_S)
  }

  return function reportCounters (entry: Entry, ops: BatchOps): void {
    const t = entry.t
    if (typeof t !== 'number' || !Number.isFinite(t)) return
    const d = dayBatch(ops, clock.dayOf(t))
    const k = d.keys
    ops.extreme('HMIN', k.totals, 'first', t)
    ops.extreme('HMAX', k.totals, 'last', t)
    expire(ops, d, E_TOTALS, k.totals)

    // Distinct users, and users per browser family: one PFADD per user and key per batch.
    const user = entry.user
    let seen = d.seen.get(user) ?? 0
    const before = seen
    if ((seen & USER_BIT) === 0) {
      ops.pfadd(k.users, user)
      expire(ops, d, E_USERS, k.users)
      seen |= USER_BIT
    }
    const ua = entry.ua
    if (typeof ua === 'string' && ua !== '') {
      const b = browsers.index(ua)
      if ((seen & (1 << b)) === 0) {
        const key = k.browsers[b] as string
        ops.pfadd(key, user)
        expire(ops, d, 1 << (E_BROWSER + b), key)
        seen |= 1 << b
      }
    }
    if (seen !== before) d.seen.set(user, seen)

    if (entry.kind === 'request') {
      ops.hincrby(k.totals, 'requests', 1)
      const route = entry.route
      ops.hincrcap(k.routes, typeof route === 'string' && route !== '' ? route : UNMATCHED_ROUTE, 1, MAX_ROUTES)
      expire(ops, d, E_ROUTES, k.routes)
    } else if (entry.src === 'client') {
      const sid = entry.sid
      if (typeof sid === 'string' && sid !== '' && !d.sessions.has(sid)) {
        d.sessions.add(sid)
        ops.pfadd(k.sessions, sid)
        expire(ops, d, E_SESSIONS, k.sessions)
      }
      switch (entry.kind) {
        case 'pageview':
          ops.hincrby(k.totals, 'pageview', 1)
          if (typeof entry.path === 'string') {
            ops.hincrcap(k.pages, pagePath(entry.path), 1, MAX_PAGES)
            expire(ops, d, E_PAGES, k.pages)
          }
          break
        case 'heartbeat':
          ops.hincrby(k.totals, 'heartbeat', 1)
          break
        case 'interaction': {
          ops.hincrby(k.totals, 'interaction', 1)
          const event = entry.event
          ops.hincrcap(k.interactions, typeof event === 'string' && event !== '' ? event.slice(0, MAX_FIELD) : '(none)', 1, MAX_INTERACTION_TYPES)
          expire(ops, d, E_INTERACTIONS, k.interactions)
          break
        }
        case 'session_end': {
          ops.hincrby(k.totals, 'session_end', 1)
          const duration = entry.duration
          if (typeof sid === 'string' && sid !== '' && typeof duration === 'number' && duration >= 0) {
            ops.hmaxsum(k.ended, sidDigest(sid), Math.round(Math.min(duration, MAX_SESSION_SECONDS)), MAX_ENDED_TRACKED)
            expire(ops, d, E_ENDED, k.ended)
          }
          break
        }
      }
    }
  }
}
