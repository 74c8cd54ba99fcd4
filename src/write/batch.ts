// Turns a list of entries into the KEYS and ARGV of one WRITE_SCRIPT call. Pure: no I/O, so it
// is easy to test and the writer stays small.
import calculateSlot from 'cluster-key-slot'
import { ALL_SHARDS, namesMember, type Keys } from '../shared/keys.js'
import type { Entry } from '../types.js'

export type OpName = 'HINCRBY' | 'PFADD' | 'EXPIRE' | 'HSET' | 'HSETNX' | 'HMAX' | 'HMIN' | 'HINCRCAP' | 'HMAXSUM'

/**
 * Counter and session updates that ride along with a batch. Increments of the same key and
 * field are summed here, so a thousand page views of one path cost Redis one HINCRBY.
 *
 * The merging methods return the merged op: a caller that keeps it may add to its count
 * (`[2]`) or move its value (`[3]` of extreme) later in the same batch, which is the same as
 * calling again without building the lookup key (a hot path for counters hit by every entry).
 */
export class BatchOps {
  readonly keys: string[] = []
  private readonly keyIndex = new Map<string, number>()
  private readonly ops: Array<[OpName, string, string, string]> = []
  private readonly increments = new Map<string, [string, string, number]>()
  private readonly capped = new Map<string, [string, string, number, number]>()
  private readonly extremes = new Map<string, ['HMAX' | 'HMIN', string, string, number]>()
  private readonly maxSums = new Map<string, [string, string, number, number]>()

  hincrby (key: string, field: string, n: number): [string, string, number] {
    const id = key + '\0' + field
    let cur = this.increments.get(id)
    if (cur === undefined) this.increments.set(id, cur = [key, field, n])
    else cur[2] += n
    return cur
  }

  /**
   * Like hincrby, but a field the hash does not have yet is only added while the hash has fewer
   * than `cap` fields besides "other"; past that, the count goes to the field "other". Summed per
   * batch; new fields are offered in the order they were first seen.
   */
  hincrcap (key: string, field: string, n: number, cap: number): [string, string, number, number] {
    const id = key + '\0' + field
    let cur = this.capped.get(id)
    if (cur === undefined) this.capped.set(id, cur = [key, field, n, cap])
    else cur[2] += n
    return cur
  }

  /** HMAX (or HMIN) merged per batch: one op per key and field, with the batch's largest (smallest) value. */
  extreme (op: 'HMAX' | 'HMIN', key: string, field: string, value: number): ['HMAX' | 'HMIN', string, string, number] {
    const id = op + key + '\0' + field
    let cur = this.extremes.get(id)
    if (cur === undefined) this.extremes.set(id, cur = [op, key, field, value])
    else if (op === 'HMAX' ? value > cur[3] : value < cur[3]) cur[3] = value
    return cur
  }

  /**
   * Keeps the largest value reported per field and their sum: the hash's field "#n" counts
   * the distinct fields seen and "#s" sums their maxima (a field reported again with a larger
   * value adds the difference). At most `cap` fields are remembered besides "#n" and "#s"; past
   * that, each report counts as a new field. Integers; merged per batch (the largest value).
   */
  hmaxsum (key: string, field: string, value: number, cap: number): void {
    const id = key + '\0' + field
    const cur = this.maxSums.get(id)
    if (cur === undefined) this.maxSums.set(id, [key, field, value, cap])
    else if (value > cur[2]) cur[2] = value
  }

  pfadd (key: string, element: string): void { this.ops.push(['PFADD', key, element, '']) }
  expire (key: string, seconds: number): void { this.ops.push(['EXPIRE', key, String(seconds), '']) }
  hset (key: string, field: string, value: string): void { this.ops.push(['HSET', key, field, value]) }
  hsetnx (key: string, field: string, value: string): void { this.ops.push(['HSETNX', key, field, value]) }
  /** Sets field to value unless it already holds a larger number. */
  hmax (key: string, field: string, value: number): void { this.ops.push(['HMAX', key, field, String(value)]) }

