// Redis Cluster support: the seed-list form of the `redis` option, the client the plugin creates
// for it, and finding the node that owns a key (SCAN only sees the keys of the node it runs on).
import calculateSlot from 'cluster-key-slot'
import { Cluster, type Redis } from 'ioredis'
import type { RedisLike } from './options.js'

/** True for an ioredis `Cluster` (the writer then writes one script call per hash slot). */
export function isCluster (client: RedisLike): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true
}

export interface ClusterSeeds {
  nodes: Array<{ host: string, port: number }>
  tls: boolean
  username?: string
  password?: string
}

/**
 * Parses the cluster form of the `redis` option: two or more comma-separated `redis://` (or
 * `rediss://`) URLs of cluster nodes, e.g. `redis://10.0.0.1:7000,redis://10.0.0.2:7000`.
 * Each has a host and an optional port (6379), no database number (a cluster only has 0), one
 * scheme for all; credentials, if any, are those of the first. Returns null for a single URL (a
 * comma is only a separator where the next URL starts);
 * throws an Error with the reason for a malformed list.
 */
export function parseSeeds (value: string): ClusterSeeds | null {
  // Split only where a comma starts another URL: a comma inside a single URL (a password) stays.
  const parts = value.split(/,(?=\s*rediss?:\/\/)/).map((p) => p.trim())
  if (parts.length === 1) return null
  const nodes: ClusterSeeds['nodes'] = []
  let scheme: string | null = null
  let username: string | undefined
  let password: string | undefined
  for (const part of parts) {
    if (part.endsWith(',')) throw new Error('an empty seed in the list')
    if (!/^rediss?:\/\//.test(part) || !URL.canParse(part)) throw new Error(`${JSON.stringify(part)} is not a redis:// or rediss:// URL`)
    const url = new URL(part)
    if (url.hostname === '') throw new Error(`${JSON.stringify(part)} has no host`)
    if (url.pathname !== '' && url.pathname !== '/' && url.pathname !== '/0') throw new Error(`${JSON.stringify(part)} names a database (a cluster has only database 0)`)
    if (url.search !== '' || url.hash !== '') throw new Error(`${JSON.stringify(part)} has a query or fragment`)
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

/** A Cluster client with the single-node client's settings (redis.ts): fail fast, bounded waits, quick reconnects. */
export function createCluster (seeds: ClusterSeeds): Cluster {
  return new Cluster(seeds.nodes, {
    // As on a single node: commands fail at once while the cluster is unreachable instead of queueing.
    enableOfflineQueue: false,
    // Reads and writes go to masters: a replica may lag behind the log just written.
    scaleReads: 'master',
    // Reconnect to the cluster at least every second.
    clusterRetryStrategy: (times: number) => Math.min(100 * times, 1000),
    // A restarted node is reconnected (its slots did not move), not only rediscovered on MOVED.
    clusterNodeRetryStrategy: (times: number) => Math.min(100 * times, 1000),
    slotsRefreshTimeout: 2000,
    redisOptions: {
      maxRetriesPerRequest: 0,
      commandTimeout: 2000,
      connectTimeout: 2000,
      connectionName: 'fastify-userlog',
      ...(seeds.username !== undefined ? { username: seeds.username } : {}),
      ...(seeds.password !== undefined ? { password: seeds.password } : {}),
      ...(seeds.tls ? { tls: {} } : {})
    }
  })
}

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
