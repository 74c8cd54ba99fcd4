// The in-process buffer between the request hook and Redis. `push` is all the hook does: it
// appends to an array and, if no flush is pending, schedules one. A flush writes up to MAX_BATCH
// entries with one script call (on a Redis Cluster, one per master the batch touches, in
// parallel); at most one batch is in flight.
// When Redis is slow or gone the buffer is bounded by maxBuffer (extra entries are dropped and
// counted), one line is logged per outage naming its cause (unreachable, out of memory, no
// permission), and a probe brings writing back by itself.
import { randomBytes } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { Cluster } from 'ioredis'
import type { Entry, RedisLike, WriterStats } from '../types.js'
import {
  buildScriptCall, buildSlotCalls, expireEveryS, groupByNode, isSlotMapError, nodeCall,
  type BatchOps, type BatchSettings, type Contributor, type SlotCall
} from './batch.js'
import { UserMemory, type UserMemo } from './memory.js'
import { NODE_WRITE_SCRIPT, SLOT_WRITE_SCRIPT, WRITE_SCRIPT } from './script.js'
import { encodeScriptCall, runScript, script } from './resp.js'
import { WatchedUsers } from './watched.js'
import { isCluster, isRedisFull } from '../shared/redis.js'

/** Entries per script call: enough that a busy host sends few calls, few enough that none blocks Redis for long. */
export const MAX_BATCH = 1000
/** A batch whose reply takes longer than this counts as failed (a frozen Redis keeps the socket open). */
export const WRITE_TIMEOUT_MS = 1000
/** While Redis is down, how often to check whether it is back. */
export const PROBE_MS = 250
/**
 * Batches start at most this often. A quiet host's entry is written on the next turn of the event
 * loop; a busy host's entries gather for up to this long, so that a batch's fixed costs (the
 * round trip, the script's own bookkeeping, on the host and in Redis) are shared by many entries,
 * and a user's several entries by one push.
 */
export const BATCH_INTERVAL_MS = 25
/**
 * While the buffer holds an entry of a user someone watches live (watched.ts), batches start at
 * most this often instead: the agent sees it within milliseconds.
 */
export const LIVE_BATCH_INTERVAL_MS = 5
/** How often a batch also prunes the users index. */
export const PRUNE_INTERVAL_MS = 1000
/** On a cluster, how often the writer asks whether anyone watches the all-users stream. */
export const ALL_LEASE_CHECK_MS = 1000
/** On a cluster, how long all-users entries gather before their shards are published. */
export const ALL_PUBLISH_MS = 20

interface Batch {
  seq: number
  entries: Entry[]
  /** On a cluster: the batch's per-slot calls, built once, and which of them have succeeded. */
  slots?: { calls: SlotCall[], done: boolean[], prune: boolean, now: number, users: UserMemo[], ops: BatchOps }
}

const SCRIPTS = { batch: script(WRITE_SCRIPT), slot: script(SLOT_WRITE_SCRIPT), node: script(NODE_WRITE_SCRIPT) }

export class BatchWriter {
  private buffer: Entry[] = []
  private retry: Batch | null = null
  /** The batch in flight: still held in process until Redis confirms it, so it counts against maxBuffer. */
  private writing: Batch | null = null
  private scheduled = false
  /** The pending batch's timer (null while none is pending, or it starts on the next turn). */
  private timer: NodeJS.Timeout | null = null
  /** The buffer holds an entry of a watched user: the next batch starts sooner. */
  private liveWaiting = false
  private readonly watched = new WatchedUsers()
  private inFlight: Promise<void> | null = null
  private probeTimer: NodeJS.Timeout | null = null
  private closed = false
  private readonly writerId = randomBytes(9).toString('base64url')
  private batchSeq = 0
  private readonly counters = { written: 0, dropped: 0, batches: 0, failedBatches: 0, droppedThisOutage: 0 }
  private state: 'up' | 'down' = 'up'
  private readonly client: RedisLike
  private readonly flushSoon = (): void => {
    this.scheduled = false
    this.timer = null
    void this.startFlush()
  }
  private lastBatchAt = 0
  private lastPruneAt = 0
  private readonly cluster: boolean
  private readonly memory: UserMemory
  /** On a cluster: whether the all-users lease was there when last checked, and when that was. */
  private allWatched = { value: false, checkedAt: -Infinity }
  /** On a cluster: all-users entries waiting for the next publish, by shard. */
  private readonly allQueued = new Map<number, string[]>()
  private allTimer: NodeJS.Timeout | null = null

