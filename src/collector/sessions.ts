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
//   <sid>:fields   what the host's describeUser said when the session started: JSON (HSETNX)
//   <sid>:landing  path of its first page view (HSETNX)
//   <sid>:pages    page views (HINCRBY)
//   <sid>:events   events of any kind (HINCRBY)
// A session is ended when its latest event was a session_end (end >= last: a multi-page site
// sends one on every page it leaves, and the next page view reopens it), or after INACTIVITY_MS
// without events (it then ended at `last`). Its duration is (end or last) - start, so it is
// defined for open sessions too and never negative.
//
// The User-Agent is stored once per session, not in every client entry (it was most of an
// entry's bytes): forSession() hides `ua` from the entry's JSON and the readers of the log join
// it back from this hash by sid (withSessionAgents), one HMGET per page of entries.
import type { BatchOps, Contributor } from '../write/batch.js'
import type { PluginContext } from '../context.js'
import type { Entry } from '../types.js'
import type { RedisLike } from '../types.js'
import type { Keys } from '../shared/keys.js'
import { INACTIVITY_MS } from './sid.js'
import { parseStoredEntry } from '../shared/stored.js'
import type { UserFields } from './describe-user.js'

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
  /** describeUser's fields for this session, null when it recorded none. */
  fields: UserFields | null
  landing: string | null
  pages: number
  events: number
}

/** The session a client entry counts towards; null for server entries (and if a transform removed sid or t). */
function sessionOf (entry: Entry): string | null {
  if (entry.src !== 'client') return null
  const sid = entry.sid
  const t = entry.t
  if (typeof sid !== 'string' || sid === '' || typeof t !== 'number' || !Number.isFinite(t)) return null
  return sid
}

/** describeUser's fields waiting to reach their session hash, by entry (they are never part of the entry). */
const pendingFields = new WeakMap<Entry, UserFields>()

/**
 * Readies a client entry for the writer. Its User-Agent goes to the session (HSETNX in the same
 * script call as the log line, so the hash has it whenever the entry is stored): `ua` stays
 * readable on the object, for the contributors, but is made non-enumerable, which JSON.stringify
 * leaves out. `fields` (describeUser's) go to the session the same way, outside the entry.
 */
export function forSession (entry: Entry, fields: UserFields | null): Entry {
  if (sessionOf(entry) === null) return entry
  if ('ua' in entry) Object.defineProperty(entry, 'ua', { enumerable: false })
  if (fields !== null) pendingFields.set(entry, fields)
  return entry
}

export function sessionContributor (ctx: Pick<PluginContext, 'settings' | 'keys'>): Contributor | null {
  const { keys, settings } = ctx
  // Per batch: keys whose EXPIRE is queued, and sessions whose once-only fields are queued.
  let batch: BatchOps | null = null
  let expiring = new Set<string>()
  let once = new Set<string>()

  return function sessions (entry: Entry, ops: BatchOps): void {
    const sid = sessionOf(entry)
    if (sid === null) return
    const t = entry.t
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
    const fields = pendingFields.get(entry)
    if (fields !== undefined && !once.has(id + '\0fields')) {
      once.add(id + '\0fields')
      ops.hsetnx(key, sid + ':fields', JSON.stringify(fields))
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
      fields: parseFields(f.fields),
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

/** A session's stored fields; null when absent or not an object of strings. */
function parseFields (json: string | undefined): UserFields | null {
  if (json === undefined) return null
  let value: unknown
  try { value = JSON.parse(json) } catch { return null }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null
  return Object.values(value).every((v) => typeof v === 'string') ? value as UserFields : null
}

/** Every stored entry with a session id has this in its JSON (so entries without it need no parse). */
const UA_CANDIDATE = '"sid":"'

/**
 * Stored entries (JSON) with `ua` joined back into the client entries that left it to their
 * session: one HMGET of the user's sessions hash for the whole list. An entry whose session no
 * longer has a User-Agent (the hash expired, or the browser sent none) gets `"ua":""`, as an
 * entry of a request without the header always had. Other entries are returned as they were.
 */
export async function withSessionAgents (
  client: RedisLike, keys: Keys, user: string, raw: string[]
): Promise<string[]> {
  const missing: Array<{ index: number, sid: string }> = []
  raw.forEach((json, index) => {
    if (!json.includes(UA_CANDIDATE)) return
    const entry = parseStoredEntry(json)
    if (entry === null || entry.ua !== undefined) return
    const sid = sessionOf(entry)
    if (sid !== null) missing.push({ index, sid })
  })
  if (missing.length === 0) return raw
  const sids = [...new Set(missing.map((m) => m.sid))]
  const agents = await client.hmget(keys.sessions(user), ...sids.map((sid) => sid + ':ua'))
  const agentOf = new Map(sids.map((sid, i) => [sid, agents[i] ?? '']))
  const out = raw.slice()
  for (const { index, sid } of missing) {
    const json = out[index] as string
    out[index] = json.slice(0, json.lastIndexOf('}')) + ',"ua":' + JSON.stringify(agentOf.get(sid) ?? '') + '}'
  }
  return out
}
