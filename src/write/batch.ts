// Turns a list of entries into the KEYS and ARGV of one WRITE_SCRIPT call (or, on a cluster, of
// one SLOT_WRITE_SCRIPT call per hash slot). No I/O, so it is easy to test and the writer stays
// small; what it reads of the writer's memory (memory.ts) is only committed once the batch is written.
import calculateSlot from 'cluster-key-slot'
import type { Cluster } from 'ioredis'
import { ALL_SHARDS, type Keys } from '../shared/keys.js'
import type { Entry } from '../types.js'
import { DUE_PATH, UserMemory, type UserMemo } from './memory.js'
import { entryJson, jsonSize } from './entry-json.js'
import { ScriptArgs } from './resp.js'

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
  private readonly whenWritten: Array<() => void> = []

  /** Runs `fn` once the batch is written (a contributor remembering what Redis now has). */
  onWritten (fn: () => void): void { this.whenWritten.push(fn) }

  /** The writer's call: the batch these ops belong to is written. */
  written (): void {
    for (const fn of this.whenWritten) fn()
    this.whenWritten.length = 0
  }

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
  encode (firstKey: number, argv: ScriptArgs): void {
    this.forEach((op, key, a, b, elements) => {
      let index = this.keyIndex.get(key)
      if (index === undefined) {
        index = firstKey + this.keys.length
        this.keys.push(key)
        this.keyIndex.set(key, index)
      }
      addOp(argv, op, String(index), a, b, elements)
    })
  }

  /**
   * Every op in the order the script must apply them: its name, its key, then two arguments
   * (`a` a field or a number, `b` a value), or for PFADD the elements.
   */
  forEach (visit: (op: OpName, key: string, a: string, b: string, elements: Set<string> | null) => void): void {
    for (const [key, field, n] of this.increments.values()) visit('HINCRBY', key, field, String(n), null)
    for (const [key, field, n, cap] of this.capped.values()) visit('HINCRCAP', key, field, `${n},${cap}`, null)
    for (const [op, key, field, value] of this.extremes.values()) visit(op, key, field, String(value), null)
    for (const [key, field, value, cap] of this.maxSums.values()) visit('HMAXSUM', key, field, `${value},${cap}`, null)
    for (const [key, elements] of this.hlls) visit('PFADD', key, '', '', elements)
    // Merged ops first: an EXPIRE recorded for a counter key must come after the key exists.
    for (const [op, key, a, b] of this.ops) visit(op, key, a, b, null)
  }
}

/** One queued op of a batch: its name, its key, then its two arguments. */
type Op = [OpName, string, string, string]

/** Adds counters or session updates for one entry of a batch. */
export type Contributor = (entry: Entry, ops: BatchOps) => void

/**
 * One op in ARGV: its name and key index, then its two arguments (a field may be any text: a
 * path, a name), or for PFADD the number of elements and the elements.
 */
function addOp (
  argv: ScriptArgs, op: OpName, keyIndex: string, a: string, b: string, elements: Set<string> | null
): void {
  argv.ascii(op)
  argv.ascii(keyIndex)
  if (elements !== null) {
    argv.ascii(String(elements.size))
    for (const element of elements) argv.text(element)
    return
  }
  argv.text(a)
  argv.text(b)
}