  constructor (
    client: RedisLike,
    private readonly settings: BatchSettings,
    private readonly maxBuffer: number,
    private readonly log: FastifyBaseLogger,
    private readonly contributors: Contributor[] = []
  ) {
    this.cluster = isCluster(client)
    this.memory = new UserMemory(settings.keys, expireEveryS(settings.ttl) * 1000)
    this.client = client
    // A reconnect is the quickest sign that writing can resume.
    client.on('ready', this.onReady)
  }

  private readonly onReady = (): void => {
    if (this.state === 'down') void this.startFlush()
  }

  /** The hook's whole cost: no promise, no I/O. Returns false if the entry was dropped. */
  push (entry: Entry): boolean {
    if (this.held() >= this.maxBuffer) {
      this.counters.dropped++
      this.counters.droppedThisOutage++
      return false
    }
    this.buffer.push(entry)
    if (!this.liveWaiting && this.watched.has(entry.user)) {
      this.liveWaiting = true
      // A batch already waiting for its timer starts sooner.
      if (this.timer !== null) this.schedule()
    }
    if (!this.scheduled && this.inFlight === null && this.state === 'up') this.schedule()
    return true
  }

  /**
   * The next batch starts BATCH_INTERVAL_MS (LIVE_BATCH_INTERVAL_MS while a watched entry waits)
   * after the last one started, or on the next turn of the event loop if that time has passed.
   */
  private schedule (): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    this.scheduled = true
    const wait = this.lastBatchAt + (this.liveWaiting ? LIVE_BATCH_INTERVAL_MS : BATCH_INTERVAL_MS) - Date.now()
    if (wait <= 0) setImmediate(this.flushSoon)
    else this.timer = setTimeout(this.flushSoon, wait)
  }

  /** Entries in process not yet confirmed written: buffered, in flight or waiting for a retry. */
  private held (): number {
    return this.buffer.length + (this.retry?.entries.length ?? 0) + (this.writing?.entries.length ?? 0)
  }

  stats (): WriterStats {
    return {
      buffered: this.held(),
      written: this.counters.written,
      dropped: this.counters.dropped,
      batches: this.counters.batches,
      failedBatches: this.counters.failedBatches,
      redis: this.state
    }
  }

  /** Writes everything buffered now and publishes what waits for the all-users stream; resolves once done or failed. */
  async flush (): Promise<void> {
    await this.drain()
    if (this.allTimer !== null) {
      clearTimeout(this.allTimer)
      this.flushShards()
    }
  }

  private async drain (): Promise<void> {
    for (;;) {
      // Awaiting a batch can start the next one (its `finally`): loop until none is in flight.
      if (this.inFlight !== null) {
        await this.inFlight
        continue
      }
      if (this.retry === null && this.buffer.length === 0) return
      const before = this.counters.failedBatches
      const started = this.startFlush()
      if (started !== null) await started
      if (this.counters.failedBatches !== before) return
    }
  }

  /** Flushes for at most `ms`, then stops retrying. Entries still buffered are lost (and logged). */
  async close (ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, ms) })
    await Promise.race([this.flush(), timeout])
    clearTimeout(timer)
    this.closed = true
    this.stopProbe()
    this.client.removeListener('ready', this.onReady)
    const left = this.stats().buffered
    if (left > 0) {
      this.log.warn({ userlog: { lost: left } }, 'fastify-userlog: closed with entries not written to Redis')
    }
  }

  /** Starts writing the next batch, if none is in flight; returns it (null when nothing started). */
  private startFlush (): Promise<void> | null {
    if (this.inFlight !== null || this.closed) return null
    const batch = this.retry ?? this.takeBatch()
    if (batch === null) return null
    this.retry = null
    this.writing = batch
    this.lastBatchAt = Date.now()
    this.inFlight = this.write(batch).finally(() => {
      this.inFlight = null
      if (this.state === 'up' && this.buffer.length > 0 && !this.scheduled) this.schedule()
    })
    return this.inFlight
  }

  private takeBatch (): Batch | null {
    if (this.buffer.length === 0) return null
    let entries: Entry[]
    if (this.buffer.length <= MAX_BATCH) {
      entries = this.buffer
      this.buffer = []
      this.liveWaiting = false
    } else {
      entries = this.buffer.splice(0, MAX_BATCH)
    }
    return { seq: ++this.batchSeq, entries }
  }

  private async write (batch: Batch): Promise<void> {
    if (this.cluster) return await this.writeSlots(batch)
    const now = Date.now()
    const prune = now - this.lastPruneAt >= PRUNE_INTERVAL_MS
    const call = buildScriptCall(this.writerId, batch.seq, batch.entries, this.settings, this.contributors, now, prune,
      this.memory)
    try {
      const encoded = encodeScriptCall(SCRIPTS.batch.sha, call.keys, call.argv)
      const reply = await withTimeout(runScript(this.client, SCRIPTS.batch, encoded, call.keys.values[0] as string))
      this.watched.learn(reply, call.users, now, true)
      this.succeeded(batch, call, prune, now)
    } catch (err) {
      this.failed(batch, err as Error)
    }
  }

  /** `built` is what building the batch left to remember once it is written (its users, its ops). */
  private succeeded (batch: Batch, built: { users: UserMemo[], ops: BatchOps }, pruned: boolean, at: number): void {
    this.memory.written(built.users, at)
    built.ops.written()
    this.writing = null
    this.counters.written += batch.entries.length
    this.counters.batches++
    if (pruned) this.lastPruneAt = at
    if (this.state === 'down') this.recovered()
  }

  private failed (batch: Batch, err: Error): void {
    this.counters.failedBatches++
    // Keep the batch (same number: the script's marker makes a late first attempt and this retry count once).
    this.writing = null
    this.retry = batch
    this.outage(err)
  }

  /**
   * A batch on a Redis Cluster: the per-slot calls of the batch, gathered into one call per master
   * that owns their slots (by the client's slot map), all masters in parallel. A master's call that
   * is refused (its slot map moved under it) is resent as per-slot calls in the same attempt. The
   * batch counts as written once every section has succeeded; a retry re-sends only those that
   * have not (each slot's marker makes a late first attempt and its retry count once). The
   * all-users stream goes out per shard, one SPUBLISH for each shard, when it is watched.
   */
  private async writeSlots (batch: Batch): Promise<void> {
    if (batch.slots === undefined) {
      const now = Date.now()
      const prune = now - this.lastPruneAt >= PRUNE_INTERVAL_MS
      const { calls, users, ops } = buildSlotCalls(this.writerId, batch.seq, batch.entries, this.settings,
        this.contributors, now, prune, this.memory)
      batch.slots = { calls, done: calls.map(() => false), prune, now, users, ops }
    }
    const leaseChecked = this.checkAllLease()
    const { calls, done } = batch.slots
    // The watched users' tags the calls answer with (watched.ts).
    const watchedTags: unknown[] = []
    const heard = (reply: unknown): void => { if (Array.isArray(reply)) watchedTags.push(...(reply as unknown[])) }
    // A call's share of the all-users stream is queued as soon as it is written, also when it
    // answers after the attempt timed out.
    const delivered = (i: number): void => {
      done[i] = true
      const call = calls[i] as SlotCall
      if (call.live.length > 0) this.publishShard(call.shard, call.live)
    }
    const perSlot = async (i: number): Promise<void> => {
      const call = calls[i] as SlotCall
      const encoded = encodeScriptCall(SCRIPTS.slot.sha, call.keys, call.argv)
      heard(await runScript(this.client, SCRIPTS.slot, encoded, call.keys.values[0] as string))
      delivered(i)
    }
    const pending = groupByNode(this.client as Cluster, calls, done).map(async (group) => {
      if (group.length === 1) return await perSlot(group[0] as number)
      const { keys, argv } = nodeCall(calls, group)
      try {
        heard(await runScript(this.client, SCRIPTS.node, encodeScriptCall(SCRIPTS.node.sha, keys, argv),
          keys.values[0] as string))
      } catch (err) {
        if (!isSlotMapError(err)) throw err
        await Promise.all(group.map(perSlot))
        return
      }
      for (const i of group) delivered(i)
    })
    try {
      await withTimeout(Promise.all(pending))
      this.watched.all = this.allWatched.value
      this.watched.learn(watchedTags, batch.slots.users, batch.slots.now, false)
      this.succeeded(batch, batch.slots, batch.slots.prune, batch.slots.now)
    } catch (err) {
      this.failed(batch, err as Error)
    } finally {
      for (const p of pending) p.catch(() => {})
      await leaseChecked
    }
  }

  /**
   * On a cluster the all-users stream is published from here (per shard), so the lease is read
   * here too, at most once a second, alongside the batch: a viewer of all users sees new entries
   * from at most a second after it joined (that stream has no backlog to catch up from anyway).
   */
  private async checkAllLease (): Promise<void> {
    const now = Date.now()
    if (!this.settings.publish || now - this.allWatched.checkedAt < ALL_LEASE_CHECK_MS) return
    this.allWatched.checkedAt = now
    try {
      this.allWatched.value = await withTimeout(this.client.exists(this.settings.keys.allWatchLease)) === 1
    } catch {
      // Unknown while Redis is unreachable: keep the last answer.
    }
  }

  /**
   * Queues entries for an all-users shard. The shards are published together every
   * ALL_PUBLISH_MS, one SPUBLISH per shard, rather than after every batch: eight shards per batch
   * would be most of the cluster's commands. Not awaited: a lost live message is not a lost entry.
   */
  private publishShard (shard: number, live: string[]): void {
    const queued = this.allQueued.get(shard)
    if (queued === undefined) this.allQueued.set(shard, [...live])
    else for (const e of live) queued.push(e)
    if (this.allTimer === null) {
      this.allTimer = setTimeout(() => this.flushShards(), ALL_PUBLISH_MS)
      this.allTimer.unref()
    }
  }

  /** Publishes the queued shards, if anyone watches all users (as last checked). */
  private flushShards (): void {
    this.allTimer = null
    if (!this.allWatched.value) {
      this.allQueued.clear()
      return
    }
    for (const [shard, live] of this.allQueued) {
      this.client.spublish(this.settings.keys.allShardChannel(shard), '[' + live.join(',') + ']').catch(() => {})
    }
    this.allQueued.clear()
  }

  private outage (err: Error): void {
    if (this.state === 'up') {
      this.state = 'down'
      this.counters.droppedThisOutage = 0
      const { level, says } = EPISODE_LOG[writeFailure(err)]
      this.log[level]({ userlog: { buffered: this.stats().buffered, maxBuffer: this.maxBuffer, error: err.message } },
        `fastify-userlog: ${says(err.message)}`)
    }
    this.startProbe()
  }

  private recovered (): void {
    this.state = 'up'
    this.stopProbe()
    const dropped = this.counters.droppedThisOutage
    this.log.info({ userlog: { dropped } }, 'fastify-userlog: Redis is back; writing resumed')
  }

  private startProbe (): void {
    if (this.probeTimer !== null || this.closed) return
    this.probeTimer = setInterval(() => {
      // Only retry the (possibly large) batch once Redis answers a PING: a frozen Redis would
      // otherwise collect a copy of the batch in its socket on every probe.
      if (this.inFlight !== null) return
      this.ping().then((ok) => { if (ok) void this.startFlush() }, () => {})
    }, PROBE_MS)
    this.probeTimer.unref()
  }

  private stopProbe (): void {
    if (this.probeTimer !== null) clearInterval(this.probeTimer)
    this.probeTimer = null
  }

  private pinging = false
  private async ping (): Promise<boolean> {
    if (this.pinging) return false
    this.pinging = true
    try {
      await withTimeout(this.client.ping())
      return true
    } catch {
      return false
    } finally {
      this.pinging = false
    }
  }
}

