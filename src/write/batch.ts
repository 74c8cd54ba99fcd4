// Turns a list of entries into the KEYS and ARGV of one WRITE_SCRIPT call (or, on a cluster, of
// one SLOT_WRITE_SCRIPT call per hash slot). No I/O, so it is easy to test and the writer stays
// small; what it reads of the writer's memory (memory.ts) is only committed once the batch is written.
import calculateSlot from 'cluster-key-slot'
import type { Cluster } from 'ioredis'
import { ALL_SHARDS, type Keys } from '../shared/keys.js'
import type { Entry } from '../types.js'
import { UserMemory, type Due } from './memory.js'

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
  private readonly ops: Op[] = []
  private readonly hlls = new Map<string, Set<string>>()
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

  /** Adds to a HyperLogLog: one PFADD per key and batch, with every element of the batch. */
  pfadd (key: string, element: string): void {
    let set = this.hlls.get(key)
    if (set === undefined) this.hlls.set(key, set = new Set())
    set.add(element)
  }

  expire (key: string, seconds: number): void { this.ops.push(['EXPIRE', key, String(seconds), '']) }
  hset (key: string, field: string, value: string): void { this.ops.push(['HSET', key, field, value]) }
  hsetnx (key: string, field: string, value: string): void { this.ops.push(['HSETNX', key, field, value]) }
  /** Sets field to value unless it already holds a larger number. */
  hmax (key: string, field: string, value: number): void { this.ops.push(['HMAX', key, field, String(value)]) }

  get size (): number {
    return this.ops.length + this.hlls.size + this.increments.size + this.capped.size + this.extremes.size +
      this.maxSums.size
  }

  /** Appends the ops to ARGV, numbering their keys from `firstKey` (1-based KEYS index). */
  encode (firstKey: number, argv: string[]): void {
    for (const [op, key, ...args] of this.list()) {
      let index = this.keyIndex.get(key)
      if (index === undefined) {
        index = firstKey + this.keys.length
        this.keys.push(key)
        this.keyIndex.set(key, index)
      }
      argv.push(op, String(index), ...args)
    }
  }

  /**
   * Every op in the order the script must apply them: `[op, key, ...args]`, where args are two
   * strings, or for PFADD the number of elements and the elements.
   */
  list (): Op[] {
    const all: Op[] = []
    for (const [key, field, n] of this.increments.values()) all.push(['HINCRBY', key, field, String(n)])
    for (const [key, field, n, cap] of this.capped.values()) all.push(['HINCRCAP', key, field, `${n},${cap}`])
    for (const [op, key, field, value] of this.extremes.values()) all.push([op, key, field, String(value)])
    for (const [key, field, value, cap] of this.maxSums.values()) all.push(['HMAXSUM', key, field, `${value},${cap}`])
    for (const [key, elements] of this.hlls) all.push(['PFADD', key, String(elements.size), ...elements])
    // Merged ops first: an EXPIRE recorded for a counter key must come after the key exists.
    all.push(...this.ops)
    return all
  }
}

/** One op of a batch: its name, its key, then its arguments. */
export type Op = [OpName, string, ...string[]]

/** Adds counters or session updates for one entry of a batch. */
export type Contributor = (entry: Entry, ops: BatchOps) => void

export interface ScriptCall {
  keys: string[]
  argv: string[]
  /** Entries in the batch (the ones that will be logged). */
  entries: number
  /** Each user's share: handed back to the memory once the batch is written. */
  shares: Due[]
}

export interface BatchSettings {
  keys: Keys
  maxEntries: number
  ttl: number
  indexCap: number
  /** false: never publish (the leases are not even read). */
  publish: boolean
}

/**
 * How often a log's expiry is refreshed: a tenth of the TTL, at most a minute (0: every batch).
 * The script sets `ttl` plus this, so a log lives between ttl and ttl + this after its last entry.
 */
export function expireEveryS (ttl: number): number {
  return Math.min(60, Math.floor(ttl / 10))
}

/** The EXPIRE the scripts set on a log: `ttl` plus the refresh interval (see expireEveryS). */
function expireSeconds (s: BatchSettings): string {
  return String(s.ttl + expireEveryS(s.ttl))
}

/**
 * The lease key the script reads for a channel; without publishing, a key in the same slot that
 * nobody sets, so the script never publishes.
 */
function leaseKey (s: BatchSettings, lease: string): string {
  return s.publish ? lease : lease + ':nolease'
}

/** A memory for one batch, for callers without a writer (tests, benchmarks): everything is due. */
export function freshMemory (s: BatchSettings): UserMemory {
  return new UserMemory(s.keys, expireEveryS(s.ttl) * 1000)
}

interface UserGroup { json: string[], lastPath: string }