export interface ScriptCall {
  keys: ScriptArgs
  argv: ScriptArgs
  /** Entries in the batch (the ones that will be logged). */
  entries: number
  /** The batch's users: handed back to the memory once the batch is written. */
  users: UserMemo[]
  /** The batch's counter and session ops: told when the batch is written. */
  ops: BatchOps
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

/** The prefix the script reads watch leases under; '' when it must never publish (nor read leases). */
function leasePrefix (s: BatchSettings): string {
  return s.publish ? s.keys.prefix : ''
}

/** A memory for one batch, for callers without a writer (tests, benchmarks): everything is due. */
export function freshMemory (s: BatchSettings): UserMemory {
  return new UserMemory(s.keys, expireEveryS(s.ttl) * 1000)
}

let batchNumber = 0

/** A batch's entries as JSON (with sizes in bytes), and their order grouped by user. */
interface Grouped {
  /** The batch's users, in the order they first appear. */
  users: UserMemo[]
  ops: BatchOps
  json: string[]
  sizes: number[]
  /** Entry indices, user by user: a user's entries are `order[memo.at .. memo.at + memo.count)`, oldest first. */
  order: Int32Array
}

/**
 * Serialises a batch's entries (entry-json.ts), groups them by user in the order users first
 * appear (keeping each user's last page), and collects the contributors' ops. What the batch
 * holds of a user is kept on the user's memo and the grouping is a counting sort over one array,
 * so a batch allocates per entry and per batch, not per user.
 */
function groupByUser (entries: Entry[], contributors: Contributor[], memory: UserMemory): Grouped {
  const batch = ++batchNumber
  const n = entries.length
  const users: UserMemo[] = []
  const ops = new BatchOps()
  const json = new Array<string>(n)
  const sizes = new Array<number>(n)
  const userOf = new Array<UserMemo>(n)
  let memo: UserMemo | null = null
  for (let i = 0; i < n; i++) {
    const entry = entries[i] as Entry
    // Consecutive entries of one user (a busy user's requests) skip even the lookup.
    if (memo === null || entry.user !== memo.user) {
      memo = memory.get(entry.user)
      if (memo.batch !== batch) {
        memo.batch = batch
        memo.count = 0
        memo.pagePath = ''
        users.push(memo)
      }
    }
    memo.count++
    userOf[i] = memo
    const text = json[i] = entryJson(entry)
    sizes[i] = jsonSize(entry, text)
    if (typeof entry.path === 'string' && entry.kind !== 'heartbeat') memo.pagePath = entry.path
    for (const contribute of contributors) contribute(entry, ops)
  }
  // Each user's range ends where the next one's starts; filled from the batch's end backwards,
  // so that `at` comes to rest at the range's start with the entries in arrival order.
  let end = 0
  for (const m of users) {
    end += m.count
    m.at = end
  }
  const order = new Int32Array(n)
  for (let i = n - 1; i >= 0; i--) order[--(userOf[i] as UserMemo).at] = i
  return { users, ops, json, sizes, order }
}

/** The `due` a head or record carries: the bookkeeping bits, and 8 when a last path follows. */
function dueBits (memo: UserMemo, withPath: boolean): number {
  return withPath && memo.sendPath !== null ? memo.due | DUE_PATH : memo.due
}

/**
 * A user's share of ARGV: the head (n × 16 + due), the tag the script builds their key names
 * from, the last path (when sent with the user), then the entries, oldest first.
 */
function addUser (argv: ScriptArgs, memo: UserMemo, batch: Grouped, withPath: boolean): void {
  const due = dueBits(memo, withPath)
  argv.ascii(String(memo.count * 16 + due))
  argv.ascii(memo.tag)
  if (due >= DUE_PATH) argv.text(memo.sendPath as string)
  const { json, sizes, order } = batch
  for (let k = memo.at, end = memo.at + memo.count; k < end; k++) {
    const i = order[k] as number
    argv.sized(json[i] as string, sizes[i] as number)
  }
}

/** Builds the script call of one batch (script.ts, WRITE_SCRIPT, says what each argument is). */
export function buildScriptCall (writerId: string, seq: number, entries: Entry[], s: BatchSettings,
  contributors: Contributor[], now: number, prune = true, memory = freshMemory(s)): ScriptCall {
  const batch = groupByUser(entries, contributors, memory)
  const { users, ops } = batch
  const k = s.keys
  // Key names and these arguments are ASCII: the prefix is, and user names are encoded.
  const keys = new ScriptArgs()
  for (const key of [k.writerMarker(writerId), k.usersIndex, k.namesIndex, k.lastPath, k.allWatchLease]) keys.ascii(key)
  const argv = new ScriptArgs()
  for (const a of [k.prefix, leasePrefix(s), String(s.maxEntries), expireSeconds(s), String(now), String(s.indexCap),
    String(users.length), k.allChannel, String(ops.size), String(seq), prune ? '1' : '0']) argv.ascii(a)
  for (const memo of users) {
    memory.due(memo, now)
    addUser(argv, memo, batch, true)
  }
  ops.encode(keys.length + 1, argv)
  for (const key of ops.keys) keys.ascii(key)
  return { keys, argv, entries: entries.length, users, ops }
}

/** One hash slot's share of a batch on a Redis Cluster: a SLOT_WRITE_SCRIPT call. */
export interface SlotCall {
  slot: number
  keys: ScriptArgs
  argv: ScriptArgs
  /** The all-users shard (`slot % ALL_SHARDS`) and the JSON entries this call adds to it, oldest first per user. */
  shard: number
  live: string[]
}

/** The calls of one batch on a cluster: one per hash slot touched. */
export interface SlotCalls {
  calls: SlotCall[]
  entries: number
  users: UserMemo[]
  ops: BatchOps
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
  keys: ScriptArgs
  keyIndex: Map<string, number>
  users: ScriptArgs
  userCount: number
  ops: ScriptArgs
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
  const batch = groupByUser(entries, contributors, memory)
  const { users, ops } = batch
  const k = s.keys
  const groups = new Map<number, SlotGroup>()
  const groupOf = (slot: number): SlotGroup => {
    let g = groups.get(slot)
    if (g === undefined) {
      const keys = new ScriptArgs()
      keys.ascii(`${k.prefix}:{${markerTag(slot)}}:writer:${writerId}`)
      g = {
        keys, keyIndex: new Map(), users: new ScriptArgs(), userCount: 0, ops: new ScriptArgs(), opCount: 0, live: []
      }
      groups.set(slot, g)
    }
    return g
  }
  const keyIn = (g: SlotGroup, key: string): string => {
    let index = g.keyIndex.get(key)
    if (index === undefined) {
      g.keys.ascii(key)
      index = g.keys.length
      g.keyIndex.set(key, index)
    }
    return String(index)
  }
  // The index keys come first in their slot's call (KEYS[2..4]), as the script expects.
  const idxSlot = calculateSlot(k.usersIndex)
  const idx = users.length > 0 ? groupOf(idxSlot) : null
  if (idx !== null) for (const key of [k.usersIndex, k.namesIndex, k.lastPath]) keyIn(idx, key)
  // Every user's index record (head, tag, last path), for the call that holds the indexes.
  const records = new ScriptArgs()
  const { json, order } = batch
  for (const memo of users) {
    const g = groupOf(memory.slotOf(memo))
    g.userCount++
    memory.due(memo, now)
    // The last path goes with the index record, to the call that holds the last-path hash.
    addUser(g.users, memo, batch, false)
    if (s.publish) for (let i = memo.at; i < memo.at + memo.count; i++) g.live.push(json[order[i] as number] as string)
    const due = dueBits(memo, true)
    records.ascii(String(due))
    records.ascii(memo.tag)
    if (due >= DUE_PATH) records.text(memo.sendPath as string)
  }
  ops.forEach((op, key, a, b, elements) => {
    const g = groupOf(calculateSlot(key))
    g.opCount++
    addOp(g.ops, op, keyIn(g, key), a, b, elements)
  })
  const calls: SlotCall[] = []
  for (const [slot, g] of groups) {
    const holdsIndex = g === idx
    const argv = new ScriptArgs()
    for (const a of [String(seq), k.prefix, leasePrefix(s), String(s.maxEntries), expireSeconds(s), String(now),
      String(s.indexCap), prune ? '1' : '0', String(g.userCount), holdsIndex ? String(users.length) : '0',
      String(g.opCount)]) argv.ascii(a)
    argv.append(g.users)
    if (holdsIndex) argv.append(records)
    argv.append(g.ops)
    calls.push({ slot, keys: g.keys, argv, shard: slot % ALL_SHARDS, live: g.live })
  }
  return { calls, entries: entries.length, users, ops }
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
export function nodeCall (calls: SlotCall[], group: number[]): { keys: ScriptArgs, argv: ScriptArgs } {
  const argv = new ScriptArgs()
  argv.ascii(String(group.length))
  for (const i of group) {
    const call = calls[i] as SlotCall
    argv.ascii(String(call.keys.length))
    argv.ascii(String(call.argv.length))
  }
  for (const i of group) {
    const call = calls[i] as SlotCall
    argv.append(call.keys)
    argv.append(call.argv)
  }
  const keys = new ScriptArgs()
  keys.ascii((calls[group[0] as number] as SlotCall).keys.values[0] as string)
  return { keys, argv }
}

/** A call met a slot its node does not serve (the slot map moved): resend its sections per slot. */
export function isSlotMapError (err: unknown): boolean {
  return err instanceof Error &&
    /^(MOVED|ASK|CROSSSLOT|TRYAGAIN)|Too many Cluster redirections|non local key|hash to the same slot/.test(err.message)
}
