// The hub's subscriber connections, behind one small interface: on a single node one connection
// that SUBSCRIBEs; on a Redis Cluster one connection per master that SSUBSCRIBEs the channels whose
// slot that master owns (sharded pub/sub: a message is only delivered on the node owning its slot).
//
// Either way the hub sees one subscriber: 'ready' once every connection is ready (the hub then
// subscribes every channel it holds), 'close' when any connection is lost (the hub forgets which
// channels were confirmed and resubscribes on the next 'ready'), 'message' for every live message.
import { EventEmitter } from 'node:events'
import calculateSlot from 'cluster-key-slot'
import { Redis, type Cluster, type RedisOptions } from 'ioredis'
import { connectionOptions, whenReady } from '../shared/redis.js'

export interface Subscriber extends EventEmitter {
  /** Every connection is connected (and may be asked to subscribe). */
  readonly ready: boolean
  /** Connections held now (one, or one per master). */
  readonly connections: number
  subscribe: (channels: string[]) => Promise<void>
  unsubscribe: (channel: string) => Promise<void>
  /** Resolves when every connection answered PING. */
  ping: () => Promise<void>
  /** Drops every socket at once; the connections rebuild themselves. */
  reconnect: () => void
  whenReady: (ms: number) => Promise<boolean>
  close: () => Promise<void>
}

/** Options of a subscriber connection. */
export function subscriberOptions (): RedisOptions {
  return {
    // Nothing is queued while disconnected (the hub subscribes on 'ready'); quick reconnects.
    ...connectionOptions({ connectionName: 'userlog-realtime-sub', connectTimeout: 5000 }),
    // A duplicate of a caller's lazyConnect client must still connect by itself.
    lazyConnect: false,
    // The hub resubscribes itself after a reconnect, so it knows when the subscriptions are back.
    autoResubscribe: false,
    maxRetriesPerRequest: null
  }
}

export async function quit (client: Redis | Cluster): Promise<void> {
  if (client.status === 'end') return
  try {
    await Promise.race([client.quit(), new Promise((resolve) => setTimeout(resolve, 1000).unref())])
  } catch {
    // already closed or unreachable: disconnect below
  }
  client.disconnect()
}

/** A single node: one connection, SUBSCRIBE. */
export class NodeSubscriber extends EventEmitter implements Subscriber {
  readonly redis: Redis
  readonly connections = 1

  constructor (redis: Redis) {
    super()
    this.redis = redis
    redis.on('error', (err: Error) => this.emit('error', err))
    redis.on('ready', () => this.emit('ready'))
    redis.on('close', () => this.emit('close'))
    redis.on('message', (channel: string, payload: string) => this.emit('message', channel, payload))
  }

  get ready (): boolean { return this.redis.status === 'ready' }
  async subscribe (channels: string[]): Promise<void> { await this.redis.subscribe(...channels) }
  async unsubscribe (channel: string): Promise<void> { await this.redis.unsubscribe(channel) }
  async ping (): Promise<void> { await this.redis.ping() }
  reconnect (): void {
    this.redis.disconnect(true)
    // disconnect() only half-closes (FIN) and waits for the peer; a frozen or unreachable peer
    // never answers, so the socket is destroyed now and ioredis reconnects at once.
    this.redis.stream?.destroy()
  }

  async whenReady (ms: number): Promise<boolean> { return await whenReady(this.redis, ms) }
  async close (): Promise<void> { await quit(this.redis) }
}

/**
 * A Redis Cluster: one SSUBSCRIBE connection per master, found through the command client's slot
 * map. A channel is subscribed on the master that owns its slot. When the slot map changes so that
 * a watched channel now lives elsewhere (a failover, a resharding, a new master), every connection
 * is rebuilt and the hub resubscribes from scratch, as after an outage.
 */
export class ClusterSubscriber extends EventEmitter implements Subscriber {
  private readonly cluster: Cluster
  private readonly nodes = new Map<string, Redis>()
  /** The master each subscribed channel was sent to. */
  private readonly placed = new Map<string, string>()
  private closing = false
  private wasReady = false

  constructor (cluster: Cluster) {
    super()
    this.cluster = cluster
    cluster.on('ready', () => this.sync())
    cluster.on('refresh', () => this.sync())
    if (cluster.status === 'ready') queueMicrotask(() => this.sync())
  }

  get connections (): number { return this.nodes.size }

  get ready (): boolean {
    if (this.nodes.size === 0) return false
    for (const n of this.nodes.values()) if (n.status !== 'ready') return false
    return true
  }

  /** The master (host:port) that owns `channel`'s slot, or null if the slot map does not say. */
  private owner (channel: string): string | null {
    return this.cluster.slots[calculateSlot(channel)]?.[0] ?? null
  }

