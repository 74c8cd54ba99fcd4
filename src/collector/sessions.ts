// Browser sessions, maintained by the write batches: the contributor below adds a few ops per
// client entry to the same script call that writes the logs, so a session costs no extra round
// trip. Nothing here ever deletes: a session ends, it is not removed (only the TTL or an erasure
// removes it).
//
// Key `P:{u}:sessions` (hash, TTL = ttl, refreshed on every write), fields per session id:
//   <sid>:start    ms of the session's first event (HMIN)
//   <sid>:last     ms of its latest event of any kind, heartbeats included (HMAX)
//   <sid>:end      ms of its latest session_end (HMAX)
//   <sid>:ua       User-Agent, recorded once (HSETNX)
//   <sid>:landing  path of its first page view (HSETNX)
//   <sid>:pages    page views (HINCRBY)
//   <sid>:events   events of any kind (HINCRBY)
// A session is ended when its latest event was a session_end (end >= last: a multi-page site
// sends one on every page it leaves, and the next page view reopens it), or after INACTIVITY_MS
// without events (it then ended at `last`). Its duration is (end or last) - start, so it is
// defined for open sessions too and never negative.
import type { BatchOps, Contributor } from '../write/batch.js'
import type { PluginContext } from '../context.js'
import type { Entry } from '../types.js'
import type { RedisLike } from '../types.js'
import type { Keys } from '../shared/keys.js'
import { INACTIVITY_MS } from './sid.js'

export interface SessionSummary {
  sid: string
  start: number
  last: number
  end: number | null
  /** null while open; 'session_end' when the browser said so; 'inactivity' after INACTIVITY_MS without events */
  endedBy: 'session_end' | 'inactivity' | null
  /** Seconds from start to end (or to the last event while open). */
  duration: number
  ua: string | null
  landing: string | null
  pages: number
  events: number
}

export function sessionContributor (ctx: Pick<PluginContext, 'settings' | 'keys'>): Contributor | null {
  const { keys, settings } = ctx
  // Per batch: keys whose EXPIRE is queued, and sessions whose once-only fields are queued.
  let batch: BatchOps | null = null
  let expiring = new Set<string>()
  let once = new Set<string>()

  return function sessions (entry: Entry, ops: BatchOps): void {
    if (entry.src !== 'client') return
    const sid = entry.sid
    const t = entry.t
    if (typeof sid !== 'string' || sid === '' || typeof t !== 'number' || !Number.isFinite(t)) return
    if (ops !== batch) {
      batch = ops
      expiring = new Set()
      once = new Set()
    }
    const key = keys.sessions(entry.user)
    ops.extreme('HMIN', key, sid + ':start', t)
    ops.extreme('HMAX', key, sid + ':last', t)
    ops.hincrby(key, sid + ':events', 1)
    if (entry.kind === 'session_end') ops.extreme('HMAX', key, sid + ':end', t)
    const id = key + '\0' + sid
    if (!once.has(id)) {
      once.add(id)
      if (typeof entry.ua === 'string' && entry.ua !== '') ops.hsetnx(key, sid + ':ua', entry.ua)
    }
    if (entry.kind === 'pageview') {
      ops.hincrby(key, sid + ':pages', 1)
      if (typeof entry.path === 'string' && !once.has(id + '\0landing')) {
        once.add(id + '\0landing')
        ops.hsetnx(key, sid + ':landing', entry.path)
      }
    }
    // Merged ops (HMIN, HMAX, HINCRBY) run before queued ones, so the key exists by now.
    if (!expiring.has(key)) {
      expiring.add(key)
      ops.expire(key, settings.ttl)
    }
  }
}

/** Groups a sessions hash (as HGETALL returns it) into summaries, newest first. */
export function summarize (hash: Record<string, string>, now: number): SessionSummary[] {
  const byId = new Map<string, Record<string, string>>()
  for (const [field, value] of Object.entries(hash)) {
    const colon = field.lastIndexOf(':')
    if (colon <= 0) continue
    const sid = field.slice(0, colon)
    let fields = byId.get(sid)
    if (fields === undefined) {
      fields = {}
      byId.set(sid, fields)
    }
    fields[field.slice(colon + 1)] = value
  }
  const out: SessionSummary[] = []
  for (const [sid, f] of byId) {
    const start = Number(f.start)
    const last = Number(f.last ?? f.start)
    if (!Number.isFinite(start) || !Number.isFinite(last)) continue
    const endField = f.end === undefined ? NaN : Number(f.end)
    let end: number | null = null
    let endedBy: SessionSummary['endedBy'] = null
    if (Number.isFinite(endField) && endField >= last) {
      end = endField
      endedBy = 'session_end'
    } else if (now - last > INACTIVITY_MS) {
      end = last
      endedBy = 'inactivity'
    }
    out.push({
      sid,
      start,
      last,
      end,
      endedBy,
      duration: Math.max(0, Math.round(((end ?? last) - start) / 1000)),
      ua: f.ua ?? null,
      landing: f.landing ?? null,
      pages: Number(f.pages ?? 0) || 0,
      events: Number(f.events ?? 0) || 0
    })
  }
  out.sort((a, b) => b.start - a.start)
  return out
}

/** The user's sessions, newest first. */
export async function readSessions (
  client: RedisLike, keys: Keys, user: string, limit: number, now = Date.now()
): Promise<SessionSummary[]> {
  const hash = await client.hgetall(keys.sessions(user))
  return summarize(hash, now).slice(0, limit)
}
