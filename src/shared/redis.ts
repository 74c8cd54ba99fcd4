// Redis connections, one set of rules for the plugin, the realtime server and the CLI: the forms
// of the `redis` setting (a URL, a Cluster's seed list, ioredis options or an instance), the
// settings that keep an outage away from the host (nothing waits on Redis in a request, nothing
// piles up inside ioredis while Redis is gone), and the small helpers around them.
import { EventEmitter } from 'node:events'
import type { ConnectionOptions } from 'node:tls'
import calculateSlot from 'cluster-key-slot'
import { Cluster, Redis, type RedisOptions } from 'ioredis'
import type { RedisLike } from '../types.js'

export type { RedisLike }

export interface ClusterSeeds {
  nodes: Array<{ host: string, port: number }>
  tls: boolean
  username?: string
  password?: string
}

/** Splits a seed list only where a comma starts another URL: a comma inside a password stays. */
function seedParts (value: string): string[] {
  return value.split(/,(?=\s*rediss?:\/\/)/).map((p) => p.trim())
}

/**
 * Parses the cluster form of the `redis` setting: two or more comma-separated `redis://` (or
 * `rediss://`) URLs of cluster nodes, e.g. `redis://10.0.0.1:7000,redis://10.0.0.2:7000`.
 * Each has a host and an optional port (6379), no database number (a cluster only has 0), one
 * scheme for all; credentials, if any, are those of the first. Returns null for a single URL;
 * throws an Error with the reason for a malformed list.
 */
