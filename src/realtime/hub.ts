// The hub: two Redis connections per process (commands, and one subscriber shared by every viewer),
// refcounted channel subscriptions, and the fan-out of live messages.
//
// Joining a stream: the viewer is added to its channel first, so every live message from then on is
// kept for it; the channel is SUBSCRIBEd if it is new (or the pending SUBSCRIBE is awaited); only
// after the subscribe reply is the log read (LRANGE). The backlog and the kept messages are then
// merged by entry id (entries.ts), so nothing published in between is lost or sent twice. The
// two connections are two sockets, so a message published before the read may still be read after
// it: live messages are checked against each viewer's recent ids as well.
//
// Redis going away: the subscriber is PINGed every `redisPingMs`; a close or an unanswered PING
// marks Redis down and every viewer is told. When the subscriber is ready again the hub itself
// resubscribes every channel (ioredis' autoResubscribe is off, so the hub knows when it is done),
// tells viewers Redis is up, re-reads each watched log and sends each viewer what it has not had.
//
// Redis Cluster: commands go through an ioredis `Cluster` (GETDEL and LRANGE route by slot); live
// messages come from one SSUBSCRIBE connection per master (subscriber.ts). A user's channel is
// `P:live:{u}`; the all-users stream is ALL_SHARDS sharded channels, every one of them joined by
// the all-users viewers. Losing any master's connection is an outage as above: every channel is
// resubscribed and every backlog re-read once all connections are back.
import type { ConnectionOptions } from 'node:tls'
import { Redis, type Cluster } from 'ioredis'
import { ALL_SHARDS, Keys, WATCH_LEASE_MS } from '../shared/keys.js'
import { parseGrant, type Grant } from '../shared/grants.js'
import { connectionOptions, createCluster, parseSeeds, whenReady } from '../shared/redis.js'
import { ClusterSubscriber, NodeSubscriber, quit, subscriberOptions, type Subscriber } from './subscriber.js'
import { mergeSnapshot, parseList, parseMessage, unseen, type LiveEntry } from './entries.js'
import { CallbackViewer, MAX_PENDING, type LiveFrame, type Viewer, type ViewerCallbacks } from './viewer.js'

/** The subset of a pino / Fastify logger the hub uses. */
export interface HubLogger {
  debug: (obj: object, msg?: string) => void
  info: (obj: object, msg?: string) => void
  warn: (obj: object, msg?: string) => void
  error: (obj: object, msg?: string) => void
}

export interface HubOptions {
  /**
   * A redis:// URL, or comma-separated URLs of Redis Cluster seed nodes (the connections are
   * created and closed by the hub); or an ioredis `Redis` used for commands (not closed; the
   * subscriber is its `duplicate()`); or an ioredis `Cluster` used for commands (not closed; one
   * subscriber connection per master is made and closed by the hub).
   */
  redis: string | Redis | Cluster
  prefix: string
  log: HubLogger
  /** @default 5000 */
  redisPingMs?: number
  /** Timeout of GETDEL and LRANGE. @default 2000 */
  commandTimeoutMs?: number
  /** TLS settings for the connections the hub creates from a `rediss://` URL (a private CA: `{ ca }`). */
  tls?: ConnectionOptions
}

export interface HubCounters {
  /** Entries handed to viewers (counted once per viewer). */
  delivered: number
  /** Entries skipped for viewers that could not keep up. */
  dropped: number
}

export interface HubStats extends HubCounters {
  viewers: number
  channels: number
  redisUp: boolean
}

/** A live message waiting to be delivered: its entries, and its JSON when it can be relayed as is. */
interface HeldMessage { seq: number, entries: LiveEntry[], payload: string | null }

/**
 * A busy channel sends its live viewers at most one frame per this many ms: 1,000 viewers of a
 * user logging 100 entries a second cost 25 socket writes per viewer a second, not 100.
 */
export const COALESCE_MS = 40
/** What a coalesced frame may hold at most (about 45 typical entries). */
export const COALESCE_MAX_BYTES = 16 * 1024

class Channel {
  readonly viewers = new Set<Viewer>()
  /** Live messages not yet sent to the live viewers (see COALESCE_MS). */
  held: HeldMessage[] = []
  heldBytes = 0
  timer: NodeJS.Timeout | null = null
  lastSent = -Infinity
  /** The Redis channels behind this stream: one, or ALL_SHARDS for all users on a cluster. */
  readonly names: string[]
  /** The subscriber epoch in which the SUBSCRIBE reply for this channel arrived. */
  confirmed = -1
  waiters: Array<(epoch: number | null) => void> = []
  constructor (readonly name: string, readonly user: string | null, names: string[]) {
    this.names = names
  }
}

