// Entries as the realtime side sees them: parsed from a live message or a log list, checked only
// for what de-duplication needs (an object with a string id), and otherwise passed on untouched.
// Every other field is untrusted text that only the viewer displays.

/** A log entry: an object with a unique `id`; every other field is untrusted. */
export interface LiveEntry {
  id: string
  [field: string]: unknown
}

const MAX_ID_LENGTH = 200

export function isLiveEntry (v: unknown): v is LiveEntry {
  return typeof v === 'object' && v !== null && !Array.isArray(v) &&
    typeof (v as { id?: unknown }).id === 'string' && (v as { id: string }).id.length <= MAX_ID_LENGTH
}

export interface ParsedMessage {
  entries: LiveEntry[]
  /** True when every element of the payload was a usable entry, so the payload can be relayed as is. */
  clean: boolean
}

/** Parses a live message: a JSON array of entries (a single entry object is accepted too). */
export function parseMessage (payload: string): ParsedMessage {
  let parsed: unknown
  try { parsed = JSON.parse(payload) } catch { return { entries: [], clean: false } }
  if (!Array.isArray(parsed)) {
    return isLiveEntry(parsed) ? { entries: [parsed], clean: false } : { entries: [], clean: false }
  }
  const entries = parsed.filter(isLiveEntry)
  return { entries, clean: entries.length === parsed.length }
}

/** Parses a log list as LRANGE returns it (newest first) into entries oldest first; unusable items are skipped. */
export function parseList (items: string[]): LiveEntry[] {
  const out: LiveEntry[] = []
  for (let i = items.length - 1; i >= 0; i--) {
    try {
      const v: unknown = JSON.parse(items[i] as string)
      if (isLiveEntry(v)) out.push(v)
    } catch {
      // not JSON: skipped, like any item the viewer could not use
    }
  }
  return out
}

/**
 * Joins a log snapshot with the live entries that arrived while it was being read.
 *
 * `list` is the log read after the subscription was confirmed (oldest first); `pending` holds the
 * live entries received from the moment the viewer joined, in publication order. The writer pushes
 * and publishes in one atomic script, so list order is publication order and:
 * - a pending entry that is in the list was published before the read: not sent twice;
 * - a pending entry that is not in the list but comes before one that is was trimmed from the list
 *   by the cap (it is older than everything still listed): it goes first, so nothing is lost;
 * - pending entries after the last listed one were published after the read: they follow.
 */
export function mergeSnapshot (list: LiveEntry[], pending: LiveEntry[]): { backlog: LiveEntry[], live: LiveEntry[] } {
  const listed = new Set<string>()
  for (const e of list) listed.add(e.id)
  let last = -1
  for (let i = pending.length - 1; i >= 0; i--) {
    if (listed.has((pending[i] as LiveEntry).id)) { last = i; break }
  }
  const seen = new Set<string>(listed)
  const older: LiveEntry[] = []
  const live: LiveEntry[] = []
  for (let i = 0; i < pending.length; i++) {
    const e = pending[i] as LiveEntry
    if (seen.has(e.id)) continue
    seen.add(e.id)
    if (i < last) older.push(e)
    else live.push(e)
  }
  const backlog = older.length === 0 ? dedupe(list) : dedupe([...older, ...list])
  return { backlog, live }
}

function dedupe (entries: LiveEntry[]): LiveEntry[] {
  const ids = new Set<string>()
  const out: LiveEntry[] = []
  for (const e of entries) {
    if (ids.has(e.id)) continue
    ids.add(e.id)
    out.push(e)
  }
  return out.length === entries.length ? entries : out
}

/**
 * After a resync, what a viewer has not had yet: `entries` (oldest first) after the last one it
 * already had, minus any it had. Entries before the last one it had are older than what it saw
 * (or were skipped on purpose while it was too slow), so they are not sent again.
 */
export function unseen (entries: LiveEntry[], seen: RecentIds): LiveEntry[] {
  let last = -1
  for (let i = entries.length - 1; i >= 0; i--) {
    if (seen.has((entries[i] as LiveEntry).id)) { last = i; break }
  }
  const out: LiveEntry[] = []
  for (let i = last + 1; i < entries.length; i++) {
    const e = entries[i] as LiveEntry
    if (!seen.has(e.id)) out.push(e)
  }
  return out
}

/** The ids of the last `capacity` entries a viewer was given (a ring plus a set). */
export class RecentIds {
  private readonly ring: Array<string | undefined>
  private readonly set = new Set<string>()
  private next = 0

  constructor (readonly capacity: number) {
    this.ring = new Array<string | undefined>(capacity)
  }

  has (id: string): boolean { return this.set.has(id) }

  get size (): number { return this.set.size }

  add (id: string): void {
    if (this.set.has(id)) return
    const old = this.ring[this.next]
    if (old !== undefined) this.set.delete(old)
    this.ring[this.next] = id
    this.set.add(id)
    this.next = (this.next + 1) % this.capacity
  }

  hasAny (entries: LiveEntry[]): boolean {
    for (const e of entries) if (this.set.has(e.id)) return true
    return false
  }

  addAll (entries: LiveEntry[]): void {
    for (const e of entries) this.add(e.id)
  }
}