type WriteFailure = 'denied' | 'full' | 'unavailable'

/**
 * Why a batch failed, from the error code Redis starts its reply with: a user without the rights
 * the writes need (NOPERM), a Redis at its maxmemory that refuses writes (OOM: PING still answers,
 * so the probe retries the batch until there is room), or anything else: Redis is unreachable,
 * frozen or failing.
 */
function writeFailure (err: Error): WriteFailure {
  if (/^NOPERM\b/.test(err.message)) return 'denied'
  if (isRedisFull(err)) return 'full'
  return 'unavailable'
}

/** The line logged once when writes start failing, by cause: what is wrong and what to do about it. */
const EPISODE_LOG: Record<WriteFailure, { level: 'error' | 'warn', says: (error: string) => string }> = {
  // Not an outage but a Redis user without the rights the writes need: said as an error.
  denied: {
    level: 'error',
    says: (error) => `Redis refused the write (${error}): give the Redis user the permissions listed in the docs ` +
      '(production, Redis ACL); entries are buffered meanwhile'
  },
  full: {
    level: 'warn',
    says: () => 'Redis is out of memory (maxmemory reached) and refuses writes: raise maxmemory, or lower ' +
      'maxEntries or ttl (docs: production, Memory); entries are buffered until it has room'
  },
  unavailable: { level: 'warn', says: () => 'Redis is unavailable; buffering entries until it is back' }
}

/** `work`, or a rejection after WRITE_TIMEOUT_MS (a frozen Redis never answers, and its socket stays open). */
async function withTimeout<T> (work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      work,
      new Promise<never>((_resolve, reject) => {
        const late = (): void => reject(new Error(`no reply from Redis within ${WRITE_TIMEOUT_MS} ms`))
        timer = setTimeout(late, WRITE_TIMEOUT_MS)
      })
    ])
  } finally {
    clearTimeout(timer)
  }
}