export function parseSeeds (value: string): ClusterSeeds | null {
  const parts = seedParts(value)
  if (parts.length === 1) return null
  const nodes: ClusterSeeds['nodes'] = []
  let scheme: string | null = null
  let username: string | undefined
  let password: string | undefined
  for (const part of parts) {
    const quoted = JSON.stringify(part)
    if (part.endsWith(',')) throw new Error('an empty seed in the list')
    if (!/^rediss?:\/\//.test(part) || !URL.canParse(part)) throw new Error(`${quoted} is not a redis:// or rediss:// URL`)
    const url = new URL(part)
    if (url.hostname === '') throw new Error(`${quoted} has no host`)
    if (url.pathname !== '' && url.pathname !== '/' && url.pathname !== '/0') {
      throw new Error(`${quoted} names a database (a cluster has only database 0)`)
    }
    if (url.search !== '' || url.hash !== '') throw new Error(`${quoted} has a query or fragment`)
    if (scheme !== null && url.protocol !== scheme) throw new Error('seeds mix redis:// and rediss://')
    scheme = url.protocol
    if (nodes.length === 0) {
      if (url.username !== '') username = decodeURIComponent(url.username)
      if (url.password !== '') password = decodeURIComponent(url.password)
    }
    nodes.push({ host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port === '' ? 6379 : Number(url.port) })
  }
  return { nodes, tls: scheme === 'rediss:', username, password }
}

/** Why `value` is not a usable `redis` string (one URL or a seed list), or null if it is. */
export function redisUrlProblem (value: string): string | null {
  if (!/^rediss?:\/\//.test(value)) return 'not a redis:// or rediss:// URL'
  let seeds: ClusterSeeds | null
  try { seeds = parseSeeds(value) } catch (err) { return (err as Error).message }
  if (seeds === null && !URL.canParse(value)) return 'not a redis:// or rediss:// URL'
  return null
}

/** A Redis URL or seed list without passwords, for messages. */
export function redactRedis (value: string): string {
  return seedParts(value).map((part) => {
    try {
      const u = new URL(part)
      if (u.password !== '') u.password = '***'
      return u.toString()
    } catch {
      return 'the configured URL'
    }
  }).join(',')
}

/** True for an ioredis client or cluster given as the `redis` setting. */
export function isRedisInstance (v: unknown): v is RedisLike {
  return typeof v === 'object' && v !== null &&
    typeof (v as { defineCommand?: unknown }).defineCommand === 'function' &&
    typeof (v as { duplicate?: unknown }).duplicate === 'function'
}

/** True for an ioredis `Cluster` (the writer then writes one script call per hash slot). */
export function isCluster (client: RedisLike): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true
}

/**
 * The keyPrefix an ioredis client or its options would add, or undefined. ioredis prefixes keys
 * but not channels (and not keys inside scripts), so such a client would write keys the realtime
 * server cannot find: both refuse it.
 */
export function keyPrefixOf (v: RedisLike | RedisOptions): string | undefined {
  let prefix: string | undefined
  if (!isRedisInstance(v)) prefix = v.keyPrefix
  else if (isCluster(v)) prefix = v.options.keyPrefix ?? v.options.redisOptions?.keyPrefix
  else prefix = (v.options as { keyPrefix?: string }).keyPrefix
  return prefix === '' ? undefined : prefix
}

export interface ConnectionTuning {
  /** Shown in CLIENT LIST. */
  connectionName: string
  /** ioredis' own per-command timeout, where the caller does not time commands itself. */
  commandTimeout?: number
  connectTimeout?: number
  /** TLS settings (a private CA, say) for `rediss://` connections. */
  tls?: ConnectionOptions
}

/** Settings of every connection we open: fail fast, never queue, reconnect at least every second. */
export function connectionOptions (tuning: ConnectionTuning): RedisOptions {
  return {
    // Commands fail at once while disconnected instead of queueing in ioredis: entries wait in
    // the writer's bounded buffer, the only place they are held.
    enableOfflineQueue: false,
    // A command caught by a disconnect fails rather than being replayed after reconnect; the
    // writer retries its batch itself (idempotently) and admin reads simply report 503.
    maxRetriesPerRequest: 0,
    connectTimeout: tuning.connectTimeout ?? 2000,
    ...(tuning.commandTimeout !== undefined ? { commandTimeout: tuning.commandTimeout } : {}),
    ...(tuning.tls !== undefined ? { tls: tuning.tls } : {}),
    // Writing resumes within about a second of Redis coming back.
    retryStrategy: (attempt: number) => Math.min(100 * attempt, 1000),
    connectionName: tuning.connectionName
  }
}

/** A Cluster client with the same settings as a single node's. */
export function createCluster (seeds: ClusterSeeds, tuning: ConnectionTuning): Cluster {
  const { retryStrategy: _single, enableOfflineQueue: _queue, ...perNode } = connectionOptions(tuning)
  const cluster = new Cluster(seeds.nodes, {
    enableOfflineQueue: false,
    // Reads and writes go to masters: a replica may lag behind the log just written.
    scaleReads: 'master',
    clusterRetryStrategy: (times: number) => Math.min(100 * times, 1000),
    // A restarted node is reconnected (its slots did not move), not only rediscovered on MOVED.
    clusterNodeRetryStrategy: (times: number) => Math.min(100 * times, 1000),
    slotsRefreshTimeout: 2000,
    redisOptions: {
      ...perNode,
      ...(seeds.username !== undefined ? { username: seeds.username } : {}),
      ...(seeds.password !== undefined ? { password: seeds.password } : {}),
      ...(seeds.tls || tuning.tls !== undefined ? { tls: tuning.tls ?? {} } : {})
    }
  })
  // ioredis 6 reads the slot map again only on MOVED or a command's "Connection is closed": a
  // client whose commands to a failed-over master fail otherwise ("Stream isn't writeable")
  // would keep the dead master in its map for good (the realtime server's subscribers then
  // never came back up). Reading it every second notices a promoted replica on its own. Our own
  // timer rather than ioredis's slotsRefreshInterval, whose refresh in flight when the client is
  // closed arms the next one again, so a closed client could keep refreshing (and the process
  // alive) for good; this one is unref'd and stops with the client.
  const refresh = setInterval(() => {
    if (cluster.status === 'end') clearInterval(refresh)
    else cluster.refreshSlotsCache()
  }, SLOTS_REFRESH_MS)
  refresh.unref()
  cluster.once('end', () => clearInterval(refresh))
  return cluster
}

/** How often a Cluster client reads the slot map (createCluster). */
export const SLOTS_REFRESH_MS = 1000

export interface OwnedClient { client: RedisLike, owned: boolean }

/**
 * Uses the caller's client as is, or creates one from a URL, a seed list or options (then owned:
 * the caller closes it).
 */
export function createClient (redis: string | RedisOptions | RedisLike, tuning: ConnectionTuning): OwnedClient {
  if (isRedisInstance(redis)) return { client: redis, owned: false }
  const seeds = typeof redis === 'string' ? parseSeeds(redis) : null
  if (seeds !== null) return { client: createCluster(seeds, tuning), owned: true }
  const client = typeof redis === 'string'
    ? new Redis(redis, connectionOptions(tuning))
    : new Redis({ ...connectionOptions(tuning), ...redis })
  return { client, owned: true }
}

/**
 * Resolves true when the client is ready, false after `ms` or when it has ended, never failing:
 * a Redis outage must not stop anything from starting.
 */
export async function whenReady (client: { status: string } & EventEmitter, ms: number): Promise<boolean> {
  if (client.status === 'ready') return true
  if (client.status === 'end') return false
  // Every caller waiting on one client shares one pair of listeners: during an outage many
  // commands wait at once, and a pair each would trip Node's MaxListenersExceededWarning.
  let waiters = readyWaiters.get(client)
  if (waiters === undefined) {
    const all = new Set<(ok: boolean) => void>()
    waiters = all
    readyWaiters.set(client, all)
    const settle = (ok: boolean): void => {
      client.removeListener('ready', onReady)
      client.removeListener('end', onEnd)
      readyWaiters.delete(client)
      for (const w of all) w(ok)
    }
    const onReady = (): void => settle(true)
    const onEnd = (): void => settle(false)
    client.once('ready', onReady)
    client.once('end', onEnd)
  }
  const shared = waiters
  return await new Promise((resolve) => {
    const waiter = (ok: boolean): void => {
      clearTimeout(timer)
      shared.delete(waiter)
      resolve(ok)
    }
    const timer = setTimeout(() => waiter(false), ms)
    shared.add(waiter)
  })
}

const readyWaiters = new WeakMap<EventEmitter, Set<(ok: boolean) => void>>()

/**
 * True for a Redis at its maxmemory that refuses writes (OOM; with the `noeviction` policy). It
 * still answers PING and reads, so it is neither down nor up: writers wait and retry, routes that
 * write answer 503.
 */
export function isRedisFull (err: unknown): boolean {
  if (!(err instanceof Error)) return false
  // A MULTI whose commands were refused fails as EXECABORT, with their errors in previousErrors.
  const previous = (err as { previousErrors?: unknown }).previousErrors
  return /^OOM\b/.test(err.message) || (Array.isArray(previous) && previous.some(isRedisFull))
}

/** True for errors that mean "Redis is unreachable or too slow", as opposed to a bug. */
export function isRedisUnavailable (err: unknown): boolean {
  if (!(err instanceof Error)) return false
  return UNAVAILABLE.test(err.message) || (err as { code?: string }).code === 'ECONNREFUSED'
}

const UNAVAILABLE = new RegExp([
  'Command timed out', "Stream isn't writeable", 'Connection is closed', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE',
  'ETIMEDOUT', 'Reached the max retries', 'no reply from Redis', 'CLUSTERDOWN', 'TRYAGAIN',
  'Too many Cluster redirections', "Cluster isn't ready", 'Failed to refresh slots cache',
  'None of startup nodes is available'
].join('|'))

/**
 * The master that owns `key`'s slot, or every master if the slot map does not name a connected
 * one (during a resharding, say): SCAN for a user's keys runs there.
 */
export function mastersFor (cluster: Cluster, key: string): Redis[] {
  const masters = cluster.nodes('master')
  const owner = cluster.slots[calculateSlot(key)]?.[0]
  const node = masters.find((n) => `${n.options.host ?? ''}:${n.options.port ?? ''}` === owner)
  return node !== undefined ? [node] : masters
}
