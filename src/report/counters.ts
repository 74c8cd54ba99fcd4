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
//   P:{stats}:<day>:active        hash  page path → activeMs summed over its measured leaves
//                                       (session_end with activeMs), capped
//   P:{stats}:<day>:measured      hash  page path → measured leaves, capped
//   P:{stats}:<day>:beats         hash  page path → heartbeats minus the heartbeats its measured
//                                       leaves cover (time-on-page.ts), capped; may dip below 0
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
//   session id), path (pageview, heartbeat, session_end: the page), event (interaction type),
//   duration (session_end: seconds since the session started), activeMs and pageMs (session_end:
//   the left page's active time and the time since its view, ms)
import { createHash } from 'node:crypto'
import type { BatchOps, Contributor } from '../write/batch.js'
import type { PluginContext } from '../context.js'
import type { Entry } from '../types.js'
import type { Keys } from '../shared/keys.js'
import { DayClock } from './days.js'
import { BROWSER_FAMILIES, BrowserCache } from './browsers.js'
import { coveredHeartbeats, measuredActiveMs } from './time-on-page.js'

/** Days of counters kept: the longest report (31 days) plus one for clocks and zones. */
export const STATS_DAYS_KEPT = 32
export const STATS_TTL_S = STATS_DAYS_KEPT * 86_400
/** Distinct fields a capped hash takes per day before counting into "other". */
export const MAX_PAGES = 500
export const MAX_ROUTES = 500
export const MAX_INTERACTION_TYPES = 50
/** Longest page path or event name kept as a counter field. */
export const MAX_FIELD = 256
/**
 * Users a day whose adds to the distinct-users HyperLogLogs a process remembers; past it, a user's
 * every batch adds them again (the count stays exact: an add is idempotent).
 */
export const MAX_COUNTED_USERS = 50_000
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
  active: string
  measured: string
  beats: string
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
    active: keys.stats(day, 'active'),
    measured: keys.stats(day, 'measured'),
    beats: keys.stats(day, 'beats'),
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
const E_ACTIVE = 1 << 7
const E_MEASURED = 1 << 8
const E_BEATS = 1 << 9
const E_BROWSER = 10 // + browser index

type Extreme = ReturnType<BatchOps['extreme']>
type Increment = ReturnType<BatchOps['hincrby']>
type Capped = ReturnType<BatchOps['hincrcap']>