/** The command connection: the hub times its own commands (commandTimeoutMs). */
const COMMAND_CONNECTION = { connectionName: 'userlog-realtime', connectTimeout: 5000 }

class CommandTimeout extends Error {
  constructor (ms: number) {
    super(`Redis did not answer within ${ms} ms`)
    this.name = 'CommandTimeout'
  }
}

export class Hub {
  readonly keys: Keys
  readonly cmd: Redis | Cluster
  readonly sub: Subscriber
  /** Commands and subscriptions go to a Redis Cluster (SSUBSCRIBE, sharded all-users stream). */
  readonly cluster: boolean
  readonly counters: HubCounters = { delivered: 0, dropped: 0 }
  private readonly ownsCmd: boolean
  readonly log: HubLogger
  private readonly pingMs: number
  private readonly commandTimeoutMs: number
  private readonly channels = new Map<string, Channel>()
  /** Redis channel name → the stream it feeds. */
  private readonly byName = new Map<string, Channel>()
  private readonly viewers = new Set<Viewer>()
  /** Viewers that were live when Redis went away: resynced from their log once it is back. */
  private readonly resyncDue = new Set<Viewer>()
  /** Incremented on every subscriber disconnect: a subscription confirmed in an older epoch is gone. */
  private epoch = 0
  /** The subscriber is ready and every channel has been resubscribed. */
  private connected = false
  /** The last PING was answered in time. */
  private responsive = true
  /** What viewers were last told. */
  private announcedUp = true
  private pingSentAt: number | null = null
  private missedPings = 0
  private readonly pingTimer: NodeJS.Timeout
  private readonly leaseTimer: NodeJS.Timeout
  private upWaiters: Array<() => void> = []
  private closing = false
  private commandErrorLogged = false
  private lastError: Error | null = null
  /** Numbers the live messages as they arrive (see Viewer.liveFrom). */
  private messageSeq = 0

  constructor (opts: HubOptions) {
    this.keys = new Keys(opts.prefix)
    this.log = opts.log
    this.pingMs = opts.redisPingMs ?? 5000
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 2000
    const seeds = typeof opts.redis === 'string' ? parseSeeds(opts.redis) : null
    if (seeds !== null) {
      this.cmd = createCluster(seeds, { ...COMMAND_CONNECTION, tls: opts.tls })
      this.ownsCmd = true
    } else if (typeof opts.redis === 'string') {
      this.cmd = new Redis(opts.redis, connectionOptions({ ...COMMAND_CONNECTION, tls: opts.tls }))
      this.ownsCmd = true
    } else {
      this.cmd = opts.redis
      this.ownsCmd = false
    }
    this.cluster = (this.cmd as { isCluster?: boolean }).isCluster === true
    if (this.cluster) {
      const cluster = this.cmd as Cluster
      // A caller's lazyConnect cluster: the subscribers need its slot map now.
      if (cluster.status === 'wait') cluster.connect().catch(() => {})
      this.sub = new ClusterSubscriber(cluster)
    } else {
      this.sub = new NodeSubscriber((this.cmd as Redis).duplicate(subscriberOptions()))
    }
    if (this.ownsCmd) {
      this.cmd.on('error', (err: Error) => {
        this.lastError = err
        this.log.debug({ err }, 'userlog realtime: Redis command connection error')
      })
    }
    this.sub.on('error', (err: Error) => {
      this.lastError = err
      this.log.debug({ err }, 'userlog realtime: Redis subscriber error')
    })
    this.sub.on('ready', () => { void this.onReady() })
    this.sub.on('close', () => this.onClose())
    this.sub.on('message', (channel: string, payload: string) => this.onMessage(channel, payload))
    this.pingTimer = setInterval(() => this.pingTick(), this.pingMs)
    this.pingTimer.unref()
    this.leaseTimer = setInterval(() => this.renewTick(), WATCH_LEASE_MS / 3)
    this.leaseTimer.unref()
  }

  /** Why Redis could not be reached last (a refused connection, a certificate problem), if it could not. */
  get lastErrorMessage (): string | null { return this.lastError?.message ?? null }

  /** Redis is reachable: the subscriber is connected, resubscribed and answering PINGs. */
  get redisUp (): boolean { return this.connected && this.responsive }