  get size (): number { return this.ops.length + this.increments.size + this.capped.size + this.extremes.size + this.maxSums.size }

  /** Appends the ops to ARGV, numbering their keys from `firstKey` (1-based KEYS index). */
  encode (firstKey: number, argv: string[]): void {
    for (const [op, key, x, y] of this.list()) {
      let index = this.keyIndex.get(key)
      if (index === undefined) {
        index = firstKey + this.keys.length
        this.keys.push(key)
        this.keyIndex.set(key, index)
      }
      argv.push(op, String(index), x, y)
    }
  }

  /** Every op in the order the script must apply them: `[op, key, arg1, arg2]`. */
  list (): Array<[OpName, string, string, string]> {
    const all: Array<[OpName, string, string, string]> = []
    for (const [key, field, n] of this.increments.values()) all.push(['HINCRBY', key, field, String(n)])
    for (const [key, field, n, cap] of this.capped.values()) all.push(['HINCRCAP', key, field, `${n},${cap}`])
    for (const [op, key, field, value] of this.extremes.values()) all.push([op, key, field, String(value)])
    for (const [key, field, value, cap] of this.maxSums.values()) all.push(['HMAXSUM', key, field, `${value},${cap}`])
    // Merged ops first: an EXPIRE recorded for a counter key must come after the key exists.
    all.push(...this.ops)
    return all
  }
}

/** Adds counters or session updates for one entry of a batch. */
export type Contributor = (entry: Entry, ops: BatchOps) => void

export interface ScriptCall {
  keys: string[]
  argv: string[]
  /** Entries in the batch (the ones that will be logged). */
  entries: number
}

export interface BatchSettings {
  keys: Keys
  maxEntries: number
  ttl: number
  indexCap: number
  publish: boolean
}

/** Serialises a batch's entries grouped by user (keeping each user's last page) and collects the contributors' ops. */
function groupByUser (entries: Entry[], contributors: Contributor[]): { byUser: Map<string, { json: string[], lastPath: string }>, ops: BatchOps } {
  const byUser = new Map<string, { json: string[], lastPath: string }>()
  const ops = new BatchOps()
  for (const entry of entries) {
    let group = byUser.get(entry.user)
    if (group === undefined) {
      group = { json: [], lastPath: '' }
      byUser.set(entry.user, group)
    }
    group.json.push(JSON.stringify(entry))
    if (typeof entry.path === 'string' && entry.kind !== 'heartbeat') group.lastPath = entry.path
    for (const contribute of contributors) contribute(entry, ops)
  }
  return { byUser, ops }
}

/** Builds the script call of one batch. `serialized[i]` is JSON.stringify(entries[i]). */
export function buildScriptCall (writerId: string, seq: number, entries: Entry[], s: BatchSettings, contributors: Contributor[], now: number, prune = true): ScriptCall {
  const { byUser, ops } = groupByUser(entries, contributors)
  const k = s.keys
  const keys = [k.writerMarker(writerId), k.usersIndex, k.namesIndex, k.lastPath]
  const argv = [String(s.maxEntries), String(s.ttl), String(now), String(s.indexCap), String(byUser.size),
    s.publish ? k.allChannel : '', String(ops.size), String(seq), prune ? '1' : '0']
  for (const [user, group] of byUser) {
    keys.push(k.log(user))
    argv.push(user, namesMember(user), s.publish ? k.userChannel(user) : '', group.lastPath, String(group.json.length))
    for (const json of group.json) argv.push(json)
  }
  ops.encode(keys.length + 1, argv)
  keys.push(...ops.keys)
  return { keys, argv, entries: entries.length }
}

/** One hash slot's share of a batch on a Redis Cluster: a SLOT_WRITE_SCRIPT call. */
export interface SlotCall {
  slot: number
  keys: string[]
  argv: string[]
  /** The all-users shard (`slot % ALL_SHARDS`) and the JSON entries this call adds to it, oldest first per user. */
  shard: number
  live: string[]
}

