// The plugin's Redis client. Its settings are what keep a Redis outage away from the host app:
// nothing waits on Redis in a request, and nothing piles up inside ioredis while Redis is gone.
import { Redis, type RedisOptions } from 'ioredis'
import type { RedisLike } from './options.js'
import { createCluster, parseSeeds } from './cluster.js'

export interface OwnedClient { client: RedisLike, owned: boolean }

export function clientOptions (): RedisOptions {
  return {
    // Commands fail at once while disconnected instead of queueing in ioredis: entries wait in
    // the writer's bounded buffer, the only place they are held.
    enableOfflineQueue: false,
    // A command caught by a disconnect fails rather than being replayed after reconnect; the
    // writer retries its batch itself (idempotently) and admin reads simply report 503.
    maxRetriesPerRequest: 0,
    // Reads from the admin API give up on a frozen Redis (SIGSTOP keeps the socket open, so only
    // a timeout notices); writes have their own, shorter timeout in the writer.
    commandTimeout: 2000,
    connectTimeout: 2000,
    // Reconnect at least every second, so writing resumes within about a second of Redis coming back.
    retryStrategy: (attempt: number) => Math.min(100 * attempt, 1000),
    connectionName: 'fastify-userlog'
  }
}

/** Uses the caller's client as is, or creates one (which the plugin then closes). */
export function createClient (redis: string | RedisOptions | RedisLike): OwnedClient {
  if (typeof redis === 'object' && typeof (redis as RedisLike).defineCommand === 'function') {
    return { client: redis as RedisLike, owned: false }
  }
  // A comma-separated list of seed URLs is a Redis Cluster (validated in options.ts).
  const seeds = typeof redis === 'string' ? parseSeeds(redis) : null
  if (seeds !== null) return { client: createCluster(seeds), owned: true }
  const client = typeof redis === 'string'
    ? new Redis(redis, clientOptions())
    : new Redis({ ...clientOptions(), ...(redis as RedisOptions) })
  return { client, owned: true }
}

/** Resolves when the client is ready, or after `ms` without failing: a Redis outage must not stop the host from starting. */
export async function whenReady (client: RedisLike, ms: number): Promise<boolean> {
  if (client.status === 'ready') return true
  return await new Promise((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer)
      client.removeListener('ready', onReady)
      resolve(ok)
    }
    const onReady = (): void => done(true)
    const timer = setTimeout(() => done(false), ms)
    client.once('ready', onReady)
  })
}

/** True for errors that mean "Redis is unreachable or too slow", as opposed to a bug. */
export function isRedisUnavailable (err: unknown): boolean {
  if (!(err instanceof Error)) return false
  return /Command timed out|Stream isn't writeable|Connection is closed|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|Reached the max retries|no reply from Redis|CLUSTERDOWN|TRYAGAIN|Too many Cluster redirections|Cluster isn't ready|Failed to refresh slots cache|None of startup nodes is available/.test(err.message) ||
    (err as { code?: string }).code === 'ECONNREFUSED'
}