  stats (): HubStats {
    return { viewers: this.viewers.size, channels: this.byName.size, redisUp: this.redisUp, ...this.counters }
  }

  /**
   * Takes a live-view grant (GETDEL: a token works once). Resolves null for an unknown, expired,
   * reused or malformed grant; rejects when Redis cannot be asked.
   */
  async takeGrant (token: string): Promise<Grant | null> {
    const raw = await this.command(() => this.cmd.getdel(this.keys.token(token)))
    return raw === null ? null : parseGrant(raw)
  }

  /** Adds a viewer: it gets its backlog, then live entries, until {@link leave}. */
  join (viewer: Viewer): void {
    if (this.closing) return
    this.viewers.add(viewer)
    const name = this.streamName(viewer.user)
    let ch = this.channels.get(name)
    if (ch === undefined) {
      ch = new Channel(name, viewer.user, this.redisChannels(viewer.user))
      this.channels.set(name, ch)
      for (const n of ch.names) this.byName.set(n, ch)
      this.subscribe(ch)
    }
    viewer.state = 'syncing'
    viewer.pending = []
    ch.viewers.add(viewer)
    if (!this.announcedUp) viewer.status(false)
    this.sync(ch, [viewer], true).catch((err: unknown) => this.log.error({ err }, 'userlog realtime: backlog failed'))
  }

  /** Removes a viewer; the channel is unsubscribed after its last viewer leaves. */
  leave (viewer: Viewer): void {
    if (!this.viewers.delete(viewer)) return
    this.resyncDue.delete(viewer)
    viewer.state = 'closed'
    viewer.pending = []
    const name = this.streamName(viewer.user)
    const ch = this.channels.get(name)
    if (ch === undefined || !ch.viewers.delete(viewer) || ch.viewers.size > 0) return
    this.channels.delete(name)
    if (ch.timer !== null) clearTimeout(ch.timer)
    for (const n of ch.names) this.byName.delete(n)
    for (const w of ch.waiters) w(null)
    ch.waiters = []
    if (this.sub.ready) {
      for (const n of ch.names) {
        this.sub.unsubscribe(n).catch((err: unknown) => this.log.debug({ err }, 'userlog realtime: UNSUBSCRIBE failed'))
      }
    }
  }

  /**
   * Tells the writers that these streams are watched (script.ts publishes only leased users). A
   * lease outlives its last viewer by up to WATCH_LEASE_MS: another process may watch the same user.
   */
  private async renewLeases (chs: Channel[]): Promise<void> {
    // Sent together without waiting for each other (ioredis writes them back to back); on a
    // cluster each goes to the master of its own slot.
    await Promise.all(chs.map(async (ch) => {
      const lease = ch.user === null ? this.keys.allWatchLease : this.keys.watchLease(ch.user)
      await this.cmd.set(lease, '1', 'PX', WATCH_LEASE_MS)
    }))
  }

  private renewTick (): void {
    if (!this.redisUp || this.channels.size === 0) return
    this.command(() => this.renewLeases([...this.channels.values()]))
      .catch((err: unknown) => this.log.debug({ err }, 'userlog realtime: renewing the watch leases failed (retried)'))
  }

  /** The key of a stream in `channels`. */
  private streamName (user: string | null): string {
    return user === null ? this.keys.allChannel : this.keys.userChannel(user)
  }

  /** The Redis channels a stream listens to: on a cluster, every all-users shard. */
  private redisChannels (user: string | null): string[] {
    if (user !== null) return [this.keys.userChannel(user)]
    if (!this.cluster) return [this.keys.allChannel]
    return Array.from({ length: ALL_SHARDS }, (_, k) => this.keys.allShardChannel(k))
  }

  /** Streams a user (or null: all users) to callbacks in this process. */
  watch (user: string | null, callbacks: ViewerCallbacks): { close: () => void } {
    const viewer = new CallbackViewer(user, callbacks)
    this.join(viewer)
    return { close: () => { viewer.close(); this.leave(viewer) } }
  }