/** Serialises a batch's entries grouped by user (keeping each user's last page) and collects the contributors' ops. */
function groupByUser (
  entries: Entry[], contributors: Contributor[]
): { byUser: Map<string, UserGroup>, ops: BatchOps } {
  const byUser = new Map<string, UserGroup>()
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

/** Builds the script call of one batch. */
export function buildScriptCall (writerId: string, seq: number, entries: Entry[], s: BatchSettings,
  contributors: Contributor[], now: number, prune = true, memory = freshMemory(s)): ScriptCall {
  const { byUser, ops } = groupByUser(entries, contributors)
  const k = s.keys
  const keys = [k.writerMarker(writerId), k.usersIndex, k.namesIndex, k.lastPath]
  const argv = [String(s.maxEntries), expireSeconds(s), String(now), String(s.indexCap),
    String(byUser.size), k.allChannel, String(ops.size), String(seq), prune ? '1' : '0', '']
  const shares: Due[] = []
  const leases: string[] = []
  const paths: string[] = []
  for (const [user, group] of byUser) {
    const share = memory.due(user, now, group.lastPath)
    shares.push(share)
    keys.push(share.memo.logKey)
    leases.push(leaseKey(s, share.memo.leaseKey))
    argv.push(user, String(share.due), String(group.json.length))
    for (const json of group.json) argv.push(json)
    if (share.lastPath !== null) paths.push(user, share.lastPath)
  }
  for (const lease of leases) keys.push(lease)
  keys.push(leaseKey(s, k.allWatchLease))
  argv[9] = String(paths.length / 2)
  for (const p of paths) argv.push(p)
  ops.encode(keys.length + 1, argv)
  keys.push(...ops.keys)
  return { keys, argv, entries: entries.length, shares }
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
  shares: Due[]
}

/**
 * Slot → a short hash tag in that slot (`*w.<n>`: '*' is never in an encoded user name, so no user's
 * SCAN pattern matches it).
 */
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
  users: number
  ops: string[]
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
export function buildSlotCalls (writerId: string, seq: number, entries: Entry[], s: BatchSettings,
  contributors: Contributor[], now: number, prune = true, memory = freshMemory(s)): SlotCalls {
  const { byUser, ops } = groupByUser(entries, contributors)
  const k = s.keys
  const groups = new Map<number, SlotGroup>()
  const groupOf = (slot: number): SlotGroup => {
    let g = groups.get(slot)
    if (g === undefined) {
      const marker = `${k.prefix}:{${markerTag(slot)}}:writer:${writerId}`
      g = { keys: [marker], keyIndex: new Map(), logs: [], users: 0, ops: [], opCount: 0, live: [] }
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
  const idxSlot = calculateSlot(k.usersIndex)
  const idx = byUser.size > 0 ? groupOf(idxSlot) : null
  if (idx !== null) for (const key of [k.usersIndex, k.namesIndex, k.lastPath]) keyIn(idx, key)
  const shares: Due[] = []
  const records: string[] = []
  const paths: string[] = []
  for (const [user, group] of byUser) {
    const share = memory.due(user, now, group.lastPath)
    shares.push(share)
    const g = groupOf(memory.slotOf(share.memo))
    g.users++
    const lease = keyIn(g, leaseKey(s, share.memo.leaseKey))
    g.logs.push(keyIn(g, share.memo.logKey), lease, user, String(share.due), String(group.json.length))
    for (const json of group.json) g.logs.push(json)
    if (s.publish) for (const json of group.json) g.live.push(json)
    records.push(user, String(share.due))
    if (share.lastPath !== null) paths.push(user, share.lastPath)
  }
  for (const [op, key, ...args] of ops.list()) {
    const g = groupOf(calculateSlot(key))
    g.opCount++
    g.ops.push(op, keyIn(g, key), ...args)
  }
  const calls: SlotCall[] = []
  for (const [slot, g] of groups) {
    const holdsIndex = g === idx
    const argv = [String(seq), String(s.maxEntries), expireSeconds(s), String(now),
      String(s.indexCap), prune ? '1' : '0', String(g.users), holdsIndex ? '1' : '0', String(g.opCount),
      holdsIndex ? String(paths.length / 2) : '0']
    for (const x of g.logs) argv.push(x)
    if (holdsIndex) {
      argv.push(String(records.length / 2))
      for (const x of records) argv.push(x)
      for (const x of paths) argv.push(x)
    }
    for (const x of g.ops) argv.push(x)
    calls.push({ slot, keys: g.keys, argv, shard: slot % ALL_SHARDS, live: g.live })
  }
  return { calls, entries: entries.length, shares }
}

/** The indices of a batch's slot calls not done yet, grouped by the master that owns their slot (unknown: alone). */
export function groupByNode (cluster: Cluster, calls: SlotCall[], done: boolean[]): number[][] {
  const byNode = new Map<string, number[]>()
  const alone: number[][] = []
  calls.forEach((call, i) => {
    if (done[i] === true) return
    const node = cluster.slots[call.slot]?.[0]
    if (node === undefined) { alone.push([i]); return }
    const group = byNode.get(node)
    if (group === undefined) byNode.set(node, [i])
    else group.push(i)
  })
  return [...byNode.values(), ...alone]
}

/** One NODE_WRITE_SCRIPT call made of these slot calls' sections (script.ts says why keys go in ARGV). */
export function nodeCall (calls: SlotCall[], group: number[]): { keys: string[], argv: string[] } {
  const argv: string[] = [String(group.length)]
  for (const i of group) {
    const call = calls[i] as SlotCall
    argv.push(String(call.keys.length), String(call.argv.length))
  }
  for (const i of group) {
    const call = calls[i] as SlotCall
    for (const k of call.keys) argv.push(k)
    for (const a of call.argv) argv.push(a)
  }
  return { keys: [(calls[group[0] as number] as SlotCall).keys[0] as string], argv }
}

/** A call met a slot its node does not serve (the slot map moved): resend its sections per slot. */
export function isSlotMapError (err: unknown): boolean {
  return err instanceof Error &&
    /^(MOVED|ASK|CROSSSLOT|TRYAGAIN)|Too many Cluster redirections|non local key|hash to the same slot/.test(err.message)
}