  /** Matches the connections to the masters of the current slot map. */
  private sync (): void {
    if (this.closing) return
    const masters = new Set<string>()
    for (const owners of this.cluster.slots) if (owners?.[0] !== undefined) masters.add(owners[0])
    if (masters.size === 0) return
    let changed = false
    for (const [key, conn] of this.nodes) {
      if (masters.has(key)) continue
      this.nodes.delete(key)
      void quit(conn)
      changed = true
    }
    for (const key of masters) {
      if (this.nodes.has(key)) continue
      this.add(key)
      changed = true
    }
    for (const [channel, node] of this.placed) {
      if (this.owner(channel) !== node) changed = true
    }
    if (changed && this.wasReady) {
      // Where channels live has changed: start over, as after an outage.
      this.placed.clear()
      this.wasReady = false
      this.emit('close')
      for (const conn of this.nodes.values()) {
        if (conn.status === 'ready') { conn.disconnect(true); conn.stream?.destroy() }
      }
    }
  }

  private add (key: string): void {
    const i = key.lastIndexOf(':')
    const host = key.slice(0, i)
    const port = Number(key.slice(i + 1))
    const base = (this.cluster.options.redisOptions ?? {}) as RedisOptions
    const conn = new Redis({
      // Credentials and TLS of the cluster's own connections.
      ...(base.username !== undefined ? { username: base.username } : {}),
      ...(base.password !== undefined ? { password: base.password } : {}),
      ...(base.tls !== undefined ? { tls: base.tls } : {}),
      ...subscriberOptions(),
      host,
      port
    })
    this.nodes.set(key, conn)
    conn.on('error', (err: Error) => this.emit('error', err))
    conn.on('ready', () => {
      if (!this.closing && this.ready && !this.wasReady) {
        this.wasReady = true
        this.emit('ready')
      }
    })
    conn.on('close', () => {
      if (this.nodes.get(key) !== conn) return
      for (const [channel, node] of this.placed) if (node === key) this.placed.delete(channel)
      if (this.wasReady) {
        this.wasReady = false
        this.emit('close')
      }
    })
    conn.on('smessage', (channel: string, payload: string) => this.emit('message', channel, payload))
    // The node unsubscribed us by itself (its slot migrated): read the slot map again; sync() then
    // rebuilds the connections if a watched channel now lives elsewhere.
    conn.on('moved', () => this.refresh())
  }

  private refresh (): void {
    if (this.closing) return
    this.cluster.refreshSlotsCache(() => this.sync())
  }

  async subscribe (channels: string[]): Promise<void> {
    // One SSUBSCRIBE per slot (Redis refuses channels of several slots in one call), sent to the
    // master owning that slot; the calls of one connection are pipelined.
    const bySlot = new Map<number, string[]>()
    for (const channel of channels) {
      const slot = calculateSlot(channel)
      bySlot.set(slot, [...(bySlot.get(slot) ?? []), channel])
    }
    await Promise.all([...bySlot.values()].map(async (list) => {
      const key = this.owner(list[0] as string)
      const conn = key === null ? undefined : this.nodes.get(key)
      if (key === null || conn === undefined) {
        throw new Error(`no connected master owns the slot of ${list[0] as string}`)
      }
      try {
        await conn.ssubscribe(...list)
      } catch (err) {
        // MOVED: the slot map is out of date.
        if (err instanceof Error && /^MOVED\b/.test(err.message)) this.refresh()
        throw err
      }
      for (const channel of list) this.placed.set(channel, key)
    }))
  }

  async unsubscribe (channel: string): Promise<void> {
    const key = this.placed.get(channel)
    this.placed.delete(channel)
    const conn = key === undefined ? undefined : this.nodes.get(key)
    if (conn?.status === 'ready') await conn.sunsubscribe(channel)
  }

  async ping (): Promise<void> {
    await Promise.all([...this.nodes.values()].map(async (n) => await n.ping()))
  }

  reconnect (): void {
    for (const n of this.nodes.values()) {
      n.disconnect(true)
      n.stream?.destroy()
    }
  }

  async whenReady (ms: number): Promise<boolean> {
    if (this.ready) return true
    return await new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer)
        this.removeListener('ready', onReady)
        resolve(ok)
      }
      const onReady = (): void => done(true)
      const timer = setTimeout(() => done(this.ready), ms)
      this.on('ready', onReady)
    })
  }

  async close (): Promise<void> {
    this.closing = true
    const conns = [...this.nodes.values()]
    this.nodes.clear()
    await Promise.all(conns.map(quit))
  }
}