  /** Stops everything: viewers are forgotten (their sockets are the caller's), owned connections quit. */
  async close (): Promise<void> {
    if (this.closing) return
    this.closing = true
    clearInterval(this.pingTimer)
    clearInterval(this.leaseTimer)
    for (const ch of this.channels.values()) {
      if (ch.timer !== null) clearTimeout(ch.timer)
      for (const w of ch.waiters) w(null)
      ch.waiters = []
    }
    const upWaiters = this.upWaiters
    this.upWaiters = []
    for (const w of upWaiters) w()
    for (const v of this.viewers) v.state = 'closed'
    this.viewers.clear()
    this.channels.clear()
    this.byName.clear()
    await Promise.all([this.sub.close(), this.ownsCmd ? quit(this.cmd) : Promise.resolve()])
  }

  /** Resolves once both connections are ready, or after `ms` (false) without failing. */
  async ready (ms: number): Promise<boolean> {
    const [a, b] = await Promise.all([
      this.cmd.status === 'wait' ? true : whenReady(this.cmd, ms),
      this.sub.whenReady(ms)
    ])
    return a && b
  }

  /**
   * Runs a command on the command connection within `commandTimeoutMs`. The connection queues
   * nothing while disconnected; a command issued while it is (re)connecting waits for it, within
   * the same time limit.
   */
  private async command<T> (run: () => Promise<T>): Promise<T> {
    const started = Date.now()
    // 'wait' is a caller's lazyConnect client that has not connected yet: a command connects it.
    if (this.cmd.status !== 'ready' && this.cmd.status !== 'wait' &&
      !await whenReady(this.cmd, this.commandTimeoutMs)) {
      throw new CommandTimeout(this.commandTimeoutMs)
    }
    const left = Math.max(1, this.commandTimeoutMs - (Date.now() - started))
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new CommandTimeout(this.commandTimeoutMs)), left)
    })
    try {
      return await Promise.race([run(), timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  private subscribe (ch: Channel): void {
    // While disconnected, onReady subscribes every channel in the map, this one included.
    if (!this.sub.ready) return
    const epoch = this.epoch
    this.sub.subscribe(ch.names).then(() => this.confirm(ch, epoch), (err: unknown) => {
      this.log.debug({ err }, 'userlog realtime: SUBSCRIBE failed (retried)')
      // Still connected (a cluster slot that moved, a node answering CLUSTERDOWN): try again soon.
      // After a disconnect, onReady subscribes every channel anyway.
      setTimeout(() => {
        if (epoch === this.epoch && this.channels.get(ch.name) === ch && ch.confirmed !== epoch) this.subscribe(ch)
      }, 250).unref()
    })
  }

  private confirm (ch: Channel, epoch: number): void {
    if (epoch !== this.epoch || this.channels.get(ch.name) !== ch) return
    ch.confirmed = epoch
    const waiters = ch.waiters
    ch.waiters = []
    for (const w of waiters) w(epoch)
  }

  /** Resolves with the epoch once `ch` is subscribed in the current connection, or null if it never will be. */
  private async whenSubscribed (ch: Channel): Promise<number | null> {
    if (this.closing || this.channels.get(ch.name) !== ch) return null
    if (ch.confirmed === this.epoch) return this.epoch
    return await new Promise((resolve) => ch.waiters.push(resolve))
  }

  private async waitForUp (ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        const i = this.upWaiters.indexOf(done)
        if (i >= 0) this.upWaiters.splice(i, 1)
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.upWaiters.push(done)
    })
  }

  /**
   * Reads the backlog of `ch` for `viewers` (all of them `live` or new) and hands each what it has
   * not had: the whole backlog for a new viewer, only the missed entries after a resync.
   */
  private async sync (ch: Channel, viewers: Viewer[], initial: boolean): Promise<void> {
    for (const v of viewers) {
      // A viewer held since an outage keeps what arrived meanwhile: it is merged with the log below.
      if (v.state === 'syncing') continue
      v.state = 'syncing'
      v.pending = []
    }
    const waiting = (): boolean => viewers.some((v) => v.state === 'syncing' && v.open)
    let list: LiveEntry[] = []
    for (;;) {
      if (this.closing || !waiting()) return
      const epoch = await this.whenSubscribed(ch)
      if (epoch === null) return
      try {
        // The lease before the read: every batch written after it is published (and this channel
        // is already subscribed), every batch written before it is in the log read next.
        await this.command(() => this.renewLeases([ch]))
        if (ch.user === null) break // the all-users stream has no backlog
        const items = await this.command(() => this.cmd.lrange(this.keys.log(ch.user as string), 0, -1))
        // The subscription was lost while the log was read: messages may be missing, read it again.
        if (epoch !== this.epoch) continue
        list = parseList(items)
        this.commandErrorLogged = false
        break
      } catch (err) {
        if (err instanceof Error && err.name === 'ReplyError') {
          // Redis answered with an error (say the key is not a list): retrying would not help.
          this.log.warn({ err, userlog: { user: ch.user } },
            'userlog realtime: the log could not be read; streaming without a backlog')
          break
        }
        if (!this.commandErrorLogged) {
          this.commandErrorLogged = true
          this.log.warn({ err }, 'userlog realtime: could not read a backlog from Redis; retrying')
        }
        await this.waitForUp(1000)
      }
    }
    for (const v of viewers) {
      if (v.state !== 'syncing' || !v.open) continue
      const { backlog, live } = mergeSnapshot(list, v.pending)
      v.pending = []
      v.state = 'live'
      v.liveFrom = this.messageSeq
      if (v.pendingDropped > 0) {
        this.counters.dropped += v.pendingDropped
        v.dropped(v.pendingDropped)
        v.pendingDropped = 0
      }
      if (initial) {
        v.seen.addAll(backlog)
        v.backlog(backlog)
        if (live.length > 0) {
          v.seen.addAll(live)
          v.entries(live)
        }
      } else {
        const missing = unseen(backlog.concat(live), v.seen)
        if (missing.length > 0) {
          v.seen.addAll(missing)
          v.entries(missing)
        }
      }
    }
  }

  private onMessage (channel: string, payload: string): void {
    const ch = this.byName.get(channel)
    if (ch === undefined) return
    const { entries, clean } = parseMessage(payload)
    if (entries.length === 0) {
      this.log.debug({ userlog: { channel } }, 'userlog realtime: ignored a live message without entries')
      return
    }
    // Viewers reading their backlog keep everything at once (merged by id when the read is done).
    for (const v of ch.viewers) {
      if (v.state !== 'syncing') continue
      for (const e of entries) v.pending.push(e)
      if (v.pending.length > MAX_PENDING) {
        const over = v.pending.length - MAX_PENDING
        v.pending.splice(0, over)
        v.pendingDropped += over
      }
    }
    // Live viewers: a quiet channel's message goes out at once; on a busy one, what arrives within
    // COALESCE_MS of the last send waits and goes out as one frame (one socket write per viewer).
    // A frame never grows past COALESCE_MAX_BYTES by merging (a single larger message goes alone):
    // a viewer's queue stays bounded by maxBufferedBytes plus one message, as without merging.
    if (ch.held.length > 0 && ch.heldBytes + payload.length > COALESCE_MAX_BYTES) {
      if (ch.timer !== null) clearTimeout(ch.timer)
      ch.timer = null
      this.deliver(ch)
    }
    ch.held.push({ seq: ++this.messageSeq, entries, payload: clean ? payload : null })
    ch.heldBytes += payload.length
    if (ch.timer !== null) return
    const wait = ch.lastSent + COALESCE_MS - Date.now()
    if (wait <= 0) {
      this.deliver(ch)
      return
    }
    ch.timer = setTimeout(() => { ch.timer = null; this.deliver(ch) }, wait)
    ch.timer.unref()
  }

  /** Sends what a channel holds to its live viewers, as one frame serialized once for all of them. */
  private deliver (ch: Channel): void {
    const held = ch.held
    ch.held = []
    ch.heldBytes = 0
    ch.lastSent = Date.now()
    if (held.length === 0 || this.channels.get(ch.name) !== ch) return
    const entries = held.length === 1 ? (held[0] as HeldMessage).entries : held.flatMap((m) => m.entries)
    const payloads = held.every((m) => m.payload !== null) ? held.map((m) => (m.payload as string).slice(1, -1)) : null
    let data: Buffer | null = null
    const frame: LiveFrame = {
      entries,
      // The payloads are JSON arrays of entries that just parsed: relayed as they are, not re-serialized.
      data: () => (data ??= Buffer.from(payloads !== null
        ? `{"type":"entries","entries":[${payloads.join(',')}]}`
        : JSON.stringify({ type: 'entries', entries })))
    }
    const oldest = (held[0] as HeldMessage).seq
    for (const v of ch.viewers) {
      if (v.state !== 'live') continue
      // A viewer that turned live while these were held had the earlier ones in its sync.
      const mine = v.liveFrom >= oldest
        ? held.filter((m) => m.seq > v.liveFrom).flatMap((m) => m.entries)
        : entries
      if (mine.length === 0) continue
      // The subscriber and the command connection are two sockets: a message published just
      // before a backlog read can be read here after that backlog was sent. Drop what it had.
      if (mine !== entries || v.seen.hasAny(entries)) {
        const fresh = mine.filter((e) => !v.seen.has(e.id))
        v.seen.addAll(fresh)
        v.entries(fresh)
      } else {
        v.seen.addAll(entries)
        v.live(frame)
      }
    }
  }

  private async onReady (): Promise<void> {
    if (this.closing) return
    const epoch = this.epoch
    const channels = [...this.channels.values()]
    try {
      if (channels.length > 0) await this.sub.subscribe(channels.flatMap((ch) => ch.names))
    } catch (err) {
      // A cluster node that has just come back may answer CLUSTERDOWN for a moment: try again
      // while the connections stay up (a reconnect starts over with a new 'ready').
      this.log.debug({ err }, 'userlog realtime: resubscribe failed (retried)')
      setTimeout(() => {
        if (epoch === this.epoch && !this.closing && this.sub.ready) void this.onReady()
      }, 250).unref()
      return
    }
    if (epoch !== this.epoch || this.closing) return
    for (const ch of channels) this.confirm(ch, epoch)
    this.connected = true
    this.responsive = true
    this.lastError = null
    this.pingSentAt = null
    this.missedPings = 0
    this.updateState()
  }

  private onClose (): void {
    this.epoch++
    this.pingSentAt = null
    this.missedPings = 0
    if (this.closing) return
    this.connected = false
    this.updateState()
  }

  private pingTick (): void {
    if (this.closing || !this.sub.ready) return
    if (this.pingSentAt !== null) {
      // The previous PING is still unanswered after a whole interval: a frozen or unreachable Redis
      // (a SIGSTOPped server keeps its socket open, so only a timeout notices).
      this.missedPings++
      if (this.responsive) {
        this.responsive = false
        this.updateState()
      }
      if (this.missedPings >= 3) {
        this.log.warn({ userlog: { missedPings: this.missedPings } },
          'userlog realtime: Redis does not answer PING; reconnecting')
        this.sub.reconnect()
      }
      return
    }
    const epoch = this.epoch
    this.pingSentAt = Date.now()
    this.sub.ping().then(() => {
      if (epoch !== this.epoch) return
      this.pingSentAt = null
      this.missedPings = 0
      if (!this.responsive) {
        this.responsive = true
        this.updateState()
      }
    }, () => {
      if (epoch === this.epoch) this.pingSentAt = null
    })
  }

  /** Tells viewers when Redis went down or came back; on the way back, resyncs every stream. */
  private updateState (): void {
    const up = this.redisUp
    if (up === this.announcedUp) return
    this.announcedUp = up
    if (up) {
      this.log.info({}, 'userlog realtime: Redis is back; resyncing live streams')
    } else {
      this.log.warn({ err: this.lastError ?? undefined },
        'userlog realtime: Redis is unreachable; viewers are told and kept')
    }
    for (const v of this.viewers) if (v.open) v.status(up)
    if (!up) {
      this.holdViewers()
      return
    }
    const waiters = this.upWaiters
    this.upWaiters = []
    for (const w of waiters) w()
    for (const ch of this.channels.values()) {
      const due = [...ch.viewers].filter((v) => this.resyncDue.has(v))
      if (due.length > 0) {
        this.sync(ch, due, false).catch((err: unknown) => this.log.error({ err }, 'userlog realtime: resync failed'))
      }
    }
    this.resyncDue.clear()
  }

  /**
   * Going down: live viewers stop taking live messages until their resync. Messages can arrive
   * before the hub says up (on a cluster, a master's connection is resubscribed while another is
   * not yet; after a failover, the promoted replica's first messages): sent at once they would be
   * the newest entry a viewer had, and the resync, which sends what follows the newest entry it
   * had, would skip the entries written in between (the writer's buffer, flushed on reconnect).
   * Held in `pending` instead, they are merged with the log read on the way back up.
   */
  private holdViewers (): void {
    for (const ch of this.channels.values()) {
      // What arrived before the outage goes out first.
      if (ch.held.length > 0) {
        if (ch.timer !== null) clearTimeout(ch.timer)
        ch.timer = null
        this.deliver(ch)
      }
      for (const v of ch.viewers) {
        if (v.state !== 'live') continue
        v.state = 'syncing'
        v.pending = []
        this.resyncDue.add(v)
      }
    }
  }
}