/** The calls of one batch on a cluster: one per hash slot touched. */
export interface SlotCalls {
  calls: SlotCall[]
  entries: number
}

/** Slot → a short hash tag in that slot (`*w.<n>`: '*' is never in an encoded user name, so no user's SCAN pattern matches it). */
let markerTags: string[] | null = null

/** A hash tag that hashes to `slot`, for the writer marker kept in that slot. */
export function markerTag (slot: number): string {
  if (markerTags === null) {
    const tags = new Array<string>(16384)
    let left = 16384
    for (let n = 0; left > 0; n++) {
      const tag = `*w.${n.toString(36)}`
      const s = calculateSlot(tag)
      if (tags[s] === undefined) {
        tags[s] = tag
        left--
      }
    }
    markerTags = tags
  }
  return markerTags[slot] as string
}

interface SlotGroup {
  keys: string[]
  keyIndex: Map<string, number>
  logs: string[]
  index: string[]
  ops: string[]
  users: number
  indexed: number
  opCount: number
  live: string[]
}

/**
 * Builds the calls of one batch on a Redis Cluster, one per hash slot its keys fall in (a script
 * may only touch one slot): each user's log in the user's slot (with the SPUBLISH of the user's
 * channel), the indexes in `{idx}`'s, counters in `{stats}`'s, sessions in their user's. Each call
 * carries its own writer marker in its slot. The same writer id and sequence number as a single
 * node call; the all-users stream is published by the caller, per shard, after the calls succeed.
 */
export function buildSlotCalls (writerId: string, seq: number, entries: Entry[], s: BatchSettings, contributors: Contributor[], now: number, prune = true): SlotCalls {
  const { byUser, ops } = groupByUser(entries, contributors)
  const k = s.keys
  const groups = new Map<number, SlotGroup>()
  const groupOf = (slot: number): SlotGroup => {
    let g = groups.get(slot)
    if (g === undefined) {
      g = { keys: [`${k.prefix}:{${markerTag(slot)}}:writer:${writerId}`], keyIndex: new Map(), logs: [], index: [], ops: [], users: 0, indexed: 0, opCount: 0, live: [] }
      groups.set(slot, g)
    }
    return g
  }
  const keyIn = (g: SlotGroup, key: string): string => {
    let index = g.keyIndex.get(key)
    if (index === undefined) {
      g.keys.push(key)
      index = g.keys.length
      g.keyIndex.set(key, index)
    }
    return String(index)
  }
  // The index keys come first in their slot's call (KEYS[2..4]), as the script expects.
  const idx = byUser.size > 0 ? groupOf(calculateSlot(k.usersIndex)) : null
  if (idx !== null) for (const key of [k.usersIndex, k.namesIndex, k.lastPath]) keyIn(idx, key)
  for (const [user, group] of byUser) {
    const log = k.log(user)
    const g = groupOf(calculateSlot(log))
    g.users++
    g.logs.push(keyIn(g, log), s.publish ? k.userChannel(user) : '', String(group.json.length), ...group.json)
    if (s.publish) g.live.push(...group.json)
    ;(idx as SlotGroup).indexed++
    ;(idx as SlotGroup).index.push(user, namesMember(user), group.lastPath)
  }
  for (const [op, key, x, y] of ops.list()) {
    const g = groupOf(calculateSlot(key))
    g.opCount++
    g.ops.push(op, keyIn(g, key), x, y)
  }
  const calls: SlotCall[] = []
  for (const [slot, g] of groups) {
    const argv = [String(seq), String(s.maxEntries), String(s.ttl), String(now), String(s.indexCap), prune ? '1' : '0',
      String(g.users), String(g.indexed), String(g.opCount), ...g.logs, ...g.index, ...g.ops]
    calls.push({ slot, keys: g.keys, argv, shard: slot % ALL_SHARDS, live: g.live })
  }
  return { calls, entries: entries.length }
}