/** What one batch has already sent for one day, and handles on its merged ops. */
interface DayBatch {
  day: string
  keys: DayKeys
  /** user → USER_BIT | (1 << browser index) for each add already sent (or counted by an earlier batch) */
  seen: Map<string, number>
  /** The adds this batch sends, remembered in `counted` once it is written. */
  added: Map<string, number> | null
  sessions: Set<string>
  expiring: number
  first: Extreme | null
  last: Extreme | null
  /** field of the totals hash → its merged HINCRBY */
  totals: Map<string, Increment>
  /** field → its merged HINCRCAP, per capped hash */
  routes: Map<string, Capped>
  pages: Map<string, Capped>
  interactions: Map<string, Capped>
  active: Map<string, Capped>
  measured: Map<string, Capped>
  beats: Map<string, Capped>
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
  // Users this process has added to the day's distinct-users HyperLogLogs (USER_BIT, and a bit
  // per browser family), remembered once their batch was written.
  let counted = { day: '', users: new Map<string, number>() }
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
      d = {
        day, keys: k, seen: new Map(), added: null, sessions: new Set(), expiring: 0, first: null,
        last: null,
        totals: new Map(), routes: new Map(), pages: new Map(), interactions: new Map(),
        active: new Map(), measured: new Map(), beats: new Map()
      }
      days.set(day, d)
    }
    lastDay = day
    last = d
    return d
  }

  /**
   * The adds of a batch's day, once the batch is written: that user's later entries of the day add
   * nothing more to these HyperLogLogs (a batch that fails is built again, and adds them again).
   */
  function remember (d: DayBatch, added: Map<string, number>): void {
    if (counted.day !== d.day) {
      // A new day starts afresh; a late batch of an earlier day is not remembered.
      if (d.day < counted.day) return
      counted = { day: d.day, users: new Map() }
    }
    const users = counted.users
    for (const [user, bits] of added) {
      const had = users.get(user)
      if (had !== undefined) users.set(user, had | bits)
      else if (users.size < MAX_COUNTED_USERS) users.set(user, bits)
    }
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

  /** +1 to a field of the day's totals hash. */
  function total (ops: BatchOps, d: DayBatch, field: string): void {
    const handle = d.totals.get(field)
    if (handle !== undefined) handle[2]++
    else d.totals.set(field, ops.hincrby(d.keys.totals, field, 1))
  }

  /** +n (default 1) to a field of one of the day's capped hashes. */
  function capped (
    ops: BatchOps, d: DayBatch, handles: Map<string, Capped>, key: string, field: string, cap: number, bit: number,
    n = 1
  ): void {
    const handle = handles.get(field)
    if (handle !== undefined) {
      handle[2] += n
    } else {
      handles.set(field, ops.hincrcap(key, field, n, cap))
      expire(ops, d, bit, key)
    }
  }

  return function reportCounters (entry: Entry, ops: BatchOps): void {
    const t = entry.t
    if (typeof t !== 'number' || !Number.isFinite(t)) return
    const d = dayBatch(ops, clock.dayOf(t))
    const k = d.keys
    // Counters every entry touches go through handles on the merged ops: no lookup key to build.
    if (d.first === null || d.last === null) {
      d.first = ops.extreme('HMIN', k.totals, 'first', t)
      d.last = ops.extreme('HMAX', k.totals, 'last', t)
      expire(ops, d, E_TOTALS, k.totals)
    } else if (t < d.first[3]) {
      d.first[3] = t
    } else if (t > d.last[3]) {
      d.last[3] = t
    }

    // Distinct users, and users per browser family: a user is added to a day's HyperLogLog once
    // per process (bits already counted), and at most once per batch (bits seen).
    const user = entry.user
    let seen = d.seen.get(user)
    if (seen === undefined) {
      seen = counted.day === d.day ? counted.users.get(user) ?? 0 : 0
      d.seen.set(user, seen)
    }
    let add = 0
    if ((seen & USER_BIT) === 0) {
      ops.pfadd(k.users, user)
      expire(ops, d, E_USERS, k.users)
      add = USER_BIT
    }
    const ua = entry.ua
    if (typeof ua === 'string' && ua !== '') {
      const b = browsers.index(ua)
      if ((seen & (1 << b)) === 0) {
        const key = k.browsers[b] as string
        ops.pfadd(key, user)
        expire(ops, d, 1 << (E_BROWSER + b), key)
        add |= 1 << b
      }
    }
    if (add !== 0) {
      d.seen.set(user, seen | add)
      if (d.added === null) {
        const added = d.added = new Map<string, number>()
        ops.onWritten(() => remember(d, added))
      }
      d.added.set(user, (d.added.get(user) ?? 0) | add)
    }

    if (entry.kind === 'request') {
      total(ops, d, 'requests')
      const route = typeof entry.route === 'string' && entry.route !== '' ? entry.route : UNMATCHED_ROUTE
      capped(ops, d, d.routes, k.routes, route, MAX_ROUTES, E_ROUTES)
    } else if (entry.src === 'client') {
      const sid = entry.sid
      if (typeof sid === 'string' && sid !== '' && !d.sessions.has(sid)) {
        d.sessions.add(sid)
        ops.pfadd(k.sessions, sid)
        expire(ops, d, E_SESSIONS, k.sessions)
      }
      switch (entry.kind) {
        case 'pageview':
          total(ops, d, 'pageview')
          if (typeof entry.path === 'string') capped(ops, d, d.pages, k.pages, pagePath(entry.path), MAX_PAGES, E_PAGES)
          break
        case 'heartbeat':
          total(ops, d, 'heartbeat')
          if (typeof entry.path === 'string') capped(ops, d, d.beats, k.beats, pagePath(entry.path), MAX_PAGES, E_BEATS)
          break
        case 'interaction': {
          total(ops, d, 'interaction')
          const event = entry.event
          const name = typeof event === 'string' && event !== '' ? event.slice(0, MAX_FIELD) : '(none)'
          capped(ops, d, d.interactions, k.interactions, name, MAX_INTERACTION_TYPES, E_INTERACTIONS)
          break
        }
        case 'session_end': {
          total(ops, d, 'session_end')
          const duration = entry.duration
          if (typeof sid === 'string' && sid !== '' && typeof duration === 'number' && duration >= 0) {
            ops.hmaxsum(k.ended, sidDigest(sid), Math.round(Math.min(duration, MAX_SESSION_SECONDS)), MAX_ENDED_TRACKED)
            expire(ops, d, E_ENDED, k.ended)
          }
          const active = measuredActiveMs(entry)
          if (active !== null && typeof entry.path === 'string') {
            const path = pagePath(entry.path)
            capped(ops, d, d.active, k.active, path, MAX_PAGES, E_ACTIVE, active)
            capped(ops, d, d.measured, k.measured, path, MAX_PAGES, E_MEASURED)
            const covered = coveredHeartbeats(active)
            if (covered > 0) capped(ops, d, d.beats, k.beats, path, MAX_PAGES, E_BEATS, -covered)
          }
          break
        }
      }
    }
  }
}
